"""Every rule of the letters.request/1 contract, each with the message it must give."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from letters.domain.contract import ContractRules, parse_request
from letters.domain.kid import KidMethod, KidScheme, kid_from_case_number
from letters.errors import InvalidRequest
from tests.support.json_paths import DELETE
from tests.support.json_paths import changed as changed_field

SAMPLE = json.loads(
    (Path(__file__).parents[1] / "golden/inkassovarsel/nb/plain/request.json").read_text()
)
RULES = ContractRules(KidMethod.MOD10, 12)
TODAY = date(2026, 11, 21)


def problems(data: Any, rules: ContractRules = RULES) -> list[str]:
    with pytest.raises(InvalidRequest) as err:
        parse_request(data, rules, TODAY)
    return [str(p) for p in err.value.problems]


def changed(path: str, value: Any) -> dict[str, Any]:
    return changed_field(SAMPLE, path, value)


def test_the_sample_is_valid() -> None:
    request = parse_request(SAMPLE, RULES, TODAY)
    assert request.case.claims[0].principal == Decimal("1249.00")
    assert request.letter_date == date(2026, 11, 23)
    assert "Kari" not in repr(request.recipient)


def test_the_design_guide_example_is_valid() -> None:
    # The design guide's KID is the case system's own: an agency with that scheme.
    example = copy.deepcopy(SAMPLE)
    example["case"]["kid"] = "20260045123"
    example["case"]["costs"] = [{"code": "reminder_fee", "amount": "37.50"}]
    parse_request(example, replace(RULES, kid_scheme=KidScheme.ANY_VALID), TODAY)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "schema",
            "letters.request/2",
            'schema: must be "letters.request/1"; got "letters.request/2"',
        ),
        ("letter_id", "not-a-uuid", "letter_id: must be a UUID"),
        ("letter_type", "sluttvarsel", "letter_type: must be one of"),
        ("language", "nn", "language: must be one of"),
        ("letter_date", "23.11.2026", "letter_date: must be an ISO 8601 date (YYYY-MM-DD)"),
        ("letter_date", "2026-02-30", "letter_date: must be an ISO 8601 date"),
        ("letter_date", 20261123, "letter_date: must be an ISO 8601 date string"),
        ("case.claims[0].principal", 1249.0, "case.claims[0].principal: must be a decimal string"),
        ("case.claims[0].principal", "-5.00", "case.claims[0].principal: must not be negative"),
        (
            "case.claims[0].principal",
            "10.005",
            "case.claims[0].principal: must have at most two decimals",
        ),
        (
            "case.claims[0].principal",
            "1,249.00",
            "case.claims[0].principal: must be a decimal string",
        ),
        ("case.claims[0].principal", "0.00", "case.claims[0].principal: must be greater than zero"),
        ("case.claims[0].principal", "1000000000.00", "case.claims[0].principal: must be at most"),
        ("case.interest.amount", "abc", "case.interest.amount: must be a decimal string"),
        ("case.paid", "0.00", "case.paid: must be left out: the service computes"),
        ("case.paid", "5000.00", "case.paid: must be left out: the service computes"),
        (
            "case.creditor.vat_registered",
            False,
            "case.creditor.vat_registered: must be left out: VAT on collection costs follows",
        ),
        ("case.kid", "202600451273", "case.kid: check digit is wrong for MOD10"),
        ("case.kid", "12", "case.kid: must be 4 to 25 characters"),
        ("case.case_number", "ABC-1", "case.case_number: must be 2 to 32 digits and hyphens"),
        (
            "case.creditor.organization_number",
            "998877661",
            "case.creditor.organization_number: must be a valid Norwegian organisation number",
        ),
        (
            "case.claims[0].due_date",
            "2026-11-23",
            "case.claims[0].due_date: must be before the letter date 2026-11-23",
        ),
        (
            "case.claims[0].due_date",
            "2026-12-01",
            "case.claims[0].due_date: must be before the letter date",
        ),
        (
            "case.claims[0].invoice_date",
            "2026-09-20",
            "case.claims[0].invoice_date: must not be after the due date",
        ),
        ("case.claims", [], "case.claims: must have at least 1 item(s)"),
        (
            "case.interest.from_date",
            "2026-08-20",
            "case.interest.from_date: must be after the earliest due date",
        ),
        (
            "case.interest.rate_percent",
            "12.00",
            "case.interest.rate_percent: must be left out: the service computes the interest",
        ),
        ("case.costs[0].code", "lawyer_fee", "case.costs[0].code: must be one of"),
        (
            "recipient.national_identity_number",
            "03039110016",
            "recipient.national_identity_number: must be a valid Norwegian national identity number or D-number",
        ),
        (
            "recipient.national_identity_number",
            "0303911001",
            "recipient.national_identity_number: must be a valid",
        ),
        (
            "recipient.address.postal_code",
            "155",
            "recipient.address.postal_code: must be 4 digits when country_code is NO",
        ),
        (
            "recipient.address.postal_code",
            "01A5",
            "recipient.address.postal_code: must be 4 digits when country_code is NO",
        ),
        (
            "recipient.address.country_code",
            "XX",
            "recipient.address.country_code: must be an ISO 3166-1 alpha-2",
        ),
        (
            "recipient.address.country_code",
            "no",
            "recipient.address.country_code: must be an ISO 3166-1 alpha-2",
        ),
        (
            "recipient.address.lines",
            ["a", "b", "c", "d"],
            "recipient.address.lines: must have at most 3 items",
        ),
        ("recipient.address.lines", [], "recipient.address.lines: must have at least 1 item(s)"),
        (
            "recipient.address.lines[0]",
            "x" * 43,
            "recipient.address.lines[0]: must be at most 42 characters",
        ),
        ("recipient.name", "x" * 43, "recipient.name: must be at most 42 characters"),
        ("recipient.name", "", "recipient.name: must not be empty"),
        ("recipient.name", 42, "recipient.name: must be a string"),
        ("recipient.digital_consent", "yes", "recipient.digital_consent: must be true or false"),
        ("recipient.address", DELETE, "recipient.address: is required"),
        ("case.creditor", "Fjellkraft", "case.creditor: must be an object"),
        ("deadline", "2026-11-20", "deadline: must be after the letter date"),
    ],
)
def test_each_rule_names_the_field_and_the_rule(path: str, value: Any, expected: str) -> None:
    found = problems(changed(path, value))
    assert any(p.startswith(expected) for p in found), found


def test_unknown_fields_are_errors_at_every_level() -> None:
    data = copy.deepcopy(SAMPLE)
    data["priority"] = "high"
    data["case"]["claims"][0]["vat"] = "0"
    data["recipient"]["address"]["county"] = "Oslo"
    found = problems(data)
    assert "priority: is not a field of letters.request/1" in found
    assert "case.claims[0].vat: is not a field of letters.request/1" in found
    assert "recipient.address.county: is not a field of letters.request/1" in found


def test_all_problems_are_reported_at_once() -> None:
    data = changed("case.claims[0].principal", "-1")
    data["language"] = "de"
    data["recipient"]["address"]["postal_code"] = "12"
    assert len(problems(data)) >= 2


def test_d_number_is_accepted() -> None:
    parse_request(changed("recipient.national_identity_number", "44117510023"), RULES, TODAY)


def test_foreign_postal_codes_follow_their_own_format() -> None:
    data = changed(
        "recipient.address",
        {
            "lines": ["Storgatan 12"],
            "postal_code": "582 20",
            "city": "LINKÖPING",
            "country_code": "SE",
        },
    )
    parse_request(data, RULES, TODAY)
    data["recipient"]["address"]["postal_code"] = "582/20"
    assert problems(data) == [
        "recipient.address.postal_code: must be letters, digits, spaces and hyphens"
    ]


def test_kid_is_checked_with_the_agencys_method() -> None:
    data = changed("case.kid", "123456785")
    parse_request(data, ContractRules(KidMethod.MOD11, 9), TODAY)
    assert problems(data, RULES) == ["case.kid: check digit is wrong for MOD10 (expected 2)"]


def test_case_number_must_fit_the_derived_kid() -> None:
    found = problems(changed("case.case_number", "2026-0045127"), ContractRules(KidMethod.MOD10, 8))
    assert found == ["case.case_number: has 11 digits; a KID derived from it holds at most 7"]


def test_notice_fee_needs_14_days_since_the_due_date() -> None:
    data = changed("case.claims[0].due_date", "2026-11-15")
    data["case"]["claims"][0]["invoice_date"] = "2026-11-01"
    data["case"]["interest"]["from_date"] = "2026-11-16"
    found = problems(data)
    # costs[0] is the reminder fee the purring charged on 15 September: carried forward,
    # and timed on its own day, before the claim was due.
    assert found == [
        "case.costs[0].charged_on: a reminder fee may be charged only after a claim is due "
        "(inkassoforskriften § 1-2 (1)); none of case.claims was due by 2026-09-15",
        "case.costs[1].code: a collection notice fee may be charged only by a letter sent at "
        "least 14 days after the due date 2026-11-15 (inkassoforskriften § 1-2 (2)); it was "
        "charged on 2026-11-23",
    ]


def test_without_letter_date_today_is_the_letter_date() -> None:
    data = changed("letter_date", DELETE)
    data["case"]["claims"][0]["due_date"] = "2026-11-21"
    assert "case.claims[0].due_date: must be before the letter date 2026-11-21" in problems(data)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xff\xfe not json", "body is not UTF-8 text"),
        (b"{", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
    ],
)
def test_undecodable_bodies(raw: bytes, expected: str) -> None:
    assert problems(raw)[0].startswith(expected)


def test_an_unknown_schema_is_reported_alone() -> None:
    data = {"schema": "letters.request/9", "whatever": 1}
    assert problems(data) == ['schema: must be "letters.request/1"; got "letters.request/9"']


def test_a_kid_of_another_case_is_refused_naming_both_unless_any_valid_kid_is_the_scheme() -> None:
    # Review N-M10: a valid KID that belongs to another case number books the payment there.
    number = SAMPLE["case"]["case_number"]
    own = kid_from_case_number(number, KidMethod.MOD10, 12)
    other = kid_from_case_number(number[:-1] + "9", KidMethod.MOD10, 12)
    parse_request(changed("case.kid", own), RULES, TODAY)
    assert problems(changed("case.kid", other)) == [
        f"case.kid: must be the KID of case {number} under the agency's KID scheme "
        f"(rules.kid_scheme = case_number): {own}; this KID belongs to another case number, "
        "and its payments would be booked there"
    ]
    parse_request(changed("case.kid", other), replace(RULES, kid_scheme=KidScheme.ANY_VALID), TODAY)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        # Review N-M5: a payment is a dated event the service applies, not a sum it is told.
        (
            "case.paid",
            "100.00",
            "case.paid: must be left out: the service computes what the payments paid off",
        ),
        (
            "case.creditor.vat_registered",
            False,
            "case.creditor.vat_registered: must be left out: VAT on collection costs follows "
            "the claims, not the creditor (inkassoforskriften § 2-2)",
        ),
        (
            "case.payments",
            [{"paid_on": "2026-11-22", "amount": "100.00"}],
            "case.payments[0].paid_on: must not be after today 2026-11-21",
        ),
        (
            "case.payments",
            [{"paid_on": "2026-10-01", "amount": "0.00"}],
            "case.payments[0].amount: must be greater than zero",
        ),
        (
            "case.payments",
            [{"paid_on": "2026-10-01", "amount": "10.00", "invoice_number": "99999"}],
            "case.payments[0].invoice_number: must be the invoice_number of one of case.claims",
        ),
    ],
)
def test_payments_are_dated_and_a_paid_sum_is_refused(path: str, value: Any, expected: str) -> None:
    found = problems(changed(path, value))
    assert any(p.startswith(expected) for p in found), found
