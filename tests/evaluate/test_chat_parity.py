"""Evaluation and red-teaming render a record as training does: its tools and system prompt included.

For records with tools and system prompts (their own, or the project's), the prompt the evaluation
stage builds for a record is exactly the head of the training text of the same record (the chat
template applied to the whole conversation, the assistant answer included): same text, same tokens.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tuneloop.data import load_records
from tuneloop.data.records import Conversation, messages_as_dicts
from tuneloop.data.template import assistant_token_mask, with_system_prompt
from tuneloop.evaluate.generation import render_prompt
from tuneloop.models import render_chat
from tuneloop.project import Project

PROJECT_PROMPT = "You are the support desk of Acme."
TOOLS = [
    {"type": "function", "function": {"name": "order_status", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "refund", "parameters": {"type": "object"}}},
]
# Tools go in the system turn (as Qwen's and Llama 3's templates do), so a prompt rendered without
# them differs from the training text from the first line on.
TOOLS_TEMPLATE = (
    "{%- if messages[0].role == 'system' %}{% set system = messages[0].content %}{% set rest = messages[1:] %}"
    "{%- else %}{% set system = none %}{% set rest = messages %}{% endif %}"
    "{%- if system is not none or tools %}<|im_start|>system\n"
    "{%- if system is not none %}{{ system }}{% endif %}"
    "{%- if tools %}\n# Tools\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}{% endif %}"
    "<|im_end|>\n{% endif %}"
    "{%- for message in rest %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ROWS = [
    {  # its own system prompt, which wins over the project's in training and evaluation alike
        "messages": [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "Where is order 7?"},
            {"role": "assistant", "content": "Shipped yesterday by courier."},
        ],
        "tools": TOOLS,
    },
    {  # no system prompt: both stages add the project's
        "messages": [
            {"role": "user", "content": "Refund order 12"},
            {"role": "assistant", "content": "Done, the refund is on its way."},
        ],
        "tools": TOOLS[1:],
    },
    {  # several turns: the prompt is everything before the last answer
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Status of order 3, please."},
            {"role": "assistant", "content": "It arrives on Monday, as planned by the carrier."},
        ],
        "tools": TOOLS,
    },
]


@pytest.fixture
def tools_tokenizer(tiny_tokenizer: Any) -> Any:
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = TOOLS_TEMPLATE
    return tokenizer


@pytest.fixture
def tools_project(project_dir: Path) -> Project:
    (project_dir / "evals").mkdir()
    (project_dir / "evals" / "tools.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (project_dir / "evals" / "tools.yaml").write_text(
        "name: tools\nitems: {file: tools.jsonl}\nmetrics: [exact_match]\n", encoding="utf-8"
    )
    project = Project.open()
    project.config.project.system_prompt = PROJECT_PROMPT
    return project


def training_text(tokenizer: Any, record: Conversation) -> tuple[str, list[int]]:
    """The text and token ids training sees for ``record`` (loss masks come from the same render)."""
    messages = with_system_prompt(record.messages, PROJECT_PROMPT)
    ids, _, exact = assistant_token_mask(tokenizer, messages, record.tools)
    assert exact
    return render_chat(tokenizer, messages_as_dicts(messages), tools=record.tools), ids


def assert_head_of_training(tokenizer: Any, prompt: str, record: Conversation) -> None:
    text, ids = training_text(tokenizer, record)
    assert text.startswith(prompt) and len(prompt) < len(text)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids


def training_records(project: Project) -> list[Conversation]:
    records = load_records([project.root / "evals" / "tools.jsonl"])
    assert all(isinstance(r, Conversation) and r.tools for r in records)
    return records  # type: ignore[return-value]


def test_evaluation_prompt_is_the_head_of_the_training_text(
    tools_project: Project, tools_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneloop.evaluate import runner
    from tuneloop.evaluate.generation import Generation

    asked: list[tuple[list[dict[str, Any]], Any]] = []

    def capture(project, reference, conversations, settings, *, use_cache=True, progress=None, tools=None):
        asked.extend(zip(conversations, tools or [None] * len(conversations), strict=True))
        return [Generation("x", 1, 1, 0.01, "stop", ("x",)) for _ in conversations]

    monkeypatch.setattr(runner, "generate_for_model", capture)
    monkeypatch.setattr("tuneloop.evaluate.generation.describe_model", lambda project, ref: (ref, ref))
    runner.run_suite(
        tools_project, "evals/tools.yaml", ["candidate"], automatic_baselines=False, use_cache=False
    )
    records = training_records(tools_project)
    assert len(asked) == len(records) == len(ROWS)
    for (conversation, tools), record in zip(asked, records, strict=True):
        assert tools == record.tools
        prompt = render_prompt(tools_tokenizer, conversation, tools)
        assert prompt.endswith("<|im_start|>assistant\n")
        assert_head_of_training(tools_tokenizer, prompt, record)
        text, _ = training_text(tools_tokenizer, record)
        assert text[len(prompt) :].startswith(record.final_answer() or "")
        # Without its tools the prompt is not the one training used: the test can fail.
        assert not text.startswith(render_prompt(tools_tokenizer, conversation))


def test_memorisation_probes_keep_the_record_tools(
    tools_project: Project, tools_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneloop.config.redteam import MemorisationSettings
    from tuneloop.redteam.campaign import RunOptions, answer_probes
    from tuneloop.redteam.dynamic import memorisation_probes

    records = training_records(tools_project)
    probes = memorisation_probes(records, MemorisationSettings(min_suffix_chars=4), seed=0)
    assert [p.tools for p in probes] == [r.tools for r in records]
    asked: list[tuple[list[dict[str, Any]], Any]] = []

    def capture(project, reference, conversations, settings, *, use_cache=True, progress=None, tools=None):
        from tuneloop.evaluate.generation import Generation

        asked.extend(zip(conversations, tools or [None] * len(conversations), strict=True))
        return [Generation("x", 1, 1, 0.01, "stop", ("x",)) for _ in conversations]

    monkeypatch.setattr("tuneloop.evaluate.generate_for_model", capture)
    answer_probes(
        tools_project, "candidate", probes, tools_project.config.redteam, RunOptions(model="candidate")
    )
    assert len(asked) == len(records)
    for (conversation, tools), record in zip(asked, records, strict=True):
        # A prefill of the trained answer: the model continues exactly where training's text goes on.
        assert_head_of_training(tools_tokenizer, render_prompt(tools_tokenizer, conversation, tools), record)
