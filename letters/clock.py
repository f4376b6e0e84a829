"""Time as the service counts it: UTC for every record, Norway's calendar for every letter."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# Deadlines, letter dates and print cut-offs are Norwegian calendar facts.
OSLO = ZoneInfo("Europe/Oslo")


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_in_norway(moment: datetime | None = None) -> date:
    """The date in Norway now, or at ``moment``."""
    return (moment or utcnow()).astimezone(OSLO).date()


def as_utc(moment: datetime) -> datetime:
    """``moment`` with UTC attached when it has no zone (SQLite hands back naive datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
