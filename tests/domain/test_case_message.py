"""The letters.case/1 message: each field's rule, and any mutation parses or is refused."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from letters.domain.case_message import STATES, parse_case_message
from letters.errors import FieldProblem, InvalidRequest
from tests.support.properties import PROPERTY, json_values

GOOD: dict[str, Any] = {
    "schema": "letters.case/1",
    "case_number": "2026-0045127",
    "state": "disputed",
    "at": "2026-11-24T10:15:00+01:00",
    "reference": "INN-88123",
}


def _refused(data: Any) -> list[str]:
    with pytest.raises(InvalidRequest) as err:
        parse_case_message(data if isinstance(data, bytes) else json.dumps(data).encode())
    return [str(p) for p in err.value.problems]


def test_a_good_message_parses_with_its_time_in_utc() -> None:
    change = parse_case_message(json.dumps(GOOD).encode())
    assert change.case_number == "2026-0045127" and change.state == "disputed"
    assert change.at == datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
    assert change.reference == "INN-88123"
    bare = {k: v for k, v in GOOD.items() if k != "reference"} | {"at": "2026-11-24T09:15Z"}
    assert parse_case_message(json.dumps(bare).encode()).reference is None
    for state in STATES:
        assert parse_case_message(json.dumps(GOOD | {"state": state}).encode()).state == state


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("schema", "letters.case/2", 'schema: must be "letters.case/1"'),
        ("case_number", "2026/45127", "case_number: must be 2 to 32 digits and hyphens"),
        ("case_number", 20260045127, "case_number:"),
        ("state", "settled", "state: must be one of open, paid, closed, disputed, on_hold"),
        ("state", None, "state: must be one of"),
        ("at", "2026-11-24T10:15:00", "at: must be an ISO 8601 time with an offset"),
        ("at", "2026-11-24", "at: must be an ISO 8601 time with an offset"),
        ("at", "2026-02-30T10:15:00+01:00", "at: is not a time that exists"),
        ("at", "2150-01-01T00:00:00Z", "at: must be from 1970-01-01 to 2099-12-31"),
        ("at", 1764000000, "at: must be an ISO 8601 time string with an offset"),
        ("reference", "INN\u0000881", "reference:"),
        ("reference", "x" * 500, "reference:"),
        ("debtor_name", "Kari Nordmann", "debtor_name: is not a field of letters.case/1"),
    ],
)
def test_each_bad_field_is_refused_by_name(field: str, value: Any, expected: str) -> None:
    problems = _refused(GOOD | {field: value})
    assert any(p.startswith(expected) for p in problems), problems
    assert all(p.split(":")[0] == field for p in problems), problems


@pytest.mark.parametrize("field", ["schema", "case_number", "state", "at"])
def test_each_required_field_is_named_when_missing(field: str) -> None:
    problems = _refused({k: v for k, v in GOOD.items() if k != field})
    assert any(p.startswith(f"{field}:") for p in problems), problems


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert _refused(b"[1, 2]") and _refused(b"\xff\xfe")


@PROPERTY
@given(st.sampled_from(sorted(GOOD)), json_values)
def test_any_field_replaced_by_anything_parses_or_is_refused_by_name(
    field: str, value: Any
) -> None:
    data = copy.deepcopy(GOOD)
    data[field] = value
    problems = _problems_of(data)
    for problem in problems:
        assert problem.path == field, (problem, field)
        assert problem.rule and len(problem.rule) < 300


@PROPERTY
@given(json_values)
def test_any_json_value_as_a_case_message_parses_or_is_refused(value: Any) -> None:
    problems = _problems_of(json.dumps(value).encode())
    assert all(p.rule for p in problems)


def _problems_of(data: Any) -> tuple[FieldProblem, ...]:
    """What refuses the message (never empty when refused), or () if it parses."""
    refused: InvalidRequest | None = None
    try:
        parse_case_message(data)
    except InvalidRequest as err:
        refused = err
    if refused is None:
        return ()
    assert refused.problems, "refused without a reason"
    return refused.problems
