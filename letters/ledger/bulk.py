"""Writing the history of many letters at once, as the service would have written it.

For the scale benchmark (``./dev bench-scale``), which fills a ledger with
years of letters: the rows are the ledger's own: the request sealed with
its blind index, one history line per step, the published ``letters.event/1``
events the outbox would have staged (with their bodies and sequences), and
the channels' delivery events. One transaction per call, with each table's
rows inserted together; nothing is read back.

It writes past history only: it does not apply the state machine (the rows
are the end of transitions that were allowed), and it is not used by the
service itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from letters.digests import sha256_hex
from letters.ledger import history, outbox
from letters.ledger.engine import insert_rows
from letters.ledger.schema import delivery_events, event_outbox, letters

if TYPE_CHECKING:
    from letters.ledger.store import Ledger


_EMPTY_ROW: dict[str, Any] = {column.name: None for column in letters.columns}


@dataclass(frozen=True, slots=True)
class PastDelivery:
    channel: str
    event: str
    occurred_at: datetime
    detail: str | None
    # The provider's identity of the event (unique in the ledger).
    key: str


@dataclass(frozen=True, slots=True)
class PastLetter:
    # The letters row as its last change left it; ``request`` is the request in plain
    # text (sealed here), and ``event_sequence`` is counted here.
    row: Mapping[str, Any]
    # Its history, oldest first: (event, at, detail).
    history: Sequence[tuple[str, datetime, str | None]]
    deliveries: Sequence[PastDelivery] = field(default_factory=tuple)


def write_past_letters(
    ledger: Ledger,
    past: Sequence[PastLetter],
    published_before: datetime | None,
    kept_since: datetime | None = None,
) -> None:
    """Write ``past`` in one transaction; its events at or before ``published_before`` are
    marked published (the relay sent them), the later ones wait in the outbox. Published
    events before ``kept_since`` are left out, as the relay's pruning would have left them
    (``LETTERS_EVENTS_KEEP``); their sequence numbers are counted all the same."""
    letter_rows: list[dict[str, Any]] = []
    history_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for letter in past:
        # Every column, so that each row has the shape the outbox reads and one insert
        # takes them all.
        row = {**_EMPTY_ROW, "attempts": 0, **letter.row}
        letter_id = row["letter_id"]
        request = row.pop("request")
        if row.get("personal_data_erased_at") is None:
            sealed = ledger._personal(request, letter_id)
        else:
            assert ledger.sealer is not None  # noqa: S101 - _personal checks it first
            sealed = {"request": ledger.sealer.seal_lasting(request, letter_id), "nin_index": None}
        row.update(sealed, request_sha256=sha256_hex(request.encode()), event_sequence=0)
        for event, at, detail in letter.history:
            history_rows.append(
                {"letter_id": letter_id, "event": event, "at": at, "detail": detail}
            )
            if not outbox.is_published(event, False):
                continue
            row["event_sequence"] += 1
            late = published_before is None or at > published_before
            if not late and kept_since is not None and at < kept_since:
                continue
            staged = outbox.event_row(row, event, at, detail)
            staged["published_at"] = None if late else at
            event_rows.append(staged)
        letter_rows.append(row)
        delivery_rows.extend(
            {
                "letter_id": letter_id,
                "channel": d.channel,
                "event": d.event,
                "occurred_at": d.occurred_at,
                "recorded_at": d.occurred_at,
                "detail": d.detail,
                "event_key": d.key,
            }
            for d in letter.deliveries
        )
    with ledger.transaction() as conn:
        history.insert_past_letters(conn, letter_rows, history_rows)
        insert_rows(conn, event_outbox, event_rows)
        insert_rows(conn, delivery_events, delivery_rows)


def analyze(ledger: Ledger) -> None:
    """After a bulk write, do what autovacuum would in its own time: on PostgreSQL,
    ``VACUUM ANALYZE`` (the planner's statistics, and the visibility map that lets a count
    read an index alone: on a million letters just written, the status counts took 3 s
    before and 6 ms after); on SQLite, ``ANALYZE``."""
    if ledger.engine.dialect.name == "postgresql":
        with ledger.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        return
    with ledger.transaction() as conn:
        conn.exec_driver_sql("ANALYZE")
