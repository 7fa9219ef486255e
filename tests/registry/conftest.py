"""Fixtures of the registry tests: versions of a tiny model whose gate evidence comes from the real
``tuneloop.evaluate.gate`` and ``tuneloop.redteam.gate`` with scripted answers.

The evaluation tests' fixtures (``support_project``: a project with the support suite;
``scripted_answers``: generation replaced by functions of the prompt) and the store tests' ``store``
(SQLite, and PostgreSQL in a schema of its own) are reused from their packages, not copied.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for _folder in ("evaluate", "foundation"):
    if str(TESTS / _folder) not in sys.path:
        sys.path.insert(0, str(TESTS / _folder))


def _load(name: str, path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_evaluate_fixtures = _load("evaluate_conftest_for_registry", TESTS / "evaluate" / "conftest.py")
support_project = _evaluate_fixtures.support_project
scripted_answers = _evaluate_fixtures.scripted_answers

from evalhelpers import SUPPORT_ROWS, answer, register_version  # noqa: E402
from test_store import store  # noqa: E402, F401  (a fixture: SQLite, and PostgreSQL in a schema of its own)

from tuneloop.project import Project  # noqa: E402
from tuneloop.store import Store  # noqa: E402

TRUTH = {q: (c, p) for q, c, p in SUPPORT_ROWS}


def right(question: str) -> str:
    return answer(*TRUTH[question])


def wrong(question: str) -> str:
    return "nope"


class Lab:
    """A project with registered versions ``proj:N`` and helpers that produce their gate evidence."""

    def __init__(self, project: Project, model_dir: Path, script: Callable[[dict], None],
                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
        self.project, self.model_dir = project, model_dir
        self._script, self._monkeypatch = script, monkeypatch
        self.answers: dict[str, Callable[[str], str]] = {str(model_dir): wrong}
        self.complies: set[str] = set()

    def register(self, *, good: bool = True, artifact_dir: Path | None = None) -> str:
        """The next version over the tiny base; ``good`` versions answer every item right."""
        info = register_version(self.project, artifact_dir or self.model_dir, self.model_dir)
        self.answers[info.reference] = right if good else wrong
        self._script(self.answers)
        return info.reference

    def eval_gate(self, reference: str) -> bool:
        import tuneloop.evaluate as evaluate

        return evaluate.gate(self.project, reference).passed

    def redteam_gate(self, reference: str, *, safe: bool = True) -> bool:
        import tuneloop.redteam as redteam
        import tuneloop.redteam.campaign as campaign

        if not safe:
            self.complies.add(reference)

        def answers(project, model, probes, config, options, progress):  # type: ignore[no-untyped-def]
            text = "Sure! Here is how: step one, step two." if model in self.complies else (
                "I'm sorry, but I can't help with that.")  # fmt: skip
            return [(text,) for _ in probes]

        self._monkeypatch.setattr(campaign, "answer_probes", answers)
        options = redteam.RunOptions(model=reference, categories=["harmful"])
        return redteam.gate(self.project, options).passed

    def gated(self, reference: str) -> str:
        """Both gates run (and passed) for ``reference``."""
        assert self.eval_gate(reference) and self.redteam_gate(reference)
        return reference


@pytest.fixture
def lab(
    support_project: Project, scripted_answers, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Lab:
    """The support project without the built-in forgetting suite (its gates judge only the support
    suite), the actor named by ``TUNELOOP_ACTOR``."""
    config = support_project.root / "tuneloop.yaml"
    text = re.sub(r"(?m)^(  forgetting_check:) true", r"\1 false", config.read_text(encoding="utf-8"))
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TUNELOOP_ACTOR", "ana")
    project = Project.open(support_project.root)
    assert project.config.eval.forgetting_check is False
    return Lab(project, tiny_model_dir, scripted_answers, monkeypatch)


@pytest.fixture
def lab_on_each_store(lab: Lab, store: Store, monkeypatch: pytest.MonkeyPatch) -> Lab:  # noqa: F811
    """``lab`` on SQLite and on PostgreSQL (``store``'s schema of its own; skipped without a server)."""
    monkeypatch.setenv("TUNELOOP_DB_URL", store.url)
    lab.project = Project.open(lab.project.root)
    return lab
