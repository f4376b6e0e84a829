"""The day a letter leaves, which its date and every deadline count from.

Inkassoloven § 9 (2) and § 10 and tvangsfullbyrdelsesloven § 4-18 count
from the day a letter is sent. A Digipost letter leaves the day it is sent.
A printed letter leaves when the print house posts its batch: the batch is
cut at the daily cut-off, reaches the print house then (or on the next
working day, if the cut-off falls on a day off), and is posted a set number
of working days after that. Working days skip weekends, Norwegian public
holidays and 24 and 31 December, as bank days do.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from letters.clock import OSLO
from letters.domain.deadline import is_bank_day, next_bank_day


def add_working_days(day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself for 0, if it is one)."""
    if count <= 0:
        return next_bank_day(day)
    while count:
        day += timedelta(days=1)
        if is_bank_day(day):
            count -= 1
    return day


def print_posting_day(handed_over: date, delay_working_days: int) -> date:
    """The day the print house posts a batch it got on ``handed_over`` (local date)."""
    return add_working_days(next_bank_day(handed_over), delay_working_days)


def next_cutoff(moment: datetime, cutoff: time) -> datetime:
    """The first print cut-off (local time in Norway) after ``moment``, in ``moment``'s zone."""
    local = moment.astimezone(OSLO)
    day: date = local.date()
    candidate = datetime.combine(day, cutoff, tzinfo=OSLO)
    if candidate <= local:
        candidate = datetime.combine(day + timedelta(days=1), cutoff, tzinfo=OSLO)
    return candidate.astimezone(moment.tzinfo)


def print_leaving_day(now: datetime, cutoff: time, delay_working_days: int) -> date:
    """When a letter handed to print and post at ``now`` is posted: its batch is cut at the
    next cut-off and posted ``delay_working_days`` after reaching the print house."""
    cut = next_cutoff(now, cutoff).astimezone(OSLO).date()
    return print_posting_day(cut, delay_working_days)


def letter_date_for(asked: date | None, leaves_on: date) -> date:
    """The date a letter carries: the day it leaves, or the later day the request asked."""
    return leaves_on if asked is None or asked < leaves_on else asked
