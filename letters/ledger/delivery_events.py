"""What happens to a letter after it is sent: confirmations and channel events.

Kept beside the ledger's letters table: ``delivery_events`` holds each event
a channel reports once (its provider key is unique, so fetching the same
event again records nothing), and each event also goes into the letter's
history. ``sync_cursors`` remembers how far a periodic fetch has got.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, and_, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from letters.clock import OSLO, as_utc, utcnow
from letters.ledger import history
from letters.ledger.print_answers import record_return_in
from letters.ledger.records import (
    FINISHED,
    WAITING_FOR_CASE,
    LetterRecord,
    LetterStatus,
    record_from_row,
)
from letters.ledger.schema import delivery_events, letters, sync_cursors

if TYPE_CHECKING:  # the ledger hands this store out (letters.ledger.stores)
    from letters.ledger.store import Ledger

# Digipost's event when the recipient opens the document.
OPENED = "OPENED"
# A channel's events that mean the letter did not reach the debtor, by the reason a
# returned letter is kept with (letters.ledger.print_answers): Digipost's print fallback
# could not print it, or the post could not deliver it and Digipost shredded it (the
# sender's nondeliverable-handling SHRED; RETURN_TO_SENDER brings it to the mailroom).
RETURNING_EVENTS = {"PRINT_FAILED": "print_failed", "SHREDDED": "undeliverable"}


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    channel: str
    event: str
    occurred_at: datetime
    detail: str | None


def delete_put_away(conn: Connection, event_ids: Collection[int]) -> None:
    """Delete delivery events written to the archive with their letter's history
    (``letters.ledger.history_archive``), in the transaction that records it."""
    if event_ids:
        conn.execute(delete(delivery_events).where(delivery_events.c.id.in_(sorted(event_ids))))


class DeliveryLog:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def awaiting_confirmation(self, channel: str, limit: int = 500) -> list[LetterRecord]:
        """Letters handed to ``channel`` whose delivery it has not confirmed yet."""
        query = (
            select(letters)
            .where(letters.c.channel == channel)
            .where(letters.c.status == LetterStatus.SENT)
            .where(letters.c.provider_ref.is_not(None))
            .order_by(letters.c.updated_at)
            .limit(limit)
        )
        with self.ledger.transaction() as conn:
            return [record_from_row(r._mapping) for r in conn.execute(query)]

    def letter_for(self, channel: str, provider_ref: str) -> str | None:
        query = (
            select(letters.c.letter_id)
            .where(letters.c.provider_ref == provider_ref)
            .where(letters.c.channel == channel)
        )
        with self.ledger.transaction() as conn:
            return conn.execute(query).scalar_one_or_none()

    def record_confirmed(
        self, letter_id: str, method: str | None, delivered_at: datetime | None, detail: str
    ) -> bool:
        """A sent letter turned out delivered; False if it was not waiting for that."""
        with self.ledger.transaction() as conn:
            return history.record(
                conn,
                letter_id,
                LetterStatus.DELIVERED,
                utcnow(),
                detail,
                status=LetterStatus.DELIVERED,
                delivery_method=method,
                delivered_at=delivered_at,
            )

    def record_event(
        self,
        letter_id: str,
        event_key: str,
        event: DeliveryEvent,
    ) -> bool:
        """Record one channel event; False if it was recorded before."""
        now = utcnow()
        detail = f"{event.channel}: {event.event}" + (f" ({event.detail})" if event.detail else "")
        try:
            with self.ledger.transaction() as conn:
                conn.execute(
                    insert(delivery_events).values(
                        letter_id=letter_id,
                        channel=event.channel,
                        event=event.event,
                        occurred_at=event.occurred_at,
                        recorded_at=now,
                        detail=event.detail,
                        event_key=event_key,
                    )
                )
                history.append_event(
                    conn, letter_id, event.event.lower()[:20], now, detail, channel_event=True
                )
                if reason := RETURNING_EVENTS.get(event.event):
                    returned_on = as_utc(event.occurred_at).astimezone(OSLO).date()
                    source = f"{event.channel} event {event.event}"
                    record_return_in(conn, letter_id, returned_on, reason, source, now)
        except IntegrityError:
            return False
        return True

    def events(self, letter_id: str) -> list[DeliveryEvent]:
        query = (
            select(delivery_events)
            .where(delivery_events.c.letter_id == letter_id)
            .order_by(delivery_events.c.occurred_at, delivery_events.c.id)
        )
        with self.ledger.transaction() as conn:
            return [
                DeliveryEvent(r.channel, r.event, as_utc(r.occurred_at), r.detail)
                for r in conn.execute(query)
            ]

    def unopened(
        self,
        channel: str,
        letter_types: Collection[str],
        posted_by: date,
        deadline_from: date,
        limit: int = 500,
    ) -> list[LetterRecord]:
        """Letters handed to ``channel`` on or before ``posted_by`` and never opened there,
        whose deadline has not passed before ``deadline_from``, and that nothing has re-sent
        yet (a copy made before, or a re-send job's copy or renewal: a renewal replaces the
        letter's password and deadline). A letter the channel itself put on paper
        (Digipost's own print fallback) is left out: it reached the debtor's letterbox."""
        copy = aliased(letters)
        opened = exists().where(
            and_(
                delivery_events.c.letter_id == letters.c.letter_id,
                delivery_events.c.event == OPENED,
            )
        )
        resent = exists().where(copy.c.origin_letter_id == letters.c.letter_id)
        query = (
            select(letters)
            .where(letters.c.channel == channel)
            .where(letters.c.status.in_([LetterStatus.SENT, LetterStatus.DELIVERED]))
            .where(letters.c.letter_type.in_(list(letter_types)))
            .where(letters.c.posted_on <= posted_by)
            .where(letters.c.deadline >= deadline_from)
            .where((letters.c.delivery_method.is_(None)) | (letters.c.delivery_method != "PRINT"))
            .where(~opened)
            .where(~resent)
            .order_by(letters.c.posted_on, letters.c.letter_id)
            .limit(limit)
        )
        with self.ledger.transaction() as conn:
            return [self.ledger.record_of(r._mapping) for r in conn.execute(query)]

    def copies_of_opened(self, job_id: str, status: LetterStatus) -> list[tuple[str, datetime]]:
        """Copies made by ``job_id`` in ``status`` whose original has since been opened:
        (the copy's letter id, when the original was opened)."""
        query = (
            select(letters.c.letter_id, delivery_events.c.occurred_at)
            .join(delivery_events, delivery_events.c.letter_id == letters.c.origin_letter_id)
            .where(letters.c.resend_job_id == job_id)
            .where(letters.c.status == status)
            .where(delivery_events.c.event == OPENED)
            .order_by(letters.c.letter_id, delivery_events.c.occurred_at)
        )
        with self.ledger.transaction() as conn:
            first: dict[str, datetime] = {}
            for letter_id, occurred_at in conn.execute(query):
                first.setdefault(letter_id, as_utc(occurred_at))
        return list(first.items())

    def unfinished_copies(self, job_id: str) -> list[LetterRecord]:
        """Copies ``job_id`` made that have not gone out yet, nor wait for their case."""
        query = (
            select(letters)
            .where(letters.c.resend_job_id == job_id)
            .where(~letters.c.status.in_([*FINISHED, *WAITING_FOR_CASE]))
            .order_by(letters.c.created_at)
        )
        with self.ledger.transaction() as conn:
            return [self.ledger.record_of(r._mapping) for r in conn.execute(query)]

    def cursor(self, name: str) -> datetime | None:
        query = select(sync_cursors.c.position).where(sync_cursors.c.name == name)
        with self.ledger.transaction() as conn:
            position = conn.execute(query).scalar_one_or_none()
        return as_utc(position) if position else None

    def set_cursor(self, name: str, position: datetime) -> None:
        with self.ledger.transaction() as conn:
            changed = conn.execute(
                update(sync_cursors).where(sync_cursors.c.name == name).values(position=position)
            ).rowcount
            if not changed:
                conn.execute(insert(sync_cursors).values(name=name, position=position))
