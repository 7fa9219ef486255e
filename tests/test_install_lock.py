"""The install is locked: every dependency pyproject.toml names is pinned with hashes in
requirements.lock, and the environment the tests run in holds exactly the locked versions (what
``make`` installs on a fresh clone)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            following = lines[number + 1] if number + 1 < len(lines) else ""
            assert "--hash=sha256:" in line + following, f"requirements.lock:{number + 1}: {line} has no hash"
            pins[normalise(match.group(1))] = match.group(2)
    return pins


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in ("dev", "postgres"):
        requirements += project["optional-dependencies"][extra]
    return {normalise(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]) for requirement in requirements}


def test_every_declared_dependency_is_locked() -> None:
    pins = locked()
    assert len(pins) > 50
    assert not declared() - set(pins), "missing from requirements.lock (run `make lock`)"
    assert pins["torch"].endswith("+cpu"), "the lock must hold torch's CPU build"


def test_the_environment_holds_exactly_the_locked_versions() -> None:
    installed = {normalise(d.metadata["Name"]): d.version for d in metadata.distributions()}
    drift = {
        name: (version, installed.get(name))
        for name, version in locked().items()
        if installed.get(name) != version
    }
    assert not drift, f"installed versions differ from requirements.lock (name: (locked, installed)): {drift}"
