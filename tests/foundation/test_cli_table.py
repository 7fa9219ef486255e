"""The verb table and the typer app agree; errors become one line and an exit code."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import typer

from tuneloop import cli


def _app_verbs(command, prefix: str = "") -> dict:
    if hasattr(command, "commands"):
        found: dict = {}
        for name, sub in command.commands.items():
            found |= _app_verbs(sub, f"{prefix} {name}".strip())
        return found
    return {prefix: command}


def test_verb_table_and_app_agree() -> None:
    app_verbs = _app_verbs(typer.main.get_command(cli.build_app()))
    assert set(app_verbs) == set(cli.VERBS)
    for verb, command in app_verbs.items():
        assert inspect.unwrap(command.callback) is cli.VERBS[verb], verb


def test_every_verb_has_json_flag_and_lives_in_a_stage_commands_module() -> None:
    for verb, func in cli.VERBS.items():
        assert "json_output" in inspect.signature(func).parameters, verb
        assert func.__module__.startswith("tuneloop.") and func.__module__.endswith(".commands"), verb


# The whole table, written out: a verb added, dropped or pointed at another function fails here.
EXPECTED_VERBS = {
    "init": "tuneloop.config.commands:init",
    "config schema": "tuneloop.config.commands:schema",
    "config check": "tuneloop.config.commands:check",
    "models list": "tuneloop.models.commands:list_models",
    "models show": "tuneloop.models.commands:show",
    "models recommend": "tuneloop.models.commands:recommend",
    "models pull": "tuneloop.models.commands:pull",
    "chat": "tuneloop.models.commands:chat",
    "data check": "tuneloop.data.commands:check",
    "data convert": "tuneloop.data.commands:convert",
    "data dedup": "tuneloop.data.commands:dedup",
    "data redact": "tuneloop.data.commands:redact",
    "data split": "tuneloop.data.commands:split",
    "data list": "tuneloop.data.commands:list_versions",
    "data show": "tuneloop.data.commands:show",
    "data formats": "tuneloop.data.commands:formats",
    "eval run": "tuneloop.evaluate.commands:run",
    "eval score": "tuneloop.evaluate.commands:score",
    "eval baseline": "tuneloop.evaluate.commands:baseline",
    "eval gate": "tuneloop.evaluate.commands:gate",
    "eval show": "tuneloop.evaluate.commands:show",
    "eval list": "tuneloop.evaluate.commands:list_evaluations",
    "eval compare": "tuneloop.evaluate.commands:compare",
    "eval metrics": "tuneloop.evaluate.commands:metrics",
    "redteam run": "tuneloop.redteam.commands:run",
    "redteam gate": "tuneloop.redteam.commands:gate",
    "redteam canaries": "tuneloop.redteam.commands:canaries",
    "redteam probes": "tuneloop.redteam.commands:probes",
    "redteam show": "tuneloop.redteam.commands:show",
    "train": "tuneloop.train.commands:train",
    "runs list": "tuneloop.train.commands:list_runs",
    "runs show": "tuneloop.train.commands:show",
    "runs compare": "tuneloop.train.commands:compare",
    "export": "tuneloop.train.commands:export",
    "registry list": "tuneloop.registry.commands:list_versions",
    "registry show": "tuneloop.registry.commands:show",
    "registry diff": "tuneloop.registry.commands:diff",
    "registry history": "tuneloop.registry.commands:history",
    "registry promote": "tuneloop.registry.commands:promote",
    "registry rollback": "tuneloop.registry.commands:rollback",
    "deploy vllm": "tuneloop.deploy.commands:vllm",
    "serve": "tuneloop.serve.commands:serve",
    "keys create": "tuneloop.serve.commands:create",
    "keys list": "tuneloop.serve.commands:list_keys",
    "keys revoke": "tuneloop.serve.commands:revoke",
    "monitor drift": "tuneloop.monitor.commands:drift",
    "monitor ingest": "tuneloop.monitor.commands:ingest",
    "monitor evaluate": "tuneloop.monitor.commands:evaluate",
    "monitor feedback": "tuneloop.monitor.commands:feedback",
    "monitor run": "tuneloop.monitor.commands:run",
    "monitor daemon": "tuneloop.monitor.commands:daemon",
}


def test_verb_table_maps_each_verb_to_its_function() -> None:
    table = {verb: f"{func.__module__}:{func.__qualname__}" for verb, func in cli.VERBS.items()}
    assert table == EXPECTED_VERBS


def test_help_lists_groups(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for group in ("init", "config", "models", "chat"):
        assert group in result.stdout


def test_usage_error_exits_2(cli) -> None:
    assert cli("models", "list", "--no-such-flag").exit_code == 2


def test_internal_error_exits_3_without_traceback(cli, monkeypatch) -> None:
    from tuneloop.models import catalog

    def explode() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog, "load_catalog", explode)
    result = cli("models", "list", "--json")
    assert result.exit_code == 3
    assert "Traceback" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "internal_error"


def test_console_script_starts_without_heavy_imports() -> None:
    """`tuneloop --help` must not import torch or transformers (fast start)."""
    code = (
        "import sys, tuneloop.cli as c; c.build_app(); "
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'trl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
