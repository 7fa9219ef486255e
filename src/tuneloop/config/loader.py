"""Load YAML into a typed pydantic model, reporting every problem with its file and line.

Used for ``tuneloop.yaml`` and for every other YAML tuneloop reads (eval suites, custom probes), so
all of them report ``file:LINE: unknown key 'lerning_rate' in train`` the same way.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from tuneloop.errors import ConfigError, InvalidInput, Location, NotFound, TuneloopError

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file keeping line information; syntax errors name the line."""
    if not path.exists():
        raise NotFound("file_not_found", f"no such file: {path}", Location(str(path)))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("bad_encoding", f"not UTF-8 text ({exc.reason})", Location(str(path))) from None
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InvalidInput("yaml_syntax", f"invalid YAML: {exc.problem}", Location(str(path), line)) from None


def load_model_from_yaml(path: Path, model: type[ModelT]) -> ModelT:
    """Read ``path`` and validate it as ``model``; raise :class:`ConfigError` listing every problem."""
    data = read_yaml(path)
    if data is None:
        data = {}
    return validate_data(data, model, str(path))


def validate_data(data: Any, model: type[ModelT], source: str) -> ModelT:
    """Validate already-parsed YAML (ruamel round-trip nodes keep their lines)."""
    try:
        return model.model_validate(_plain(data))
    except ValidationError as exc:
        problems = [_problem(err, data, source, model) for err in exc.errors()]
        raise ConfigError(problems) from None


def _plain(node: Any) -> Any:
    """Turn ruamel's commented containers into plain dicts and lists for pydantic."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _line_of(root: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest node on ``loc`` that the YAML still has."""
    node, line = root, None
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            line = node.lc.item(key)[0] + 1
            node = node[key]
        else:
            break
    if line is None and isinstance(root, CommentedMap | CommentedSeq):
        line = root.lc.line + 1
    return line


def _field_names(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """Known field names of the (nested) model at ``path``, for "did you mean" hints."""
    current: Any = model
    for key in path:
        if isinstance(key, int):
            continue
        field = getattr(current, "model_fields", {}).get(key)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _problem(err: ErrorDetails, root: Any, source: str, model: type[BaseModel]) -> TuneloopError:
    loc = tuple(err["loc"])
    # pydantic appends the union branch or validator name to loc (e.g. 'function-after[...]');
    # keep only the parts that are real keys or indexes so the line lookup stays exact.
    keys = tuple(k for k in loc if isinstance(k, int) or "[" not in str(k))
    line = _line_of(root, keys)
    dotted = ".".join(str(k) for k in keys)
    parent = ".".join(str(k) for k in keys[:-1]) or "the top level"
    if err["type"] == "extra_forbidden":
        name = str(keys[-1])
        hint = difflib.get_close_matches(name, _field_names(model, keys[:-1]), n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        return InvalidInput(
            "unknown_key", f"unknown key '{name}' in {parent}{suggestion}", Location(source, line)
        )
    if err["type"] == "missing":
        return InvalidInput("missing_key", f"missing required key '{dotted}'", Location(source, line))
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
    return InvalidInput("invalid_value", f"{dotted}: {err['msg']}{shown}", Location(source, line))
