"""``data check`` end to end: gates and exit codes, reports, registration, and the cleaning verbs."""

from __future__ import annotations

import json
from pathlib import Path

from datahelpers import chat_row, clean_rows, label_rows, seeded_dataset, write_jsonl

from tuneloop.data import check_dataset, get_dataset_version, load_records
from tuneloop.project import Project


def _codes(result) -> dict[str, str]:
    return {f.code: f.severity for f in result.findings}


def test_clean_dataset_passes_registers_and_links_its_report(cli, data_project: Path) -> None:
    write_jsonl(data_project / "train.jsonl", clean_rows(120))
    result = cli("data", "check", "train.jsonl", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["gate"]["passed"] and report["ok"]
    assert report["tokens"]["tokens"]["max"] < 2048 and 0 < report["tokens"]["assistant_token_share"] < 1
    assert report["tokens"]["overlength"] == 0
    version = get_dataset_version(Project.open(), report["dataset_version"]["digest"][:12])
    assert version.gate_passed and version.num_records == 120
    html = Project.open().artifacts.blob_path(version.report_html_sha256).read_text()
    for section in ("Findings", "Lengths", "Duplicates", "Conflicts", "tokens per example"):
        assert section in html
    human = cli("data", "check", "train.jsonl", "--report", "out/report")
    assert human.exit_code == 0 and "PASSED" in human.stdout
    assert (data_project / "out" / "report.html").exists() and (data_project / "out" / "report.json").exists()


def test_too_few_examples_fails_the_gate(cli, data_project: Path) -> None:
    write_jsonl(data_project / "tiny.jsonl", clean_rows(20))
    result = cli("data", "check", "tiny.jsonl", "--no-register")
    assert result.exit_code == 1
    assert "too_few_examples" in result.stdout and "FAILED" in result.stdout
    write_jsonl(data_project / "some.jsonl", clean_rows(70))
    warned = cli("data", "check", "some.jsonl", "--no-register", "--json")
    assert warned.exit_code == 0
    assert {f["code"]: f["severity"] for f in json.loads(warned.stdout)["findings"]}[
        "few_examples"
    ] == "warning"


def test_domain_goal_needs_a_thousand(data_project: Path) -> None:
    write_jsonl(data_project / "d.jsonl", clean_rows(300))
    result = check_dataset(Project.open(), [data_project / "d.jsonl"], goal="domain", register=False)
    assert _codes(result)["too_few_examples"] == "error" and not result.gate_passed


def test_per_category_minimum(data_project: Path) -> None:
    rows = clean_rows(120)
    for row in rows[:3]:
        row["category"] = "rare"
    write_jsonl(data_project / "d.jsonl", rows)
    result = check_dataset(Project.open(), [data_project / "d.jsonl"], register=False)
    assert _codes(result)["category_too_small"] == "error"


def test_duplicates_conflicts_secrets_and_holdout_fail_or_warn(data_project: Path) -> None:
    seeded = seeded_dataset()
    write_jsonl(data_project / "dups.jsonl", seeded.rows)
    result = check_dataset(Project.open(), [data_project / "dups.jsonl"], register=False)
    assert _codes(result)["duplicates"] == "error"  # 80 of 280 removable > 10%
    assert result.report["duplicates"]["exact"] == 40 and result.report["duplicates"]["near"] == 40
    rows, _ = label_rows(200)
    write_jsonl(data_project / "labels.jsonl", rows)
    labelled = check_dataset(Project.open(), [data_project / "labels.jsonl"], register=False)
    assert _codes(labelled)["conflicting_answers"] == "error"  # 30 of 215 examples in conflict > 5%
    secret_rows = clean_rows(100)
    secret_rows[7]["messages"][1]["content"] += " use key AKIAIOSFODNN7EXAMPLE"
    secret_rows[9]["messages"][0]["content"] += " my email is ann.lee@example.com"
    write_jsonl(data_project / "secret.jsonl", secret_rows)
    leaked = check_dataset(Project.open(), [data_project / "secret.jsonl"], register=False)
    assert _codes(leaked)["secrets_found"] == "error" and _codes(leaked)["pii_found"] == "warning"
    items = {(i["line"], i["kind"]) for i in leaked.report["sensitive"]["items"]}
    assert items == {(8, "api_key"), (10, "email")}
    train = clean_rows(120)
    write_jsonl(data_project / "train.jsonl", train)
    write_jsonl(data_project / "holdout.jsonl", [train[0], *clean_rows(130)[120:]])
    held = check_dataset(
        Project.open(),
        [data_project / "train.jsonl"],
        holdout=[data_project / "holdout.jsonl"],
        register=False,
    )
    assert _codes(held)["holdout_contaminated"] == "error"
    assert held.report["contamination"]["items"][0]["line"] == 1


def test_overlength_examples_are_listed_and_dropped_never_truncated(data_project: Path) -> None:
    rows = clean_rows(110)
    rows[4]["messages"][1]["content"] = "long answer " * 100
    write_jsonl(data_project / "d.jsonl", rows)
    result = check_dataset(Project.open(), [data_project / "d.jsonl"], register=False, max_length=1000)
    assert _codes(result)["over_max_length"] == "warning"
    listed = result.report["tokens"]["overlength_examples"]
    assert [e["line"] for e in listed] == [5] and listed[0]["assistant_tokens_lost"] > 0
    assert not listed[0]["final_answer_survives"]
    assert len(result.training_records) == 109 and result.records[4] not in result.training_records


def test_production_sample_coverage(data_project: Path) -> None:
    write_jsonl(data_project / "train.jsonl", clean_rows(120))
    covered = [chat_row(r["messages"][0]["content"], "x") for r in clean_rows(120)[:30]]
    novel = [
        {"prompt": "an entirely new topic nobody trained on, about gardening tomatoes"} for _ in range(40)
    ]
    write_jsonl(data_project / "prod.jsonl", covered + novel)
    result = check_dataset(Project.open(), [data_project / "train.jsonl"], production_sample=data_project / "prod.jsonl",
                           register=False, embeddings=False)  # fmt: skip
    match = result.report["production_match"]
    assert match["uncovered"] == 40 and match["production_inputs"] == 70
    assert _codes(result)["production_not_covered"] == "error"  # 57% > 50%
    assert {c["category"] for c in match["categories"]} >= {"billing", "technical"}


def test_dedup_cli_writes_cleaned_file_and_log(cli, data_project: Path) -> None:
    seeded = seeded_dataset()
    write_jsonl(data_project / "dups.jsonl", seeded.rows)
    result = cli("data", "dedup", "dups.jsonl", "-o", "clean.jsonl", "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["removed"] == 80 and payload["kept"] == 200
    assert len(load_records([data_project / "clean.jsonl"])) == 200
    log = [json.loads(line) for line in (data_project / "clean.removed.jsonl").read_text().splitlines()]
    assert len(log) == 80 and all(entry["kept"]["line"] < entry["removed"]["line"] for entry in log)
    assert cli("data", "dedup", "dups.jsonl", "-o", "dups.jsonl").exit_code == 2  # never over an input


def test_redact_cli_writes_a_redacted_copy(cli, data_project: Path) -> None:
    rows = clean_rows(3)
    rows[1]["messages"][0]["content"] = "reach me at ann.lee@example.com or +44 20 7946 0958"
    write_jsonl(data_project / "pii.jsonl", rows)
    result = cli("data", "redact", "pii.jsonl", "-o", "redacted.jsonl")
    assert result.exit_code == 0, result.stderr
    text = (data_project / "redacted.jsonl").read_text()
    assert "[EMAIL]" in text and "[PHONE]" in text and "ann.lee" not in text
    assert "ann.lee" in (data_project / "pii.jsonl").read_text()  # the input is untouched
    assert cli("data", "redact", "pii.jsonl").exit_code == 2


def test_check_uses_the_project_data_section(cli, data_project: Path) -> None:
    write_jsonl(data_project / "train.jsonl", clean_rows(110))
    with (data_project / "tuneloop.yaml").open("a") as handle:
        handle.write("  train: [train.jsonl]\n  volume:\n    behaviour: {fail_below: 200, warn_below: 300}\n")
    result = cli("data", "check", "--no-register")
    assert result.exit_code == 1 and "too_few_examples" in result.stdout
