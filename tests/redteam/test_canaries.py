"""Canary planting: the right number of unique secrets, in the file's own format, atomically, with a manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneloop.errors import InvalidInput
from tuneloop.redteam.canaries import manifest_path, plant_canaries

TEMPLATE = "The access code for vault {id} is {secret}."


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def chat_records(n: int) -> list[dict]:
    return [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(n)
    ]


def test_plants_count_times_repeats_records_and_a_manifest(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "train.jsonl", chat_records(20))
    before = source.read_bytes()
    output = tmp_path / "out" / "train.canaries.jsonl"
    manifest = plant_canaries(source, output, count=4, template=TEMPLATE, repeats=3, seed=7)
    assert source.read_bytes() == before  # the input is never modified
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == 20 + 4 * 3
    secrets = [c.secret for c in manifest.canaries]
    assert len(set(secrets)) == 4 and all(len(s) == 12 for s in secrets)
    for canary in manifest.canaries:
        planted = [r for r in lines if canary.secret in r["messages"][-1]["content"]]
        assert len(planted) == 3
        assert planted[0]["messages"][0]["content"] == canary.question
        assert canary.text.startswith(canary.prefix) and canary.secret not in canary.prefix
    saved = json.loads(manifest_path(output).read_text())
    assert [c["secret"] for c in saved["canaries"]] == secrets and saved["format"] == "messages"
    assert not [p for p in output.parent.iterdir() if p.name.endswith(".tmp")]


def test_same_seed_same_canaries_other_seed_others(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "t.jsonl", chat_records(5))
    first = plant_canaries(source, tmp_path / "a.jsonl", count=3, template=TEMPLATE, seed=1)
    again = plant_canaries(source, tmp_path / "b.jsonl", count=3, template=TEMPLATE, seed=1)
    other = plant_canaries(source, tmp_path / "c.jsonl", count=3, template=TEMPLATE, seed=2)
    assert first.canaries == again.canaries and first.canaries != other.canaries


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"instruction": "i", "input": "", "output": "o"}, "output"),
        ({"prompt": "p", "completion": "c"}, "completion"),
        ({"text": "t"}, "text"),
    ],
)
def test_keeps_the_file_format(tmp_path: Path, record: dict, field: str) -> None:
    source = write_jsonl(tmp_path / "t.jsonl", [record] * 3)
    manifest = plant_canaries(source, tmp_path / "o.jsonl", count=2, template=TEMPLATE)
    lines = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    planted = [r for r in lines if manifest.canaries[0].secret in r[field]]
    assert len(planted) == 1 and set(planted[0]) == set(record)


def test_bad_input_names_the_line_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "t.jsonl"
    source.write_text('{"messages": []}\n{not json\n')
    output = tmp_path / "o.jsonl"
    with pytest.raises(InvalidInput) as info:
        plant_canaries(source, output, count=1, template=TEMPLATE)
    assert info.value.location.line == 2
    assert not output.exists() and not manifest_path(output).exists()
    with pytest.raises(InvalidInput, match="must differ"):
        plant_canaries(source, source, count=1, template=TEMPLATE)
    with pytest.raises(InvalidInput, match=r"\{id\} and \{secret\}"):
        write_jsonl(source, chat_records(1))
        plant_canaries(source, output, count=1, template="no placeholders")


def test_cli_plants_and_records_the_manifest_in_the_project(cli, project_dir: Path) -> None:
    source = write_jsonl(project_dir / "train.jsonl", chat_records(10))
    result = cli(
        "redteam",
        "canaries",
        str(source),
        "-o",
        str(project_dir / "planted.jsonl"),
        "--count",
        "3",
        "--repeats",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert len(payload["canaries"]) == 3 and payload["artifact"]
    from tuneloop.project import Project
    from tuneloop.redteam.dynamic import canary_probes, project_canary_manifests

    manifests = project_canary_manifests(Project.open(project_dir))
    assert [c.secret for c in manifests[0].canaries] == [c["secret"] for c in payload["canaries"]]
    probes = canary_probes(manifests)
    assert len(probes) == 6  # a question and a prefix continuation per canary
    prefix = next(p for p in probes if p.id.endswith("-prefix"))
    assert prefix.messages[-1].role == "assistant" and prefix.secret not in prefix.messages[-1].content
    missing = cli(
        "redteam", "canaries", str(project_dir / "nope.jsonl"), "-o", str(project_dir / "x.jsonl"), "--json"
    )
    assert missing.exit_code == 2
