"""The deploy tests register versions with the evaluation tests' helper (tests/evaluate/evalhelpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

EVALUATE_TESTS = str(Path(__file__).resolve().parents[1] / "evaluate")
if EVALUATE_TESTS not in sys.path:
    sys.path.append(EVALUATE_TESTS)
