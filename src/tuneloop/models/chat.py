"""Chat with any model reference through its chat template, streaming the answer.

Light at import (``tuneloop chat``'s options read :class:`ChatSettings`); the model code loads inside
the functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuneloop.models.chat_template import render_chat
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project, config_of

if TYPE_CHECKING:
    from tuneloop.models.loading import LoadedModel


@dataclass
class ChatSettings:
    """Decoding settings for ``tuneloop chat``."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    """0 means greedy decoding (deterministic)."""
    top_p: float = 0.95
    repetition_penalty: float = 1.1
    seed: int = 0


def build_messages(prompt: str, system: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    return messages


def stream_chat(loaded: LoadedModel, messages: list[dict[str, str]], settings: ChatSettings) -> Iterator[str]:
    """Yield the answer's text pieces as they are generated (generation runs in a thread)."""
    import torch
    from transformers import TextIteratorStreamer

    from tuneloop.models.loading import autocast_context

    tokenizer = loaded.tokenizer
    text = render_chat(tokenizer, messages, ending="open")
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(loaded.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    sampling = settings.temperature > 0
    kwargs = {
        **inputs,
        "streamer": streamer,
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": sampling,
        "repetition_penalty": settings.repetition_penalty,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if sampling:
        kwargs |= {"temperature": settings.temperature, "top_p": settings.top_p}
    torch.manual_seed(settings.seed)
    failure: list[BaseException] = []

    def generate() -> None:
        try:
            with torch.inference_mode(), autocast_context(loaded.device):
                loaded.model.generate(**kwargs)
        except BaseException as exc:  # surfaced in the caller's thread below
            failure.append(exc)
            streamer.end()

    worker = threading.Thread(target=generate, daemon=True)
    worker.start()
    yield from streamer
    worker.join()
    if failure:
        raise failure[0]


def chat_once(
    loaded: LoadedModel,
    prompt: str,
    system: str | None = None,
    settings: ChatSettings | None = None,
    on_piece: Callable[[str], None] | None = None,
) -> str:
    """Generate one answer; ``on_piece`` receives each streamed piece (e.g. to print it)."""
    pieces = []
    for piece in stream_chat(loaded, build_messages(prompt, system), settings or ChatSettings()):
        pieces.append(piece)
        if on_piece is not None:
            on_piece(piece)
    return "".join(pieces).strip()


def chat_with_model(
    reference: str,
    prompt: str,
    project: Project | None = None,
    *,
    system: str | None = None,
    settings: ChatSettings | None = None,
    on_piece: Callable[[str], None] | None = None,
    progress: Progress = SILENT,
) -> str:
    """Resolve and load ``reference`` (with the project's dtype), then answer ``prompt`` once.

    ``system`` None means the project's ``project.system_prompt`` (none outside a project).
    """
    from tuneloop.models.loading import load_model
    from tuneloop.models.resolve import resolve_model

    config = config_of(project)
    if system is None:
        system = config.project.system_prompt
    with progress.task(f"loading {reference} ..."):
        loaded = load_model(resolve_model(reference, project, progress=progress), dtype=config.model.dtype)
    return chat_once(loaded, prompt, system, settings, on_piece)
