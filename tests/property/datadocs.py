"""Valid records of every supported data format, and writers that put them in every container.

Each format has three distinct valid rows; the property tests mutate the middle one, so in a JSONL or
JSON file every row-level problem must be reported on that row's line.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from propkit import json_text


def _chat(user: str, answer: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


_TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}

FORMAT_ROWS: dict[str, list[dict[str, Any]]] = {
    "openai-chat": [
        {"messages": [{"role": "system", "content": "Be brief."}, *_chat("Where is my order?", "On its way.")],
         "category": "shipping"},
        {"messages": [
            {"role": "system", "content": "You look things up."},
            {"role": "user", "content": "Status of order 42?", "name": "ann"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{\"id\": 42}"}}]},
            {"role": "tool", "content": "shipped", "tool_call_id": "c1"},
            {"role": "assistant", "content": "Order 42 has shipped.", "weight": 1},
        ], "tools": [_TOOL], "category": "orders", "intent": "status"},
        {"messages": _chat("Can I pay by card?", "Yes, every major card."), "metadata": {"category": "billing"}},
    ],
    "sharegpt": [
        {"conversations": [{"from": "human", "value": "Hi there"}, {"from": "gpt", "value": "Hello!"}]},
        {"system": "Be kind.", "conversations": [
            {"from": "human", "value": "What is two plus two?"}, {"from": "gpt", "value": "Four."},
            {"from": "human", "value": "And three plus three?"}, {"from": "gpt", "value": "Six."}],
         "category": "math"},
        {"conversations": [{"from": "system", "value": "Terse."}, {"from": "user", "value": "Capital of France?"},
                           {"from": "assistant", "value": "Paris."}]},
    ],
    "alpaca": [
        {"instruction": "Translate to French", "input": "cat", "output": "chat"},
        {"instruction": "Summarise the text", "input": "A long story about a dog.", "output": "A dog story.",
         "system": "You summarise.", "category": "summary"},
        {"instruction": "Name a prime number", "output": "Seven."},
    ],
    "prompt-completion": [
        {"prompt": "The sky is", "completion": " blue."},
        {"prompt": [{"role": "user", "content": "Name a colour"}],
         "completion": [{"role": "assistant", "content": "Green."}], "category": "colours"},
        {"prompt": "Grass is", "completion": " green.", "tools": [_TOOL]},
    ],
    "trl-preference": [
        {"prompt": "Say hello", "chosen": "Hello!", "rejected": "Go away."},
        {"prompt": [{"role": "user", "content": "Tell a joke"}],
         "chosen": [{"role": "assistant", "content": "Why did the chicken cross the road?"}],
         "rejected": [{"role": "assistant", "content": "No."}], "category": "humour"},
        {"chosen": _chat("Is water wet?", "In everyday terms, yes."),
         "rejected": _chat("Is water wet?", "What a stupid question.")},
    ],
    "openai-preference": [
        {"input": {"messages": [{"role": "user", "content": "Greet me"}]},
         "preferred_output": [{"role": "assistant", "content": "Good morning!"}],
         "non_preferred_output": [{"role": "assistant", "content": "Whatever."}]},
        {"input": {"messages": [{"role": "system", "content": "Polite."}, {"role": "user", "content": "Thanks"}],
                   "tools": [_TOOL]},
         "preferred_output": [{"role": "assistant", "content": "You're welcome."}],
         "non_preferred_output": [{"role": "assistant", "content": "Sure."}], "category": "manners"},
        {"input": {"messages": [{"role": "user", "content": "Bye"}]},
         "preferred_output": [{"role": "assistant", "content": "Goodbye, take care."}],
         "non_preferred_output": [{"role": "assistant", "content": "Finally."}]},
    ],
    "text": [
        {"text": "Tuneloop reads raw text for continued pre-training."},
        {"text": "A second document about the product's warranty terms.", "category": "legal"},
        {"text": "The third document describes the return policy in detail."},
    ],
}  # fmt: skip

CONTAINERS = ["jsonl", "json", "csv", "parquet"]
"""How rows are stored: JSON lines, a JSON array (one element per line), CSV, Parquet."""


def write_rows(path: Path, rows: list[Any]) -> list[int]:
    """Write ``rows`` in the container the suffix names; returns each row's line (Parquet: row number).

    Raises ValueError when the container cannot hold the rows (Parquet needs one type per column)."""
    suffix = path.suffix
    if suffix == ".jsonl":
        path.write_text("".join(json_text(r) + "\n" for r in rows), encoding="utf-8")
        return list(range(1, len(rows) + 1))
    if suffix == ".json":
        path.write_text("[\n" + ",\n".join(json_text(r) for r in rows) + "\n]\n", encoding="utf-8")
        return list(range(2, len(rows) + 2))
    if suffix == ".csv":
        return _write_csv(path, rows)
    return _write_parquet(path, rows)


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else json_text(value))


def _write_csv(path: Path, rows: list[Any]) -> list[int]:
    columns: list[str] = []
    for row in rows:
        for key in row if isinstance(row, dict) else {"value": row}:
            if key not in columns:
                columns.append(key)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    lines = []
    for row in rows:
        lines.append(buffer.getvalue().count("\n") + 1)
        values = row if isinstance(row, dict) else {"value": row}
        writer.writerow([_cell(values.get(c)) for c in columns])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return lines


def _write_parquet(path: Path, rows: list[Any]) -> list[int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not all(isinstance(r, dict) for r in rows):
        raise ValueError("Parquet rows are objects")
    try:
        table = pa.Table.from_pylist(rows)
        pq.write_table(table, path)
    except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
    return list(range(1, len(rows) + 1))


def has_lines(container: str) -> bool:
    return container != "parquet"


def json_roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value))
