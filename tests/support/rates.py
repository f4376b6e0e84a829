"""A rate table reaching past the shipped one, for tests whose clock runs in a later year.

The shipped table stops at the last half-year whose rate is known; a test
that lets letters leave in 2027 needs interest rows for it. The rows added
here repeat the last known rate and are marked as test data.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from letters.domain.rates import Rate, RateTable, next_half_year, rate_table
from letters.rendering.letter_service import LetterService


def rates_reaching(last_day: date) -> RateTable:
    table = rate_table()
    rows = list(table.late_payment_interest)
    while rows[-1].valid_from <= last_day:
        start = next_half_year(rows[-1].valid_from)
        rows.append(Rate(start, rows[-1].value, "test data: the last known rate repeated", False))
    return dataclasses.replace(table, late_payment_interest=tuple(rows))


def reach_rates(service: LetterService, last_day: date) -> LetterService:
    """``service`` with interest rates for every half-year up to ``last_day``."""
    service.contract_rules = dataclasses.replace(
        service.contract_rules, rates=rates_reaching(last_day)
    )
    return service
