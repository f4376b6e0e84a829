from __future__ import annotations

from datetime import date

import pytest

from letters.domain.deadline import (
    DeadlineExtensions,
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


# Review N-G1: longer deadlines where good practice asks for them, as profile rules.
EXTENDED = DeadlineExtensions()


@pytest.mark.parametrize(
    ("letter_date", "plain", "extended"),
    [
        # 14 days end on Christmas Eve: the deadline goes past 2 January, to Monday 4 January.
        (date(2026, 12, 10), date(2026, 12, 28), date(2027, 1, 4)),
        # Easter 2027 is 28 March: Palm Sunday 21 March to Easter Monday 29 March.
        (date(2027, 3, 10), date(2027, 3, 24), date(2027, 3, 30)),
        # July: 1 August 2027 is a Sunday.
        (date(2027, 6, 20), date(2027, 7, 5), date(2027, 8, 2)),
        # Outside the quiet periods nothing moves.
        (date(2026, 11, 23), date(2026, 12, 7), date(2026, 12, 7)),
    ],
)
def test_a_deadline_never_ends_in_christmas_easter_or_july(
    letter_date: date, plain: date, extended: date
) -> None:
    assert payment_deadline(T, letter_date, DAYS) == plain
    assert payment_deadline(T, letter_date, DAYS, extensions=EXTENDED) == extended


def test_a_debtor_abroad_gets_the_extra_days_the_profile_gives() -> None:
    day = date(2026, 11, 23)
    assert payment_deadline(T, day, DAYS, extensions=EXTENDED) == date(2026, 12, 7)
    assert payment_deadline(T, day, DAYS, extensions=EXTENDED, abroad=True) == date(2026, 12, 14)
    ten = DeadlineExtensions(abroad_days=10, quiet_periods=frozenset())
    assert payment_deadline(T, day, DAYS, extensions=ten, abroad=True) == date(2026, 12, 17)


def test_only_the_quiet_periods_the_profile_names_count() -> None:
    only_july = DeadlineExtensions(quiet_periods=frozenset({"july"}))
    assert payment_deadline(T, date(2026, 12, 10), DAYS, extensions=only_july) == date(2026, 12, 28)
    # A later deadline the case system asked for is moved out of a quiet period too.
    requested = date(2026, 12, 22)
    assert payment_deadline(T, date(2026, 11, 23), DAYS, requested, extensions=EXTENDED) == date(
        2027, 1, 4
    )
