"""Structured-output metrics: JSON validity, JSON-Schema conformance, field-level accuracy."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, model_validator

from tuneloop.evaluate.metrics.base import (
    MetricDefinition,
    MetricOptions,
    MetricValue,
    ScoringContext,
    ScoringInput,
    per_item,
    register_metric,
)
from tuneloop.evaluate.metrics.textutil import extract_json, lookup


class JsonOptions(MetricOptions):
    """Options of ``json_valid``."""

    extract: bool = False
    """Also accept JSON inside a code fence or surrounded by prose (strict by default: an API client
    parsing the answer would fail on prose)."""
    require_object: bool = True
    """The value must be an object (``{...}``), not a bare string, number or list."""


def _json_valid(inp: ScoringInput, options: JsonOptions, _: ScoringContext) -> MetricValue:
    try:
        value = extract_json(inp.prediction, extract=options.extract)
    except ValueError as exc:
        return MetricValue.passed(False, reason=str(exc))
    if options.require_object and not isinstance(value, dict):
        return MetricValue.passed(False, reason=f"JSON {type(value).__name__}, not an object")
    return MetricValue.passed(True)


class SchemaOptions(JsonOptions):
    """Options of ``json_schema``."""

    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    """The JSON Schema inline (YAML key ``schema``)."""
    schema_file: str | None = None
    """Or a JSON file holding it (relative to the suite file)."""

    @model_validator(mode="after")
    def _one_schema(self) -> SchemaOptions:
        if (self.json_schema is None) == (self.schema_file is None):
            raise ValueError("give exactly one of `schema` and `schema_file`")
        if self.json_schema is not None:
            _check_schema(self.json_schema)
        return self


def _check_schema(schema: dict[str, Any]) -> None:
    from jsonschema import exceptions, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None


def _validator(options: SchemaOptions, context: ScoringContext) -> Any:
    from jsonschema import validators

    key = f"json_schema:{options.schema_file or json.dumps(options.json_schema, sort_keys=True)}"
    if key not in context.cache:
        schema = options.json_schema
        if schema is None:
            path = context.resolve(str(options.schema_file))
            schema = json.loads(path.read_text(encoding="utf-8"))
            _check_schema(schema)
        context.cache[key] = validators.validator_for(schema)(schema)
    return context.cache[key]


def _json_schema(inp: ScoringInput, options: SchemaOptions, context: ScoringContext) -> MetricValue:
    try:
        value = extract_json(inp.prediction, extract=options.extract)
    except ValueError as exc:
        return MetricValue.passed(False, reason=str(exc))
    errors = sorted(_validator(options, context).iter_errors(value), key=lambda e: list(e.path))
    if not errors:
        return MetricValue.passed(True)
    first = errors[0]
    where = "/".join(str(p) for p in first.path) or "(root)"
    return MetricValue.passed(False, reason=f"{where}: {first.message}", errors=len(errors))


class FieldAccuracyOptions(MetricOptions):
    """Options of ``json_field_accuracy``."""

    fields: list[str] = Field(min_length=1)
    """Dot paths compared between answer and reference; each also gets its own ``<field>_accuracy``."""
    extract: bool = False
    """Also read JSON inside a code fence or prose."""
    case_sensitive: bool = False
    """Compare string values case-sensitively."""


def field_output_name(path: str) -> str:
    return path.replace(".", "_") + "_accuracy"


def _comparable(value: Any, case_sensitive: bool) -> Any:
    if isinstance(value, str):
        value = " ".join(value.split())
        return value if case_sensitive else value.lower()
    return json.dumps(value, sort_keys=True)


def _field_accuracy(
    inputs: list[ScoringInput], options: FieldAccuracyOptions, _: ScoringContext
) -> list[dict[str, MetricValue]]:
    results = []
    for inp in inputs:
        try:
            reference = extract_json(inp.reference or "", extract=True)
        except ValueError:
            failure = MetricValue.failed("the reference is not JSON")
            results.append(
                {"json_field_accuracy": failure}
                | {
                    field_output_name(f): MetricValue.failed("the reference is not JSON", binary=True)
                    for f in options.fields
                }
            )
            continue
        try:
            answer: Any = extract_json(inp.prediction, extract=options.extract)
        except ValueError:
            answer = None
        row: dict[str, MetricValue] = {}
        correct = 0
        for path in options.fields:
            try:
                expected = lookup(reference, path)
            except KeyError:
                row[field_output_name(path)] = MetricValue.failed(
                    f"the reference has no '{path}'", binary=True
                )
                continue
            try:
                got = lookup(answer, path) if answer is not None else None
                present = answer is not None
            except KeyError:
                got, present = None, False
            ok = present and _comparable(got, options.case_sensitive) == _comparable(
                expected, options.case_sensitive
            )
            correct += ok
            row[field_output_name(path)] = MetricValue.passed(ok, expected=expected, got=got)
        scored = sum(1 for value in row.values() if value.score is not None)
        row["json_field_accuracy"] = (
            MetricValue(correct / scored) if scored else MetricValue.failed("no comparable field")
        )
        results.append(row)
    return results


register_metric(
    MetricDefinition(
        name="json_valid",
        score=per_item(_json_valid, "json_valid"),
        options=JsonOptions,
        description="the answer parses as JSON (an object by default)",
        group="format",
    )
)
register_metric(
    MetricDefinition(
        name="json_schema",
        score=per_item(_json_schema, "json_schema"),
        options=SchemaOptions,
        description="the answer is JSON that conforms to a JSON Schema (jsonschema)",
        group="format",
    )
)
register_metric(
    MetricDefinition(
        name="json_field_accuracy",
        score=_field_accuracy,
        options=FieldAccuracyOptions,
        description="share of the given JSON fields equal to the reference's; plus one binary "
        "<field>_accuracy per field",
        group="task",
        needs_reference=True,
        extra_outputs=lambda options: [field_output_name(f) for f in options.fields],
    )
)
