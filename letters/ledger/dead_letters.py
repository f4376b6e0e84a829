"""The dead letters: every message a worker gave up on, why, and whether it was requeued.

The ``dead_letters`` table is this module's alone. A dead-lettered message of a
letter the ledger holds marks that letter dead-lettered too (``history`` is
the one writer of a letter's status), in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update

from letters.clock import as_utc, utcnow
from letters.ledger import history, outbox
from letters.ledger.records import DeadLetter, LetterStatus
from letters.ledger.schema import dead_letters
from letters.ledger.store import Ledger


@dataclass(frozen=True, slots=True)
class RefusedRequest:
    """What could be read of a refused letter request, each only if it is valid."""

    case_number: str | None
    letter_type: str | None
    language: str | None


class DeadLetterStore:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def for_letter(self, letter_id: str) -> list[DeadLetter]:
        """Every message dead-lettered under this letter id (a conflicting request too)."""
        query = (
            select(dead_letters)
            .where(dead_letters.c.letter_id == letter_id)
            .order_by(dead_letters.c.dead_at)
        )
        with self.ledger.transaction() as conn:
            return [
                DeadLetter(
                    dead_id=row.dead_id,
                    letter_id=row.letter_id,
                    reason=row.reason,
                    attempts=row.attempts,
                    dead_at=as_utc(row.dead_at),
                    requeued_at=as_utc(row.requeued_at) if row.requeued_at else None,
                )
                for row in conn.execute(query)
            ]

    def is_known_body(self, body_sha256: str) -> bool:
        """Whether a body with this SHA-256 was dead-lettered before."""
        query = select(dead_letters.c.dead_id).where(dead_letters.c.body_sha256 == body_sha256)
        with self.ledger.transaction() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def record(
        self,
        *,
        dead_id: str,
        letter_id: str | None,
        case_number: str | None,
        reason: str,
        attempts: int,
        body_sha256: str,
        known_letter: bool,
        refused: RefusedRequest | None = None,
    ) -> None:
        """Record a message sent to the dead-letter queue under ``dead_id``.

        ``known_letter``: the letter is in the ledger and is dead-lettered with it.
        ``refused``: a letter request the ledger never took (or whose letter id another
        request has); its ``refused`` event is staged in the same transaction.
        """
        now = utcnow()
        with self.ledger.transaction() as conn:
            conn.execute(
                insert(dead_letters).values(
                    dead_id=dead_id,
                    letter_id=letter_id,
                    case_number=case_number,
                    reason=reason,
                    attempts=attempts,
                    body_sha256=body_sha256,
                    dead_at=now,
                )
            )
            if known_letter and letter_id:
                history.record(
                    conn,
                    letter_id,
                    LetterStatus.DEAD_LETTERED,
                    now,
                    reason,
                    status=LetterStatus.DEAD_LETTERED,
                    retry_at=None,
                )
            elif refused is not None:
                outbox.stage_refusal(
                    conn,
                    letter_id=letter_id,
                    case_number=refused.case_number,
                    letter_type=refused.letter_type,
                    language=refused.language,
                    reason=reason,
                    now=now,
                )

    def record_requeued(self, dead_id: str | None, letter_id: str | None) -> None:
        """A dead letter went back to the work queue (``letters dead retry``)."""
        now = utcnow()
        with self.ledger.transaction() as conn:
            if dead_id:
                conn.execute(
                    update(dead_letters)
                    .where(dead_letters.c.dead_id == dead_id)
                    .values(requeued_at=now)
                )
            if letter_id:
                history.record(
                    conn,
                    letter_id,
                    LetterStatus.REQUEUED,
                    now,
                    "from the dead letters",
                    status=LetterStatus.REQUEUED,
                    retry_at=None,
                    attempts=0,
                )
