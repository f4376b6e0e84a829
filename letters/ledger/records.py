"""What the ledger hands out: a letter's record, its history, its statuses and the state
machine they follow, the values it is given, and the print batches' value types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from letters.clock import as_utc
from letters.errors import TransientError


class LetterStatus(StrEnum):
    # In the order a letter usually has them.
    ACCEPTED = "accepted"
    ROUTED = "routed"
    RENDERED = "rendered"
    ARCHIVED = "archived"
    # In a print batch that has not gone to the print house yet.
    BATCHED = "batched"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD_LETTERED = "dead-lettered"
    REQUEUED = "requeued"
    # Waiting because its case is disputed or on hold; it goes on when the case is open.
    HELD = "held"
    # Taken out of an open print batch for the same reason; it goes on like a held one.
    WITHDRAWN = "withdrawn"
    # Stopped for good before it left: the case was paid or closed, or operations said so.
    CANCELLED = "cancelled"
    # The print house's receipt says it never went; a new letter was made in its place.
    NOT_POSTED = "not-posted"
    # It came back from the post (unknown address, moved, refused): it was not received.
    RETURNED = "returned"


# The history event of a letter the sweep sent back to the work queue.
RECOVERED = "recovered"

# On its way through the worker: a message should be carrying each of these.
IN_HAND = (
    LetterStatus.ACCEPTED,
    LetterStatus.ROUTED,
    LetterStatus.RENDERED,
    LetterStatus.ARCHIVED,
    LetterStatus.REQUEUED,
)

# The worker's part is done: a batched letter is the print dispatcher's from here.
FINISHED = frozenset(
    {
        LetterStatus.BATCHED,
        LetterStatus.SENT,
        LetterStatus.DELIVERED,
        LetterStatus.DEAD_LETTERED,
        LetterStatus.CANCELLED,
        LetterStatus.NOT_POSTED,
        LetterStatus.RETURNED,
    }
)
# Nothing more happens to it but mail coming back or a re-send: most of a ledger's letters.
# Those that are not settled are counted exactly from an index of only them
# (``ix_letters_unsettled``); the settled ones over a recent window (``status_overview``).
SETTLED = frozenset(
    {
        LetterStatus.SENT,
        LetterStatus.DELIVERED,
        LetterStatus.CANCELLED,
        LetterStatus.NOT_POSTED,
        LetterStatus.RETURNED,
    }
)
# The partial index's condition, written out: a planner uses the index only for a query
# whose condition is this one (SQLite: word for word, so never with bound parameters).
# How far back the operations page and the metrics count settled letters: a day of them
# is the day's work to count, where all of them are years of the ledger.
SETTLED_LATELY = timedelta(days=1)
UNSETTLED_SQL = "status NOT IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(SETTLED)))
# Waiting for a change of its case; no message carries it meanwhile.
WAITING_FOR_CASE = frozenset({LetterStatus.HELD, LetterStatus.WITHDRAWN})
# It has left, or is in a batch on its way to the print house: past holding back.
LEFT = frozenset({LetterStatus.SENT, LetterStatus.DELIVERED})

# The worker may take it a step further: on its way, or failed and to be tried again.
_WORKING = frozenset({*IN_HAND, LetterStatus.FAILED})

# The state machine of a letter: each status, and the statuses it may be reached from.
# ``history.record`` applies it to every status change, so a change this table does not
# list is refused there, whoever asks for it. Nothing reaches ``accepted``: a letter is
# inserted with it.
ALLOWED_FROM: dict[LetterStatus, frozenset[LetterStatus]] = {
    LetterStatus.ACCEPTED: frozenset(),
    LetterStatus.ROUTED: _WORKING,
    # A batched letter is dated (rendered and archived) again when its batch leaves late.
    LetterStatus.RENDERED: _WORKING | {LetterStatus.BATCHED},
    LetterStatus.ARCHIVED: _WORKING | {LetterStatus.BATCHED},
    # Batched again: the same letter handed over again finds its place in its batch.
    LetterStatus.BATCHED: _WORKING | {LetterStatus.BATCHED},
    LetterStatus.SENT: _WORKING | {LetterStatus.BATCHED},
    # Delivered at once (a channel that says so), or confirmed after it was sent.
    LetterStatus.DELIVERED: _WORKING | {LetterStatus.SENT},
    LetterStatus.FAILED: _WORKING,
    LetterStatus.DEAD_LETTERED: _WORKING,
    # Tried again: failed, waiting for its case or a rate, overdue, or from the dead letters.
    LetterStatus.REQUEUED: _WORKING | WAITING_FOR_CASE | {LetterStatus.DEAD_LETTERED},
    LetterStatus.HELD: _WORKING | WAITING_FOR_CASE,
    # Taken out of an open print batch (``PrintBatchStore.withdraw``); before it is
    # batched, a letter that must wait is held.
    LetterStatus.WITHDRAWN: frozenset({LetterStatus.BATCHED}),
    LetterStatus.CANCELLED: _WORKING | WAITING_FOR_CASE | {LetterStatus.BATCHED},
    LetterStatus.NOT_POSTED: frozenset({LetterStatus.SENT}),
    LetterStatus.RETURNED: LEFT,
}


class ForbiddenTransitionError(TransientError):
    """A letter was asked to change to a status its current one cannot lead to.

    Transient: the letter changed under the caller (another worker, the print
    house, the case), and trying again starts from what the ledger holds now.
    """


@dataclass(frozen=True, slots=True)
class LetterRecord:
    letter_id: str
    case_number: str
    letter_type: str
    language: str
    status: LetterStatus
    attempts: int
    retry_at: datetime | None
    letter_date: date | None
    deadline: date | None
    kid: str | None
    amount_due: Decimal | None
    template_version: str | None
    pdf_sha256: str | None
    page_count: int | None
    archive_key: str | None
    otp_hash: str | None
    otp_expires_on: date | None
    channel: str | None
    route_reason: str | None
    provider_ref: str | None
    delivery_method: str | None
    delivered_at: datetime | None
    request: str = field(repr=False)
    request_sha256: str
    created_at: datetime
    updated_at: datetime
    origin_letter_id: str | None = None
    resend_job_id: str | None = None
    resend_mode: str | None = None
    otp_revoked_at: datetime | None = None
    planned_posting_day: date | None = None
    posted_on: date | None = None
    # How many letters.event/1 events the letter has had (the outbox numbers them).
    event_sequence: int = 0
    # The blind index of the debtor's national id (letters.ledger.personal_data).
    nin_index: str | None = field(default=None, repr=False)
    # When retention erased the request's personal data; None while it is kept.
    personal_data_erased_at: datetime | None = None
    # The rates it waits for while held for them ("KIND PERIOD, ..."); None otherwise.
    held_for_rates: str | None = None
    # Posted later than dated for: the deadline the law gives from the real posting day.
    lawful_deadline: date | None = None
    # Where its history was put away once its personal data was erased, and the last
    # history line put away there (letters.operations.history_put_away); None: all here.
    history_archive_key: str | None = None
    history_archived_through: int | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def waiting_for_case(self) -> bool:
        return self.status in WAITING_FOR_CASE


@dataclass(frozen=True, slots=True)
class LetterEvent:
    event: str
    at: datetime
    detail: str | None


@dataclass(frozen=True, slots=True)
class Rendering:
    """What the ledger keeps of a rendered letter (never the PDF or the password)."""

    letter_date: date
    deadline: date
    kid: str
    amount_due: Decimal
    template_version: str
    pdf_sha256: str
    page_count: int
    otp_hash: str
    otp_expires_on: date
    # The day the letter leaves, as planned when it was dated.
    planned_posting_day: date | None = None


@dataclass(frozen=True, slots=True)
class Resend:
    """Where a re-sent letter comes from: the original letter, the job and the mode."""

    origin_letter_id: str
    job_id: str
    mode: str

    def columns(self) -> dict[str, str]:
        return {
            "origin_letter_id": self.origin_letter_id,
            "resend_job_id": self.job_id,
            "resend_mode": self.mode,
        }

    def detail(self) -> str:
        return f"{self.mode} of {self.origin_letter_id} (job {self.job_id})"


@dataclass(frozen=True, slots=True)
class CopyPdf:
    """A copy's own PDF: the original's, with a copy banner, archived under its own key."""

    archive_key: str
    pdf_sha256: str
    # What the banner says and where the PDF came from, for the copy's history.
    detail: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message sent to the dead-letter queue, and why."""

    dead_id: str
    letter_id: str | None
    reason: str
    attempts: int
    dead_at: datetime
    requeued_at: datetime | None
    case_number: str | None = None
    # Whether the ledger still holds the message (sealed); retention erases it.
    body_kept: bool = False
    body_erased_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OverdueLetter:
    """A letter in flight that no message can be carrying any more, and why that is thought."""

    letter_id: str
    case_number: str
    status: LetterStatus
    attempts: int
    updated_at: datetime
    retry_at: datetime | None
    reason: str
    # How often the sweep recovered it before.
    recoveries: int
    request: str = field(repr=False)


def record_from_row(row: Any) -> LetterRecord:
    values = dict(row)
    values["status"] = LetterStatus(values["status"])
    for name in (
        "retry_at",
        "created_at",
        "updated_at",
        "delivered_at",
        "otp_revoked_at",
        "personal_data_erased_at",
    ):
        values[name] = as_utc(values[name]) if values[name] else None
    return LetterRecord(**values)


# -- print batches (letters.ledger.print_batches) ------------------------------------------


class BatchStatus(StrEnum):
    OPEN = "open"  # taking letters
    CLOSED = "closed"  # cut: waiting to be assembled and uploaded
    ASSEMBLED = "assembled"  # the PDF's hash is recorded; the upload may or may not be done
    SENT = "sent"  # at the print house, letters marked sent
    POSTED = "posted"  # the print house's receipt says which letters went, and when


@dataclass(frozen=True, slots=True)
class Batch:
    batch_id: str
    destination: str
    status: BatchStatus
    opened_at: datetime
    cutoff_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    letter_count: int
    page_count: int | None
    sheet_count: int | None
    pdf_sha256: str | None
    pdf_bytes: int | None
    assembled_at: datetime | None
    sent_at: datetime | None
    location: str | None
    attempts: int
    last_error: str | None
    # The day its letters are dated to be posted on; the day the receipt says they were.
    planned_posting_day: date | None = None
    posted_on: date | None = None
    receipt_name: str | None = None
    receipt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """A letter in a batch, with what the dispatcher needs to fetch and list it."""

    letter_id: str
    position: int
    case_number: str
    page_count: int
    country: str
    postage_class: str
    archive_key: str | None
    pdf_sha256: str | None
    # The day the letter was dated to leave on, which its deadline counts from.
    planned_posting_day: date | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    batch_id: str
    destination: str
    position: int
    batch_status: BatchStatus
    # The letter was already in this batch (a resend after a crash).
    duplicate: bool

    @property
    def detail(self) -> str:
        return f"batch {self.batch_id} ({self.destination}), letter {self.position}"


@dataclass(frozen=True, slots=True)
class NewMember:
    letter_id: str
    case_number: str
    page_count: int
    country: str
    destination: str
    postage_class: str


@dataclass(frozen=True, slots=True)
class NewBatch:
    """The batch to open if the destination has none open (or its cut-off has passed)."""

    batch_id: str
    cutoff_at: datetime


@dataclass(frozen=True, slots=True)
class StatusOverview:
    """The letters by status, at a cost that does not grow with the ledger's history."""

    # Every letter not settled, exactly: the work in the ledger.
    unsettled: dict[str, int]
    # Letters settled (``SETTLED``) whose last change was at or after ``since``.
    settled: dict[str, int]
    since: datetime
