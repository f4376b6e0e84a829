"""Late-payment interest: the lines per claim and rate period, and how the letter sums them.

The lines themselves are run by ``letters.domain.account``, which also applies
the case's payments.

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
from decimal import Decimal

from letters.domain.model import Case
from letters.domain.rates import half_year_start

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
            len(_first_days(group)) == 1,
        )
        for (_, percent), group in sorted(groups.items())
    )


def _first_days(lines: list[InterestLine]) -> set[date]:
    """The day each claim's interest starts in a period (a payment may split its lines)."""
    first: dict[int, date] = {}
    for line in lines:
        first[line.claim_index] = min(first.get(line.claim_index, line.from_date), line.from_date)
    return set(first.values())


def interest_per_claim(lines: tuple[InterestLine, ...], claims: int) -> tuple[Decimal, ...]:
    """Each claim's interest over every period, in claim order."""
    totals = [Decimal("0.00")] * claims
    for line in lines:
        totals[line.claim_index] += line.amount
    return tuple(totals)
