"""A refusal names the field and the rule, never the value (privacy finding 1).

A reason travels to the worker log, the ledger's dead letters, the case
system's ``refused`` event, the reason header and the operations page. So
however a national identity number, a name or an address lands in the wrong
field, or in a field's name, no part of it may come back in a reason.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from letters.domain.case_message import parse_case_message
from letters.domain.contract import ContractRules, parse_request
from letters.domain.kid import KidMethod
from letters.errors import InvalidRequest

SAMPLE = json.loads(
    (Path(__file__).parents[1] / "golden/inkassovarsel/nb/plain/request.json").read_text()
)
RULES = ContractRules(KidMethod.MOD10, 12)
TODAY = date(2026, 11, 21)

NATIONAL_ID = "01017012345"
NAME = "Ingrid Fjellvik"  # no four letters in a row of it are in any rule
STREET = "Storgata 1"
PERSONAL = (NATIONAL_ID, NAME, STREET, "1970-01-01T00:00")


def _placed(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLE)
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
    return data


def _reasons(data: dict[str, Any]) -> str:
    with pytest.raises(InvalidRequest) as err:
        parse_request(data, RULES, TODAY)
    return "; ".join(str(p) for p in err.value.problems)


def _echoes(reasons: str, secret: str) -> bool:
    """Whether any 4 characters in a row of ``secret`` (its words, its digits) come back."""
    parts = [secret[i : i + 4] for i in range(len(secret) - 3)]
    return any(part in reasons for part in parts if part.strip())


WRONG_FIELDS = [
    ("letter_date", NATIONAL_ID),
    ("letter_date", NAME),
    ("deadline", "1970-05-17"),
    ("letter_id", NATIONAL_ID),
    ("letter_type", NAME),
    ("language", STREET),
    ("schema", NAME),
    ("case.case_number", NAME),
    ("case.claims.0.principal", NATIONAL_ID + "x"),
    ("case.claims.0.due_date", STREET),
    ("recipient.address.country_code", NAME),
    ("recipient.address.postal_code", NAME),
    ("recipient.national_identity_number", NAME),
    ("recipient.national_identity_number", NATIONAL_ID[:-1] + "9"),
]


@pytest.mark.parametrize(("path", "value"), WRONG_FIELDS)
def test_a_value_in_the_wrong_field_is_described_never_quoted(path: str, value: str) -> None:
    reasons = _reasons(_placed(path, value))
    assert path.split(".")[-1] in reasons or "case.claims[0]" in reasons
    assert not _echoes(reasons, value), reasons


@pytest.mark.parametrize("key", [NATIONAL_ID, NAME, "Storgata 1, 0150 Oslo"])
def test_personal_data_sent_as_a_field_name_is_not_repeated(key: str) -> None:
    reasons = _reasons(_placed(f"recipient.{key}", "x"))
    assert "recipient.<a name of" in reasons and "is not a field of letters.request/1" in reasons
    assert not _echoes(reasons, key), reasons


def test_a_field_name_that_looks_like_one_is_still_named() -> None:
    assert "recipient.county: is not a field" in _reasons(_placed("recipient.county", "x"))


def test_a_schema_name_is_repeated_as_it_was_sent() -> None:
    assert 'got "letters.request/2"' in _reasons(_placed("schema", "letters.request/2"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("at", NATIONAL_ID), ("at", NAME + " 2026-11-24T10:15:00"), ("schema", NAME),
     ("case_number", NAME), (NAME, "x")],
)  # fmt: skip
def test_a_case_message_refusal_holds_no_personal_data(field: str, value: str) -> None:
    message = {
        "schema": "letters.case/1",
        "case_number": "2026-1",
        "state": "paid",
        "at": "2026-11-24T10:15:00+01:00",
    } | {field: value}
    with pytest.raises(InvalidRequest) as err:
        parse_case_message(message)
    reasons = "; ".join(str(p) for p in err.value.problems)
    assert not _echoes(reasons, NAME) and not _echoes(reasons, NATIONAL_ID), reasons


@pytest.mark.parametrize("reference", [NAME, NATIONAL_ID, "ring Ingrid om 12", "betalt kontant"])
def test_a_case_reference_that_is_free_text_is_refused_without_being_repeated(
    reference: str,
) -> None:
    message = {"schema": "letters.case/1", "case_number": "2026-1", "state": "paid",
               "at": "2026-11-24T10:15:00+01:00", "reference": reference}  # fmt: skip
    with pytest.raises(InvalidRequest) as err:
        parse_case_message(message)
    [problem] = err.value.problems
    assert problem.path == "reference" and "free text" in problem.rule
    assert not _echoes(str(problem), reference)


def test_a_case_reference_that_is_an_identifier_is_kept() -> None:
    message = {"schema": "letters.case/1", "case_number": "2026-1", "state": "paid",
               "at": "2026-11-24T10:15:00+01:00", "reference": "INN-88123"}  # fmt: skip
    assert parse_case_message(message).reference == "INN-88123"
