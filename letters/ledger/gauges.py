"""What operations watch in the ledger, read when the metrics are scraped.

Counts and ages only: no letter id, case number or anything of a debtor's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, select, text

from letters.clock import OSLO
from letters.domain.posting import add_working_days
from letters.ledger.records import (
    FINISHED,
    SETTLED_LATELY,
    UNSETTLED_SQL,
    WAITING_FOR_CASE,
    BatchStatus,
)
from letters.ledger.schema import dead_letters, letters, print_batches
from letters.ledger.store import Ledger


@dataclass(frozen=True, slots=True)
class LedgerGauges:
    # Every letter not settled yet, by status; and those settled in the last day.
    letters_by_status: dict[str, int]
    settled_last_day: dict[str, int]
    batches_by_status: dict[str, int]
    # Seconds since the oldest batch still waiting to go was cut (None: none waits).
    oldest_closed_batch_age_s: float | None
    # Seconds past its cut-off of the unsent batch most past it (None: none is late).
    most_overdue_batch_s: float | None
    # Seconds since the oldest letter the worker has not finished was accepted.
    oldest_unfinished_letter_age_s: float | None
    # Dead letters nobody has requeued yet.
    dead_letters_waiting: int
    # Batches at the print house with no receipt though their posting day is more than
    # the allowed working days past.
    batches_without_receipt: int = 0


def read_gauges(ledger: Ledger, now: datetime, receipt_wait: int = 2) -> LedgerGauges:
    """``receipt_wait``: working days after its posting day a batch's receipt may take."""
    # Every settled status is a finished one, so the unsettled condition keeps every
    # unfinished letter; it lets the planner read the index of the unsettled ones only.
    not_done = and_(text(UNSETTLED_SQL), ~letters.c.status.in_([*FINISHED, *WAITING_FOR_CASE]))
    waiting_batch = print_batches.c.status.in_([BatchStatus.CLOSED, BatchStatus.ASSEMBLED])
    overview = ledger.status_overview(now - SETTLED_LATELY)
    with ledger.reading() as conn:
        batches = conn.execute(
            select(print_batches.c.status, func.count()).group_by(print_batches.c.status)
        )
        batches_by_status = {str(s): int(n) for s, n in batches}
        oldest_batch = conn.execute(
            select(func.min(print_batches.c.closed_at)).where(waiting_batch)
        ).scalar_one()
        earliest_cutoff = conn.execute(
            select(func.min(print_batches.c.cutoff_at))
            .where(print_batches.c.status != BatchStatus.SENT)
            .where(print_batches.c.cutoff_at <= now)
        ).scalar_one()
        oldest_letter = conn.execute(
            select(func.min(letters.c.created_at)).where(not_done)
        ).scalar_one()
        posting_days = conn.execute(
            select(print_batches.c.planned_posting_day, func.count().label("batches"))
            .where(print_batches.c.status == BatchStatus.SENT)
            .group_by(print_batches.c.planned_posting_day)
        ).all()
        waiting = conn.execute(
            select(func.count())
            .select_from(dead_letters)
            .where(dead_letters.c.requeued_at.is_(None))
        ).scalar_one()
    return LedgerGauges(
        letters_by_status=overview.unsettled,
        settled_last_day=overview.settled,
        batches_by_status=batches_by_status,
        oldest_closed_batch_age_s=_age(now, oldest_batch),
        most_overdue_batch_s=_age(now, earliest_cutoff),
        oldest_unfinished_letter_age_s=_age(now, oldest_letter),
        dead_letters_waiting=int(waiting),
        batches_without_receipt=_past_due(posting_days, now, receipt_wait),
    )


def _past_due(posting_days: Sequence[Row[Any]], now: datetime, receipt_wait: int) -> int:
    today = now.astimezone(OSLO).date()
    late = 0
    for row in posting_days:
        day = row.planned_posting_day
        if day is not None and add_working_days(day, receipt_wait) < today:
            late += int(row.batches)
    return late


def _age(now: datetime, moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite gives naive UTC back
        moment = moment.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - moment).total_seconds())
