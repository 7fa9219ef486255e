"""The ``tuneloop`` command: a table of verbs, each mapped to one function in its stage package.

Run ``tuneloop --help``. To find the code behind a verb, look it up in :data:`VERBS` below. The verb
functions live in each stage's ``commands`` module, which imports only light modules at the top so
``tuneloop --help`` starts fast; heavy libraries (torch, transformers) load inside the verbs.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import typer

from tuneloop.config import commands as config_commands
from tuneloop.console import err_console, format_error, print_json
from tuneloop.data import commands as data_commands
from tuneloop.deploy import commands as deploy_commands
from tuneloop.errors import ExitCode, TuneloopError
from tuneloop.evaluate import commands as eval_commands
from tuneloop.models import commands as models_commands
from tuneloop.monitor import commands as monitor_commands
from tuneloop.redteam import commands as redteam_commands
from tuneloop.registry import commands as registry_commands
from tuneloop.serve import commands as serve_commands
from tuneloop.train import commands as train_commands

# verb -> function. A space separates a group from its sub-verb ("models list").
VERBS: dict[str, Callable[..., Any]] = {
    # foundation
    "init": config_commands.init,
    "config schema": config_commands.schema,
    "config check": config_commands.check,
    "models list": models_commands.list_models,
    "models show": models_commands.show,
    "models recommend": models_commands.recommend,
    "models pull": models_commands.pull,
    "chat": models_commands.chat,
    # data (issue 3)
    "data check": data_commands.check,
    "data convert": data_commands.convert,
    "data dedup": data_commands.dedup,
    "data redact": data_commands.redact,
    "data split": data_commands.split,
    "data list": data_commands.list_versions,
    "data show": data_commands.show,
    "data formats": data_commands.formats,
    # evaluation (issue 5)
    "eval run": eval_commands.run,
    "eval score": eval_commands.score,
    "eval baseline": eval_commands.baseline,
    "eval gate": eval_commands.gate,
    "eval show": eval_commands.show,
    "eval list": eval_commands.list_evaluations,
    "eval compare": eval_commands.compare,
    "eval metrics": eval_commands.metrics,
    # red-teaming (issue 6)
    "redteam run": redteam_commands.run,
    "redteam gate": redteam_commands.gate,
    "redteam canaries": redteam_commands.canaries,
    "redteam probes": redteam_commands.probes,
    "redteam show": redteam_commands.show,
    # training (issue 4)
    "train": train_commands.train,
    "runs list": train_commands.list_runs,
    "runs show": train_commands.show,
    "runs compare": train_commands.compare,
    "export": train_commands.export,
    # registry and promotion (issue 12)
    "registry list": registry_commands.list_versions,
    "registry show": registry_commands.show,
    "registry diff": registry_commands.diff,
    "registry history": registry_commands.history,
    "registry promote": registry_commands.promote,
    "registry rollback": registry_commands.rollback,
    # deployment (issue 12)
    "deploy vllm": deploy_commands.vllm,
    # serving (issue 12)
    "serve": serve_commands.serve,
    "keys create": serve_commands.create,
    "keys list": serve_commands.list_keys,
    "keys revoke": serve_commands.revoke,
    # monitoring (issue 13)
    "monitor drift": monitor_commands.drift,
    "monitor ingest": monitor_commands.ingest,
    "monitor evaluate": monitor_commands.evaluate,
    "monitor feedback": monitor_commands.feedback,
    "monitor run": monitor_commands.run,
    "monitor daemon": monitor_commands.daemon,
}

GROUP_HELP = {
    "config": "Inspect and validate tuneloop.yaml.",
    "models": "Choose, inspect and pull base models.",
    "data": "Validate, measure, clean, split and version datasets.",
    "runs": "Inspect and compare training runs.",
    "eval": "Evaluate models against baselines with paired statistics and gates.",
    "redteam": "Probe models for the failure modes fine-tuning introduces.",
    "registry": "Inspect versions and their lineage; promote (gated) and roll back aliases.",
    "deploy": "Export registered versions to serving fleets (vLLM).",
    "keys": "Create, list and revoke the API keys of `tuneloop serve`.",
    "monitor": "Watch production: drift, online quality, feedback; retrain on a policy.",
}


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn tuneloop errors into one readable line and an exit code; never show a traceback.

    Set ``TUNELOOP_DEBUG=1`` to see the traceback of an internal error.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("json_output"))
        try:
            return func(*args, **kwargs)
        except TuneloopError as err:
            _report(err.to_dict(), format_error(err), as_json)
            raise typer.Exit(int(err.exit_code)) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("TUNELOOP_DEBUG"):
                traceback.print_exc()
            detail = f"{type(exc).__name__}: {exc}"
            _report(
                {"code": "internal_error", "message": detail},
                f"internal error: {detail} (set TUNELOOP_DEBUG=1 for the traceback)",
                as_json,
            )
            raise typer.Exit(int(ExitCode.INTERNAL)) from None

    return wrapper


def _report(payload: dict[str, Any], line: str, as_json: bool) -> None:
    if as_json:
        print_json({"ok": False, "error": payload})
    err_console.print(line, markup=False)


def build_app() -> typer.Typer:
    """Build the typer app from :data:`VERBS`."""
    app = typer.Typer(
        name="tuneloop",
        help="Self-hosted LLM fine-tuning lifecycle: decide, data, train, evaluate, red-team, deploy, serve, monitor and retrain.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    groups: dict[str, typer.Typer] = {}
    for verb, func in VERBS.items():
        group, _, sub = verb.partition(" ")
        if not sub:
            app.command(group)(guarded(func))
            continue
        if group not in groups:
            groups[group] = typer.Typer(no_args_is_help=True, help=GROUP_HELP.get(group))
            app.add_typer(groups[group], name=group)
        groups[group].command(sub)(guarded(func))
    return app


def main() -> None:
    """Console-script entry point."""
    app = build_app()
    try:
        app(standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        sys.exit(code if isinstance(code, int) else (0 if code is None else int(ExitCode.INVALID_INPUT)))


if __name__ == "__main__":
    main()
