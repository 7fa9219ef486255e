"""Where tuneloop loads models and data, third-party libraries draw no bars and log no import noise."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_quieting_covers_every_library_that_draws_bars() -> None:
    """In a fresh process, so no earlier test has quietened anything already; datasets is imported
    first (its environment variable is read on import, so the call has to reach it too)."""
    code = textwrap.dedent(
        """
        import logging, os
        os.environ.pop("HF_DATASETS_DISABLE_PROGRESS_BARS", None)
        import datasets
        assert datasets.is_progress_bar_enabled()
        from tuneloop.models import quiet_transformers

        quiet_transformers()
        from huggingface_hub.utils import are_progress_bars_disabled
        from transformers.utils import logging as hf_logging

        print(
            not hf_logging.is_progress_bar_enabled(),
            are_progress_bars_disabled(),
            not datasets.is_progress_bar_enabled(),
            logging.getLogger("sentence_transformers.sentence_transformer").getEffectiveLevel() >= logging.WARNING,
            logging.getLogger("bitsandbytes.backends.cpu.ops").getEffectiveLevel() >= logging.ERROR,
        )
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"] * 5, out.stdout + out.stderr


def test_a_user_who_wants_the_datasets_bars_keeps_them() -> None:
    code = (
        "import os; from tuneloop.models import quiet_transformers; quiet_transformers(); "
        "import datasets; print(datasets.is_progress_bar_enabled())"
    )
    env = {**os.environ, "HF_DATASETS_DISABLE_PROGRESS_BARS": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "True", out.stderr
