"""Returned mail, as the print house or the mailroom scanner reports it
(``queue/print-returns.schema.json``): JSON, or CSV with the header
``letter,reason,returned_on``.

Each row names a letter (its id, or a code scanned off one of its sheets),
why the post brought it back and the day. Rows are checked one by one: a
wrong row is refused by its number with the field and the rule, and the
others are still applied. A file that is not JSON or CSV of this shape at
all is refused whole.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from channels.print_post.sheet_codes import CODE_PREFIX
from letters.domain.message_body import BodyLimits, canonical_uuid, request_object
from letters.errors import PermanentError

RETURNS_SCHEMA = "letters.print-returns/1"
RETURNS_LIMITS = BodyLimits(max_bytes=32 * 1024 * 1024, max_depth=6)
CSV_HEADER = ("letter", "reason", "returned_on")
MAX_ROWS = 100_000
_CODE = re.compile(rf"{CODE_PREFIX}:([0-9A-F]{{32}})(?::[0-9]{{1,3}}/[0-9]{{1,3}})?")


class ReturnReason(StrEnum):
    UNKNOWN_ADDRESS = "unknown_address"  # ukjent adresse
    MOVED = "moved"  # flyttet
    REFUSED = "refused"  # nektet mottatt
    INSUFFICIENT_ADDRESS = "insufficient_address"  # mangelfull adresse
    NOT_COLLECTED = "not_collected"  # ikke hentet
    DECEASED = "deceased"  # død
    OTHER = "other"


class MalformedReturnsError(PermanentError):
    """The file is neither a letters.print-returns/1 document nor its CSV."""


@dataclass(frozen=True, slots=True)
class ReturnLine:
    """One row: its number (from 1), and either what it says or what is wrong with it."""

    line: int
    letter_id: str | None = None
    reason: str | None = None
    returned_on: date | None = None
    problem: str | None = None


def parse_returns(raw: bytes, today: date) -> list[ReturnLine]:
    """The rows of a returns file, JSON or CSV; MalformedReturnsError if it is neither."""
    text = raw.lstrip()
    if text.startswith(b"{"):
        try:
            document = request_object(raw, RETURNS_LIMITS)
        except PermanentError as err:
            raise MalformedReturnsError(f"returns file: {err}") from None
        return _json_rows(document, today)
    return _csv_rows(raw, today)


def _json_rows(document: Mapping[str, Any], today: date) -> list[ReturnLine]:
    if document.get("schema") != RETURNS_SCHEMA:
        raise MalformedReturnsError(f'schema: must be "{RETURNS_SCHEMA}"')
    extra = sorted(set(document) - {"schema", "returns"})
    if extra:
        raise MalformedReturnsError(f"{extra[0]}: is not a field of {RETURNS_SCHEMA}")
    rows = document.get("returns")
    if not isinstance(rows, list) or not rows or len(rows) > MAX_ROWS:
        raise MalformedReturnsError(f"returns: must be a list of 1 to {MAX_ROWS} rows")
    lines = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            lines.append(ReturnLine(number, problem=f"returns[{number - 1}]: must be an object"))
            continue
        unknown = sorted(set(row) - set(CSV_HEADER))
        if unknown:
            lines.append(ReturnLine(number, problem=f"{unknown[0]}: is not a field of a return"))
            continue
        lines.append(_row(number, row, today))
    return lines


def _csv_rows(raw: bytes, today: date) -> list[ReturnLine]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedReturnsError("returns file: is neither JSON nor UTF-8 CSV") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != CSV_HEADER:
        raise MalformedReturnsError(
            f"returns file: a CSV starts with the header {','.join(CSV_HEADER)}"
        )
    lines = []
    # Numbered as a person counts the file's lines: the header is line 1.
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(CSV_HEADER):
            lines.append(ReturnLine(number, problem=f"has {len(cells)} cells, not 3"))
            continue
        lines.append(_row(number, dict(zip(CSV_HEADER, cells, strict=True)), today))
        if len(lines) > MAX_ROWS:
            raise MalformedReturnsError(f"returns file: more than {MAX_ROWS} rows")
    if not lines:
        raise MalformedReturnsError("returns file: has no rows")
    return lines


def _row(number: int, row: Mapping[str, Any], today: date) -> ReturnLine:
    letter, reason, day = row.get("letter"), row.get("reason"), row.get("returned_on")
    letter_id = _letter_id(letter)
    if letter_id is None:
        return ReturnLine(
            number,
            problem="letter: must be a letter id or a code scanned off its sheet "
            f"({CODE_PREFIX}:<32 hex digits>:<sheet>/<sheets>)",
        )
    if not isinstance(reason, str) or reason.strip() not in set(ReturnReason):
        return ReturnLine(
            number, problem=f"reason: must be one of {', '.join(r.value for r in ReturnReason)}"
        )
    returned_on = _day(day)
    if returned_on is None:
        return ReturnLine(number, problem="returned_on: must be a date (YYYY-MM-DD)")
    if returned_on > today:
        return ReturnLine(
            number, problem=f"returned_on: {returned_on.isoformat()} is after today, {today}"
        )
    return ReturnLine(number, letter_id, reason.strip(), returned_on)


def _letter_id(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if match := _CODE.fullmatch(value):
        return str(uuid.UUID(hex=match.group(1)))
    return canonical_uuid(value)


def _day(value: object) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None
