"""Returned mail files (letters.print-returns/1): JSON or CSV, each row checked on its own."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from channels.print_post.returns import MalformedReturnsError, ReturnLine, parse_returns
from channels.print_post.sheet_codes import SheetCode, letter_code
from letters.config import PROJECT_ROOT

SCHEMA = json.loads((PROJECT_ROOT / "queue" / "print-returns.schema.json").read_text())
TODAY = date(2027, 3, 10)
LETTER = "5f0c1b7e-2d4a-4f6e-9a1b-3c5d7e9f1a2b"


def _document(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"schema": "letters.print-returns/1", "returns": list(rows)}


def _row(**changes: Any) -> dict[str, Any]:
    return {"letter": LETTER, "reason": "moved", "returned_on": "2027-03-08", **changes}


def test_a_letter_is_named_by_its_id_or_by_any_code_scanned_off_it() -> None:
    codes = [LETTER, letter_code(LETTER), SheetCode(LETTER, 2, 3).text, LETTER.upper()]
    document = _document(*(_row(letter=code) for code in codes[:3]))
    jsonschema.validate(document, SCHEMA)
    lines = parse_returns(json.dumps(document).encode(), TODAY)
    assert lines == [ReturnLine(n, LETTER, "moved", date(2027, 3, 8)) for n in (1, 2, 3)]
    csv = "letter,reason,returned_on\r\n" + "".join(f"{c},refused,2027-03-08\r\n" for c in codes)
    assert [line.letter_id for line in parse_returns(csv.encode(), TODAY)] == [LETTER] * 4


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"letter": "LTR1:XYZ"}, "letter: must be a letter id or a code scanned off its sheet"),
        ({"letter": 7}, "letter: must be a letter id"),
        ({"reason": "flyttet"}, "reason: must be one of unknown_address, moved, refused"),
        ({"returned_on": "8.3.2027"}, "returned_on: must be a date (YYYY-MM-DD)"),
        ({"returned_on": "2027-02-30"}, "returned_on: must be a date (YYYY-MM-DD)"),
        ({"returned_on": "2027-03-11"}, "returned_on: 2027-03-11 is after today, 2027-03-10"),
        ({"name": "Kari Nordmann"}, "name: is not a field of a return"),
    ],
)
def test_a_wrong_row_is_refused_by_its_number_and_the_others_kept(
    changes: dict[str, Any], problem: str
) -> None:
    document = _document(_row(), _row(**changes), _row(reason="deceased"))
    [first, wrong, third] = parse_returns(json.dumps(document).encode(), TODAY)
    assert first.problem is None and third.reason == "deceased"
    assert wrong.line == 2 and wrong.letter_id is None
    assert wrong.problem is not None and wrong.problem.startswith(problem), wrong.problem
    # The schema in queue/ refuses the same rows (bar the day, which needs today).
    if "returned_on" not in changes or "-" not in str(changes["returned_on"]):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(_document(_row(**changes)), SCHEMA)


def test_csv_rows_are_numbered_as_the_file_s_lines() -> None:
    csv = (
        "letter,reason,returned_on\n"
        f"{LETTER},moved,2027-03-08\n"
        "\n"
        f"{LETTER},moved\n"
        f"{uuid.uuid4()},nektet,2027-03-08\n"
    )
    lines = parse_returns(csv.encode(), TODAY)
    assert [(line.line, line.problem) for line in lines] == [
        (2, None),
        (4, "has 2 cells, not 3"),
        (5, "reason: must be one of unknown_address, moved, refused, insufficient_address, "
            "not_collected, deceased, other"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "a CSV starts with the header letter,reason,returned_on"),
        (b"code;reason;day\n", "a CSV starts with the header"),
        (b"letter,reason,returned_on\n", "has no rows"),
        (b"\xff\xfe", "is neither JSON nor UTF-8 CSV"),
        (b'{"schema": "letters.print-returns/2", "returns": []}', 'schema: must be "letters.'),
        (b'{"schema": "letters.print-returns/1", "returns": []}', "returns: must be a list"),
        (b'{"schema": "letters.print-returns/1", "returns": [1], "x": 1}', "x: is not a field"),
        (b'{"schema": ', "returns file: "),
    ],
)
def test_a_file_that_is_no_returns_file_is_refused_whole(raw: bytes, problem: str) -> None:
    with pytest.raises(MalformedReturnsError) as err:
        parse_returns(raw, TODAY)
    assert problem in str(err.value)


def test_the_schema_file_is_what_the_docs_name() -> None:
    page = (PROJECT_ROOT / "docs" / "print.md").read_text(encoding="utf-8")
    assert "queue/print-returns.schema.json" in page
    assert Path(PROJECT_ROOT / "queue" / "print-returns.schema.json").is_file()
