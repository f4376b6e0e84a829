"""The one writer of the ``letters`` rows and their append-only history.

Every change to a letter goes through ``record`` (or ``insert_letter`` for a
new one), which changes the row and appends the event in the same
transaction, so no status ever changes without a line in the history. The
database refuses updates and deletes of ``letter_events`` (a trigger); this
module is the only code that inserts into it, and a test checks that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, update

from letters.ledger.schema import letter_events, letters


def insert_letter(
    conn: Connection,
    values: dict[str, Any],
    events: Sequence[tuple[str, str | None]],
    now: datetime,
) -> None:
    """A new letter row and its first events; IntegrityError if the letter id is taken."""
    conn.execute(insert(letters).values(created_at=now, updated_at=now, **values))
    for event, detail in events:
        append_event(conn, values["letter_id"], event, now, detail)


def record(
    conn: Connection,
    letter_id: str,
    event: str,
    now: datetime,
    detail: str | None,
    *,
    only_if: ColumnElement[bool] | None = None,
    **values: Any,
) -> bool:
    """Set ``values`` on the letter (``status`` among them for a status change) and append
    ``event`` to its history; with ``only_if``, only when that condition holds.

    Returns whether the letter was changed (the event is appended only then).
    """
    if only_if is not None and not values:
        raise ValueError("only_if needs values to set: the condition is checked by the update")
    if values:
        statement = update(letters).where(letters.c.letter_id == letter_id)
        if only_if is not None:
            statement = statement.where(only_if)
        if not conn.execute(statement.values(updated_at=now, **values)).rowcount:
            return False
    append_event(conn, letter_id, event, now, detail)
    return True


def append_event(
    conn: Connection, letter_id: str, event: str, now: datetime, detail: str | None
) -> None:
    """An event that changes nothing in the letter's row (a channel's delivery news)."""
    conn.execute(
        insert(letter_events).values(letter_id=letter_id, event=event, at=now, detail=detail)
    )
