"""Print batches in the ledger: which letters go to the print house together.

The ledger keeps the batches' invariants, whatever the print route's rules
(``letters.delivery.print_batches``) decide: at most one open batch per
destination, positions without gaps, a letter in at most one batch (the
letter id is the key of a batch member), membership fixed once a batch is
closed, and a letter marked sent in the same transaction as its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from letters.clock import as_utc, utcnow
from letters.errors import TransientError
from letters.ledger import history
from letters.ledger.records import (
    Batch,
    BatchStatus,
    LetterStatus,
    Member,
    NewBatch,
    NewMember,
    Placement,
)
from letters.ledger.schema import letters, print_batch_letters, print_batches

if TYPE_CHECKING:  # the ledger hands this store out (letters.ledger.stores)
    from letters.ledger.store import Ledger

# Two workers may race to open the same destination's batch; the loser tries again.
_ADD_ATTEMPTS = 5


class PrintBatchStore:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # -- letters joining -------------------------------------------------------

    def add(
        self, member: NewMember, now: datetime, batch_size: int, new_batch: NewBatch, channel: str
    ) -> Placement:
        """Put the letter in its destination's open batch, or find the batch it is in, and
        mark it ``batched`` there, all in one transaction (``channel``: the route's name,
        for its history). A letter whose
        batch has gone to the print house is left as it is: the caller records it sent.

        A batch that reaches ``batch_size`` letters is closed at once.
        """
        for _ in range(_ADD_ATTEMPTS):
            try:
                with self.ledger.transaction() as conn:
                    placement = self._add(conn, member, now, batch_size, new_batch)
                    if placement.batch_status is not BatchStatus.SENT:
                        history.record(
                            conn,
                            member.letter_id,
                            LetterStatus.BATCHED,
                            now,
                            f"{channel}: {placement.detail}",
                            status=LetterStatus.BATCHED,
                            provider_ref=placement.batch_id,
                            retry_at=None,
                        )
                    return placement
            except IntegrityError:
                continue  # another process opened the batch or took the position
        raise TransientError("print batches: too many concurrent changes; try again")

    def _add(
        self,
        conn: Connection,
        member: NewMember,
        now: datetime,
        batch_size: int,
        new_batch: NewBatch,
    ) -> Placement:
        known = conn.execute(
            select(print_batch_letters.c.batch_id, print_batch_letters.c.position).where(
                print_batch_letters.c.letter_id == member.letter_id
            )
        ).first()
        if known:
            batch = self._batch(conn, known.batch_id)
            return Placement(
                batch.batch_id, batch.destination, known.position, batch.status, duplicate=True
            )
        destination = member.destination
        row = conn.execute(
            select(print_batches).where(print_batches.c.open_slot == destination).with_for_update()
        ).first()
        if row is not None and as_utc(row.cutoff_at) <= now:
            _close(conn, row.batch_id, now, "cut-off")
            row = None
        batch_id = row.batch_id if row is not None else _open(conn, destination, now, new_batch)
        # After the last position taken: a letter withdrawn from the batch leaves a gap.
        last = conn.execute(
            select(func.max(print_batch_letters.c.position)).where(
                print_batch_letters.c.batch_id == batch_id
            )
        ).scalar_one_or_none()
        position = (last or 0) + 1
        count = (row.letter_count if row is not None else 0) + 1
        conn.execute(
            insert(print_batch_letters).values(
                letter_id=member.letter_id,
                batch_id=batch_id,
                position=position,
                case_number=member.case_number,
                page_count=member.page_count,
                country=member.country,
                postage_class=member.postage_class,
                added_at=now,
            )
        )
        _update(conn, batch_id, letter_count=count)
        status = BatchStatus.OPEN
        if count >= batch_size:
            _close(conn, batch_id, now, "size")
            status = BatchStatus.CLOSED
        return Placement(batch_id, destination, position, status, duplicate=False)

    def withdraw(self, letter_id: str, status: LetterStatus, reason: str) -> str | None:
        """Take a letter out of its batch while the batch is open, and give it ``status``
        (withdrawn or cancelled) in the same transaction: a letter is never out of its
        batch yet still batched. The batch id, or None if the letter is in no open batch.
        """
        with self.ledger.transaction() as conn:
            row = conn.execute(
                select(print_batch_letters.c.batch_id)
                .join(print_batches, print_batches.c.batch_id == print_batch_letters.c.batch_id)
                .where(print_batch_letters.c.letter_id == letter_id)
                .where(print_batches.c.status == BatchStatus.OPEN)
                .with_for_update()
            ).first()
            if row is None:
                return None
            conn.execute(
                delete(print_batch_letters).where(print_batch_letters.c.letter_id == letter_id)
            )
            _update(conn, row.batch_id, letter_count=print_batches.c.letter_count - 1)
            # A batch left empty never goes anywhere: the next letter opens a new one.
            conn.execute(
                delete(print_batches)
                .where(print_batches.c.batch_id == row.batch_id)
                .where(print_batches.c.letter_count == 0)
            )
            history.record(
                conn,
                letter_id,
                status,
                utcnow(),
                f"{reason}; taken out of print batch {row.batch_id}",
                # Refused, it undoes the withdrawal: never out of its batch yet batched.
                strict=True,
                status=status,
                provider_ref=None,
                retry_at=None,
            )
            return str(row.batch_id)

    def batch_of(self, letter_id: str) -> Batch | None:
        """The batch a letter is in, if any."""
        with self.ledger.transaction() as conn:
            batch_id = conn.execute(
                select(print_batch_letters.c.batch_id).where(
                    print_batch_letters.c.letter_id == letter_id
                )
            ).scalar_one_or_none()
            return self._batch(conn, batch_id) if batch_id else None

    # -- cutting -----------------------------------------------------------------

    def close_due(self, now: datetime) -> list[str]:
        """Close the open batches whose cut-off has passed; returns their ids."""
        return self._close_where(print_batches.c.cutoff_at <= now, now, "cut-off")

    def close_all(self, now: datetime) -> list[str]:
        """Close every open batch now (``letters print cut``)."""
        return self._close_where(print_batches.c.open_slot.is_not(None), now, "manual")

    def _close_where(self, condition: Any, now: datetime, reason: str) -> list[str]:
        with self.ledger.transaction() as conn:
            due = (
                conn.execute(
                    select(print_batches.c.batch_id)
                    .where(print_batches.c.status == BatchStatus.OPEN)
                    .where(condition)
                )
                .scalars()
                .all()
            )
            return [batch_id for batch_id in due if _close(conn, batch_id, now, reason)]

    # -- dispatching -------------------------------------------------------------

    def claim_ready(self, now: datetime, lease: timedelta) -> list[Batch]:
        """Closed or half-delivered batches nobody else is working on, now held by the caller."""
        free = or_(print_batches.c.claimed_until.is_(None), print_batches.c.claimed_until < now)
        ready = print_batches.c.status.in_([BatchStatus.CLOSED, BatchStatus.ASSEMBLED])
        claimed = []
        with self.ledger.transaction() as conn:
            candidates = (
                conn.execute(
                    select(print_batches.c.batch_id)
                    .where(and_(ready, free))
                    .order_by(print_batches.c.closed_at)
                )
                .scalars()
                .all()
            )
            for batch_id in candidates:
                taken = conn.execute(
                    update(print_batches)
                    .where(print_batches.c.batch_id == batch_id)
                    .where(and_(ready, free))
                    .values(claimed_until=now + lease)
                )
                if taken.rowcount == 1:
                    claimed.append(self._batch(conn, batch_id))
        return claimed

    def members(self, batch_id: str) -> list[Member]:
        query = (
            select(
                print_batch_letters,
                letters.c.archive_key,
                letters.c.pdf_sha256,
                letters.c.planned_posting_day,
            )
            .join(letters, letters.c.letter_id == print_batch_letters.c.letter_id)
            .where(print_batch_letters.c.batch_id == batch_id)
            .order_by(print_batch_letters.c.position)
        )
        with self.ledger.transaction() as conn:
            return [
                Member(
                    letter_id=r.letter_id,
                    position=r.position,
                    case_number=r.case_number,
                    page_count=r.page_count,
                    country=r.country,
                    postage_class=r.postage_class,
                    archive_key=r.archive_key,
                    pdf_sha256=r.pdf_sha256,
                    planned_posting_day=r.planned_posting_day,
                )
                for r in conn.execute(query)
            ]

    def record_assembled(
        self, batch_id: str, sha256: str, size: int, pages: int, sheets: int, now: datetime
    ) -> None:
        """Keep the batch PDF's hash before uploading, so a restart can recognise the upload."""
        with self.ledger.transaction() as conn:
            _update(
                conn,
                batch_id,
                status=BatchStatus.ASSEMBLED,
                pdf_sha256=sha256,
                pdf_bytes=size,
                page_count=pages,
                sheet_count=sheets,
                assembled_at=now,
            )

    def record_batch_failed(self, batch_id: str, reason: str) -> None:
        """The delivery failed; the batch is free to be tried again at the next round."""
        with self.ledger.transaction() as conn:
            _update(
                conn,
                batch_id,
                attempts=print_batches.c.attempts + 1,
                last_error=reason,
                claimed_until=None,
            )

    def record_batch_sent(
        self, batch_id: str, location: str, now: datetime, posted_on: date | None = None
    ) -> int:
        """The batch is at the print house: mark it and every letter in it sent, at once."""
        with self.ledger.transaction() as conn:
            _update(
                conn,
                batch_id,
                status=BatchStatus.SENT,
                sent_at=now,
                location=location,
                claimed_until=None,
                last_error=None,
                planned_posting_day=posted_on,
            )
            members = conn.execute(
                select(print_batch_letters.c.letter_id, print_batch_letters.c.position)
                .where(print_batch_letters.c.batch_id == batch_id)
                .order_by(print_batch_letters.c.position)
            ).all()
            marked = 0
            for letter_id, position in members:
                marked += history.record(
                    conn,
                    letter_id,
                    LetterStatus.SENT,
                    now,
                    f"print: batch {batch_id}, letter {position}, at {location}",
                    status=LetterStatus.SENT,
                    channel="print",
                    provider_ref=batch_id,
                    delivery_method="PRINT",
                    retry_at=None,
                    posted_on=posted_on,
                )
            return marked

    # -- reading -----------------------------------------------------------------

    def get(self, batch_id: str) -> Batch | None:
        with self.ledger.transaction() as conn:
            row = conn.execute(
                select(print_batches).where(print_batches.c.batch_id == batch_id)
            ).first()
        return _batch_from(row._mapping) if row else None

    def batches(self, statuses: Sequence[str] = (), limit: int = 100) -> list[Batch]:
        query = select(print_batches).order_by(print_batches.c.opened_at.desc()).limit(limit)
        if statuses:
            query = query.where(print_batches.c.status.in_(list(statuses)))
        with self.ledger.transaction() as conn:
            return [_batch_from(r._mapping) for r in conn.execute(query)]

    def _batch(self, conn: Connection, batch_id: str) -> Batch:
        row = conn.execute(select(print_batches).where(print_batches.c.batch_id == batch_id)).one()
        return _batch_from(row._mapping)


def _update(conn: Connection, batch_id: str, **values: Any) -> None:
    conn.execute(update(print_batches).where(print_batches.c.batch_id == batch_id).values(**values))


def _open(conn: Connection, destination: str, now: datetime, new_batch: NewBatch) -> str:
    conn.execute(
        insert(print_batches).values(
            batch_id=new_batch.batch_id,
            destination=destination,
            status=BatchStatus.OPEN,
            open_slot=destination,
            opened_at=now,
            cutoff_at=new_batch.cutoff_at,
            letter_count=0,
            attempts=0,
        )
    )
    return new_batch.batch_id


def _close(conn: Connection, batch_id: str, now: datetime, reason: str) -> bool:
    closed = conn.execute(
        update(print_batches)
        .where(print_batches.c.batch_id == batch_id)
        .where(print_batches.c.status == BatchStatus.OPEN)
        .values(status=BatchStatus.CLOSED, open_slot=None, closed_at=now, close_reason=reason)
    )
    return bool(closed.rowcount)


def _batch_from(row: Any) -> Batch:
    values = {name: row[name] for name in Batch.__dataclass_fields__}
    values["status"] = BatchStatus(values["status"])
    for name in ("opened_at", "cutoff_at", "closed_at", "assembled_at", "sent_at", "receipt_at"):
        values[name] = as_utc(values[name]) if values[name] else None
    return Batch(**values)
