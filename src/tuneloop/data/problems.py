"""Problems found while reading and validating data files, and the error that carries them.

Every problem has a stable code and a location (file, 1-based line, field path) and prints as
``file:line:field: code message``. Codes that OpenAI's fine-tuning validator also reports keep
OpenAI's names (``data_type``, ``missing_messages_list`` ...), so users moving between the two see
the same words. :data:`PROBLEM_CODES` documents every code (``docs/data.md`` lists them; a test
checks that each code has a malformed file that produces it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tuneloop.errors import InvalidInput, Location

Severity = Literal["error", "warning"]

PROBLEM_CODES: dict[str, str] = {
    # OpenAI's codes (same meaning)
    "data_type": "an example is not a JSON object",
    "missing_messages_list": "an OpenAI chat example has no `messages` list",
    "message_missing_key": "a message lacks `role` or `content`",
    "message_unrecognized_key": "a message has a key OpenAI's format does not define",
    "unrecognized_role": "a message role is not system/user/assistant/tool",
    "missing_content": "a message's content is missing, null or not text",
    "example_missing_assistant_message": "an example has no assistant message to learn from",
    # reading
    "file_not_found": "a path does not exist",
    "unsupported_file_type": "a file extension tuneloop cannot read",
    "empty_file": "a file holds no examples",
    "bad_encoding": "bytes that are not UTF-8 (or a UTF-16/32 file)",
    "bom": "a UTF-8 byte-order mark at the start of the file (warning; it is skipped)",
    "binary_data": "NUL bytes or a binary file where text was expected",
    "invalid_json": "a line or element is not valid JSON",
    "line_too_long": "a line or element longer than data.max_line_bytes",
    "invalid_csv": "a CSV file that cannot be parsed",
    "invalid_parquet": "a Parquet file that cannot be read",
    # formats
    "unknown_format": "no known format matches the keys of a file's examples",
    "ambiguous_format": "a file's examples match more than one format",
    "missing_key": "a key the format requires is missing",
    "wrong_type": "a value has the wrong type (e.g. a number where text is expected)",
    "empty_content": "a user or system message (or a prompt) is empty",
    "empty_assistant_turn": "an assistant message is empty and calls no tool",
    "role_order": "messages in an order chat templates reject (system later, tool without a call ...)",
    "invalid_weight": "a message weight other than 0 or 1",
    "invalid_tool_call": "a tool call without an id, a function name or JSON arguments",
    "unsupported_content": "non-text content parts (images, audio) in a text model's data",
    "preference_identical": "a preference pair whose chosen and rejected answers are the same",
    "invalid_tag": "a tag field whose value is not a string, number or boolean",
    "not_convertible": "a record that the requested output format cannot express",
}


@dataclass(frozen=True)
class Problem:
    """One problem at one place in one file."""

    code: str
    message: str
    file: str
    line: int | None = None
    field: str | None = None
    severity: Severity = "error"

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.field)

    def __str__(self) -> str:
        return f"{self.location}: {self.code} {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "severity": self.severity,
        }


@dataclass
class ProblemLog:
    """Collects problems; keeps the first ``limit`` errors and counts the rest."""

    limit: int = 200
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    omitted: int = 0
    error_count: int = 0

    def add(self, problem: Problem) -> None:
        if problem.code not in PROBLEM_CODES:
            raise ValueError(f"undocumented problem code {problem.code!r}")
        if problem.severity == "warning":
            if len(self.warnings) < self.limit:
                self.warnings.append(problem)
            return
        self.error_count += 1
        if len(self.errors) < self.limit:
            self.errors.append(problem)
        else:
            self.omitted += 1

    def error(
        self, code: str, message: str, file: str, line: int | None = None, field: str | None = None
    ) -> None:
        self.add(Problem(code, message, file, line, field))

    def warn(
        self, code: str, message: str, file: str, line: int | None = None, field: str | None = None
    ) -> None:
        self.add(Problem(code, message, file, line, field, "warning"))

    def raise_if_errors(self) -> None:
        """Raise :class:`DataInvalid` with the errors in file order, then line order."""
        if self.errors:
            files: dict[str, int] = {}
            for problem in self.errors:
                files.setdefault(problem.file, len(files))
            ordered = sorted(self.errors, key=lambda p: (files[p.file], p.line or 0))
            raise DataInvalid(ordered, omitted=self.omitted)


class DataInvalid(InvalidInput):
    """The data is invalid (exit code 2); ``problems`` lists every problem found (up to the cap)."""

    def __init__(self, problems: list[Problem], *, omitted: int = 0) -> None:
        first = problems[0]
        total = len(problems) + omitted
        super().__init__(
            first.code,
            f"{total} problem{'s' if total != 1 else ''} in the data; first: {first.message}",
            first.location,
        )
        self.problems = problems
        self.omitted = omitted

    def lines(self) -> list[str]:
        """One ``file:line:field: code message`` line per problem, plus a count of those not listed."""
        out = [str(p) for p in self.problems]
        if self.omitted:
            out.append(f"... and {self.omitted} more problems (raise data.max_problems to list them)")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def to_dict(self) -> dict[str, object]:
        return {
            "code": "data_invalid",
            "message": f"{len(self.problems) + self.omitted} problems in the data",
            "problems": [p.to_dict() for p in self.problems],
            "omitted": self.omitted,
        }
