"""Evaluation items: the prompts every model answers and the references they are scored against.

Items come from a data file (any format the data stage reads), a dataset version in the store, the
project's holdout files, items written in the suite, or — once the serving stage logs requests — a
sample of production requests. The reference is the final assistant message; the prompt is the
conversation before it. An item's id is a hash of its content, so the same item has the same id in
every report and ``eval compare`` can pair items across runs.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect as sql_inspect
from sqlalchemy import select

from tuneloop.config import ProjectConfig
from tuneloop.config.data import DataSection
from tuneloop.errors import InvalidInput, Location, NotFound
from tuneloop.store import sha256_bytes

if TYPE_CHECKING:
    from tuneloop.data.records import Record
    from tuneloop.evaluate.metrics import MetricOptions
    from tuneloop.evaluate.suites import InlineItem, LoadedSuite, Suite
    from tuneloop.project import Project

REQUEST_LOG_TABLE = "request_logs"
"""The serving stage's request log (the production item source samples it)."""


@dataclass(frozen=True)
class EvalItem:
    """One prompt with its reference."""

    id: str
    messages: list[dict[str, Any]]
    """The conversation the model answers (system prompt and few-shot examples not yet added)."""
    reference: str | None
    tags: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    """``file:line`` it came from."""
    checks: tuple[MetricOptions, ...] = ()
    tools: list[dict[str, Any]] | None = None
    """Tool definitions of the record it came from, offered to the model as training offered them."""

    def category(self, category_field: str = "category") -> str:
        return self.tags.get(category_field) or "(none)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "messages": self.messages,
            "reference": self.reference,
            "tags": self.tags,
            "source": self.source,
            **({"tools": self.tools} if self.tools else {}),
        }


def item_id(
    messages: list[dict[str, Any]], reference: str | None, tools: list[dict[str, Any]] | None = None
) -> str:
    # Items without tools keep the ids they always had (stored scores pair on them).
    content: list[Any] = [messages, reference] if not tools else [messages, reference, tools]
    payload = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return sha256_bytes(payload.encode())[:12]


def item_from_record(record: Record) -> EvalItem | None:
    """An item from a canonical record; records without a prompt (raw text) give None."""
    from tuneloop.data.records import messages_as_dicts

    prompt = messages_as_dicts(record.prompt_messages())
    if not prompt:
        return None
    reference = record.final_answer()
    tools = record.tools if record.kind == "conversation" else None
    return EvalItem(
        item_id(prompt, reference, tools),
        prompt,
        reference,
        dict(record.tags),
        str(record.source),
        tools=tools,
    )


def _inline(items: list[InlineItem], source: str) -> list[EvalItem]:
    result = []
    for index, item in enumerate(items):
        messages = item.messages or [{"role": "user", "content": item.prompt or ""}]
        result.append(
            EvalItem(
                item_id(messages, item.reference),
                messages,
                item.reference,
                dict(item.tags),
                f"{source}:items.inline.{index}",
                tuple(item.checks),
            )
        )
    return result


def _from_files(paths: list[Path], tag_fields: list[str]) -> list[EvalItem]:
    from tuneloop.data import load_records

    items = [item_from_record(record) for record in load_records(paths, tag_fields=tag_fields)]
    return [item for item in items if item is not None]


def _from_dataset(project: Project, reference: str) -> list[EvalItem]:
    """Items of a dataset version (its exact snapshot), through the data stage's API."""
    from tuneloop.data import get_dataset_version, load_dataset_version_records

    records = load_dataset_version_records(project, get_dataset_version(project, reference))
    return [item for item in (item_from_record(r) for r in records) if item is not None]


def check_production_log(project: Project) -> int:
    """Rows of the serving stage's request log; raises when the log does not exist or is empty."""
    from sqlalchemy import func, table

    if not sql_inspect(project.store.engine).has_table(REQUEST_LOG_TABLE):
        raise NotFound(
            "no_production_log",
            "no production request log exists yet (serving stage): serve a model with request logging "
            "(serve.log_requests) before sampling production items, or use `file:`/`dataset:` items",
        )
    with project.store.session() as session:
        count = int(session.scalar(select(func.count()).select_from(table(REQUEST_LOG_TABLE))) or 0)
    if count == 0:
        raise NotFound("no_production_log", "the production request log is empty: nothing to sample yet")
    return count


def _from_production(project: Project, sample: int, seed: int, since_days: int | None) -> list[EvalItem]:
    """Sample logged chat requests. Contract with the serving stage: table ``request_logs`` with a JSON
    column ``request`` (the OpenAI chat request body, ``messages`` inside) and ``created_at``."""
    from datetime import timedelta

    from sqlalchemy import MetaData, Table

    from tuneloop.store import utcnow

    check_production_log(project)
    log = Table(REQUEST_LOG_TABLE, MetaData(), autoload_with=project.store.engine)
    missing = {"request", "created_at"} - set(log.c.keys())
    if missing:
        raise InvalidInput(
            "unsupported_request_log",
            f"the request log lacks column(s) {', '.join(sorted(missing))} that production sampling reads",
        )
    query = select(log.c.request)
    if since_days is not None:
        query = query.where(log.c.created_at >= utcnow() - timedelta(days=since_days))
    with project.store.session() as session:
        requests = [row[0] for row in session.execute(query)]
    items = []
    for request in requests:
        body = json.loads(request) if isinstance(request, str) else request
        messages = [m for m in (body or {}).get("messages", []) if isinstance(m, dict) and "content" in m]
        if messages and messages[-1].get("role") == "user":
            plain = [{"role": str(m.get("role")), "content": str(m.get("content"))} for m in messages]
            items.append(EvalItem(item_id(plain, None), plain, None, {}, "production"))
    unique = list({item.id: item for item in items}.values())
    return random.Random(seed).sample(unique, min(sample, len(unique)))


def load_items(loaded: LoadedSuite, project: Project | None) -> list[EvalItem]:
    """The suite's items, in file order (``limit`` keeps the first N)."""
    source = loaded.suite.items
    tag_fields = (
        source.tag_fields or (project.config.data if project is not None else DataSection()).tag_fields
    )
    if source.inline is not None:
        items = _inline(source.inline, str(loaded.path))
    elif source.file is not None:
        path = loaded.base_dir / source.file
        if not path.exists() and project is not None:
            path = project.resolve_path(source.file)
        items = _from_files([path], tag_fields)
    elif source.holdout:
        if project is None or not project.config.data.holdout:
            raise InvalidInput(
                "no_holdout",
                "the suite uses `holdout: true` but tuneloop.yaml has no data.holdout files",
                Location(str(loaded.path)),
            )
        items = _from_files([project.resolve_path(p) for p in project.config.data.holdout], tag_fields)
    elif source.dataset is not None:
        items = _from_dataset(_need_project(project, loaded), source.dataset)
    else:
        assert source.production is not None
        production = source.production
        items = _from_production(
            _need_project(project, loaded), production.sample, production.seed, production.since_days
        )
    if not items:
        raise InvalidInput(
            "no_items", f"suite '{loaded.suite.name}' has no items with a prompt", Location(str(loaded.path))
        )
    return items[: source.limit] if source.limit else items


def _need_project(project: Project | None, loaded: LoadedSuite) -> Project:
    if project is None:
        raise NotFound(
            "no_project", f"suite '{loaded.suite.name}' reads the project's store; run it inside a project"
        )
    return project


def system_prompt_for(suite: Suite, project: Project | None) -> str | None:
    """The system prompt added to items that have none."""
    if suite.system_prompt is None or suite.system_prompt.lower() == "none":
        return None
    if suite.system_prompt == "project":
        return (project.config if project is not None else ProjectConfig()).project.system_prompt
    return suite.system_prompt


def build_conversation(
    item: EvalItem, system_prompt: str | None, shots: list[EvalItem] | None = None
) -> list[dict[str, Any]]:
    """The messages a model sees: system prompt (unless the item has one), few-shot pairs, the item."""
    messages = list(item.messages)
    has_system = bool(messages) and messages[0].get("role") == "system"
    head: list[dict[str, Any]] = (
        [messages[0]]
        if has_system
        else ([{"role": "system", "content": system_prompt}] if system_prompt else [])
    )
    body = messages[1:] if has_system else messages
    examples: list[dict[str, Any]] = []
    for shot in shots or []:
        turns = [m for m in shot.messages if m.get("role") != "system"]
        examples += [*turns, {"role": "assistant", "content": shot.reference or ""}]
    return head + examples + body


def draw_shots(pool: list[EvalItem], item: EvalItem, k: int, seed: int) -> list[EvalItem]:
    """``k`` examples from ``pool`` other than ``item`` itself (same draw for the same item and seed)."""
    if k <= 0:
        return []
    others = [p for p in pool if p.id != item.id and p.reference]
    rng = random.Random(f"{seed}:{item.id}")
    return rng.sample(others, min(k, len(others)))
