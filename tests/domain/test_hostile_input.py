"""Hostile and careless input, finding by finding: each is refused with the field and the rule.

The numbers in the test names are the findings of the hostile-input review
(surrogates, nesting, non-ASCII digits, huge values, UUID spellings, loose
validation, bidirectional controls, fonts).
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from letters.domain.contract import ContractRules, parse_request
from letters.domain.kid import KidMethod, kid_problem
from letters.domain.message_body import (
    BodyLimits,
    canonical_uuid,
    nesting_depth,
    peek,
    peek_letter_id,
    request_object,
)
from letters.domain.text import shape
from letters.errors import InvalidRequest

SAMPLE = json.loads(
    (Path(__file__).parents[1] / "golden/inkassovarsel/nb/plain/request.json").read_text()
)
RULES = ContractRules(KidMethod.MOD10, 12)
TODAY = date(2026, 11, 21)


def problems(data: Any, rules: ContractRules = RULES) -> list[str]:
    with pytest.raises(InvalidRequest) as err:
        parse_request(data, rules, TODAY)
    return [str(p) for p in err.value.problems]


def sample(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLE)
    for path, value in changes.items():
        node = data
        parts = path.split("__")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(parts[-1]) if parts[-1].isdigit() else parts[-1]] = value
    return data


def body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=True).encode()


# -- 1. a lone surrogate ---------------------------------------------------------------


def test_1_a_lone_surrogate_is_refused_with_its_field_before_anything_else() -> None:
    raw = body(sample()).replace(SAMPLE["letter_id"].encode(), b"\\udc00")
    with pytest.raises(InvalidRequest, match=r"letter_id: holds a lone surrogate"):
        request_object(raw)
    assert peek(raw) == {}
    raw = body(sample(recipient__name="Kari \udc00"))
    with pytest.raises(InvalidRequest, match=r"recipient\.name: holds a lone surrogate"):
        parse_request(raw, RULES, TODAY)


def test_1_a_surrogate_letter_id_is_no_letter_id() -> None:
    assert peek_letter_id({"letter_id": "\udc00"}) is None


# -- 2. nesting and size -------------------------------------------------------------------


def test_2_deep_nesting_is_refused_before_parsing() -> None:
    raw = b'{"schema": "letters.request/1", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    with pytest.raises(InvalidRequest, match="nested 5001 levels deep, more than the limit of 16"):
        request_object(raw)
    assert peek(raw) == {}


def test_2_brackets_inside_strings_do_not_count() -> None:
    assert nesting_depth('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[["}') == 1
    assert nesting_depth('{"a": [1, {"b": [2]}]}') == 4


def test_2_a_body_over_the_size_limit_is_refused() -> None:
    raw = body(sample(recipient__name="x" * 2000))
    with pytest.raises(InvalidRequest, match=r"more than the limit of 1024"):
        request_object(raw, BodyLimits(max_bytes=1024))


def test_2_a_number_too_long_to_read_is_refused_not_raised() -> None:
    raw = b'{"letter_id": ' + b"9" * 5000 + b"}"
    with pytest.raises(InvalidRequest, match="not JSON this service can read: ValueError"):
        request_object(raw)


# -- 3. non-ASCII digits -------------------------------------------------------------------


@pytest.mark.parametrize("kid", ["²²²²²", "١٢٣٤٥٦", "１２３４５６"])
def test_3_a_kid_of_other_digits_is_refused_with_the_rule(kid: str) -> None:
    assert kid_problem(kid, KidMethod.MOD10) == (
        "must be digits, with a check digit (or '-' for MOD11) last"
    )
    assert any(p.startswith("case.kid: must be digits") for p in problems(sample(case__kid=kid)))


@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        ("recipient__address__postal_code", "０１５５", "must be 4 digits when country_code is NO"),
        ("case__case_number", "２０２６-１２", "must be 2 to 32 digits and hyphens"),
        ("case__claims__0__principal", "١٢٤٩.00", "must be a decimal string"),
        (
            "recipient__national_identity_number",
            "１５０７６５００５６５",
            "must be a valid Norwegian",
        ),
        (
            "case__creditor__organization_number",
            "９９８８７７６６０",
            "must be a valid Norwegian organisation",
        ),
    ],
)
def test_3_7_digits_mean_ascii_digits(path: str, value: str, rule: str) -> None:
    field = path.replace("__0__", "[0].").replace("__", ".")
    assert any(p.startswith(f"{field}: {rule}") for p in problems(sample(**{path: value})))


# -- 4. values quoted short ----------------------------------------------------------------


def test_4_a_huge_rejected_value_is_described_by_its_shape_not_quoted() -> None:
    found = problems(sample(letter_date="2026-" + "x" * 1_000_000))
    assert found == [
        "letter_date: must be an ISO 8601 date (YYYY-MM-DD); "
        "got 1000005 character(s): digits, letters, punctuation"
    ]


def test_4_a_shape_holds_nothing_a_header_or_log_line_cannot_hold() -> None:
    assert (
        shape("a\nb\u202ec\x00") == "6 character(s): letters, spaces, punctuation, other characters"
    )
    assert shape(12) == "a JSON number" and shape([1, 2]) == "a list of 2 item(s)"


# -- 5. one spelling of a letter id --------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "4F7C2B8E-9A51-4D7E-8A7B-2D3C1E0F9A61",
        "4f7c2b8e9a514d7e8a7b2d3c1e0f9a61",
        "{4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61}",
        "urn:uuid:4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61",
    ],
)
def test_5_any_standard_spelling_is_the_one_letter_id(spelling: str) -> None:
    canonical = "4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61"
    assert canonical_uuid(spelling) == canonical
    assert peek_letter_id({"letter_id": spelling}) == canonical
    assert parse_request(sample(letter_id=spelling), RULES, TODAY).letter_id == canonical


@pytest.mark.parametrize(
    "spelling",
    [
        "4f7c2b8e-9a514d7e-8a7b-2d3c1e0f9a61",
        "4f7c2b8e_9a51_4d7e_8a7b_2d3c1e0f9a61",
        "٤f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61",
    ],
)
def test_5_other_spellings_are_no_letter_id(spelling: str) -> None:
    assert canonical_uuid(spelling) is None
    assert any(
        p.startswith("letter_id: must be a UUID") for p in problems(sample(letter_id=spelling))
    )


# -- 7. loose validation -------------------------------------------------------------------


@pytest.mark.parametrize("written", ["150765 00565", "150765-00565", " 15076500565 "])
def test_7_a_national_id_with_spaces_or_hyphens_is_normalised(written: str) -> None:
    request = parse_request(sample(recipient__national_identity_number=written), RULES, TODAY)
    assert request.recipient.national_identity_number == "15076500565"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("case__claims__0__principal", "1249.00\n"),
        ("case__case_number", "2026-0045127\n"),
        ("recipient__address__postal_code", "0155\n"),
    ],
)
def test_7_a_trailing_newline_is_refused(path: str, value: str) -> None:
    field = path.replace("__0__", "[0].").replace("__", ".")
    assert any(p.startswith(f"{field}: ") for p in problems(sample(**{path: value})))


@pytest.mark.parametrize("code", ["001", "150", "EU", "QO", "XK", "ZZ", "UN", "AC"])
def test_7_regions_and_unassigned_codes_are_not_countries(code: str) -> None:
    assert any(
        p.startswith("recipient.address.country_code: must be an ISO 3166-1 alpha-2")
        for p in problems(sample(recipient__address__country_code=code))
    )


@pytest.mark.parametrize("written", ["2026-W37-2", "2026-329", "20261123", "2026-11-23T00:00"])
def test_7_dates_are_calendar_dates_only(written: str) -> None:
    assert any(
        p.startswith("letter_date: must be an ISO 8601 date")
        for p in problems(sample(letter_date=written))
    )


def test_7_a_date_out_of_range_is_a_permanent_error_naming_the_range() -> None:
    found = problems(sample(letter_date="9999-12-30"))
    assert "letter_date: must be a date from 1970-01-01 to 2099-12-31" in found


@pytest.mark.parametrize("name", ["   ", "\t", "\u00a0"])
def test_7_a_blank_or_invisible_name_is_refused(name: str) -> None:
    found = problems(sample(recipient__name=name))
    assert any(p.startswith("recipient.name: must not") for p in found), found


def test_7_text_is_nfc_normalised_and_stripped() -> None:
    decomposed = "Bjørn A\u030asen"  # Å as A + combining ring
    request = parse_request(sample(recipient__name=f"  {decomposed} "), RULES, TODAY)
    assert request.recipient.name == "Bjørn Åsen"


# -- 8. what the letter says cannot be turned around ---------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("recipient__name", "Kari \u202eNordmann"),
        ("case__claims__0__description", "Faktura \u202e00.0 kr\u202c"),
        ("case__creditor__name", "Fjell\u200bkraft AS"),
        ("recipient__address__lines__0", "Storgata\u00ad 1"),
        ("recipient__address__city", "OSLO\u2066"),
        ("case__claims__0__invoice_number", "88\x07123"),
    ],
)
def test_8_controls_and_invisible_characters_are_refused_with_the_field(
    path: str, value: str
) -> None:
    field = path.replace("__0__", "[0].").replace("__0", "[0]").replace("__", ".")
    found = problems(sample(**{path: value}))
    assert any(p.startswith(f"{field}: must not contain") for p in found), found


# -- 9. characters the fonts cannot draw ---------------------------------------------------


def test_9_characters_the_fonts_cannot_draw_are_refused_naming_the_field() -> None:
    drawable = frozenset(range(0x20, 0x250))
    rules = ContractRules(KidMethod.MOD10, 12, drawable=drawable)
    found = problems(sample(recipient__name="Kari 😀 مرحبا"), rules)
    assert found == [
        "recipient.name: holds characters the letter's fonts cannot print "
        "(U+0627, U+0628, U+062D and 3 more)"
    ]
    assert parse_request(sample(), rules, TODAY).recipient.name == SAMPLE["recipient"]["name"]
