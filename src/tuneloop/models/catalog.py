"""The base-model catalog: typed entries, look-up, filters and the docs' table.

The data lives in ``catalog.yaml`` beside this module (packaged with ``tuneloop.models``); this module
validates it strictly, so an unknown or missing key is an error rather than a silent default. What a
model costs to serve is :mod:`tuneloop.models.serving_cost`; ranking models for a declared use is
:mod:`tuneloop.models.choice`.
"""

from __future__ import annotations

import difflib
import functools
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML

from tuneloop.errors import InvalidInput, Location, NotFound

CATALOG_PACKAGE = "tuneloop.models"
CATALOG_FILE = "catalog.yaml"

_ID_PATTERN = r"^[a-z0-9][a-z0-9.-]*$"


class LicenceInfo(BaseModel):
    """What a model's licence permits and requires, with a URL where the text can be checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    """SPDX id where one exists (``apache-2.0``, ``mit``), else e.g. ``llama3.1``, ``gemma``, ``qwen``."""
    name: str = Field(min_length=1)
    """The licence's own title."""
    commercial_use: bool
    """The licence permits commercial use at all."""
    conditions: list[str]
    """Plain-English duties that come with using the model."""
    max_monthly_active_users: int | None = Field(ge=1)
    """Above this many monthly active users a separate licence is required; None: no cap."""
    source_url: str = Field(pattern=r"^https://\S+$")
    """Licence text or model card where these facts can be checked."""
    requires_acceptance: bool
    """The Hugging Face download is gated behind accepting terms or sharing contact details."""


class Tooling(BaseModel):
    """Facts fine-tuning code needs about the architecture and tokenizer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lora_targets: list[str] = Field(min_length=1)
    """Module names PEFT LoRA should wrap."""
    chat_template: bool
    """The tokenizer ships a chat template."""
    qlora: bool
    """4-bit (bitsandbytes) base loading with LoRA on top is a sensible memory saving here."""
    end_of_turn_token: str = Field(min_length=1)
    """The token that closes an assistant turn."""


class CatalogEntry(BaseModel):
    """One base model in the catalog; mirrors an entry of ``catalog.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    """Lowercase slug used in ``base:<id>``."""
    name: str = Field(min_length=1)
    """Human-readable name."""
    hf_repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    """Hugging Face repository of the weights."""
    family: str = Field(min_length=1)
    """Model family, e.g. ``llama``, ``qwen``."""
    architecture: str = Field(min_length=1)
    """transformers class from the repo's ``config.json``."""
    params_b: float = Field(gt=0)
    """Total parameters, in billions."""
    active_params_b: float = Field(gt=0)
    """Parameters used per token, in billions (smaller than ``params_b`` only for mixture-of-experts)."""
    context_window: int = Field(gt=0)
    """Tokens supported out of the box by the released config/model card."""
    bundled: bool = False
    """Shipped offline inside a pip package; no download needed."""
    licence: LicenceInfo
    """Licence terms."""
    tooling: Tooling
    """Fine-tuning facts."""
    notes: str = ""
    """Caveats, and values taken from the model card without other checks."""

    @model_validator(mode="after")
    def _active_within_total(self) -> CatalogEntry:
        if self.active_params_b > self.params_b:
            raise ValueError(f"active_params_b {self.active_params_b} exceeds params_b {self.params_b}")
        return self

    @property
    def is_moe(self) -> bool:
        """True for mixture-of-experts models (fewer active than total parameters)."""
        return self.active_params_b < self.params_b


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[CatalogEntry]


@functools.lru_cache(maxsize=1)
def _cached_catalog() -> tuple[CatalogEntry, ...]:
    text = resources.files(CATALOG_PACKAGE).joinpath(CATALOG_FILE).read_text(encoding="utf-8")
    return tuple(parse_catalog(YAML(typ="safe").load(text)))


def load_catalog() -> list[CatalogEntry]:
    """Read and validate the packaged ``catalog.yaml``; parsed once per process, then cached.

    Entries are frozen, so the cached copy cannot be changed through the returned list.

    Raises:
        InvalidInput: ``invalid_catalog`` when the data file breaks the schema or repeats an id.
    """
    return list(_cached_catalog())


def parse_catalog(data: Any, source: str = CATALOG_FILE) -> list[CatalogEntry]:
    """Validate already-loaded catalog data (a mapping with a ``models`` list).

    Raises:
        InvalidInput: ``invalid_catalog`` naming the first bad field, or a repeated id.
    """
    try:
        entries = _CatalogFile.model_validate(data).models
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(
            "invalid_catalog",
            f"{first['msg']} ({exc.error_count()} problem(s))",
            Location(source, None, field),
        ) from exc
    _reject_duplicate_ids(entries, source)
    return entries


def _reject_duplicate_ids(entries: list[CatalogEntry], source: str) -> None:
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry.id in seen:
            raise InvalidInput(
                "invalid_catalog", f"duplicate id '{entry.id}'", Location(source, None, f"models.{index}.id")
            )
        seen.add(entry.id)


def get_entry(catalog_id: str) -> CatalogEntry:
    """Return the entry with ``catalog_id``; a leading ``base:`` (as in ``model.base``) is accepted.

    Raises:
        NotFound: ``unknown_model`` naming close matches when there is no such entry.
    """
    wanted = catalog_id.removeprefix("base:").strip().lower()
    entries = load_catalog()
    for entry in entries:
        if entry.id == wanted:
            return entry
    raise NotFound("unknown_model", _unknown_message(catalog_id, [e.id for e in entries]))


def _unknown_message(catalog_id: str, ids: list[str]) -> str:
    close = difflib.get_close_matches(catalog_id.removeprefix("base:").lower(), ids, n=3, cutoff=0.5)
    hint = f"close matches: {', '.join(close)}" if close else "run `tuneloop models list` to see the catalog"
    return f"no catalog entry '{catalog_id}'; {hint}"


def filter_entries(
    entries: list[CatalogEntry] | None = None,
    *,
    commercial: bool | None = None,
    max_params_b: float | None = None,
    min_context: int | None = None,
) -> list[CatalogEntry]:
    """Keep entries matching every given criterion, in their original order; None skips a criterion.

    ``commercial=True`` keeps licences that permit commercial use, ``False`` keeps those that do not.
    ``max_params_b`` compares total parameters; ``min_context`` is inclusive. ``entries`` None means
    the whole catalog.
    """
    return [
        e
        for e in (load_catalog() if entries is None else entries)
        if (commercial is None or e.licence.commercial_use == commercial)
        and (max_params_b is None or e.params_b <= max_params_b)
        and (min_context is None or e.context_window >= min_context)
    ]


def render_markdown_table(entries: list[CatalogEntry]) -> str:
    """The catalog as a Markdown table (id, params, context, licence, commercial), as in the docs."""
    lines = [
        "| id | params (B) | context | licence | commercial |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for e in entries:
        params = f"{e.params_b:g}" if not e.is_moe else f"{e.params_b:g} ({e.active_params_b:g} active)"
        commercial = "yes" if e.licence.commercial_use else "no"
        lines.append(f"| `{e.id}` | {params} | {e.context_window:,} | {e.licence.id} | {commercial} |")
    return "\n".join(lines) + "\n"
