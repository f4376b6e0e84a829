"""The letters in flight: what the sweep and the retries look for, and claim.

A letter is in flight while a worker has it in hand or its retry is due. One
whose message must have been lost (a retry overdue, a letter in hand left
untouched too long) is *overdue*: the sweep sends it back to the work queue,
and the claim is exclusive between processes (a conditional update).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text

from letters.clock import as_utc
from letters.ledger import history
from letters.ledger.database import Database
from letters.ledger.records import (
    FINISHED,
    IN_HAND,
    RECOVERED,
    UNSETTLED_SQL,
    WAITING_FOR_CASE,
    LetterRecord,
    LetterStatus,
    OverdueLetter,
)
from letters.ledger.schema import letter_events, letters


class InFlight(Database):
    """Mixed into ``Ledger``, which reads the letters' rows."""

    if TYPE_CHECKING:

        def record_of(self, row: Any) -> LetterRecord: ...

        def open_request(self, stored: str, letter_id: str) -> str: ...

        def letters_in(self, letter_ids: list[str]) -> list[LetterRecord]: ...

    def unfinished(self) -> list[LetterRecord]:
        """Letters accepted but neither finished nor waiting (for a retry, or for their case)."""
        waiting = [LetterStatus.FAILED, *WAITING_FOR_CASE]
        query = select(letters).where(letters.c.status.not_in([*FINISHED, *waiting]))
        with self.transaction() as conn:
            return [self.record_of(r._mapping) for r in conn.execute(query)]

    def overdue(
        self, now: datetime, retry_grace_s: float, stale_after_s: float
    ) -> list[OverdueLetter]:
        """Letters in flight whose message must be lost: a retry overdue by more than
        ``retry_grace_s``, or a letter in hand untouched for longer than ``stale_after_s``."""
        recoveries = (
            select(func.count())
            .select_from(letter_events)
            .where(letter_events.c.letter_id == letters.c.letter_id)
            .where(letter_events.c.event == RECOVERED)
            .scalar_subquery()
        )
        query = select(letters, recoveries.label("recoveries")).where(
            _overdue(now, retry_grace_s, stale_after_s)
        )
        found = []
        with self.transaction() as conn:
            for row in conn.execute(query.order_by(letters.c.updated_at)):
                updated_at, retry_at = as_utc(row.updated_at), row.retry_at and as_utc(row.retry_at)
                if row.status == LetterStatus.FAILED and retry_at is not None:
                    late = round((now - retry_at).total_seconds())
                    reason = f"retry due at {retry_at.isoformat(timespec='seconds')}, {late} s ago"
                else:
                    idle = round((now - updated_at).total_seconds())
                    reason = f"{row.status} and untouched for {idle} s"
                found.append(
                    OverdueLetter(
                        letter_id=row.letter_id,
                        case_number=row.case_number,
                        status=LetterStatus(row.status),
                        attempts=row.attempts,
                        updated_at=updated_at,
                        retry_at=retry_at,
                        reason=reason,
                        recoveries=int(row.recoveries),
                        request=self.open_request(row.request, row.letter_id),
                    )
                )
        return found

    def in_flight(self, now: datetime, horizon: timedelta) -> int:
        """Letters a worker has in hand, or whose retry is due before ``now + horizon``."""
        query = (
            select(func.count())
            .select_from(letters)
            # Read from the index of the letters not settled (SQLite, judging the status
            # index by its average, read every letter instead).
            .where(text(UNSETTLED_SQL))
            .where(letters.c.status.in_(sorted({*IN_HAND, LetterStatus.FAILED})))
            .where(
                or_(
                    letters.c.status != LetterStatus.FAILED,
                    letters.c.retry_at <= now + horizon,
                )
            )
        )
        with self.transaction() as conn:
            return int(conn.execute(query).scalar_one())

    def claim_due_retries(self, now: datetime, limit: int = 100) -> list[LetterRecord]:
        """Move letters whose retry is due from failed to requeued, and return them.

        The conditional update makes each claim exclusive between processes.
        """
        due = (
            select(letters.c.letter_id)
            .where(letters.c.status == LetterStatus.FAILED)
            .where(letters.c.retry_at <= now)
            .limit(limit)
        )
        claimed = []
        with self.transaction() as conn:
            for letter_id in conn.execute(due).scalars().all():
                if history.record(
                    conn,
                    letter_id,
                    LetterStatus.REQUEUED,
                    now,
                    "retry due",
                    only_if=letters.c.status == LetterStatus.FAILED,
                    status=LetterStatus.REQUEUED,
                    retry_at=None,
                ):
                    claimed.append(letter_id)
        return self.letters_in(claimed) if claimed else []

    def record_recovered(
        self, letter: OverdueLetter, now: datetime, retry_grace_s: float, stale_after_s: float
    ) -> bool:
        """Mark an overdue letter requeued by the sweep, if it is still overdue."""
        with self.transaction() as conn:
            return history.record(
                conn,
                letter.letter_id,
                RECOVERED,
                now,
                letter.reason,
                only_if=and_(
                    letters.c.status == letter.status,
                    _overdue(now, retry_grace_s, stale_after_s),
                ),
                status=LetterStatus.REQUEUED,
                retry_at=None,
            )


def _overdue(now: datetime, retry_grace_s: float, stale_after_s: float) -> ColumnElement[bool]:
    return and_(
        # Within the letters not settled, so that it is read from their index alone.
        text(UNSETTLED_SQL),
        or_(
            and_(
                letters.c.status == LetterStatus.FAILED,
                letters.c.retry_at.is_not(None),
                letters.c.retry_at < now - timedelta(seconds=retry_grace_s),
            ),
            and_(
                letters.c.status.in_(IN_HAND),
                letters.c.updated_at < now - timedelta(seconds=stale_after_s),
            ),
        ),
    )
