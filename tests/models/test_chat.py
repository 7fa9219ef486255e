"""``tuneloop chat``'s stage function: resolve, load with the project's dtype, answer once."""

from __future__ import annotations

from pathlib import Path

from tuneloop.models import ChatSettings, chat_with_model
from tuneloop.progress import RecordingProgress


def test_chat_with_model_streams_an_answer_and_reports_loading(tiny_model_dir: Path) -> None:
    progress = RecordingProgress()
    pieces: list[str] = []
    answer = chat_with_model(
        str(tiny_model_dir),
        "hello",
        settings=ChatSettings(max_new_tokens=4),
        on_piece=pieces.append,
        progress=progress,
    )
    assert answer == "".join(pieces).strip()
    (task,) = progress.tasks
    assert task.description == f"loading {tiny_model_dir} ..." and task.finished
