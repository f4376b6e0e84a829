"""What the operations page reads: recent letters, letters waiting for their case, dead
letters not yet requeued, and cases that are not open.

Ids, statuses, dates and reasons only: never the stored request, so nothing of a
debtor's (name, address, national id) can reach the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import desc, func, select, text

from letters.clock import as_utc
from letters.ledger.case_states import OPEN, CaseState
from letters.ledger.records import SETTLED, UNSETTLED_SQL, WAITING_FOR_CASE, DeadLetter
from letters.ledger.schema import case_states, dead_letters, letter_events, letters
from letters.ledger.store import Ledger


@dataclass(frozen=True, slots=True)
class LetterLine:
    letter_id: str
    case_number: str
    letter_type: str
    language: str
    status: str
    channel: str | None
    updated_at: datetime
    # The newest line of the letter's history: why it is where it is.
    last_detail: str | None
    origin_letter_id: str | None
    resend_job_id: str | None
    # Held for rates nobody has checked ("KIND PERIOD, ..."), not for its case.
    held_for_rates: str | None = None


def recent_letters(ledger: Ledger, limit: int = 50) -> list[LetterLine]:
    """The letters changed most recently, newest first."""
    return _letter_lines(ledger, None, limit)


def waiting_for_case(ledger: Ledger, limit: int = 100) -> list[LetterLine]:
    """Letters held or withdrawn because of their case's state or for a missing rate,
    newest first."""
    return _letter_lines(ledger, sorted(WAITING_FOR_CASE), limit)


def waiting_dead_letters(ledger: Ledger, limit: int = 100) -> list[DeadLetter]:
    """Dead letters nobody has requeued, newest first."""
    query = (
        select(dead_letters)
        .where(dead_letters.c.requeued_at.is_(None))
        .order_by(desc(dead_letters.c.dead_at))
        .limit(limit)
    )
    with ledger.reading() as conn:
        return [
            DeadLetter(r.dead_id, r.letter_id, r.reason, r.attempts, as_utc(r.dead_at), None)
            for r in conn.execute(query)
        ]


def cases_not_open(ledger: Ledger, limit: int = 100) -> list[CaseState]:
    """Cases paid, closed, disputed or on hold, most recently changed first."""
    query = (
        select(case_states)
        .where(case_states.c.state != OPEN)
        .order_by(desc(case_states.c.changed_at))
        .limit(limit)
    )
    with ledger.reading() as conn:
        return [
            CaseState(r.case_number, r.state, as_utc(r.changed_at), r.note, r.reference)
            for r in conn.execute(query)
        ]


def _letter_lines(ledger: Ledger, statuses: list[str] | None, limit: int) -> list[LetterLine]:
    query = (
        select(
            letters.c.letter_id,
            letters.c.case_number,
            letters.c.letter_type,
            letters.c.language,
            letters.c.status,
            letters.c.channel,
            letters.c.updated_at,
            letters.c.origin_letter_id,
            letters.c.resend_job_id,
            letters.c.held_for_rates,
        )
        .order_by(desc(letters.c.updated_at), letters.c.letter_id)
        .limit(limit)
    )
    if statuses is not None:
        query = query.where(letters.c.status.in_(statuses))
        if SETTLED.isdisjoint(statuses):
            # The same letters, said so the planner may read the index of the unsettled ones
            # (a few) instead of walking every letter newest first to find them.
            query = query.where(text(UNSETTLED_SQL))
    with ledger.reading() as conn:
        rows = conn.execute(query).all()
        ids = [r.letter_id for r in rows]
        newest = (
            select(func.max(letter_events.c.id))
            .where(letter_events.c.letter_id.in_(ids))
            .group_by(letter_events.c.letter_id)
        )
        details = dict(
            conn.execute(
                select(letter_events.c.letter_id, letter_events.c.detail).where(
                    letter_events.c.id.in_(newest)
                )
            ).all()
        )
    return [
        LetterLine(
            r.letter_id,
            r.case_number,
            r.letter_type,
            r.language,
            r.status,
            r.channel,
            as_utc(r.updated_at),
            details.get(r.letter_id),
            r.origin_letter_id,
            r.resend_job_id,
            r.held_for_rates if r.status == "held" else None,
        )
        for r in rows
    ]
