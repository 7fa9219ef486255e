"""Load YAML into a typed pydantic model, reporting every problem with its file and line.

Used for ``tuneloop.yaml`` and for every other YAML tuneloop reads (eval suites, custom probes), so
all of them report ``file:LINE: unknown key 'lerning_rate' in train`` the same way.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from tuneloop.errors import ConfigError, InvalidInput, Location, NotFound, TuneloopError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_NESTING = 100
"""Deepest nesting of lists and mappings a user's file may hold (YAML here, JSON in the data stage).
Real files nest a handful of levels; much deeper values defeat recursive code further on (pydantic's
serialiser stops at 255 levels, Python's recursion limit near 1,000)."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_NUMBER = re.compile(r"\d{4301,}")


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
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InvalidInput("yaml_syntax", f"invalid YAML: {exc.problem}", Location(str(path), line)) from None
    except RecursionError:
        raise InvalidInput("yaml_syntax", "invalid YAML: nested too deeply", Location(str(path))) from None
    except ValueError as exc:  # int() refusing a number of more than 4,300 digits, an impossible date ...
        long_number = _LONG_NUMBER.search(text)
        line = text.count("\n", 0, long_number.start()) + 1 if long_number else None
        reason = "a number of more than 4,300 digits" if long_number else str(exc)
        raise InvalidInput("yaml_syntax", f"invalid YAML: {reason}", Location(str(path), line)) from None
    problem = unfit_value(data)
    if problem is not None:
        line = data.lc.line + 1 if isinstance(data, CommentedMap | CommentedSeq) else None
        raise InvalidInput("yaml_syntax", f"invalid YAML: {problem}", Location(str(path), line))
    return data


def unfit_value(root: Any) -> str | None:
    """Why a parsed YAML or JSON value cannot be used, or None. Iterative: any depth or cycle is safe.

    - an alias inside the node it names (YAML ``a: &x [*x]``): a cycle no validator can walk;
    - lists and mappings nested deeper than :data:`MAX_NESTING` levels;
    - text holding a lone UTF-16 surrogate (JSON's and YAML's ``"\\ud800"`` escape): not Unicode, so it
      cannot be printed, written, hashed or tokenized."""
    stack: list[tuple[Any, int, bool]] = [(root, 0, False)]
    open_nodes: set[int] = set()
    while stack:
        node, depth, leaving = stack.pop()
        if leaving:
            open_nodes.discard(id(node))
        elif isinstance(node, str):
            if (found := _SURROGATE.search(node)) is not None:
                return f"text holds the lone surrogate \\u{ord(found.group()):04x}, which is not Unicode text"
        elif isinstance(node, dict | list):
            if id(node) in open_nodes:
                return "an alias refers to a node that contains it (a cycle)"
            if depth >= MAX_NESTING:
                return f"lists and objects nested more than {MAX_NESTING} levels deep"
            open_nodes.add(id(node))
            stack.append((node, depth, True))
            children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            stack.extend((child, depth + 1, False) for child in children)
    return None


def load_model_from_yaml(path: Path, model: type[ModelT]) -> ModelT:
    """Read ``path`` and validate it as ``model``; raise :class:`ConfigError` listing every problem."""
    data = read_yaml(path)
    if data is None:
        data = {}
    return validate_data(data, model, str(path))


def validate_data(data: Any, model: type[ModelT], source: str) -> ModelT:
    """Validate already-parsed YAML (ruamel round-trip nodes keep their lines)."""
    plain = _plain(data)
    try:
        return model.model_validate(plain)
    except ValidationError as exc:
        problems = [_problem(err, data, plain, source, model) for err in exc.errors()]
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
        try:
            if isinstance(node, CommentedMap) and key in node:
                # keys merged in with `<<:` are in the map but have no line of their own
                line = node.lc.key(key)[0] + 1 if key in node.lc.data else line
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        except (KeyError, IndexError, TypeError):  # line data ruamel did not record
            break
    if line is None:
        # the problem is the document itself (a scalar, a list, nothing): it starts on its first line
        line = root.lc.line + 1 if isinstance(root, CommentedMap | CommentedSeq) else 1
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


def _data_path(plain: Any, loc: tuple[Any, ...], missing: bool) -> tuple[Any, ...]:
    """The parts of pydantic's ``loc`` that are real keys or indexes of the data.

    pydantic adds union branches and validator names to ``loc`` (``function-after[...]``, ``str``);
    following the data itself tells them from keys (a key may contain brackets too). A missing key is
    not in the data: it is the last part of ``loc``."""
    node, path = plain, []
    for part in loc[:-1] if missing else loc:
        in_map = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_map or in_list:
            node = node[part]
            path.append(part)
    if missing and loc:
        path.append(loc[-1])
    return tuple(path)


def _problem(err: ErrorDetails, root: Any, plain: Any, source: str, model: type[BaseModel]) -> TuneloopError:
    keys = _data_path(plain, tuple(err["loc"]), err["type"] == "missing")
    line = _line_of(root, keys)
    dotted = ".".join(str(k) for k in keys)
    parent = ".".join(str(k) for k in keys[:-1]) or "the top level"
    if err["type"] == "extra_forbidden" and keys:
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
    where = f"{dotted}: " if dotted else "the file: "
    return InvalidInput("invalid_value", f"{where}{err['msg']}{shown}", Location(source, line))
