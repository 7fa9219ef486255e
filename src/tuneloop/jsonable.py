"""Plain JSON values from the objects stages return (pydantic models, ``to_dict`` objects, paths).

Neutral ground: stages write JSON reports with it and the CLI prints ``--json`` documents with it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def to_jsonable(value: Any) -> Any:
    """Pydantic models, dataclasses-like objects and paths into plain JSON values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
