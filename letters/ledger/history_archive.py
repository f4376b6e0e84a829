"""The history of letters whose personal data is erased: read out, then deleted once kept.

A letter's history lines and delivery events are the ledger's largest tables
and grow for ever. Once retention has erased a letter's personal data, its
history is only ever read again by someone looking into that one letter, so it
is put away in the archive (``letters.operations.history_put_away`` writes the
file) and deleted here, in the transaction that records where it went.

Two steps, and a crash between them is harmless: the file is written first,
under a name made of its own digest, so writing it again writes nothing new;
then one transaction per batch marks each letter put away, deletes exactly the
rows the file holds and adds one history line naming the file. A letter
already marked is skipped, so two passes over the same letters put each away
once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text

from letters.clock import as_utc
from letters.ledger import history
from letters.ledger.delivery_events import delete_put_away
from letters.ledger.schema import HISTORY_DUE_SQL, delivery_events, letter_events, letters

if TYPE_CHECKING:  # the ledger hands this store out (letters.ledger.stores)
    from letters.ledger.store import Ledger


@dataclass(frozen=True, slots=True)
class PastHistory:
    """One letter's history and delivery events, as read to be put away."""

    letter_id: str
    case_number: str
    erased_at: datetime
    # Each line: {"line", "event", "at", "detail"}; each delivery event: {"channel",
    # "event", "occurred_at", "recorded_at", "detail", "event_key"}; oldest first.
    lines: tuple[dict[str, Any], ...]
    delivery_events: tuple[dict[str, Any], ...]
    delivery_event_ids: tuple[int, ...]

    @property
    def line_ids(self) -> list[int]:
        return [line["line"] for line in self.lines]


class HistoryArchive:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def due(self, erased_before: datetime, limit: int) -> list[PastHistory]:
        """The histories of up to ``limit`` letters erased before ``erased_before`` and
        not put away yet, longest erased first (read from an index of only them)."""
        chosen = (
            select(letters.c.letter_id, letters.c.case_number, letters.c.personal_data_erased_at)
            .where(text(HISTORY_DUE_SQL), letters.c.personal_data_erased_at < erased_before)
            .order_by(letters.c.personal_data_erased_at, letters.c.letter_id)
            .limit(limit)
        )
        with self.ledger.reading() as conn:
            rows = conn.execute(chosen).all()
            ids = [row.letter_id for row in rows]
            lines = _by_letter(
                conn.execute(
                    select(letter_events)
                    .where(letter_events.c.letter_id.in_(ids))
                    .order_by(letter_events.c.id)
                )
            )
            events = _by_letter(
                conn.execute(
                    select(delivery_events)
                    .where(delivery_events.c.letter_id.in_(ids))
                    .order_by(delivery_events.c.id)
                )
            )
        return [
            PastHistory(
                letter_id=row.letter_id,
                case_number=row.case_number,
                erased_at=as_utc(row.personal_data_erased_at),
                lines=tuple(_line(r) for r in lines.get(row.letter_id, [])),
                delivery_events=tuple(_delivery_event(r) for r in events.get(row.letter_id, [])),
                delivery_event_ids=tuple(r.id for r in events.get(row.letter_id, [])),
            )
            for row in rows
        ]

    def count_due(self, erased_before: datetime) -> int:
        query = (
            select(func.count())
            .select_from(letters)
            .where(text(HISTORY_DUE_SQL), letters.c.personal_data_erased_at < erased_before)
        )
        with self.ledger.reading() as conn:
            return int(conn.execute(query).scalar_one())

    def put_away(
        self, histories: Sequence[PastHistory], key: str, now: datetime
    ) -> list[PastHistory]:
        """Record ``histories`` as kept in the archive under ``key`` and delete them from
        the ledger, in one transaction; the ones put away now (a letter another pass put
        away first is left as that pass left it)."""
        by_id = {past.letter_id: past for past in histories}
        with self.ledger.transaction() as conn:
            ready = history.put_away(
                conn,
                {past.letter_id: past.line_ids for past in histories},
                key,
                now,
                {
                    past.letter_id: (
                        f"history put away in the archive: {len(past.lines)} lines and "
                        f"{len(past.delivery_events)} delivery events, {key}"
                    )
                    for past in histories
                },
            )
            delete_put_away(conn, [e for i in ready for e in by_id[i].delivery_event_ids])
        return [by_id[i] for i in ready]


def _by_letter(rows: Any) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.letter_id, []).append(row)
    return grouped


def _line(row: Any) -> dict[str, Any]:
    return {"line": row.id, "event": row.event, "at": _iso(row.at), "detail": row.detail}


def _delivery_event(row: Any) -> dict[str, Any]:
    return {
        "channel": row.channel,
        "event": row.event,
        "occurred_at": _iso(row.occurred_at),
        "recorded_at": _iso(row.recorded_at),
        "detail": row.detail,
        "event_key": row.event_key,
    }


def _iso(moment: datetime) -> str:
    return as_utc(moment).isoformat()
