"""The case's account: interest on what remains of each principal, payments applied as they came.

Interest runs per claim from the day after its due date (or the later day the
case gives), one line per rate period, and a line ends the day before a
payment: from a payment's date the interest runs on what the payment left of
each principal. A payment pays off what the debtor chose (``PaymentTarget``);
when the debtor said nothing, costs already charged come first, then the
interest run up to the day before, then the principal, oldest due first. What
remains of principal, interest and costs is shown apart, as inkassoloven
§ 10 c asks.

A payment larger than what was owed on its day is not applied past zero: its
excess is reported (``Account.excess``), and the contract refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from letters.domain.interest import InterestLine, interest_start
from letters.domain.model import Case, Payment, PaymentTarget
from letters.domain.rates import RateTable, next_half_year

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class AppliedPayment:
    """A payment and what it paid off."""

    index: int  # in case.payments
    payment: Payment
    to_costs: Decimal
    to_interest: Decimal
    to_principal: Decimal


@dataclass(frozen=True, slots=True)
class Account:
    interest_lines: tuple[InterestLine, ...]
    payments: tuple[AppliedPayment, ...]
    principal: Decimal
    interest: Decimal
    costs: Decimal
    principal_left: Decimal
    interest_left: Decimal
    costs_left: Decimal
    # Payments larger than what was owed on their day: (index in case.payments, excess).
    excess: tuple[tuple[int, Decimal], ...] = ()

    @property
    def paid(self) -> Decimal:
        return sum((p.payment.amount for p in self.payments), ZERO)

    @property
    def due(self) -> Decimal:
        return self.principal_left + self.interest_left + self.costs_left


class _Ledger:
    """The running balance while the payments are applied in date order."""

    def __init__(self, case: Case, table: RateTable) -> None:
        self.case = case
        self.table = table
        self.left = [claim.principal for claim in case.claims]
        self.cursor = [interest_start(case, claim.due_date) for claim in case.claims]
        self.lines: list[InterestLine] = []
        self.interest_run = ZERO  # the sum of ``lines``
        self.interest_paid = ZERO
        self.costs_paid = ZERO

    def accrue_through(self, day: date) -> None:
        """Run the interest of every claim up to and including ``day``."""
        if self.case.interest is None:
            return
        for index, claim in enumerate(self.case.claims):
            start = self.cursor[index]
            while start <= day:
                end = min(day, next_half_year(start) - timedelta(days=1))
                principal = self.left[index]
                if principal > 0:
                    rate = self.table.interest_rate(start)
                    days = (end - start).days + 1
                    amount = (principal * rate.value / 100 * days / 365).quantize(
                        CENT, rounding=ROUND_HALF_UP
                    )
                    self.lines.append(
                        InterestLine(
                            index, claim.invoice_number, principal, rate.value, start, end, amount
                        )
                    )
                    self.interest_run += amount
                start = end + timedelta(days=1)
            self.cursor[index] = start

    def costs_owed(self, day: date) -> Decimal:
        charged = sum(
            (c.amount for c in self.case.costs if c.charged_on is not None and c.charged_on <= day),
            ZERO,
        )
        return charged - self.costs_paid

    def interest_owed(self) -> Decimal:
        return self.interest_run - self.interest_paid

    def claim_order(self, invoice_number: str | None) -> list[int]:
        claims = self.case.claims
        order = sorted(range(len(claims)), key=lambda i: (claims[i].due_date, i))
        chosen = [i for i in order if claims[i].invoice_number == invoice_number]
        return chosen + [i for i in order if i not in chosen]

    def apply(self, index: int, payment: Payment) -> tuple[AppliedPayment, Decimal]:
        self.accrue_through(payment.paid_on - timedelta(days=1))
        remaining = payment.amount

        def take(owed: Decimal) -> Decimal:
            nonlocal remaining
            part = min(max(owed, ZERO), remaining)
            remaining -= part
            return part

        def pay_principal() -> Decimal:
            total = ZERO
            for claim in self.claim_order(payment.invoice_number):
                part = take(self.left[claim])
                self.left[claim] -= part
                total += part
            return total

        if payment.applied_to is PaymentTarget.PRINCIPAL:
            to_principal = pay_principal()
            to_interest = take(self.interest_owed())
            to_costs = take(self.costs_owed(payment.paid_on))
        else:
            to_costs = take(self.costs_owed(payment.paid_on))
            to_interest = take(self.interest_owed())
            to_principal = pay_principal()
        self.costs_paid += to_costs
        self.interest_paid += to_interest
        applied = AppliedPayment(index, payment, to_costs, to_interest, to_principal)
        return applied, remaining


def account(case: Case, through: date, table: RateTable) -> Account:
    """The account of ``case`` with interest up to and including ``through``.

    Raises MissingRate when a rate period has no checked row.
    """
    running = _Ledger(case, table)
    applied: list[AppliedPayment] = []
    excess: list[tuple[int, Decimal]] = []
    for index, payment in sorted(enumerate(case.payments), key=lambda p: p[1].paid_on):
        done, left_over = running.apply(index, payment)
        applied.append(done)
        if left_over > 0:
            excess.append((index, left_over))
    running.accrue_through(through)
    principal = _sum(c.principal for c in case.claims)
    interest = _sum(line.amount for line in running.lines)
    costs = _sum(c.amount for c in case.costs)
    return Account(
        interest_lines=tuple(running.lines),
        payments=tuple(applied),
        principal=principal,
        interest=interest,
        costs=costs,
        principal_left=_sum(running.left),
        interest_left=(interest - running.interest_paid).quantize(CENT),
        costs_left=(costs - running.costs_paid).quantize(CENT),
        excess=tuple(excess),
    )


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO).quantize(CENT)
