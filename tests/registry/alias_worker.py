"""One process of the alias concurrency test (``test_concurrency.py`` starts several).

``python alias_worker.py PROJECT_ROOT SEED MOVES START`` waits for the file START (so every worker
starts moving at once, after its imports), then makes MOVES attempts on ``proj@production``, in
turn: a plain move (retried on conflict), a conditional move (refused if the alias moved after it was
read, as promotion's is) and a rollback; it prints ``{"done": N, "refused": M}``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from tuneloop.deploy import rollback
from tuneloop.errors import InvalidInput
from tuneloop.project import Project
from tuneloop.registry import AliasMoved, alias_state, set_alias

VERSIONS = 4


def attempt(project: Project, step: int, rng: random.Random, actor: str) -> None:
    reference = f"proj:{rng.randint(1, VERSIONS)}"
    if step % 3 == 0:
        set_alias(project, reference, "production", action="promote", actor=actor, reason="plain")
    elif step % 3 == 1:
        state = alias_state(project, "proj", "production")
        set_alias(project, reference, "production", action="promote", actor=actor, reason="conditional",
                  expect_revision=state.revision)  # fmt: skip
    else:
        rollback(project, "proj", reason="drill", actor=actor)


def main(root: str, seed: int, moves: int, start: Path) -> dict[str, int]:
    project = Project.open(Path(root))
    alias_state(project, "proj", "production")  # connected and migrated before the start
    start.with_name(f"ready-{seed}").touch()
    while not start.exists():
        time.sleep(0.005)
    rng = random.Random(seed)
    counts = {"done": 0, "refused": 0}
    for step in range(moves):
        try:
            attempt(project, step, rng, f"worker-{seed}")
            counts["done"] += 1
        except (AliasMoved, InvalidInput):  # lost a race, or nothing to roll back (yet)
            counts["refused"] += 1
    return counts


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))))
