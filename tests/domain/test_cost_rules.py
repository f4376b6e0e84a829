"""The costs a letter may claim (inkassoforskriften §§ 1-2, 1-3, chapter 2), each rule broken once."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from letters.domain.contract import ContractRules, parse_request
from letters.domain.cost_rules import check_costs, cost_problems, history_problems
from letters.domain.kid import KidMethod
from letters.domain.letter_order import PriorLetter, reported_letters
from letters.domain.letter_types import LetterType
from letters.domain.model import Cost, CostCode, LetterRequest
from letters.domain.rates import rate_table
from letters.errors import InvalidRequest

AGENCY = "Nordlys Inkasso AS"

GOLDEN = Path(__file__).parents[1] / "golden"
RULES = ContractRules(KidMethod.MOD10, 12)
TODAY = date(2026, 11, 21)
LETTER_DATE = date(2026, 11, 23)
TYPES = ["purring", "inkassovarsel", "betalingsoppfordring", "varsel_rettslig_pagang"]


def _raw(letter_type: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((GOLDEN / f"{letter_type}/nb/plain/request.json").read_text()))


def _parse(data: dict[str, Any]) -> LetterRequest:
    return parse_request(data, RULES, TODAY)


def _refusals(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidRequest) as err:
        _parse(data)
    return [str(p) for p in err.value.problems]


def _history(request: LetterRequest, prior: list[PriorLetter] | None = None) -> list[str]:
    prior = reported_letters(request, AGENCY) if prior is None else prior
    return [str(p) for p in history_problems(request, LETTER_DATE, prior, rate_table())]


@pytest.mark.parametrize("letter_type", TYPES)
def test_the_golden_costs_keep_every_rule(letter_type: str) -> None:
    request = _parse(_raw(letter_type))
    check_costs(request, LETTER_DATE, reported_letters(request, AGENCY), rate_table())


@pytest.mark.parametrize("letter_type", TYPES)
def test_enforcement_costs_are_refused_in_every_letter(letter_type: str) -> None:
    data = _raw(letter_type)
    data["case"]["costs"].append({"code": "enforcement_costs", "amount": "1345.00"})
    [problem] = [p for p in _refusals(data) if "enforcement" in p]
    assert problem.startswith("case.costs[")
    assert "arise only once the request for enforcement is filed" in problem


def test_a_reminder_fee_above_one_twentieth_of_the_collection_rate_is_refused() -> None:
    data = _raw("purring")
    data["letter_date"] = "2025-11-24"  # inkassosats 700: at most 35.00
    for claim in data["case"]["claims"]:
        claim["invoice_date"], claim["due_date"] = "2025-08-18", "2025-09-01"
    [problem] = _refusals(data)
    assert problem == (
        "case.costs[0].amount: a reminder fee may be at most 1/20 of the collection rate on "
        "the day it is charged (inkassoforskriften § 1-2 (1)): 35.00 kr on 2025-11-24, "
        "got 37.50 kr"
    )
    data["case"]["costs"][0]["amount"] = "35.00"
    _parse(data)


def test_a_fee_this_letter_charges_needs_14_days_since_the_due_date() -> None:
    data = _raw("purring")
    data["letter_date"] = "2026-09-14"
    assert _refusals(data) == [
        "case.costs[0].code: a reminder fee may be charged only by a letter sent at least 14 "
        "days after the due date 2026-09-01 (inkassoforskriften § 1-2 (1)); it was charged on "
        "2026-09-14"
    ]
    data["letter_date"] = "2026-09-15"
    _parse(data)


def test_a_fee_carried_forward_is_timed_on_the_day_it_was_charged() -> None:
    # N-M7 (a): the reminder fee a purring charged 9 days after the due date is refused when
    # a later letter carries it, as it would have been in the purring.
    data = _raw("inkassovarsel")
    data["case"]["costs"][0]["charged_on"] = "2026-09-10"
    assert _refusals(data) == [
        "case.costs[0].charged_on: a reminder fee may be charged only by a letter sent at least "
        "14 days after the due date 2026-09-01 (inkassoforskriften § 1-2 (1)); it was charged "
        "on 2026-09-10"
    ]
    data["case"]["costs"][0]["charged_on"] = "2026-08-30"
    assert _refusals(data) == [
        "case.costs[0].charged_on: a reminder fee may be charged only after a claim is due "
        "(inkassoforskriften § 1-2 (1)); none of case.claims was due by 2026-08-30"
    ]
    data["case"]["costs"][0]["charged_on"] = "2026-09-15"
    request = _parse(data)
    assert cost_problems(request, LETTER_DATE, rate_table()) == []


def test_a_payment_demand_fee_carried_forward_needs_a_missed_deadline_before_its_day() -> None:
    data = _raw("varsel_rettslig_pagang")
    data["case"]["costs"][2] = {
        "code": "payment_demand_fee",
        "amount": "112.50",
        "charged_on": "2026-09-20",  # before the inkassovarsel of 30 September ran out
    }
    data["case"]["earlier_letters"][2]["sent_by"] = "Fjellkraft AS"
    problems = _history(_parse(data))
    assert problems == [
        "case.costs[2].code: a payment demand fee needs a missed deadline of at least 14 days "
        "in a purring or inkassovarsel (inkassoforskriften § 1-2 (3))"
    ]


def test_reminder_fee_with_notice_fee_needs_a_missed_purring_deadline() -> None:
    request = _parse(_raw("inkassovarsel"))
    assert _history(request) == []
    assert _history(request, prior=[]) == [
        "case.costs: a reminder fee with a notice fee is allowed only when the debtor missed a "
        "purring's deadline of at least 14 days before 2026-11-23 (inkassoforskriften § 1-3); "
        "the case has no such purring"
    ]
    short = PriorLetter(LetterType.PURRING, date(2026, 9, 15), date(2026, 9, 25), "letter x")
    assert len(_history(request, prior=[short])) == 1  # a 10-day deadline does not count
    running = PriorLetter(LetterType.PURRING, date(2026, 11, 10), date(2026, 11, 24), "letter y")
    assert len(_history(request, prior=[running])) == 1  # its deadline has not passed


def test_at_most_two_reminder_fees_or_one_with_a_notice_fee() -> None:
    data = _raw("inkassovarsel")
    data["case"]["costs"].insert(0, {"code": "reminder_fee", "amount": "37.50"})
    problems = _refusals(data)
    assert any(p.startswith("case.costs: at most two reminder fees, or one") for p in problems)


def test_collection_costs_within_the_ordinary_cap_unless_the_demand_was_missed_long_ago() -> None:
    data = _raw("varsel_rettslig_pagang")
    data["case"]["costs"][2]["amount"] = "600.00"  # twice the ordinary cap for 1 249 kr
    request = _parse(data)  # within the higher cap: the contract alone lets it through
    problems = _history(request)
    assert problems == [
        "case.costs: collection costs and other costs of 600.00 kr together exceed the ordinary "
        "cap (the higher one "
        "needs a betalingsoppfordring's deadline missed by more than 28 days) of 300.00 kr for "
        "a claim of 1249.00 kr (inkassoforskriften chapter 2)"
    ]
    demand = PriorLetter(
        LetterType.BETALINGSOPPFORDRING, date(2026, 10, 1), date(2026, 10, 15), "x"
    )
    assert _history(request, prior=[*reported_letters(request, AGENCY), demand]) == []
    data["case"]["costs"][2]["amount"] = "600.01"
    assert any("exceed the higher cap" in p for p in _refusals(data))


def test_vat_is_added_when_more_than_half_the_claim_is_outside_the_vat_system() -> None:
    # N-M7 (c): § 2-2 ties the VAT add-on to the claim, not to the creditor.
    data = _raw("betalingsoppfordring")
    data["case"]["costs"][2]["amount"] = "375.00"  # 300 kr and 25 % VAT
    assert _history(_parse(data)) != []
    data["case"]["claims"][0]["outside_vat"] = True
    assert _history(_parse(data)) == []
    second = dict(data["case"]["claims"][0], invoice_number="88124", outside_vat=False)
    data["case"]["claims"].append(second)  # exactly half outside: no VAT
    assert any("exceed" in p for p in _history(_parse(data)))


def test_the_creditors_own_payment_demand_fee_is_not_charged_beside_collection_costs() -> None:
    data = _raw("betalingsoppfordring")
    data["case"]["costs"].append({"code": "payment_demand_fee", "amount": "112.50"})
    assert any("not charged beside collection costs" in p for p in _refusals(data))


def test_a_later_letter_lists_what_an_earlier_letter_claimed_or_waives_it() -> None:
    earlier = PriorLetter(
        LetterType.INKASSOVARSEL,
        date(2026, 9, 30),
        date(2026, 10, 14),
        "letter 1",
        (
            Cost(CostCode.REMINDER_FEE, Decimal("37.50"), date(2026, 9, 15)),
            Cost(CostCode.COLLECTION_NOTICE_FEE, Decimal("37.50")),
        ),
    )
    data = _raw("betalingsoppfordring")
    data["case"]["costs"] = [data["case"]["costs"][2]]  # the fees of the inkassovarsel left out
    request = _parse(data)
    problems = _history(request, prior=[*reported_letters(request, AGENCY), earlier])
    assert len(problems) == 2
    assert problems[0].startswith(
        "case.costs: the inkassovarsel of 2026-09-30 (letter 1), deadline 2026-10-14 claimed a "
        "reminder fee of 37.50 kr; list it in case.costs (with charged_on) or in "
        "case.waived_costs"
    )
    data["case"]["waived_costs"] = [
        {"code": "reminder_fee", "amount": "37.50"},
        {"code": "collection_notice_fee", "amount": "37.50"},
    ]
    request = _parse(data)
    assert _history(request, prior=[*reported_letters(request, AGENCY), earlier]) == []


def test_collection_costs_carried_forward_come_only_from_a_demand_the_agency_sent() -> None:
    # Review N-B2: 300 kr of inkassosalær carried from a payment demand the creditor sent
    # itself is not owed; that demand could charge at most the payment demand fee.
    data = _raw("varsel_rettslig_pagang")
    assert _history(_parse(data)) == []  # the golden demand was the agency's
    data["case"]["earlier_letters"][2]["sent_by"] = "Fjellkraft AS"
    assert _history(_parse(data)) == [
        "case.costs[2].charged_on: collection costs carried forward must come from a "
        "betalingsoppfordring or varsel the agency sent (inkassoforskriften chapter 2: "
        "collection costs compensate a debt collector's work); the betalingsoppfordring of "
        "2026-10-20 (sent by Fjellkraft AS (case.earlier_letters[2])), deadline 2026-11-03 was "
        "the creditor's own payment demand, which may charge at most the payment demand fee of "
        "3/20 of the collection rate (inkassoforskriften § 1-2 (3)), never collection costs"
    ]
    # The agency's own name, written another way, is still the agency.
    data["case"]["earlier_letters"][2]["sent_by"] = "NORDLYS  inkasso as"
    assert _history(_parse(data)) == []


def test_collection_costs_carried_forward_need_a_letter_on_their_day() -> None:
    data = _raw("varsel_rettslig_pagang")
    data["case"]["costs"][2]["charged_on"] = "2026-10-21"
    problems = _history(_parse(data))
    assert [p.split(";")[-1].strip() for p in problems if "charged_on" in p] == [
        "no earlier letter of the case was sent on 2026-10-21"
    ]
    # An inkassovarsel on that day may not charge them either.
    data["case"]["costs"][2]["charged_on"] = "2026-09-30"
    problems = _history(_parse(data))
    assert any(
        "the inkassovarsel of 2026-09-30" in p
        and "was not a betalingsoppfordring or varsel the agency sent" in p
        for p in problems
    ), problems


def test_a_ledger_letter_of_the_agency_carries_its_collection_costs() -> None:
    data = _raw("varsel_rettslig_pagang")
    data["case"]["earlier_letters"] = data["case"]["earlier_letters"][:2]
    request = _parse(data)
    ledger_demand = PriorLetter(
        LetterType.BETALINGSOPPFORDRING, date(2026, 10, 20), date(2026, 11, 3), "letter 1"
    )
    prior = [*reported_letters(request, AGENCY), ledger_demand]
    assert not [p for p in _history(request, prior) if "charged_on" in p]
    creditors = PriorLetter(
        LetterType.BETALINGSOPPFORDRING,
        date(2026, 10, 20),
        date(2026, 11, 3),
        "letter 1",
        by_agency=False,
    )
    prior = [*reported_letters(request, AGENCY), creditors]
    assert any("the creditor's own payment demand" in p for p in _history(request, prior))


@pytest.mark.parametrize("letter_type", ["purring", "inkassovarsel"])
def test_other_costs_are_refused_before_the_betalingsoppfordring(letter_type: str) -> None:
    # Review N-M7 (b): outside the chapter 2 cap nothing may be added for a consumer.
    data = _raw(letter_type)
    data["case"]["costs"].append({"code": "other_costs", "amount": "50.00"})
    index = len(data["case"]["costs"]) - 1
    refusals = _refusals(data)
    assert [p for p in refusals if p.startswith(f"case.costs[{index}].code")] == [
        f"case.costs[{index}].code: other costs must not be claimed in a "
        f"{'purring' if letter_type == 'purring' else 'inkassovarsel'}: out-of-court "
        "collection costs are covered by collection costs within the chapter 2 cap "
        "(inkassoforskriften § 2-1), which only a betalingsoppfordring or a varsel may "
        "claim; before that only the fees of § 1-2"
    ]


def test_other_costs_count_inside_the_collection_cost_cap() -> None:
    data = _raw("betalingsoppfordring")
    assert _history(_parse(data)) == []  # 300 kr of collection costs: the cap for 1 249 kr
    data["case"]["costs"].append({"code": "other_costs", "amount": "0.01"})
    assert any(
        p.startswith("case.costs: collection costs and other costs of 300.01 kr together exceed")
        for p in _history(_parse(data))
    )
