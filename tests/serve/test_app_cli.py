"""``tuneloop keys create|list|revoke`` and ``tuneloop serve`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneloop.project import Project
from tuneloop.serve.keys import authenticate


def test_keys_create_list_revoke(cli, project_dir: Path) -> None:
    created = cli("keys", "create", "app", "--model", "proj", "--no-feedback", "--json")
    assert created.exit_code == 0, created.stderr
    data = json.loads(created.stdout)
    secret = data["secret"]
    assert data["key"]["models"] == ["proj"] and data["key"]["can_feedback"] is False
    assert authenticate(Project.open(), secret) is not None
    plain = cli("keys", "create", "other")
    assert plain.exit_code == 0 and "tl-" in plain.stdout
    listed = cli("keys", "list", "--json")
    assert [k["name"] for k in json.loads(listed.stdout)["keys"]] == ["app", "other"]
    assert secret not in listed.stdout
    table = cli("keys", "list")
    assert "app" in table.stdout and secret not in table.stdout
    assert cli("keys", "revoke", "app").exit_code == 0
    assert authenticate(Project.open(), secret) is None
    assert json.loads(cli("keys", "list", "--json").stdout)["keys"][0]["revoked_at"] is not None


def test_keys_bad_input_exits_2(cli, project_dir: Path) -> None:
    assert cli("keys", "create", "app").exit_code == 0
    again = cli("keys", "create", "app", "--json")
    assert again.exit_code == 2 and json.loads(again.stdout)["error"]["code"] == "key_exists"
    assert cli("keys", "create", "bad", "--model", "../../etc").exit_code == 2
    assert cli("keys", "revoke", "nobody").exit_code == 2


def test_serve_with_an_unusable_upstream_setting_exits_2_with_a_clear_message(
    cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLLM_KEY", raising=False)
    config = project_dir / "tuneloop.yaml"
    config.write_text(config.read_text().replace("serve:\n", "serve:\n  upstream_api_key_env: VLLM_KEY\n"))
    result = cli("serve", "--port", "1", "--upstream", "http://127.0.0.1:9", "--json")
    assert result.exit_code == 2
    assert "VLLM_KEY" in result.stdout + result.stderr and "Traceback" not in result.stderr
