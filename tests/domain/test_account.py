"""The case's account (review N-M5): payments with a date, applied in the order the debtor
chose or the usual one, interest on what each payment left, and what remains of each part."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from letters.domain.account import account
from letters.domain.contract import ContractRules, parse_request
from letters.domain.kid import KidMethod
from letters.domain.model import Case, Claim, Cost, CostCode, Payment, PaymentTarget
from letters.domain.rates import rate_table
from letters.errors import InvalidRequest

GOLDEN = Path(__file__).parents[1] / "golden"
RULES = ContractRules(KidMethod.MOD10, 12)
TODAY = date(2026, 11, 21)
# Every day from July 2026 is at 12.00 % in the suite's table.
THROUGH = date(2026, 9, 30)


def _case(*payments: Payment, claims: tuple[Claim, ...] | None = None) -> Case:
    data = json.loads((GOLDEN / "purring/nb/plain/request.json").read_text())
    case = parse_request(data, RULES, TODAY).case
    return dataclasses.replace(
        case,
        claims=claims or (Claim("Faktura 1", "1", date(2026, 7, 31), Decimal("10000.00")),),
        # A fee an earlier letter charged before the payment, and this letter's own fee.
        costs=(
            Cost(CostCode.REMINDER_FEE, Decimal("35.00"), date(2026, 8, 15)),
            Cost(CostCode.COLLECTION_NOTICE_FEE, Decimal("70.00")),
        ),
        payments=payments,
    )


def test_a_payment_in_the_usual_order_pays_costs_then_interest_then_principal() -> None:
    paid = Payment(date(2026, 9, 1), Decimal("1000.00"))
    books = account(_case(paid), THROUGH, rate_table())
    [applied] = books.payments
    # 10 000 × 12 % × 31/365 = 101.92 of interest up to the day before the payment.
    assert (applied.to_costs, applied.to_interest, applied.to_principal) == (
        Decimal("35.00"),
        Decimal("101.92"),
        Decimal("863.08"),
    )
    # From the payment's date interest runs on what it left: 9 136.92 × 12 % × 30/365.
    assert [(line.principal, line.from_date, line.to_date, line.amount) for line in
            books.interest_lines] == [
        (Decimal("10000.00"), date(2026, 8, 1), date(2026, 8, 31), Decimal("101.92")),
        (Decimal("9136.92"), date(2026, 9, 1), date(2026, 9, 30), Decimal("90.12")),
    ]  # fmt: skip
    assert (books.principal_left, books.interest_left, books.costs_left) == (
        Decimal("9136.92"),
        Decimal("90.12"),
        Decimal("70.00"),  # this letter's fee, charged after the payment
    )
    assert books.due == Decimal("9297.04") and books.paid == Decimal("1000.00")


def test_a_payment_the_debtor_put_on_the_principal_leaves_interest_and_costs_owed() -> None:
    paid = Payment(date(2026, 9, 1), Decimal("1000.00"), PaymentTarget.PRINCIPAL)
    books = account(_case(paid), THROUGH, rate_table())
    [applied] = books.payments
    assert (applied.to_costs, applied.to_interest, applied.to_principal) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("1000.00"),
    )
    # 9 000 × 12 % × 30/365 = 88.77 after the payment.
    assert books.interest_lines[-1].amount == Decimal("88.77")
    assert (books.principal_left, books.interest_left, books.costs_left) == (
        Decimal("9000.00"),
        Decimal("190.69"),
        Decimal("105.00"),
    )


def test_a_payment_pays_the_claim_it_names_first_and_then_the_oldest() -> None:
    claims = (
        Claim("Faktura 1", "1", date(2026, 7, 31), Decimal("500.00")),
        Claim("Faktura 2", "2", date(2026, 8, 31), Decimal("500.00")),
    )
    named = Payment(date(2026, 9, 1), Decimal("600.00"), PaymentTarget.PRINCIPAL, "2")
    books = account(_case(named, claims=claims), THROUGH, rate_table())
    last = {line.invoice_number: line.principal for line in books.interest_lines}
    assert last == {"1": Decimal("400.00")}  # claim 2 is paid in full; 100 went to claim 1
    unnamed = Payment(date(2026, 9, 1), Decimal("600.00"), PaymentTarget.PRINCIPAL)
    books = account(_case(unnamed, claims=claims), THROUGH, rate_table())
    last = {line.invoice_number: line.principal for line in books.interest_lines}
    assert last == {"1": Decimal("500.00"), "2": Decimal("400.00")}  # oldest due first
    assert [line.invoice_number for line in books.interest_lines if line.from_date.day == 1][
        -1:
    ] == ["2"]


def test_payments_are_applied_in_date_order_whatever_order_they_come_in() -> None:
    early, late = (
        Payment(date(2026, 8, 20), Decimal("2000.00"), PaymentTarget.PRINCIPAL),
        Payment(date(2026, 9, 10), Decimal("3000.00"), PaymentTarget.PRINCIPAL),
    )
    books = account(_case(late, early), THROUGH, rate_table())
    assert [p.index for p in books.payments] == [1, 0]
    assert [line.principal for line in books.interest_lines] == [
        Decimal("10000.00"),
        Decimal("8000.00"),
        Decimal("5000.00"),
    ]


def test_a_payment_larger_than_what_was_owed_is_reported_and_refused() -> None:
    too_much = Payment(date(2026, 9, 1), Decimal("20000.00"))
    books = account(_case(too_much), THROUGH, rate_table())
    # 10 000 + 101.92 + 35 were owed that day.
    assert books.excess == ((0, Decimal("9863.08")),)
    data = json.loads((GOLDEN / "purring/nb/plain/request.json").read_text())
    data["case"]["payments"] = [{"paid_on": "2026-09-10", "amount": "5000.00"}]
    with pytest.raises(InvalidRequest) as refused:
        parse_request(data, RULES, TODAY)
    [problem] = refused.value.problems
    assert problem.path == "case.payments[0].amount"
    # 1 249 + 1 249 × 12 % × 8/365 = 1 252.29 was owed; the letter's own fee was not yet.
    assert problem.rule.startswith("is 3747.71 kr more than was owed on 2026-09-10")


def test_a_request_that_says_what_was_paid_instead_of_when_is_refused() -> None:
    data = json.loads((GOLDEN / "purring/nb/plain/request.json").read_text())
    data["case"]["paid"] = "100.00"
    with pytest.raises(InvalidRequest) as refused:
        parse_request(data, RULES, TODAY)
    assert [p.path for p in refused.value.problems] == ["case.paid"]
    assert "case.payments" in refused.value.problems[0].rule
