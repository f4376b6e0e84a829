"""The order of letters in a case: each rule broken (refused, naming the rule, the earlier
letter and its deadline) and kept, from reported letters and from the ledger's."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from letters.config import PROJECT_ROOT
from letters.domain.contract import ContractRules, parse_request
from letters.domain.kid import KidMethod
from letters.domain.letter_order import OrderRules, PriorLetter, check_order, reported_letters
from letters.domain.letter_types import LetterType
from letters.domain.model import LetterRequest
from letters.errors import InvalidRequest

AGENCY = "Nordlys Inkasso AS"

RULES = ContractRules(KidMethod.MOD10, 12)
TODAY = date(2026, 12, 1)
ALL_ON = OrderRules()


def _request(name: str, earlier: list[dict[str, str]] | None = None) -> LetterRequest:
    data: dict[str, Any] = json.loads((PROJECT_ROOT / "samples" / f"{name}.json").read_bytes())
    if earlier is not None:
        data["case"]["earlier_letters"] = earlier
    return parse_request(data, RULES, TODAY)


def _earlier(letter_type: str, sent_on: str, deadline: str) -> dict[str, str]:
    return {"letter_type": letter_type, "sent_on": sent_on, "deadline": deadline,
            "sent_by": "Fjellkraft AS"}  # fmt: skip


def _refusal(request: LetterRequest, leaves_on: date, prior: list[PriorLetter]) -> str:
    with pytest.raises(InvalidRequest) as err:
        check_order(request, leaves_on, prior, ALL_ON)
    [problem] = err.value.problems
    assert problem.path == "letter_type"
    return problem.rule


def test_a_betalingsoppfordring_while_the_inkassovarsel_deadline_runs_is_refused() -> None:
    request = _request(
        "betalingsoppfordring-nb-plain", [_earlier("inkassovarsel", "2026-11-20", "2026-12-04")]
    )
    reason = _refusal(request, TODAY, reported_letters(request, AGENCY))
    assert reason.startswith(
        "inkassoloven § 10 (1): a betalingsoppfordring may be sent only after the deadline "
        "of an inkassovarsel has passed; "
    )
    assert "the inkassovarsel of 2026-11-20" in reason
    assert "sent by Fjellkraft AS (case.earlier_letters[0])" in reason
    assert "deadline 2026-12-04" in reason and "would leave on 2026-12-01" in reason


def test_a_betalingsoppfordring_without_any_inkassovarsel_is_refused() -> None:
    request = _request("betalingsoppfordring-nb-plain", [])
    reason = _refusal(request, TODAY, [])
    assert "inkassoloven § 10 (1)" in reason
    assert f"case {request.case.case_number} has no inkassovarsel" in reason


def test_a_betalingsoppfordring_after_the_inkassovarsel_deadline_keeps_the_rule() -> None:
    request = _request(
        "betalingsoppfordring-nb-plain", [_earlier("inkassovarsel", "2026-10-01", "2026-10-15")]
    )
    check_order(request, TODAY, reported_letters(request, AGENCY), ALL_ON)
    # On the deadline itself it still runs: the debtor may pay all that day.
    late = _request(
        "betalingsoppfordring-nb-plain", [_earlier("inkassovarsel", "2026-11-17", "2026-12-01")]
    )
    assert "deadline 2026-12-01" in _refusal(late, TODAY, reported_letters(late, AGENCY))


def test_a_varsel_before_any_betalingsoppfordring_deadline_has_passed_is_refused() -> None:
    running = [
        _earlier("inkassovarsel", "2026-10-01", "2026-10-15"),
        _earlier("betalingsoppfordring", "2026-11-20", "2026-12-04"),
    ]
    request = _request("varsel_rettslig_pagang-nb-plain", running)
    reason = _refusal(request, TODAY, reported_letters(request, AGENCY))
    assert reason.startswith("the agency's order of letters (rules.order): a varsel om rettslig")
    assert "the betalingsoppfordring of 2026-11-20" in reason and "deadline 2026-12-04" in reason

    none_yet = _request("varsel_rettslig_pagang-nb-plain", running[:1])
    assert "has no betalingsoppfordring" in _refusal(
        none_yet, TODAY, reported_letters(none_yet, AGENCY)
    )


def test_a_varsel_after_the_betalingsoppfordring_deadline_keeps_the_rule() -> None:
    request = _request("varsel_rettslig_pagang-nb-plain")  # the sample's history passed
    check_order(request, TODAY, reported_letters(request, AGENCY), ALL_ON)


def test_a_second_letter_of_a_type_while_the_first_runs_is_refused() -> None:
    request = _request("purring-nb-plain")
    first = PriorLetter(LetterType.PURRING, date(2026, 11, 25), date(2026, 12, 9), "letter L-1")
    reason = _refusal(request, TODAY, [first])
    assert reason.startswith(
        "the agency's order of letters (rules.order): no second purring for case "
    )
    assert "the purring of 2026-11-25 (letter L-1), deadline 2026-12-09" in reason
    # An earlier one not yet left (no deadline yet) runs too.
    on_its_way = PriorLetter(LetterType.PURRING, None, None, "letter L-2")
    assert "the purring letter L-2, still on its way" in _refusal(request, TODAY, [on_its_way])


def test_a_second_letter_of_a_type_after_the_first_deadline_keeps_the_rule() -> None:
    request = _request("purring-nb-plain")
    done = PriorLetter(LetterType.PURRING, date(2026, 11, 1), date(2026, 11, 16), "letter L-1")
    check_order(request, TODAY, [done], ALL_ON)


def test_the_agency_profile_switches_rules_off() -> None:
    request = _request("betalingsoppfordring-nb-plain", [])
    check_order(request, TODAY, [], OrderRules(inkassovarsel_before_betalingsoppfordring=False))
    purring = _request("purring-nb-plain")
    running = PriorLetter(LetterType.PURRING, date(2026, 11, 25), date(2026, 12, 9), "letter L")
    check_order(purring, TODAY, [running], OrderRules(one_running_letter_per_type=False))


def test_reported_letters_are_checked_by_the_contract() -> None:
    data: dict[str, Any] = json.loads(
        (PROJECT_ROOT / "samples" / "betalingsoppfordring-nb-plain.json").read_bytes()
    )
    data["case"]["earlier_letters"] = [
        {"letter_type": "brev", "sent_on": "2026-10-01", "deadline": "2026-10-15"},
    ]
    with pytest.raises(InvalidRequest) as err:
        parse_request(data, RULES, TODAY)
    shown = [str(p) for p in err.value.problems]
    assert any(s.startswith("case.earlier_letters[0].letter_type: must be one of") for s in shown)
    assert "case.earlier_letters[0].sent_by: is required" in shown

    data["case"]["earlier_letters"] = [
        _earlier("inkassovarsel", "2026-10-15", "2026-10-01"),
        _earlier("inkassovarsel", "2026-12-20", "2027-01-04"),
    ]
    with pytest.raises(InvalidRequest) as err:
        parse_request(data, RULES, TODAY)
    shown = [str(p) for p in err.value.problems]
    assert "case.earlier_letters[0].deadline: must be after sent_on" in shown
    assert "case.earlier_letters[1].sent_on: must not be after the letter date 2026-12-01" in shown


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("betalingsoppfordring-nb-plain", LetterType.INKASSOVARSEL),
        ("varsel_rettslig_pagang-nb-plain", LetterType.BETALINGSOPPFORDRING),
    ],
)
def test_no_letter_rests_on_an_earlier_one_that_came_back(name: str, first: LetterType) -> None:
    request = _request(name, [])
    came_back = PriorLetter(
        first, date(2026, 11, 2), date(2026, 11, 16), "letter L-1", returned=True
    )
    reason = _refusal(request, TODAY, [came_back])
    assert "letter L-1 came back as returned mail and was not received" in reason
    received = PriorLetter(first, date(2026, 11, 2), date(2026, 11, 16), "letter L-1")
    check_order(request, TODAY, [received], ALL_ON)


def test_a_letter_that_came_back_does_not_stop_a_new_one_of_its_type() -> None:
    request = _request("inkassovarsel-nb-plain", [])
    running = PriorLetter(LetterType.INKASSOVARSEL, date(2026, 11, 25), date(2026, 12, 9), "L-1")
    assert "no second inkassovarsel" in _refusal(request, TODAY, [running])
    came_back = PriorLetter(
        LetterType.INKASSOVARSEL, date(2026, 11, 25), date(2026, 12, 9), "L-1", returned=True
    )
    check_order(request, TODAY, [came_back], ALL_ON)
