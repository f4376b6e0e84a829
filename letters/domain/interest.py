"""Late-payment interest, computed per claim and rate period from the dated rate table.

The service computes the interest rather than print what the case system
sends: the rate is set by regulation for each half-year, so the only inputs
are each claim's principal and due date, the day interest runs from, and the
letter date it is calculated to. A request therefore cannot carry a wrong or
outdated rate, and the claims table can show what inkassoloven § 10 d asks
for: the rate used and the day interest runs from, for every period.

Interest runs from the day after the due date (or the later day the case gives)
up to and including the letter date, and keeps running until the claim is
paid. Each line is principal × rate × days / 365, rounded to øre.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from letters.domain.model import Case
from letters.domain.rates import RateTable, half_year_start, next_half_year

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class InterestLine:
    claim_index: int
    invoice_number: str
    principal: Decimal
    percent: Decimal
    from_date: date
    to_date: date  # inclusive
    amount: Decimal

    @property
    def days(self) -> int:
        return (self.to_date - self.from_date).days + 1


def interest_start(case: Case, due_date: date) -> date:
    """The first day of interest on a claim with ``due_date``."""
    start = due_date + timedelta(days=1)
    if case.interest is not None and case.interest.from_date is not None:
        start = max(start, case.interest.from_date)
    return start


def interest_lines(case: Case, through: date, table: RateTable) -> tuple[InterestLine, ...]:
    """Interest on every claim, one line per claim and half-year, up to ``through``."""
    if case.interest is None:
        return ()
    lines = []
    for index, claim in enumerate(case.claims):
        start = interest_start(case, claim.due_date)
        while start <= through:
            end = min(through, next_half_year(start) - timedelta(days=1))
            rate = table.interest_rate(start)
            days = (end - start).days + 1
            amount = (claim.principal * rate.value / 100 * days / 365).quantize(
                CENT, rounding=ROUND_HALF_UP
            )
            lines.append(
                InterestLine(
                    index, claim.invoice_number, claim.principal, rate.value, start, end, amount
                )
            )
            start = end + timedelta(days=1)
    return tuple(lines)


def total_interest(lines: tuple[InterestLine, ...]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0)).quantize(CENT)


@dataclass(frozen=True, slots=True)
class InterestPeriod:
    """The interest of every claim in one rate period, as the summary shows it.

    ``from_date`` is the period's first day of interest on any claim; when the
    claims start on different days (``one_start`` False), each runs from the
    day after its own due date, as the claims table shows.
    """

    percent: Decimal
    from_date: date
    to_date: date
    amount: Decimal
    one_start: bool


def interest_periods(lines: tuple[InterestLine, ...]) -> tuple[InterestPeriod, ...]:
    """The lines summed per rate period (half-year and rate), in date order."""
    groups: dict[tuple[date, Decimal], list[InterestLine]] = {}
    for line in lines:
        groups.setdefault((half_year_start(line.from_date), line.percent), []).append(line)
    return tuple(
        InterestPeriod(
            percent,
            min(line.from_date for line in group),
            max(line.to_date for line in group),
            sum((line.amount for line in group), Decimal(0)),
            len({line.from_date for line in group}) == 1,
        )
        for (_, percent), group in sorted(groups.items())
    )


def interest_per_claim(lines: tuple[InterestLine, ...], claims: int) -> tuple[Decimal, ...]:
    """Each claim's interest over every period, in claim order."""
    totals = [Decimal("0.00")] * claims
    for line in lines:
        totals[line.claim_index] += line.amount
    return tuple(totals)
