"""A message body as a JSON object, before anything is known about what it says.

The worker, the broker, start-up recovery, the dead-letter tools and
``letters publish`` look into bodies (for a letter id, a letter type) without
validating them, and the contracts start from the same object; this module is
what they share. A body is refused, with the reason, when it is larger than
the size limit or nested deeper than the nesting limit (both checked before
parsing, so a hostile body costs little), is not UTF-8, is not JSON, holds a
number too long to read, a lone surrogate (text no encoder can write), or is
not an object.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from letters.errors import FieldProblem, InvalidRequest

# What matters for nesting: brackets, and the quotes and backslashes of strings.
_SIGNIFICANT = re.compile(r'[\[\]{}"\\]')
# A UUID in any standard spelling: hyphens or none, braces, a urn:uuid: prefix, any case.
_UUID = re.compile(
    r"(?:urn:uuid:)?(\{)?[0-9a-f]{8}(-?)[0-9a-f]{4}\2[0-9a-f]{4}\2[0-9a-f]{4}\2[0-9a-f]{12}(?(1)\})",
    re.I,
)


# The two kinds of message the workers take, by their "schema" field.
REQUEST_SCHEMA = "letters.request/1"
CASE_SCHEMA = "letters.case/1"


def is_case_message(data: dict[str, Any]) -> bool:
    """A case message (``letters.case/1``; another version is refused as a case message,
    naming the version the service takes), not a letter request."""
    schema = data.get("schema")
    return isinstance(schema, str) and schema.startswith(CASE_SCHEMA.split("/")[0] + "/")


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """``LETTERS_MAX_BODY_BYTES`` and ``LETTERS_MAX_NESTING``."""

    max_bytes: int = 256 * 1024
    max_depth: int = 16


DEFAULT_LIMITS = BodyLimits()


def request_object(body: bytes | str, limits: BodyLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A message body as a JSON object, or InvalidRequest saying why it is not one."""
    size = len(body.encode("utf-8", "surrogatepass")) if isinstance(body, str) else len(body)
    if size > limits.max_bytes:
        raise _refused(f"body is {size} bytes, more than the limit of {limits.max_bytes}")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise _refused("body is not UTF-8 text") from None
    depth = nesting_depth(text)
    if depth > limits.max_depth:
        raise _refused(
            f"body is nested {depth} levels deep, more than the limit of {limits.max_depth}"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise _refused(
            f"body is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    except (ValueError, RecursionError) as err:
        raise _refused(f"body is not JSON this service can read: {type(err).__name__}") from None
    if not isinstance(data, dict):
        raise _refused("body must be a JSON object")
    for path in _surrogates(data, ""):
        raise InvalidRequest(
            [FieldProblem(path, "holds a lone surrogate (\\ud800-\\udfff): not Unicode text")]
        )
    return data


def nesting_depth(text: str) -> int:
    """How deep the brackets of a JSON text go, outside its strings (one pass)."""
    depth = deepest = 0
    in_string = False
    escaped = -1
    for match in _SIGNIFICANT.finditer(text):
        position, char = match.start(), match.group()
        if position == escaped:
            continue
        if in_string:
            if char == "\\":
                escaped = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def peek(body: bytes | str, limits: BodyLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Best effort, for routing and reports: the body's JSON object, or {} if it is none."""
    try:
        return request_object(body, limits)
    except InvalidRequest:
        return {}


def canonical_uuid(value: str) -> str | None:
    """``value`` as a lower-case hyphenated UUID if it spells one, else None."""
    if not _UUID.fullmatch(value):
        return None
    return str(uuid.UUID(value))


def peek_letter_id(data: dict[str, Any]) -> str | None:
    """The body's letter id in its one canonical spelling, or None if it has none."""
    value = data.get("letter_id")
    return canonical_uuid(value) if isinstance(value, str) else None


def _surrogates(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if any("\ud800" <= ch <= "\udfff" for ch in key):
                yield path or "(a field name)"
            else:
                yield from _surrogates(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _surrogates(item, f"{path}[{index}]")


def _refused(rule: str) -> InvalidRequest:
    return InvalidRequest([FieldProblem("", rule)])
