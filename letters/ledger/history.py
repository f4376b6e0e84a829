"""The one writer of the ``letters`` rows and their append-only history.

Every change to a letter goes through ``record`` (or ``insert_letter`` for a
new one), which changes the row and appends the event in the same
transaction, so no status ever changes without a line in the history, nor
without the ``letters.event/1`` event the case system hears it by (staged in
the outbox, ``letters.ledger.outbox``, in that same transaction). The
database refuses updates and deletes of ``letter_events`` (a trigger), but for
the lines of a letter whose history was put away in the archive once its
personal data was erased (``put_away``); this module is the only code that
writes to it, and a test checks that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from letters.ledger import outbox
from letters.ledger.engine import insert_rows
from letters.ledger.records import ALLOWED_FROM, ForbiddenTransitionError, LetterStatus
from letters.ledger.schema import letter_events, letters


def insert_letter(
    conn: Connection,
    values: dict[str, Any],
    events: Sequence[tuple[str, str | None]],
    now: datetime,
) -> Mapping[str, Any]:
    """A new letter row and its first events; IntegrityError if the letter id is taken.
    Returns the row as its events left it."""
    row: Mapping[str, Any] = dict(
        conn.execute(
            insert(letters).values(created_at=now, updated_at=now, **values).returning(*letters.c)
        )
        .one()
        ._mapping
    )
    for event, detail in events:
        row = append_event(conn, values["letter_id"], event, now, detail) or row
    return row


def insert_past_letters(
    conn: Connection, rows: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]]
) -> None:
    """Letters and their history as the service left them, written at once
    (``letters.ledger.bulk``, the scale benchmark's fill); nothing is staged here."""
    insert_rows(conn, letters, rows)
    insert_rows(conn, letter_events, events)


def record(
    conn: Connection,
    letter_id: str,
    event: str,
    now: datetime,
    detail: str | None,
    *,
    only_if: ColumnElement[bool] | None = None,
    facts: Mapping[str, Any] | None = None,
    strict: bool = False,
    **values: Any,
) -> bool:
    """Set ``values`` on the letter (``status`` among them for a status change) and append
    ``event`` to its history; with ``only_if``, only when that condition holds.

    A status change is made only from a status ``ALLOWED_FROM`` lists for the new
    one; this is the one place that refuses a forbidden transition. Returns whether
    the letter was changed (the event is appended only then); with ``strict``, a
    refused status change raises ForbiddenTransitionError instead, naming both
    statuses. ``facts``: what the published event adds that the row does not hold.
    """
    if only_if is not None and not values:
        raise ValueError("only_if needs values to set: the condition is checked by the update")
    if not values:
        append_event(conn, letter_id, event, now, detail)
        return True
    target = values.get("status")
    if target is not None:
        allowed = letters.c.status.in_(sorted(ALLOWED_FROM[LetterStatus(target)]))
        only_if = allowed if only_if is None else and_(allowed, only_if)
    statement = update(letters).where(letters.c.letter_id == letter_id)
    if only_if is not None:
        statement = statement.where(only_if)
    statement = statement.values(updated_at=now, **values)
    if not outbox.is_published(event, False):
        changed = bool(conn.execute(statement).rowcount)
        if changed:
            _insert_event(conn, letter_id, event, now, detail)
    else:
        # One statement changes the row and counts its events up (see append_event).
        row = conn.execute(
            statement.values(event_sequence=letters.c.event_sequence + 1).returning(*letters.c)
        ).first()
        changed = row is not None
        if row is not None:
            _insert_event(conn, letter_id, event, now, detail)
            outbox.stage(conn, dict(row._mapping), event, now, detail, facts=facts)
    if not changed and strict and target is not None:
        current = conn.execute(
            select(letters.c.status).where(letters.c.letter_id == letter_id)
        ).scalar_one_or_none()
        raise ForbiddenTransitionError(
            f"letter {letter_id}: {current or 'not in the ledger'} cannot become {target}"
        )
    return changed


def append_event(
    conn: Connection,
    letter_id: str,
    event: str,
    now: datetime,
    detail: str | None,
    *,
    channel_event: bool = False,
) -> Mapping[str, Any] | None:
    """Append ``event`` to the letter's history, and stage its ``letters.event/1`` event
    in the outbox when it is one the case system hears of. ``channel_event``: a
    channel's own news (Digipost's document events), which changes nothing in the row.
    Returns the row when it was counted up for a staged event.
    """
    _insert_event(conn, letter_id, event, now, detail)
    if not outbox.is_published(event, channel_event):
        return None
    # Counting the letter's events up locks its row until the transaction ends, so the
    # sequence numbers of one letter follow the order its changes commit in.
    row = conn.execute(
        update(letters)
        .where(letters.c.letter_id == letter_id)
        .values(event_sequence=letters.c.event_sequence + 1)
        .returning(*letters.c)
    ).one()
    counted = dict(row._mapping)
    outbox.stage(conn, counted, event, now, detail, channel_event=channel_event)
    return counted


def _insert_event(
    conn: Connection, letter_id: str, event: str, now: datetime, detail: str | None
) -> None:
    conn.execute(
        insert(letter_events).values(letter_id=letter_id, event=event, at=now, detail=detail)
    )


HISTORY_ARCHIVED_EVENT = "history_archived"


def put_away(
    conn: Connection,
    lines_of: Mapping[str, Sequence[int]],
    key: str,
    now: datetime,
    detail_of: Mapping[str, str],
) -> list[str]:
    """Record that each letter's history up to its last line in ``lines_of`` is kept in
    the archive under ``key``, delete those lines, and append one line per letter saying
    where they went (``detail_of``). Returns the letters put away now: one whose history
    another pass put away first is left as it is.

    A handful of statements for the whole batch, not a handful per letter. The rows'
    ``updated_at`` stays: the letters did not change, and the operations page and the
    metrics count settled letters by it.
    """
    ready = list(
        conn.execute(
            select(letters.c.letter_id)
            .where(letters.c.letter_id.in_(sorted(lines_of)))
            .where(letters.c.history_archive_key.is_(None))
            .order_by(letters.c.letter_id)
            .with_for_update()
        ).scalars()
    )
    if not ready:
        return []
    conn.execute(
        update(letters)
        .where(letters.c.letter_id == bindparam("put_away_id"))
        .values(history_archive_key=key, history_archived_through=bindparam("through")),
        [{"put_away_id": i, "through": max(lines_of[i], default=0)} for i in ready],
    )
    # The lines saying where they went come first: SQLite numbers a new row one past the
    # highest left, so a line added after deleting a letter's newest ones could be given
    # a number its row says was put away.
    conn.execute(
        insert(letter_events),
        [
            {"letter_id": i, "event": HISTORY_ARCHIVED_EVENT, "at": now, "detail": detail_of[i]}
            for i in ready
        ],
    )
    gone = sorted(line for i in ready for line in lines_of[i])
    for start in range(0, len(gone), _DELETE_CHUNK):
        # The trigger lets these go only because the rows now say they are put away.
        chunk = gone[start : start + _DELETE_CHUNK]
        conn.execute(delete(letter_events).where(letter_events.c.id.in_(chunk)))
    return ready


# Ids per DELETE: well under SQLite's and PostgreSQL's limits on bound parameters.
_DELETE_CHUNK = 5000


def seal_in_place(
    conn: Connection, letter_id: str, stored: str, sealed: str, nin_index: str | None
) -> bool:
    """Replace a request stored in the clear by the same request sealed, if it is still
    ``stored``: the one change that is no step of the letter's, so it adds no history line
    (``letters.ledger.personal_data`` seals a ledger from before sealing)."""
    return bool(
        conn.execute(
            update(letters)
            .where(letters.c.letter_id == letter_id, letters.c.request == stored)
            .values(request=sealed, nin_index=nin_index)
        ).rowcount
    )


def reseal_in_place(conn: Connection, letter_id: str, stored: str, sealed: str) -> bool:
    """Replace a sealed request by the same request sealed under another key, if it is still
    ``stored`` (re-keying, ``letters.ledger.rekeying``); no step of the letter's either."""
    return bool(
        conn.execute(
            update(letters)
            .where(letters.c.letter_id == letter_id, letters.c.request == stored)
            .values(request=sealed)
        ).rowcount
    )
