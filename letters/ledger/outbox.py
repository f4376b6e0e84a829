"""The transactional outbox: a ``letters.event/1`` event for every change the case system
hears of, written in the ledger transaction of the change itself.

``letters.ledger.history`` calls ``stage`` for each history event that is
published (``KIND_OF``); the letter's row, just updated and locked by that
same transaction, gives the event its sequence number and the facts it
carries. The relay (``letters.messaging.event_relay``) publishes pending
events in the order they were written and marks them published. So an event
is never published before its change is committed and never lost after, and
a crash between publishing and marking publishes it again with the same
``event_id``: consumers de-duplicate on it.

An event never holds a name, an address, a national identity number or a
password: only the letter's identifiers, dates, channel and the reasons the
service itself wrote (``tests`` check every event the suite produces).
The ``event_outbox`` table is this module's alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from letters.clock import as_utc
from letters.ledger.engine import Transactions
from letters.ledger.schema import event_outbox

EVENT_SCHEMA = "letters.event/1"
ROUTING_PREFIX = "event"

# The kinds of event, in the order a letter usually has them.
KINDS = (
    "accepted",
    "copied",
    "renewed",
    "refused",
    "routed",
    "rendered",
    "batched",
    "posted",
    "posted_late",
    "not_posted",
    "returned",
    "sent",
    "delivered",
    "opened",
    "print-failed",
    "channel-event",
    "held",
    "withdrawn",
    "cancelled",
    "recovered",
    # Not a letter's: operations added, approved or withdrew a rate (letters rates).
    "rates_changed",
)

# History events that are published, by the kind they are published as (refined by the
# letter: an accepted re-send is "copied" or "renewed", a print letter "sent" is "posted").
KIND_OF = {
    "accepted": "accepted",
    "dead-lettered": "refused",
    "routed": "routed",
    "rendered": "rendered",
    "batched": "batched",
    "sent": "sent",
    # The print house's receipt and returned mail (letters.ledger.print_answers).
    "posted": "posted",
    "posted_late": "posted_late",
    "not-posted": "not_posted",
    "returned": "returned",
    "delivered": "delivered",
    "held": "held",
    "withdrawn": "withdrawn",
    "cancelled": "cancelled",
    "recovered": "recovered",
}
# A channel's own news (Digipost's document events), by its name in the history.
_CHANNEL_KINDS = {"opened": "opened", "print_failed": "print-failed"}


def is_published(history_event: str, channel_event: bool) -> bool:
    return channel_event or history_event in KIND_OF


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    position: int
    event_id: str
    letter_id: str
    case_number: str
    sequence: int
    kind: str
    at: datetime
    body: str
    published_at: datetime | None

    @property
    def routing_key(self) -> str:
        return f"{ROUTING_PREFIX}.{self.kind}"

    def replayed(self) -> str:
        """The body marked as a replay (same event id: consumers that have it drop it)."""
        data = json.loads(self.body)
        data["replay"] = True
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def stage(
    conn: Connection,
    row: Mapping[str, Any],
    history_event: str,
    now: datetime,
    detail: str | None,
    *,
    channel_event: bool = False,
    facts: Mapping[str, Any] | None = None,
) -> None:
    """Write the event for ``history_event``; ``row`` is the letter as the change left it,
    with its ``event_sequence`` already counted up for this event. ``facts``: details the
    row does not hold (the receipt's outcome, the letter sent in a letter's place)."""
    conn.execute(
        insert(event_outbox).values(
            **event_row(row, history_event, now, detail, channel_event=channel_event, facts=facts)
        )
    )


def event_row(
    row: Mapping[str, Any],
    history_event: str,
    now: datetime,
    detail: str | None,
    *,
    channel_event: bool = False,
    facts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The outbox row of the event ``stage`` writes (the bulk path writes many at once)."""
    kind = _kind(history_event, row, channel_event)
    event_id = str(uuid.uuid4())
    at = as_utc(now)
    body = {
        "schema": EVENT_SCHEMA,
        "event_id": event_id,
        "kind": kind,
        "sequence": row["event_sequence"],
        "at": at.isoformat(timespec="milliseconds"),
        "letter_id": row["letter_id"],
        "case_number": row["case_number"],
        "letter_type": row["letter_type"],
        "language": row["language"],
        "channel": row["channel"],
        "letter_date": _day(row["letter_date"]),
        "deadline": _day(row["deadline"]),
        "planned_posting_day": _day(row["planned_posting_day"]),
        "posted_on": _day(row["posted_on"]),
        "replay": False,
        "details": {**_details(kind, row, history_event, detail), **(facts or {})},
    }
    return {
        "event_id": event_id,
        "letter_id": row["letter_id"],
        "case_number": row["case_number"],
        "sequence": row["event_sequence"],
        "kind": kind,
        "at": at,
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    }


def stage_refusal(
    conn: Connection,
    *,
    letter_id: str | None,
    case_number: str | None,
    letter_type: str | None,
    language: str | None,
    reason: str,
    now: datetime,
) -> None:
    """The ``refused`` event of a request the ledger never accepted (it broke the contract,
    or its letter id was taken by another request): no letter, so no sequence; what
    could be read of the request, each field only if it is a valid value."""
    _stage_without_sequence(
        conn,
        "refused",
        now,
        {"reason": reason},
        letter_id=letter_id,
        case_number=case_number,
        letter_type=letter_type,
        language=language,
    )


def stage_rate_change(conn: Connection, now: datetime, details: Mapping[str, Any]) -> None:
    """The ``rates_changed`` event of a change to an operator's rate row
    (``letters.ledger.rates``), in the transaction of the change: no letter's at all."""
    _stage_without_sequence(conn, "rates_changed", now, dict(details))


def _stage_without_sequence(
    conn: Connection,
    kind: str,
    now: datetime,
    details: dict[str, Any],
    *,
    letter_id: str | None = None,
    case_number: str | None = None,
    letter_type: str | None = None,
    language: str | None = None,
) -> None:
    """An event of no letter the ledger holds: its letter's fields only as far as known."""
    event_id = str(uuid.uuid4())
    at = as_utc(now)
    body = {
        "schema": EVENT_SCHEMA,
        "event_id": event_id,
        "kind": kind,
        "sequence": None,
        "at": at.isoformat(timespec="milliseconds"),
        "letter_id": letter_id,
        "case_number": case_number,
        "letter_type": letter_type,
        "language": language,
        "channel": None,
        "letter_date": None,
        "deadline": None,
        "planned_posting_day": None,
        "posted_on": None,
        "replay": False,
        "details": details,
    }
    conn.execute(
        insert(event_outbox).values(
            event_id=event_id,
            letter_id=letter_id,
            case_number=case_number,
            sequence=None,
            kind=kind,
            at=at,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        )
    )


def _kind(history_event: str, row: Mapping[str, Any], channel_event: bool) -> str:
    if channel_event:
        return _CHANNEL_KINDS.get(history_event, "channel-event")
    kind = KIND_OF[history_event]
    if kind == "accepted" and row["resend_mode"] in ("copy", "renew"):
        return "copied" if row["resend_mode"] == "copy" else "renewed"
    if kind == "sent" and row["channel"] == "print":
        return "posted"
    return kind


def _details(
    kind: str, row: Mapping[str, Any], history_event: str, detail: str | None
) -> dict[str, Any]:
    if kind in ("copied", "renewed"):
        return {"linked_letter_id": row["origin_letter_id"], "resend_job_id": row["resend_job_id"]}
    if kind == "rendered":
        return {
            "page_count": row["page_count"],
            "template_version": row["template_version"],
            "pdf_sha256": row["pdf_sha256"],
            # A letter that left later than it was dated for: new date, deadline, password.
            "dated_again": bool(detail and detail.startswith("dated again")),
        }
    if kind == "routed":
        return {"reason": row["route_reason"]}
    if kind == "batched":
        return {"batch_id": row["provider_ref"]}
    if kind == "posted":
        # Handed to the print house (the planned day), then confirmed by its receipt.
        return {"batch_id": row["provider_ref"], "confirmed": history_event == "posted"}
    if kind == "posted_late":
        lawful = row["lawful_deadline"]
        return {
            "batch_id": row["provider_ref"],
            "lawful_deadline": _day(lawful),
            "next_step_on": _day(lawful + timedelta(days=1)) if lawful else None,
        }
    if kind == "sent":
        return {"reference": row["provider_ref"]}
    if kind == "delivered":
        delivered_at = row["delivered_at"]
        return {
            "delivery_method": row["delivery_method"],
            "delivered_at": as_utc(delivered_at).isoformat(timespec="seconds")
            if delivered_at
            else None,
        }
    if kind in ("opened", "print-failed", "channel-event"):
        return {"channel_event": history_event, "reason": detail}
    if kind in ("refused", "held", "withdrawn", "cancelled", "recovered"):
        return {"reason": detail}
    return {}


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


class Outbox:
    # Typed by what it needs: the history stages events, and the ledger's store, which
    # writes history, would otherwise import this module back.
    def __init__(self, ledger: Transactions) -> None:
        self.ledger = ledger

    def pending(self, limit: int = 100) -> list[OutboxEvent]:
        """Events not yet published, in the order they were written."""
        query = (
            select(event_outbox)
            .where(event_outbox.c.published_at.is_(None))
            .order_by(event_outbox.c.position)
            .limit(limit)
        )
        return self._events(query)

    def pending_count(self) -> int:
        query = select(func.count()).where(event_outbox.c.published_at.is_(None))
        with self.ledger.transaction() as conn:
            return int(conn.execute(query).scalar_one())

    def mark_published(self, event_ids: Sequence[str], at: datetime) -> None:
        if not event_ids:
            return
        with self.ledger.transaction() as conn:
            conn.execute(
                update(event_outbox)
                .where(event_outbox.c.event_id.in_(list(event_ids)))
                .where(event_outbox.c.published_at.is_(None))
                .values(published_at=at)
            )

    def since(
        self,
        since: datetime,
        *,
        case_number: str | None = None,
        letter_id: str | None = None,
        limit: int | None = None,
    ) -> list[OutboxEvent]:
        """Events written at or after ``since`` (of one case or letter), oldest first."""
        query = select(event_outbox).where(event_outbox.c.at >= since)
        if case_number:
            query = query.where(event_outbox.c.case_number == case_number)
        if letter_id:
            query = query.where(event_outbox.c.letter_id == letter_id)
        query = query.order_by(event_outbox.c.position)
        return self._events(query.limit(limit) if limit else query)

    def for_letter(self, letter_id: str) -> list[OutboxEvent]:
        query = (
            select(event_outbox)
            .where(event_outbox.c.letter_id == letter_id)
            .order_by(event_outbox.c.sequence)
        )
        return self._events(query)

    def prune(self, before: datetime) -> int:
        """Forget published events older than ``before`` (LETTERS_EVENTS_KEEP)."""
        with self.ledger.transaction() as conn:
            result = conn.execute(
                delete(event_outbox)
                .where(event_outbox.c.published_at.is_not(None))
                .where(event_outbox.c.at < before)
            )
            return int(result.rowcount or 0)

    def _events(self, query: Any) -> list[OutboxEvent]:
        with self.ledger.transaction() as conn:
            return [
                OutboxEvent(
                    position=row.position,
                    event_id=row.event_id,
                    letter_id=row.letter_id,
                    case_number=row.case_number,
                    sequence=row.sequence,
                    kind=row.kind,
                    at=as_utc(row.at),
                    body=row.body,
                    published_at=as_utc(row.published_at) if row.published_at else None,
                )
                for row in conn.execute(query)
            ]
