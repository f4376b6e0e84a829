from __future__ import annotations

from datetime import date

import pytest

from letters.domain.deadline import (
    check_deadline_days,
    is_bank_day,
    next_bank_day,
    payment_deadline,
)
from letters.domain.letter_types import LetterType
from letters.errors import ConfigurationError

DAYS = dict.fromkeys(LetterType, 14)
T = LetterType.INKASSOVARSEL


def test_plain_fourteen_days_on_a_weekday() -> None:
    assert payment_deadline(T, date(2026, 11, 23), DAYS) == date(2026, 12, 7)


def test_deadline_on_a_sunday_moves_to_monday() -> None:
    # 2026-11-22 is a Sunday: 8 November + 14 days.
    assert date(2026, 11, 22).weekday() == 6
    assert payment_deadline(T, date(2026, 11, 8), DAYS) == date(2026, 11, 23)


def test_deadline_on_17_may_moves_to_the_next_bank_day() -> None:
    # 17 May 2027 is a Monday and a public holiday.
    assert payment_deadline(T, date(2027, 5, 3), DAYS) == date(2027, 5, 18)


def test_easter_2027() -> None:
    # Easter 2027: Maundy Thursday 25 March to Easter Monday 29 March.
    assert payment_deadline(T, date(2027, 3, 11), DAYS) == date(2027, 3, 30)
    for holiday in (date(2027, 3, 25), date(2027, 3, 26), date(2027, 3, 29)):
        assert not is_bank_day(holiday)


def test_christmas_eve_christmas_and_new_years_eve_are_not_bank_days() -> None:
    # 10 Dec + 14 = 24 Dec (Thu); 25, 26 holidays; 27 Sunday: the 28th.
    assert payment_deadline(T, date(2026, 12, 10), DAYS) == date(2026, 12, 28)
    # 17 Dec + 14 = 31 Dec; 1 Jan holiday; 2 and 3 Jan weekend: 4 January.
    assert payment_deadline(T, date(2026, 12, 17), DAYS) == date(2027, 1, 4)


def test_a_later_requested_deadline_wins_and_an_earlier_one_is_ignored() -> None:
    letter_date = date(2026, 11, 23)
    assert payment_deadline(T, letter_date, DAYS, date(2026, 12, 20)) == date(2026, 12, 21)
    assert payment_deadline(T, letter_date, DAYS, date(2026, 11, 30)) == date(2026, 12, 7)


def test_configured_days_longer_than_the_minimum() -> None:
    days = {**DAYS, LetterType.PURRING: 21}
    assert payment_deadline(LetterType.PURRING, date(2026, 11, 23), days) == date(2026, 12, 14)


def test_configured_days_below_the_legal_minimum_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="legal minimum is 14"):
        check_deadline_days({**DAYS, LetterType.BETALINGSOPPFORDRING: 10})


def test_next_bank_day_is_the_day_itself_when_open() -> None:
    assert next_bank_day(date(2026, 11, 24)) == date(2026, 11, 24)
