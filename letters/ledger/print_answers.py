"""What the print house answers, kept in the ledger: posting receipts and returned mail.

A receipt is applied to its batch in one transaction: every letter's actual
posting day, a ``posted_late`` event with the deadline the law gives from that
day where the letter went later than it is dated, and for a letter that never
went, its status ``not-posted`` and the new letter made in its place. The
batch keeps the receipt's SHA-256: the same receipt read again changes
nothing, and another receipt for the same batch is refused.

A returned letter is kept once in ``returned_mail``, gets status ``returned``
and a ``returned`` event; the order of letters no longer counts it as sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from letters.clock import as_utc
from letters.errors import PermanentError
from letters.ledger import history
from letters.ledger.records import BatchStatus, LetterStatus
from letters.ledger.schema import letters, print_batches, returned_mail

if TYPE_CHECKING:  # the ledger hands this store out (letters.ledger.stores)
    from letters.ledger.store import Ledger

# A receipt's outcome for a letter that never went (the others are posted and reprinted).
NOT_POSTED = "not_posted"


class ReceiptConflictError(PermanentError):
    """The batch has another receipt already, or is not at the print house."""


@dataclass(frozen=True, slots=True)
class NewLetter:
    """A letter made in place of one the print house did not post (already validated)."""

    letter_id: str
    case_number: str
    letter_type: str
    language: str
    request: str
    # Where it comes from, as a re-send: (origin, job, mode) in ``Resend``'s columns.
    resend_columns: dict[str, str]


@dataclass(frozen=True, slots=True)
class LetterPosting:
    """One line of a receipt, with what the delivery layer worked out for it."""

    letter_id: str
    outcome: str  # posted, reprinted or not_posted
    reason: str | None = None
    # Posted later than dated for: the deadline the law gives from the real posting day.
    lawful_deadline: date | None = None
    # Not posted: the letter made in its place.
    replacement: NewLetter | None = None


class ReceiptVerdict(StrEnum):
    APPLIED = "applied"
    # This very receipt was applied before: nothing changed.
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class AppliedReceipt:
    verdict: ReceiptVerdict
    posted: int = 0
    late: int = 0
    not_posted: int = 0
    replacements: tuple[str, ...] = ()


class ReturnVerdict(StrEnum):
    RECORDED = "recorded"
    # Recorded before (the same file read again, or the same letter in two files).
    ALREADY = "already"
    # The letter has not left: nothing can have come back.
    NOT_LEFT = "not-left"
    # Said to have come back before the day it was posted: the report is wrong.
    BEFORE_POSTED = "before-posted"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ReturnedLetter:
    letter_id: str
    case_number: str
    letter_type: str
    channel: str | None
    reason: str
    returned_on: date
    source: str
    recorded_at: datetime
    # Letters of the case accepted after it came back: the new letter, once there is one.
    later_letters: int = 0


# A letter can come back only once it has left (or after the print house confirmed it).
_LEFT = (LetterStatus.SENT, LetterStatus.DELIVERED)


class PrintAnswers:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # -- receipts ----------------------------------------------------------------

    def apply_receipt(
        self,
        batch_id: str,
        posted_on: date,
        receipt_sha256: str,
        receipt_name: str,
        postings: Sequence[LetterPosting],
        now: datetime,
    ) -> AppliedReceipt:
        """Apply a checked receipt to its batch, all of it or (on any error) none of it."""
        with self.ledger.transaction() as conn:
            batch = conn.execute(
                select(print_batches).where(print_batches.c.batch_id == batch_id).with_for_update()
            ).first()
            if batch is None:
                raise ReceiptConflictError(f"batch_id: no batch {batch_id} in the ledger")
            if batch.receipt_sha256 == receipt_sha256:
                return AppliedReceipt(ReceiptVerdict.DUPLICATE)
            if batch.receipt_sha256 is not None:
                raise ReceiptConflictError(
                    f"batch_id: batch {batch_id} has a receipt already ({batch.receipt_name}, "
                    f"posted on {batch.posted_on}); a second one with other content is refused"
                )
            if batch.status != BatchStatus.SENT:
                raise ReceiptConflictError(
                    f"batch_id: batch {batch_id} is {batch.status}, not yet at the print house"
                )
            counts = {"posted": 0, "late": 0, "not_posted": 0}
            replacements = []
            for posting in postings:
                if posting.outcome == NOT_POSTED:
                    self._not_posted(conn, batch_id, posting, now)
                    counts["not_posted"] += 1
                    if posting.replacement:
                        replacements.append(posting.replacement.letter_id)
                    continue
                _posted(conn, batch_id, receipt_name, posted_on, posting, now)
                counts["posted"] += 1
                if posting.lawful_deadline is not None:
                    counts["late"] += 1
            conn.execute(
                update(print_batches)
                .where(print_batches.c.batch_id == batch_id)
                .values(
                    status=BatchStatus.POSTED,
                    posted_on=posted_on,
                    receipt_sha256=receipt_sha256,
                    receipt_name=receipt_name,
                    receipt_at=now,
                )
            )
        return AppliedReceipt(
            ReceiptVerdict.APPLIED,
            posted=counts["posted"],
            late=counts["late"],
            not_posted=counts["not_posted"],
            replacements=tuple(replacements),
        )

    def _not_posted(
        self, conn: Connection, batch_id: str, posting: LetterPosting, now: datetime
    ) -> None:
        new = posting.replacement
        detail = f"batch {batch_id}: not posted ({posting.reason})"
        if new is not None:
            detail += f"; sent again as letter {new.letter_id}"
        history.record(
            conn,
            posting.letter_id,
            LetterStatus.NOT_POSTED,
            now,
            detail,
            facts={
                "batch_id": batch_id,
                "reason": posting.reason,
                "linked_letter_id": new.letter_id if new else None,
            },
            status=LetterStatus.NOT_POSTED,
            posted_on=None,
        )
        if new is None:
            return
        values = self.ledger.accepted_values(
            letter_id=new.letter_id,
            case_number=new.case_number,
            letter_type=new.letter_type,
            language=new.language,
            request=new.request,
        )
        values.update(new.resend_columns)
        origin = new.resend_columns.get("origin_letter_id")
        history.insert_letter(
            conn, values, [(LetterStatus.ACCEPTED, f"renew of {origin}: not posted")], now
        )

    # -- returned mail -------------------------------------------------------------

    def record_return(
        self,
        letter_id: str,
        returned_on: date,
        reason: str,
        source: str,
        now: datetime,
    ) -> ReturnVerdict:
        """Keep that the letter came back; once per letter, however often it is reported."""
        try:
            with self.ledger.transaction() as conn:
                return record_return_in(conn, letter_id, returned_on, reason, source, now)
        except IntegrityError:
            return ReturnVerdict.ALREADY

    def returned(self, limit: int = 200) -> list[ReturnedLetter]:
        """Returned letters, newest first, each with how many letters its case had since."""
        # The newest returns first, on their own: joined to the letters at once, SQLite
        # could read every letter and look each up among the returns.
        recent = (
            select(returned_mail)
            .order_by(returned_mail.c.recorded_at.desc(), returned_mail.c.letter_id)
            .limit(limit)
            .subquery("recent")
        )
        later = _later_letters(recent.c.recorded_at)
        query = (
            select(
                recent,
                letters.c.case_number,
                letters.c.letter_type,
                letters.c.channel,
                later.label("later_letters"),
            )
            .join(letters, letters.c.letter_id == recent.c.letter_id)
            .order_by(recent.c.recorded_at.desc(), recent.c.letter_id)
        )
        with self.ledger.reading() as conn:
            return [_returned_from(r._mapping) for r in conn.execute(query)]


def record_return_in(
    conn: Connection,
    letter_id: str,
    returned_on: date,
    reason: str,
    source: str,
    now: datetime,
) -> ReturnVerdict:
    """``record_return`` inside the caller's transaction (a channel's own event of a letter
    that could not be delivered, ``letters.ledger.delivery_events``)."""
    found = conn.execute(
        select(letters.c.status, letters.c.posted_on).where(letters.c.letter_id == letter_id)
    ).first()
    if found is None:
        return ReturnVerdict.UNKNOWN
    if found.status == LetterStatus.RETURNED:
        return ReturnVerdict.ALREADY
    if found.status not in _LEFT:
        return ReturnVerdict.NOT_LEFT
    if found.posted_on is not None and returned_on < found.posted_on:
        return ReturnVerdict.BEFORE_POSTED
    conn.execute(
        insert(returned_mail).values(
            letter_id=letter_id,
            returned_on=returned_on,
            reason=reason,
            source=source[:300],
            recorded_at=now,
        )
    )
    history.record(
        conn,
        letter_id,
        LetterStatus.RETURNED,
        now,
        f"returned on {returned_on.isoformat()}: {reason} ({source})",
        facts={"reason": reason, "returned_on": returned_on.isoformat()},
        status=LetterStatus.RETURNED,
    )
    return ReturnVerdict.RECORDED


def _posted(
    conn: Connection,
    batch_id: str,
    receipt_name: str,
    posted_on: date,
    posting: LetterPosting,
    now: datetime,
) -> None:
    reprinted = " after a spoiled sheet was printed again" if posting.outcome == "reprinted" else ""
    changed = history.record(
        conn,
        posting.letter_id,
        "posted",
        now,
        f"batch {batch_id}: posted on {posted_on.isoformat()}{reprinted} (receipt {receipt_name})",
        only_if=letters.c.status.in_([LetterStatus.SENT, LetterStatus.DELIVERED]),
        facts={"outcome": posting.outcome},
        posted_on=posted_on,
        lawful_deadline=posting.lawful_deadline,
    )
    if changed and posting.lawful_deadline is not None:
        history.record(
            conn,
            posting.letter_id,
            "posted_late",
            now,
            f"posted on {posted_on.isoformat()}, later than dated: the next step waits until "
            f"after {posting.lawful_deadline.isoformat()}",
            only_if=letters.c.letter_id == posting.letter_id,
            lawful_deadline=posting.lawful_deadline,
        )


def _later_letters(recorded_at: Any) -> Any:
    """Letters of the same case accepted after the return was recorded (``recorded_at``),
    and not refused."""
    later = letters.alias("later")
    return (
        select(func.count())
        .where(
            and_(
                later.c.case_number == letters.c.case_number,
                later.c.created_at > recorded_at,
                later.c.status.not_in([LetterStatus.DEAD_LETTERED, LetterStatus.CANCELLED]),
            )
        )
        .scalar_subquery()
    )


def _returned_from(row: Any) -> ReturnedLetter:
    return ReturnedLetter(
        letter_id=row["letter_id"],
        case_number=row["case_number"],
        letter_type=row["letter_type"],
        channel=row["channel"],
        reason=row["reason"],
        returned_on=row["returned_on"],
        source=row["source"],
        recorded_at=as_utc(row["recorded_at"]),
        later_letters=int(row.get("later_letters") or 0),
    )
