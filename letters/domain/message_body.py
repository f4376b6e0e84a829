"""A message body as a JSON object, before anything is known about what it says.

The worker, the broker, start-up recovery and the dead-letter tools look
into bodies (for a letter id, a letter type) without validating them, and
the contract starts from the same object; this module is what they share.
"""

from __future__ import annotations

import json
from typing import Any

from letters.errors import FieldProblem, InvalidRequest


def request_object(body: bytes | str) -> dict[str, Any]:
    """A message body as a JSON object, or InvalidRequest saying why it is not one."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise InvalidRequest([FieldProblem("", "body is not UTF-8 text")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidRequest([FieldProblem("", f"body is not valid JSON: {err}")]) from None
    if not isinstance(data, dict):
        raise InvalidRequest([FieldProblem("", "body must be a JSON object")])
    return data


def peek(body: bytes | str) -> dict[str, Any]:
    """Best effort, for routing and reports: the body's JSON object, or {} if it is none."""
    try:
        return request_object(body)
    except InvalidRequest:
        return {}


def peek_letter_id(data: dict[str, Any]) -> str | None:
    value = data.get("letter_id")
    return value if isinstance(value, str) and 0 < len(value) <= 36 else None
