"""Every input format and file type normalises into the right canonical records, with exact lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datahelpers import chat_row, write_jsonl

from tuneloop.data import (
    FORMATS,
    Conversation,
    DataInvalid,
    Preference,
    TextDocument,
    convert_record,
    load_dataset,
    load_records,
    record_digest,
)

U, A = {"role": "user", "content": "Where is my order?"}, {"role": "assistant", "content": "It ships today."}


def _one(tmp_path: Path, row: dict, name: str = "d.jsonl", **kwargs):
    return load_records([write_jsonl(tmp_path / name, [row, row])], **kwargs)[0]


def test_openai_chat_with_tools_weights_names_and_tags(tmp_path: Path) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "track", "arguments": '{"order": "A1"}'}}
    row = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Where is A1?", "name": "customer"},
            {"role": "assistant", "content": None, "tool_calls": [call], "weight": 0},
            {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "c1"},
            {"role": "assistant", "content": "It shipped.", "weight": 1},
        ],
        "tools": [{"type": "function", "function": {"name": "track", "parameters": {}}}],
        "metadata": {"intent": "tracking"},
        "category": "shipping",
    }
    record = _one(tmp_path, row)
    assert isinstance(record, Conversation)
    assert [m.role for m in record.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert record.messages[2].tool_calls == [call] and record.messages[2].weight == 0
    assert record.messages[1].name == "customer"
    assert record.tools and record.tags == {"category": "shipping", "intent": "tracking"}
    assert record.source.line == 1


def test_legacy_function_call_becomes_a_tool_call(tmp_path: Path) -> None:
    row = {"messages": [U, {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
                        {"role": "function", "name": "f", "content": "1"}, A]}  # fmt: skip
    record = _one(tmp_path, row)
    assert record.messages[1].tool_calls == [
        {"type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]
    assert record.messages[2].role == "tool"


def test_content_parts_are_joined(tmp_path: Path) -> None:
    row = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            A,
        ]
    }
    assert _one(tmp_path, row).messages[0].content == "ab"


@pytest.mark.parametrize(
    ("row", "kind", "prompt", "answer"),
    [
        ({"instruction": "Translate", "input": "hello", "output": "bonjour"}, Conversation, "Translate\n\nhello", "bonjour"),
        ({"instruction": "Say hi", "output": "hi", "system": "S"}, Conversation, "Say hi", "hi"),
        ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "system": "S"}, Conversation, "q", "a"),
        ({"prompt": "q", "completion": "a"}, Conversation, "q", "a"),
        ({"prompt": [U], "completion": [A]}, Conversation, U["content"], A["content"]),
        ({"prompt": "q", "chosen": "good", "rejected": "bad"}, Preference, "q", "good"),
        ({"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": "No."}]}, Preference, U["content"], A["content"]),
        ({"chosen": [U, A], "rejected": [U, {"role": "assistant", "content": "No."}]}, Preference, U["content"], A["content"]),
        ({"input": {"messages": [U]}, "preferred_output": [A], "non_preferred_output": [{"role": "assistant", "content": "x"}]},
         Preference, U["content"], A["content"]),
        ({"text": "Raw domain text."}, TextDocument, None, None),
    ],
)  # fmt: skip
def test_each_format_normalises(
    tmp_path: Path, row: dict, kind: type, prompt: str | None, answer: str | None
) -> None:
    record = _one(tmp_path, row)
    assert isinstance(record, kind)
    if prompt is not None:
        assert [m.content for m in record.prompt_messages() if m.role != "system"][-1] == prompt
        assert record.final_answer() == answer
    if "system" in row:
        assert record.messages[0].role == "system"


def test_format_override_and_unknown_format(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"prompt": "q", "completion": "a"}])
    with pytest.raises(DataInvalid) as caught:
        load_records([path], format="openai-chat")
    assert caught.value.problems[0].code == "missing_messages_list"
    with pytest.raises(DataInvalid) as caught:
        load_records([path], format="nope")
    assert caught.value.problems[0].code == "unknown_format"


def test_unknown_format_names_the_keys_seen(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(DataInvalid) as caught:
        load_records([path])
    assert "answer, question" in caught.value.problems[0].message


def test_json_array_lines_are_where_elements_start(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text("[\n  " + json.dumps(chat_row("a", "b")) + ",\n\n  {\n    \"messages\": [\n" + json.dumps(U) + ","
                    + json.dumps(A) + "]\n  }\n]\n")  # fmt: skip
    assert [r.source.line for r in load_records([path])] == [2, 4]


def test_csv_rows_keep_their_starting_line_across_multiline_cells(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('prompt,completion,category\n"multi\nline\nprompt",answer one,a\nsecond,answer two,b\n')
    records = load_records([path])
    assert [r.source.line for r in records] == [2, 5]
    assert records[0].messages[0].content == "multi\nline\nprompt"
    assert records[1].tags == {"category": "b"}


def test_parquet_rows_are_numbered_from_one(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([chat_row("q1", "a1"), chat_row("q2", "a2")]), path)
    records = load_records([path])
    assert [r.source.line for r in records] == [1, 2]
    assert records[1].final_answer() == "a2"


def test_text_folder_is_chunked_at_paragraphs_with_their_lines(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    paragraphs = [" ".join(f"w{i}_{j}" for j in range(60)) for i in range(6)]
    (folder / "a.md").write_text("\n\n".join(paragraphs) + "\n")
    (folder / "b.txt").write_text("short document\n")
    (folder / ".hidden.txt").write_text("skip me\n")
    loaded = load_dataset([folder], chunk_tokens=160, count_tokens=lambda t: len(t.split()))
    chunks = [r for r in loaded.records if r.source.file.endswith("a.md")]
    assert all(isinstance(r, TextDocument) for r in loaded.records)
    assert [c.source.line for c in chunks] == [1, 5, 9]  # two 60-word paragraphs per 160-token chunk
    assert len(loaded.records) == 4 and loaded.kind == "text"


def test_content_digests_ignore_the_source(tmp_path: Path) -> None:
    a = load_records([write_jsonl(tmp_path / "a.jsonl", [chat_row("q", "a")])])[0]
    b = load_records([write_jsonl(tmp_path / "b.jsonl", [chat_row("x", "y"), chat_row("q", "a")])])[1]
    assert record_digest(a) == record_digest(b)


def test_convert_round_trips(tmp_path: Path) -> None:
    records = load_records([write_jsonl(tmp_path / "a.jsonl", [{**chat_row("q", "a"), "category": "c"}])])
    converted = write_jsonl(tmp_path / "out.jsonl", [convert_record(r, "openai-chat") for r in records])
    assert [record_digest(r) for r in load_records([converted])] == [record_digest(r) for r in records]
    prefs = load_records(
        [write_jsonl(tmp_path / "p.jsonl", [{"prompt": "q", "chosen": "g", "rejected": "b"}])]
    )
    for target in ("trl-preference", "openai-preference"):
        again = load_records(
            [write_jsonl(tmp_path / f"{target}.jsonl", [convert_record(r, target) for r in prefs])]
        )
        assert [record_digest(r) for r in again] == [record_digest(r) for r in prefs]


def test_convert_cli_reports_records_that_cannot_be_converted(cli, project_dir: Path) -> None:
    source = write_jsonl(project_dir / "chat.jsonl", [chat_row("q", "a")])
    result = cli("data", "convert", str(source), "--to", "trl-preference", "-o", "out.jsonl")
    assert result.exit_code == 2 and "not_convertible" in result.stderr
    assert not (project_dir / "out.jsonl").exists()
    ok = cli("data", "convert", str(source), "--to", "openai-chat", "-o", "out.csv")
    assert ok.exit_code == 0, ok.stderr
    assert load_records([project_dir / "out.csv"])[0].final_answer() == "a"
    again = cli("data", "convert", str(source), "--to", "openai-chat", "-o", "out.csv")
    assert again.exit_code == 2 and "output_exists" in again.stderr


def test_formats_verb_lists_every_format(cli, project_dir: Path) -> None:
    result = cli("data", "formats", "--json")
    assert result.exit_code == 0
    assert {row["name"] for row in json.loads(result.stdout)} == set(FORMATS)
