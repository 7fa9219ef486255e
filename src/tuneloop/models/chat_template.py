"""The one place a conversation becomes the text a model sees.

Data checks (token counts, truncation), training (labels), the pre-flight, evaluation and
red-teaming (prompts), ``tuneloop chat`` and serving all render through :func:`render_chat`, so a
model is evaluated and served on exactly the prompt format it was trained on, tools and system
prompt included.
"""

from __future__ import annotations

from typing import Any, Literal

Ending = Literal["closed", "open", "auto"]
"""``closed``: the conversation as trained (every turn closed). ``open``: a new assistant turn is
opened for the model to write (the generation prompt). ``auto``: ``open``, unless the last message is
an assistant message, which the model then continues (a prefill: judges start their answer with
``{"score":``, red-team prefill attacks use the same path)."""


def render_chat(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    ending: Ending = "closed",
) -> str:
    """The chat template applied to ``messages`` (dicts with ``role`` and ``content``) and ``tools``."""
    prefill = ending == "auto" and bool(messages) and messages[-1].get("role") == "assistant"
    options: dict[str, Any] = {"tokenize": False}
    if tools:
        options["tools"] = tools
    if prefill:
        options["continue_final_message"] = True
    elif ending != "closed":
        options["add_generation_prompt"] = True
    text = tokenizer.apply_chat_template(messages, **options)
    return str(text)
