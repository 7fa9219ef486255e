"""Typed config: unknown keys and wrong types name the YAML line; the starter config validates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneloop.config import ProjectConfig, load_config, starter_config_text
from tuneloop.errors import ConfigError, InvalidInput


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tuneloop.yaml"
    path.write_text(text)
    return path


def test_starter_config_validates_and_keeps_comments(tmp_path: Path) -> None:
    text = starter_config_text("acme-support")
    config = load_config(write(tmp_path, text))
    assert config.project.name == "acme-support"
    assert config.model.base == "base:smollm2-135m-instruct"
    assert text.count("#") > 20  # commented, so a reader learns the keys where they are


def test_every_section_exists() -> None:
    assert set(ProjectConfig.model_fields) >= {
        "project", "data", "model", "train", "eval", "redteam", "serve", "monitor"
    }  # fmt: skip


def test_unknown_key_names_line_section_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "project:\n  name: x\ntrain:\n  epochs: 2\n  lerning_rate: 0.001\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem.location.line == 5
    assert "unknown key 'lerning_rate' in train" in problem.message
    assert "did you mean 'learning_rate'" in problem.message


def test_all_problems_reported_with_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "train:\n  epochs: many\nmodel:\n  max_length: 4\nbogus: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = sorted(p.location.line for p in info.value.problems)
    assert lines == [2, 4, 5]


def test_nested_unknown_key_in_list_item(tmp_path: Path) -> None:
    path = write(tmp_path, "project:\n  use:\n    comercial: true\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].location.line == 3
    assert "in project.use" in info.value.problems[0].message


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, "train:\n  epochs: [1, 2\n")
    with pytest.raises(InvalidInput) as info:
        load_config(path)
    assert info.value.code == "yaml_syntax"
    assert info.value.location.line is not None


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == ProjectConfig()


def test_cli_check_typo_exit_2_with_line(cli, tmp_path: Path) -> None:
    write(tmp_path, "train:\n  lerning_rate: 0.1\n")
    result = cli("config", "check", cwd=tmp_path)
    assert result.exit_code == 2
    assert "tuneloop.yaml:2: unknown key 'lerning_rate' in train" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_check_json(cli, tmp_path: Path) -> None:
    write(tmp_path, "train:\n  lerning_rate: 0.1\n")
    result = cli("config", "check", "--json", cwd=tmp_path)
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["error"]["problems"][0]["line"] == 2


def test_cli_schema_is_json_schema(cli, tmp_path: Path) -> None:
    result = cli("config", "schema", cwd=tmp_path)
    schema = json.loads(result.stdout)
    assert result.exit_code == 0
    assert "train" in schema["properties"]
    # field docs travel into the schema, so `config schema` documents every key
    train = schema["$defs"]["TrainSection"]["properties"]
    assert train["epochs"]["description"]


def test_init_writes_valid_project_and_refuses_overwrite(cli, tmp_path: Path) -> None:
    target = tmp_path / "new-project"
    first = cli("init", str(target), "--json", cwd=tmp_path)
    assert first.exit_code == 0, first.stderr
    assert (target / ".tuneloop" / "state.db").exists()
    assert load_config(target / "tuneloop.yaml").project.name == "new-project"
    original = (target / "tuneloop.yaml").read_text()
    second = cli("init", str(target), cwd=tmp_path)
    assert second.exit_code == 2
    assert "already exists" in second.stderr
    assert (target / "tuneloop.yaml").read_text() == original


def test_every_example_yaml_validates() -> None:
    """Every tuneloop.yaml under examples/ is a valid ProjectConfig, so docs cannot drift."""
    root = Path(__file__).resolve().parents[2] / "examples"
    paths = sorted(root.rglob("tuneloop.yaml"))
    # Without examples the loop below would check nothing; the support example is the README's.
    assert root / "support" / "tuneloop.yaml" in paths, f"no example tuneloop.yaml under {root}"
    for path in paths:
        load_config(path)


def test_config_docs_name_every_section() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text()
    for section in ProjectConfig.model_fields:
        assert f"| `{section}` |" in docs, section


def test_starter_config_gates_the_primary_metrics_minimum(tmp_path: Path) -> None:
    """A candidate far below useful must not pass on "better than the foundation" alone."""
    text = starter_config_text("x")
    (floor,) = load_config(write(tmp_path, text)).eval.gates
    assert (floor.metric, floor.rule, floor.value) == ("primary", "at_least", 0.8)
    assert 'what "useful" means' in text
