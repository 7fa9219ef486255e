"""Loss masking: which tokens carry loss for each masking mode and record kind."""

from __future__ import annotations

import pytest

from tuneloop.data.records import Conversation, Message, Preference, SourceRef, TextDocument
from tuneloop.errors import InvalidInput
from tuneloop.train.tokenize import IGNORE, ChatRenderer, build_items, tokenize_conversation

SOURCE = SourceRef(file="t.jsonl", line=1)


def _conversation(*turns: tuple[str, str, float | None]) -> Conversation:
    return Conversation(messages=[Message(role=r, content=c, weight=w) for r, c, w in turns], source=SOURCE)


def _trained_text(tokenizer, sequence) -> list[str]:
    """The decoded runs of consecutive trained tokens."""
    runs, current = [], []
    for token, label in zip(sequence.input_ids, sequence.labels, strict=True):
        if label != IGNORE:
            assert label == token
            current.append(token)
        elif current:
            runs.append(tokenizer.decode(current))
            current = []
    if current:
        runs.append(tokenizer.decode(current))
    return runs


def test_assistant_only_trains_every_assistant_turn_and_its_end_of_turn(tiny_tokenizer):
    renderer = ChatRenderer(tiny_tokenizer, max_length=512)
    record = _conversation(
        ("system", "Be brief.", None),
        ("user", "hi", None),
        ("assistant", "hello", None),
        ("user", "bye", None),
        ("assistant", "see you", None),
    )
    sequence = tokenize_conversation(renderer, record, "assistant_only")
    assert _trained_text(tiny_tokenizer, sequence) == ["hello<|im_end|>", "see you<|im_end|>"]
    # the end-of-turn token is trained although it is also the pad id
    assert tiny_tokenizer.pad_token_id == tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert sequence.labels.count(tiny_tokenizer.pad_token_id) == 2


def test_completion_only_trains_the_last_assistant_turn(tiny_tokenizer):
    renderer = ChatRenderer(tiny_tokenizer, max_length=512)
    record = _conversation(
        ("user", "hi", None), ("assistant", "hello", None), ("user", "bye", None), ("assistant", "ciao", None)
    )
    sequence = tokenize_conversation(renderer, record, "completion_only")
    assert _trained_text(tiny_tokenizer, sequence) == ["ciao<|im_end|>"]


def test_weight_zero_turns_are_not_trained(tiny_tokenizer):
    renderer = ChatRenderer(tiny_tokenizer, max_length=512)
    record = _conversation(
        ("user", "hi", None),
        ("assistant", "bad answer", 0),
        ("user", "again", None),
        ("assistant", "good", 1),
    )
    sequence = tokenize_conversation(renderer, record, "assistant_only")
    assert _trained_text(tiny_tokenizer, sequence) == ["good<|im_end|>"]


def test_full_masking_trains_everything_but_the_first_token(tiny_tokenizer):
    renderer = ChatRenderer(tiny_tokenizer, max_length=512)
    sequence = tokenize_conversation(
        renderer, _conversation(("user", "hi", None), ("assistant", "yo", None)), "full"
    )
    assert sequence.labels[0] == IGNORE
    assert sequence.labels[1:] == sequence.input_ids[1:]


def test_project_system_prompt_is_added_only_when_missing(tiny_tokenizer):
    renderer = ChatRenderer(tiny_tokenizer, max_length=512, system_prompt="You triage tickets.")
    plain = tokenize_conversation(renderer, _conversation(("user", "hi", None), ("assistant", "yo", None)))
    own = tokenize_conversation(
        renderer,
        _conversation(("system", "Own prompt.", None), ("user", "hi", None), ("assistant", "yo", None)),
    )
    assert "You triage tickets." in tiny_tokenizer.decode(plain.input_ids)
    assert "You triage tickets." not in tiny_tokenizer.decode(own.input_ids)
    assert "SmolLM" not in tiny_tokenizer.decode(
        plain.input_ids
    )  # the template's default system prompt is replaced


def test_truncation_is_marked_and_keeps_the_first_label_ignored(tiny_tokenizer):
    renderer = ChatRenderer(tiny_tokenizer, max_length=40)
    sequence = tokenize_conversation(
        renderer, _conversation(("user", "x" * 80, None), ("assistant", "yo", None))
    )
    assert sequence.truncated and len(sequence) == 40 and sequence.num_loss_tokens == 0


def test_preference_items_train_only_the_completions(tiny_tokenizer):
    record = Preference(
        prompt=[Message(role="user", content="q?")],
        chosen=[Message(role="assistant", content="good")],
        rejected=[Message(role="assistant", content="bad")],
        source=SOURCE,
    )
    (item,) = build_items([record], tiny_tokenizer, method="dpo", max_length=512, masking="assistant_only")
    chosen, rejected = item.sequences
    assert _trained_text(tiny_tokenizer, chosen) == ["good<|im_end|>"]
    assert _trained_text(tiny_tokenizer, rejected) == ["bad<|im_end|>"]
    assert item.trained_sequences == 2


def test_kto_items_are_unpaired_with_a_mismatched_kl_completion(tiny_tokenizer):
    records = [
        Preference(
            prompt=[Message(role="user", content=f"q{i}?")],
            chosen=[Message(role="assistant", content=f"good{i}")],
            rejected=[Message(role="assistant", content=f"bad{i}")],
            source=SourceRef(file="p.jsonl", line=i),
        )
        for i in range(3)
    ]
    items = build_items(
        records, tiny_tokenizer, method="kto", max_length=512, masking="assistant_only", seed=0
    )
    assert [item.desirable for item in items] == [True] * 3 + [False] * 3
    for item in items:
        prompt = tiny_tokenizer.decode(item.sequences[0].input_ids).split("<|im_start|>assistant")[0]
        kl_text = tiny_tokenizer.decode(item.sequences[1].input_ids)
        assert kl_text.startswith(prompt)  # same prompt ...
        assert _trained_text(tiny_tokenizer, item.sequences[1]) != _trained_text(
            tiny_tokenizer, item.sequences[0]
        )


def test_cpt_documents_are_fully_trained_and_split_into_chunks(tiny_tokenizer):
    document = TextDocument(text="abcdefghij" * 10, source=SOURCE)
    items = build_items([document], tiny_tokenizer, method="cpt", max_length=32, masking="assistant_only")
    assert len(items) == 4  # 100 bytes + EOS = 101 tokens in chunks of 32
    assert items[-1].sequences[0].input_ids[-1] == tiny_tokenizer.eos_token_id
    for item in items:
        sequence = item.sequences[0]
        assert sequence.labels[0] == IGNORE and sequence.labels[1:] == sequence.input_ids[1:]


def test_a_record_of_the_wrong_kind_names_its_file_and_line(tiny_tokenizer):
    with pytest.raises(InvalidInput) as info:
        build_items(
            [TextDocument(text="x", source=SOURCE)],
            tiny_tokenizer,
            method="sft",
            max_length=64,
            masking="assistant_only",
        )
    assert info.value.location.file == "t.jsonl" and info.value.location.line == 1
