"""Per-row decoding of a batch: whole characters only, stop strings held back, limits, cancellation."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from tuneloop.serve.streaming import BatchRouter, RowDecoder
from tuneloop.testing import tiny_tokenizer

END = 2  # <|im_end|>


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def feed(decoder: RowDecoder, tokens: list[int]) -> list[str]:
    pieces = []
    for token in tokens:
        if decoder.finished:
            break
        pieces.append(decoder.push(token))
    return pieces


def test_a_multi_byte_character_is_never_split(tokenizer) -> None:
    decoder = RowDecoder(tokenizer, [END], max_tokens=50, stop=())
    tokens = ids(tokenizer, "café ☕ ok")
    assert len(tokens) > len("café ☕ ok")  # é and ☕ span several byte tokens
    pieces = feed(decoder, [*tokens, END])
    assert all("\ufffd" not in piece for piece in pieces)
    assert "".join(pieces) == decoder.text == "café ☕ ok"
    assert decoder.finish_reason == "stop" and len(decoder.tokens) == len(tokens)  # the end token is free


def test_a_stop_string_cuts_the_text_and_is_never_streamed(tokenizer) -> None:
    decoder = RowDecoder(tokenizer, [END], max_tokens=50, stop=("STOP", "xyz"))
    pieces = feed(decoder, ids(tokenizer, "one ST two STOP three"))
    streamed = "".join(pieces)
    assert streamed == decoder.text == "one ST two "
    assert decoder.finish_reason == "stop"
    assert len(decoder.tokens) == len("one ST two STOP")  # charged up to the token that completed it


def test_held_back_text_is_released_when_no_stop_follows(tokenizer) -> None:
    decoder = RowDecoder(tokenizer, [END], max_tokens=5, stop=("abc",))
    pieces = feed(decoder, ids(tokenizer, "xxxab"))
    assert pieces[-2:] == ["", "ab"]  # "a", "ab" may start "abc": held until the row ends
    assert decoder.text == "xxxab" and decoder.finish_reason == "length"


def test_max_tokens_ends_the_row(tokenizer) -> None:
    decoder = RowDecoder(tokenizer, [END], max_tokens=3, stop=())
    feed(decoder, ids(tokenizer, "abcdef"))
    assert decoder.text == "abc" and decoder.finish_reason == "length" and len(decoder.tokens) == 3


@dataclass
class FakeRow:
    decoder: RowDecoder
    cancelled: bool = False
    texts: list[str] = field(default_factory=list)
    cancels: int = 0

    def on_text(self, text: str) -> None:
        self.texts.append(text)

    def on_cancel(self) -> None:
        self.cancels += 1


def test_the_router_stops_rows_one_by_one_and_the_batch_when_all_are_done(tokenizer) -> None:
    rows = [FakeRow(RowDecoder(tokenizer, [END], max_tokens=m, stop=())) for m in (2, 10, 10)]
    router = BatchRouter(rows)
    a = ids(tokenizer, "a")[0]
    step = torch.tensor([[a], [a], [a]])
    assert router(step, None).tolist() == [False, False, False]
    rows[2].cancelled = True
    assert router(step, None).tolist() == [True, False, True]  # row 0 at its limit, row 2 cancelled
    assert router(torch.tensor([[END], [a], [END]]), None).tolist() == [True, False, True]
    assert rows[0].decoder.text == "aa" and rows[0].texts[-1] == "a"
    assert rows[2].cancels == 1 and rows[2].texts == ["a"]  # dropped once, nothing more routed
    rows[1].cancelled = True
    assert router(step, None).tolist() == [True, True, True]
    router.close()
    assert rows[1].cancels == 1 and len(rows[1].decoder.tokens) == 3
