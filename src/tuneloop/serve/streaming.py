"""Per-row bookkeeping of a batched ``generate``: incremental text, stop strings, limits, cancellation.

Each row of a batch is one choice of one request, with its own ``max_tokens``, stop strings and client.
:class:`BatchRouter` receives every decoding step's new token of every row and hands each row's token
to its :class:`RowDecoder`, which turns tokens into text without splitting a multi-byte character,
holds back text that may be the start of a stop string, and decides when the row is finished.

The router is a ``StoppingCriteria``, not a ``BaseStreamer``: in transformers 5.x ``generate`` calls the
stopping criteria *before* the streamer with the same new tokens, so routing there lets a row stop at
exactly its own limit (no extra decoding step, nothing charged beyond what it produced) and lets the
batch end as soon as every row is finished or cancelled. Finished rows keep receiving padding, which
is ignored; they do not change the other rows' answers (rows never attend to each other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from transformers import StoppingCriteria

from tuneloop.serve.backend import BackendError, Prompt, Sampling

if TYPE_CHECKING:
    from tuneloop.serve.model_pool import PooledModel

REPLACEMENT = "\ufffd"
"""What a tokenizer decodes an incomplete UTF-8 sequence to: wait for the next token."""


class RowDecoder:
    """Tokens of one row to text pieces, finishing on an end token, a stop string or ``max_tokens``."""

    def __init__(self, tokenizer: Any, end_ids: Sequence[int], max_tokens: int, stop: Sequence[str]) -> None:
        self._tokenizer = tokenizer
        self._end_ids = frozenset(end_ids)
        self._max_tokens = max_tokens
        self._stop = tuple(s for s in stop if s)
        self.tokens: list[int] = []
        self.text = ""
        """Text released so far (the answer, once finished)."""
        self.finish_reason: str | None = None
        self._held = ""
        """Decoded text not yet released: it may be the start of a stop string."""
        self._prefix_offset = 0
        self._read_offset = 0

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def push(self, token: int) -> str:
        """Take the row's next token; returns the text it releases (possibly empty)."""
        if token in self._end_ids:
            return self._finish("stop", self._held + self._decode_new(final=True))
        self.tokens.append(token)
        self._held += self._decode_new()
        cut = self._first_stop()
        if cut is not None:
            return self._finish("stop", self._held[:cut])
        if len(self.tokens) >= self._max_tokens:
            return self.close()
        keep = self._stop_prefix_length()
        released, self._held = self._held[: len(self._held) - keep], self._held[len(self._held) - keep :]
        self.text += released
        return released

    def close(self) -> str:
        """Finish at the length limit; returns the text it releases (an unfinished character decodes
        to U+FFFD, as a plain decode of the tokens would give)."""
        return self._finish("length", self._held + self._decode_new(final=True))

    def _finish(self, reason: str, released: str) -> str:
        self.finish_reason = reason
        self._held = ""
        self.text += released
        return released

    def _decode_new(self, final: bool = False) -> str:
        """New text of the latest tokens, decoded with a little context so spacing rules hold; empty
        while the tokens end inside a multi-byte character (unless ``final``)."""
        decode = self._tokenizer.decode
        before = decode(self.tokens[self._prefix_offset : self._read_offset], skip_special_tokens=True)
        after = decode(self.tokens[self._prefix_offset :], skip_special_tokens=True)
        if len(after) <= len(before) or (after.endswith(REPLACEMENT) and not final):
            return ""
        self._prefix_offset, self._read_offset = self._read_offset, len(self.tokens)
        return after[len(before) :]

    def _first_stop(self) -> int | None:
        found = [i for i in (self._held.find(s) for s in self._stop) if i >= 0]
        return min(found) if found else None

    def _stop_prefix_length(self) -> int:
        """Length of the longest end of the held text that begins some stop string."""
        longest = 0
        for stop in self._stop:
            for size in range(min(len(stop) - 1, len(self._held)), longest, -1):
                if self._held.endswith(stop[:size]):
                    longest = size
                    break
        return longest


class Row(Protocol):
    """One row of a batch as the router sees it."""

    @property
    def decoder(self) -> RowDecoder: ...

    @property
    def cancelled(self) -> bool: ...

    def on_text(self, text: str) -> None:
        """Called with each released piece, and once more (possibly with "") when the row finishes."""
        ...

    def on_cancel(self) -> None:
        """Called once when the router drops the row because its request was cancelled."""
        ...


@dataclass
class BatchRouter(StoppingCriteria):
    """Routes each step's new tokens to the rows' decoders; a row is done once finished or cancelled."""

    rows: Sequence[Row]

    def __post_init__(self) -> None:
        self._done = [False] * len(self.rows)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        newest = input_ids[:, -1].tolist()
        for i, (row, token) in enumerate(zip(self.rows, newest, strict=True)):
            if self._done[i]:
                continue
            if row.cancelled:
                self._done[i] = True
                row.on_cancel()
                continue
            piece = row.decoder.push(int(token))
            self._done[i] = row.decoder.finished
            if piece or row.decoder.finished:
                row.on_text(piece)
        return torch.tensor(self._done, dtype=torch.bool, device=input_ids.device)

    def close(self) -> None:
        """End the rows still open when ``generate`` returned (it stops at the batch's largest
        ``max_tokens``, or at the model's own length limit)."""
        for i, row in enumerate(self.rows):
            if not self._done[i]:
                self._done[i] = True
                if row.cancelled:
                    row.on_cancel()
                else:
                    row.on_text(row.decoder.close())


class BatchRequest(Protocol):
    """What :func:`run_batch` needs of a queued request."""

    prompt: Prompt
    sampling: Sampling
    cancelled: bool
    prompt_tokens: int

    def resolve(self, outcome: BackendError | None) -> None:
        """End the request before it runs (an error, or None once cancelled)."""
        ...


@dataclass
class BatchCounters:
    """What the engine has generated so far (metrics and benchmarks read it)."""

    batches: int = 0
    rows: int = 0
    """Rows (choices) run; ``rows / batches`` is the mean batch size."""
    tokens: int = 0


RowFactory = Callable[[Any, int, RowDecoder], Row]
"""Builds the row of choice ``index`` of a request (the engine's rows post to its clients)."""


def prompt_text(tokenizer: Any, prompt: Prompt) -> str:
    """Chat messages through the model's chat template (a new assistant turn); raw text as it is."""
    if prompt.messages is not None:
        from tuneloop.models import render_chat

        return render_chat(tokenizer, [dict(m) for m in prompt.messages], ending="open")
    assert prompt.text is not None
    return prompt.text


def admit(batch: Sequence[BatchRequest], tokenizer: Any, context: int | None) -> list[tuple[Any, str]]:
    """The requests of ``batch`` that can run, with their prompt text; the others are ended here
    (cancelled while queued, or a prompt plus ``max_tokens`` beyond the model's context)."""
    admitted = []
    for request in batch:
        if request.cancelled:
            request.resolve(None)
            continue
        text = prompt_text(tokenizer, request.prompt)
        request.prompt_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if context is not None and request.prompt_tokens + request.sampling.max_tokens > context:
            request.resolve(
                BackendError(
                    f"the prompt ({request.prompt_tokens} tokens) plus max_tokens "
                    f"({request.sampling.max_tokens}) exceed the model's context of {context} tokens",
                    status=400,
                    code="context_length_exceeded",
                )
            )
            continue
        admitted.append((request, text))
    return admitted


def decoding_options(sampling: Sampling) -> dict[str, Any]:
    """``generate`` options of a batch's shared decoding mode (greedy, or one temperature and top_p)."""
    if sampling.temperature == 0:
        # Clear sampling defaults a model's generation_config may carry (avoids warnings).
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": None}


def run_batch(
    pooled: PooledModel,
    batch: Sequence[BatchRequest],
    make_row: RowFactory,
    counters: BatchCounters,
    *,
    autocast: bool | None,
) -> None:
    """One batched ``generate`` for every row of ``batch`` (requests of one Target and decoding mode).

    ``counters`` is updated before any answer is handed out, so a client that got its answer sees
    its batch counted."""
    import torch
    from transformers import StoppingCriteriaList

    from tuneloop.evaluate.decoding import encode_batch, end_token_ids
    from tuneloop.models import autocast_context, prefix_cache

    loaded = pooled.loaded
    tokenizer = loaded.tokenizer
    context = getattr(loaded.model.config, "max_position_embeddings", None)
    admitted = admit(batch, tokenizer, context)
    if not admitted:
        return
    end_ids = end_token_ids(loaded)
    rows, prompts = [], []
    for request, text in admitted:
        for index in range(request.sampling.n):
            decoder = RowDecoder(tokenizer, end_ids, request.sampling.max_tokens, request.sampling.stop)
            rows.append(make_row(request, index, decoder))
            prompts.append(text)
    router = BatchRouter(rows)
    counters.batches += 1
    counters.rows += len(rows)
    first = admitted[0][0].sampling
    options: dict[str, Any] = decoding_options(first) | {
        "max_new_tokens": max(request.sampling.max_tokens for request, _ in admitted),
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": end_ids,
        "use_cache": True,
        "stopping_criteria": StoppingCriteriaList([router]),
    }
    if first.temperature > 0 and first.seed is not None:
        torch.manual_seed(first.seed)  # seeded requests run alone (see the engine's batch key)
    encoded = encode_batch(tokenizer, prompts, share_prefix=True)
    with pooled.active() as model, torch.inference_mode(), autocast_context(loaded.device, autocast):
        if encoded.prefix_length:
            prefix = torch.tensor([encoded.input_ids[0][: encoded.prefix_length]], device=loaded.device)
            cache = prefix_cache(model, prefix, len(prompts))
            if cache is None:  # this model's cache cannot be shared: plain left padding
                encoded = encode_batch(tokenizer, prompts, share_prefix=False)
            else:
                options["cache"] = cache
        model.generate(
            input_ids=torch.tensor(encoded.input_ids, device=loaded.device),
            attention_mask=torch.tensor(encoded.attention_mask, device=loaded.device),
            **options,
        )
    counters.tokens += sum(len(row.decoder.tokens) for row in rows)
    router.close()
