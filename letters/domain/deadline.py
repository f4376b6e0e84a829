"""Payment deadlines: the letter date plus the type's days, moved to a bank day.

The statutes set a minimum of 14 days from sending (inkassoloven § 9 and § 10,
tvangsfullbyrdelsesloven § 4-18). A deadline that lands on a weekend, a
Norwegian public holiday, 24 December or 31 December moves forward to the next
day the banks settle payments, so the debtor always has the full period.

Good collection practice (inkassoloven § 8) asks for more than the minimum
in two cases, which the agency profile sets (``DeadlineExtensions``): a
debtor abroad gets extra days, for the post and the foreign payment; and a
deadline is not let end in the Christmas, Easter or July weeks, when many
are away (Forbrukerrådet lists "betalingsfrist som går ut i ferieukene" as
poor practice): it moves to the first bank day after the period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays
from dateutil.easter import easter

from letters.domain.letter_types import LEGAL_MINIMUM_DAYS, LetterType
from letters.errors import ConfigurationError


@lru_cache(maxsize=16)
def _public_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("NO", years=year, language="no"))


def is_bank_day(day: date) -> bool:
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in {(12, 24), (12, 31)}:
        return False
    return day not in _public_holidays(day.year)


def next_bank_day(day: date) -> date:
    """``day`` itself when it is a bank day, else the first bank day after it."""
    while not is_bank_day(day):
        day += timedelta(days=1)
    return day


QUIET_PERIODS = ("christmas", "easter", "july")


@dataclass(frozen=True, slots=True)
class DeadlineExtensions:
    """Longer deadlines than the law's minimum, where good practice asks for them."""

    # Added for a debtor whose address is outside Norway.
    abroad_days: int = 7
    # Periods a deadline may not end in (of QUIET_PERIODS).
    quiet_periods: frozenset[str] = frozenset(QUIET_PERIODS)


def quiet_period_end(day: date, periods: frozenset[str]) -> date | None:
    """The last day of the holiday period ``day`` falls in, or None.

    Christmas: 20 December to 2 January. Easter: Palm Sunday to Easter Monday.
    July: the whole month (the common summer holiday).
    """
    if "christmas" in periods:
        if (day.month, day.day) >= (12, 20):
            return date(day.year + 1, 1, 2)
        if (day.month, day.day) <= (1, 2):
            return date(day.year, 1, 2)
    if "easter" in periods:
        sunday = easter(day.year)
        if sunday - timedelta(days=7) <= day <= sunday + timedelta(days=1):
            return sunday + timedelta(days=1)
    if "july" in periods and day.month == 7:
        return date(day.year, 7, 31)
    return None


def check_deadline_days(days_by_type: Mapping[LetterType, int]) -> None:
    """Refuse a configuration that would print a deadline shorter than the law allows."""
    for letter_type, days in days_by_type.items():
        minimum = LEGAL_MINIMUM_DAYS[letter_type]
        if days < minimum:
            raise ConfigurationError(
                f"deadline days for {letter_type.value} is {days}; the legal minimum is {minimum}"
            )


def payment_deadline(
    letter_type: LetterType,
    letter_date: date,
    days_by_type: Mapping[LetterType, int],
    requested: date | None = None,
    extensions: DeadlineExtensions | None = None,
    abroad: bool = False,
) -> date:
    """The deadline printed in the letter.

    ``requested`` is a deadline the case system asked for; a later one wins,
    an earlier one is ignored because it would be shorter than the minimum.
    """
    days = max(days_by_type.get(letter_type, 0), LEGAL_MINIMUM_DAYS[letter_type])
    if extensions is not None and abroad:
        days += extensions.abroad_days
    deadline = next_bank_day(letter_date + timedelta(days=days))
    if requested is not None and requested > deadline:
        deadline = next_bank_day(requested)
    if extensions is not None:
        while (end := quiet_period_end(deadline, extensions.quiet_periods)) is not None:
            deadline = next_bank_day(end + timedelta(days=1))
    return deadline
