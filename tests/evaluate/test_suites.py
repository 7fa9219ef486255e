"""Suite YAML: typed, errors with file and line; items from files, inline items, the built-in suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneloop.errors import ConfigError, NotFound
from tuneloop.evaluate.items import EvalItem, build_conversation, check_production_log, draw_shots, load_items
from tuneloop.evaluate.suites import builtin_suites, load_suite
from tuneloop.project import Project


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_suite(str(path))
    return [f"{p.location.line}: {p.message}" for p in info.value.problems]


def test_unknown_metric_and_option_are_reported_with_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.yaml",
        """name: s
items: {file: h.jsonl}
metrics:
  - json_valid
  - {name: rouge_k}
  - {name: json_field_accuracy, feilds: [category]}
""",
    )
    problems = errors_of(path)
    assert (
        problems[0].startswith("5: ")
        and "unknown metric 'rouge_k'" in problems[0]
        and "rouge_l" in problems[0]
    )
    assert problems[1].startswith("6: ") and "unknown option 'feilds'" in problems[1]


def test_unknown_key_source_and_gate_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.yaml", "name: s\nitems: {file: a.jsonl, dataset: x}\nmetrics: [json_valid]\nmetrix: 1\n"
    )
    problems = errors_of(path)
    assert any(
        p.startswith("4: ") and "unknown key 'metrix'" in p and "did you mean 'metrics'" in p
        for p in problems
    )
    assert any(p.startswith("2: ") and "exactly one item source" in p for p in problems)
    gate = write(
        tmp_path / "g.yaml",
        """name: g
items: {file: a.jsonl}
metrics: [json_valid]
gates:
  - {metric: json_valid, rule: at_least}
""",
    )
    assert any(p.startswith("5: ") and "needs a `value`" in p for p in errors_of(gate))
    typo = write(
        tmp_path / "t.yaml",
        "name: t\nitems: {file: a.jsonl}\nmetrics: [json_valid]\n"
        "gates: [{metric: json_vald, rule: better_than}]\n",
    )
    assert any("gate on 'json_vald'" in p for p in errors_of(typo))


def test_suite_not_found_and_builtin(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="builtin:general"):
        load_suite("no-such-suite")
    assert "general" in builtin_suites()
    loaded = load_suite("builtin:general")
    items = load_items(loaded, None)
    assert len(items) == 50 and loaded.suite.primary == "general_ability"
    assert {i.category() for i in items} == {"instruction", "factual", "arithmetic"}
    assert all(item.checks for item in items)


def test_items_from_a_data_file(support_project: Project) -> None:
    loaded = load_suite("evals/support.yaml", support_project)
    assert load_suite("support", support_project).path == loaded.path  # by name when listed... or by stem
    items = load_items(loaded, support_project)
    assert len(items) == 8 and items[0].tags["category"] == "billing"
    assert items[0].reference.startswith('{"category"') and items[0].messages[-1]["role"] == "user"
    assert items[0].source.endswith(":1") and len({i.id for i in items}) == 8


def test_bad_data_file_names_its_line(support_project: Project) -> None:
    from tuneloop.errors import TuneloopError

    (support_project.root / "evals" / "holdout.jsonl").write_text('{"messages": [{"role": "user"}]}\n')
    with pytest.raises(TuneloopError) as info:
        load_items(load_suite("evals/support.yaml", support_project), support_project)
    assert "holdout.jsonl" in str(info.value) and ":1" in str(info.value)


def test_system_prompt_and_few_shot_building() -> None:
    item = EvalItem("a", [{"role": "user", "content": "q"}], "r")
    with_system = EvalItem("b", [{"role": "system", "content": "own"}, {"role": "user", "content": "q"}], "r")
    assert build_conversation(item, "sys")[0] == {"role": "system", "content": "sys"}
    assert build_conversation(with_system, "sys")[0]["content"] == "own"
    pool = [EvalItem(str(i), [{"role": "user", "content": f"x{i}"}], f"y{i}") for i in range(5)]
    shots = draw_shots(pool, item, 2, seed=0)
    assert len(shots) == 2 and draw_shots(pool, item, 2, seed=0) == shots
    conversation = build_conversation(item, "sys", shots)
    assert [m["role"] for m in conversation] == ["system", "user", "assistant", "user", "assistant", "user"]


def test_production_source_is_a_real_precondition(support_project: Project) -> None:
    suite = write(
        support_project.root / "evals" / "prod.yaml",
        "name: prod\nitems: {production: {sample: 5}}\nmetrics: [json_valid]\n",
    )
    with pytest.raises(NotFound, match="no production request log exists yet"):
        load_items(load_suite(str(suite), support_project), support_project)
    with pytest.raises(NotFound):
        check_production_log(support_project)


def test_every_shipped_suite_validates() -> None:
    """Suites under examples/ and the built-in ones load, so docs and examples cannot drift."""
    root = Path(__file__).resolve().parents[2]
    shipped = sorted(root.glob("examples/**/evals/*.yaml"))
    assert shipped, "the support example ships a suite"
    for path in shipped:
        loaded = load_suite(str(path))
        assert loaded.suite.metrics and loaded.suite.primary in loaded.suite.output_names()
    for name in builtin_suites():
        assert load_suite(f"builtin:{name}").suite.name == name


def test_items_from_a_dataset_version(support_project: Project) -> None:
    from tuneloop.data import load_records, register_dataset_version

    holdout = support_project.root / "evals" / "holdout.jsonl"
    records = load_records([holdout])
    info = register_dataset_version(
        support_project, records, name="holdout", source_files=[str(holdout)], stats={}
    )
    suite = write(
        support_project.root / "evals" / "ds.yaml",
        "name: ds\nitems: {dataset: holdout}\nmetrics: [json_valid]\n",
    )
    items = load_items(load_suite(str(suite), support_project), support_project)
    from_file = load_items(load_suite("support", support_project), support_project)
    assert [i.id for i in items] == [i.id for i in from_file] and len(items) == info.num_records
    by_digest = write(
        support_project.root / "evals" / "dg.yaml",
        f"name: dg\nitems: {{dataset: '{info.digest[:10]}'}}\nmetrics: [json_valid]\n",
    )
    assert len(load_items(load_suite(str(by_digest), support_project), support_project)) == 8


def test_production_sample_reads_the_request_log(support_project: Project) -> None:
    """Once the serving stage logs requests (table request_logs), items are sampled from it."""
    from sqlalchemy import text

    engine = support_project.store.engine
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE request_logs (id INTEGER PRIMARY KEY, request JSON, created_at TIMESTAMP)")
        )
        for index in range(6):
            body = {"messages": [{"role": "user", "content": f"ticket {index % 4}"}]}
            connection.execute(
                text("INSERT INTO request_logs (request, created_at) VALUES (:r, CURRENT_TIMESTAMP)"),
                {"r": json.dumps(body)},
            )
    suite = write(
        support_project.root / "evals" / "prod.yaml",
        "name: prod\nitems: {production: {sample: 3}}\nmetrics: [json_valid]\n",
    )
    items = load_items(load_suite(str(suite), support_project), support_project)
    assert len(items) == 3 and len({i.id for i in items}) == 3  # duplicates collapse before sampling
    assert all(i.reference is None and i.messages[0]["content"].startswith("ticket") for i in items)
