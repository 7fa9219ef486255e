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


def test_cli_module_only_maps_verbs() -> None:
    source = inspect.getsource(cli)
    assert len(source.splitlines()) < 200


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
