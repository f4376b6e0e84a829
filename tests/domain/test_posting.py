"""The day a letter leaves: working days, the print house's posting day, the letter date."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from letters.clock import OSLO
from letters.domain.deadline import payment_deadline
from letters.domain.letter_types import LetterType
from letters.domain.posting import (
    add_working_days,
    letter_date_for,
    print_leaving_day,
    print_posting_day,
)

DAYS = dict.fromkeys(LetterType, 14)
CUTOFF = time(16, 0)


def _oslo(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=OSLO)


def test_working_days_skip_weekends_holidays_and_24_and_31_december() -> None:
    assert add_working_days(date(2027, 3, 19), 1) == date(2027, 3, 22)  # Fri → Mon
    # Maundy Thursday 25, Good Friday 26, Easter Monday 29 March 2027.
    assert add_working_days(date(2027, 3, 24), 1) == date(2027, 3, 30)
    assert add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert add_working_days(date(2026, 12, 30), 1) == date(2027, 1, 4)
    assert add_working_days(date(2027, 3, 27), 0) == date(2027, 3, 30)  # a Saturday
    assert add_working_days(date(2027, 3, 22), 0) == date(2027, 3, 22)


def test_a_batch_handed_over_on_a_day_off_is_posted_counting_from_the_next_working_day() -> None:
    assert print_posting_day(date(2027, 3, 19), 1) == date(2027, 3, 22)
    assert print_posting_day(date(2027, 3, 20), 1) == date(2027, 3, 23)  # Saturday
    assert print_posting_day(date(2027, 3, 26), 1) == date(2027, 3, 31)  # Good Friday
    assert print_posting_day(date(2027, 3, 19), 2) == date(2027, 3, 23)
    assert print_posting_day(date(2027, 3, 19), 0) == date(2027, 3, 19)


@pytest.mark.parametrize(
    ("accepted", "posted", "deadline"),
    [
        # Friday 19 March 2027, the Friday before Easter week: 15:59 makes that day's
        # cut-off, posted the next working day; 16:01 waits for Saturday's, handed over
        # Monday and posted Tuesday.
        (_oslo(2027, 3, 19, 15, 59), date(2027, 3, 22), date(2027, 4, 5)),
        (_oslo(2027, 3, 19, 16, 1), date(2027, 3, 23), date(2027, 4, 6)),
        # Good Friday 26 March 2027: the print house is closed until Tuesday 30 March
        # either side of the cut-off, and posts on Wednesday 31 March.
        (_oslo(2027, 3, 26, 15, 59), date(2027, 3, 31), date(2027, 4, 14)),
        (_oslo(2027, 3, 26, 16, 1), date(2027, 3, 31), date(2027, 4, 14)),
    ],
)
def test_a_print_letter_is_dated_by_the_posting_day_of_its_batch(
    accepted: datetime, posted: date, deadline: date
) -> None:
    leaves_on = print_leaving_day(accepted, CUTOFF, 1)
    assert leaves_on == posted
    letter_date = letter_date_for(None, leaves_on)
    assert letter_date == posted
    assert payment_deadline(LetterType.INKASSOVARSEL, letter_date, DAYS) == deadline


def test_a_longer_posting_delay_moves_the_posting_day() -> None:
    assert print_leaving_day(_oslo(2027, 3, 19, 15, 59), CUTOFF, 3) == date(2027, 3, 24)


def test_an_earlier_asked_letter_date_moves_to_the_day_it_leaves_and_a_later_one_stands() -> None:
    leaves_on = date(2027, 3, 22)
    assert letter_date_for(date(2027, 3, 19), leaves_on) == leaves_on
    assert letter_date_for(date(2027, 3, 25), leaves_on) == date(2027, 3, 25)
    assert letter_date_for(None, leaves_on) == leaves_on
