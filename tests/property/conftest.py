"""Property tests over every reader of user files: a fixed, deterministic example budget.

The ``tuneloop-ci`` profile (loaded by default) runs each property test on the same 60 examples every
time (``derandomize``), without a deadline (the first example of a test pays for imports), so
``make test`` stays bounded and reproducible. ``HYPOTHESIS_PROFILE=tuneloop-deep`` runs 1,000 random
examples per test when hunting for new crashes by hand; ``tuneloop-hunt`` runs 300 without shrinking
(faster to read the raw failing inputs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
settings.register_profile(
    "tuneloop-ci", max_examples=60, derandomize=True, deadline=None, suppress_health_check=_QUIET,
    print_blob=True,
)  # fmt: skip
settings.register_profile(
    "tuneloop-deep", max_examples=1000, deadline=None, suppress_health_check=_QUIET, print_blob=True
)
settings.register_profile(
    "tuneloop-hunt", max_examples=300, deadline=None, suppress_health_check=_QUIET,
    phases=[Phase.explicit, Phase.generate], report_multiple_bugs=True,
)  # fmt: skip
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tuneloop-ci"))


@pytest.fixture(scope="module")
def prop_project(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Path]:
    """One project per test module whose base model is the tiny test model (checks in milliseconds).

    Module-scoped because hypothesis runs many examples in one test call; each example works in its
    own fresh folder inside it (``fresh_dir``)."""
    saved = os.environ.pop("TUNELOOP_DB_URL", None)
    root = tmp_path_factory.mktemp("prop") / "proj"
    root.mkdir(parents=True)
    (root / "tuneloop.yaml").write_text(
        f"project:\n  name: proj\nmodel:\n  base: {tiny_model_dir}\n  max_length: 2048\n"
        "data:\n  embeddings:\n    enabled: false\n",
        encoding="utf-8",
    )
    yield root
    if saved is not None:
        os.environ["TUNELOOP_DB_URL"] = saved
