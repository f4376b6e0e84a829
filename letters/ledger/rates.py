"""The rates operations add, approve and withdraw; the one owner of ``rate_rows`` and
``rate_changes``.

A row is written once and never changed (the database refuses edits); what
becomes of it is a change row: ``added``, ``approved`` (by someone other than
who added it), ``withdrawn``. Each change is a ``rates_changed`` event in the
outbox, written in the same transaction, so the case system and auditors hear
of it. Every worker reads the rows from here, so a rate approved once is used
by all of them (``version`` tells a worker when to read them again).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select
from sqlalchemy.exc import IntegrityError

from letters.clock import as_utc
from letters.domain.rates import Rate, RateKind
from letters.errors import PermanentError
from letters.ledger import outbox
from letters.ledger.engine import Readings
from letters.ledger.records import LetterStatus
from letters.ledger.schema import letters, rate_changes, rate_rows

ADDED, APPROVED, WITHDRAWN = "added", "approved", "withdrawn"
# A missing rate joined to the next in a letter's held_for_rates.
HOLD_KEY_SEPARATOR = ", "


class RateChangeRefused(PermanentError):
    """The change would break a rule of the rate book (who may approve, what is final)."""


@dataclass(frozen=True, slots=True)
class RateChange:
    row_id: str
    action: str
    by: str
    at: datetime
    note: str | None


@dataclass(frozen=True, slots=True)
class RateEntry:
    """An operator's row and what has become of it."""

    row_id: str
    kind: RateKind
    valid_from: date
    value: Decimal
    source: str
    added_by: str
    added_at: datetime
    approved: RateChange | None
    withdrawn: RateChange | None

    @property
    def status(self) -> str:
        if self.withdrawn is not None:
            return WITHDRAWN
        return APPROVED if self.approved is not None else "awaiting approval"

    def as_rate(self) -> Rate:
        return Rate(
            self.kind,
            self.valid_from,
            self.value,
            self.source,
            checked=self.approved is not None and self.withdrawn is None,
            row_id=self.row_id,
            added_by=self.added_by,
            approved_by=self.approved.by if self.approved else None,
        )


class RateBook:
    def __init__(self, ledger: Readings) -> None:
        self.ledger = ledger

    # -- reading -------------------------------------------------------------------

    def entries(self) -> list[RateEntry]:
        """Every row operations added, withdrawn ones too, in the order they were added."""
        with self.ledger.reading() as conn:
            return _entries(conn)

    def rates(self) -> list[Rate]:
        """The rows a rate table may use: every one not withdrawn (approved or not)."""
        return [e.as_rate() for e in self.entries() if e.withdrawn is None]

    def changes(self, row_id: str | None = None) -> list[RateChange]:
        query = select(rate_changes).order_by(rate_changes.c.id)
        if row_id is not None:
            query = query.where(rate_changes.c.row_id == row_id)
        with self.ledger.reading() as conn:
            return [_change(r) for r in conn.execute(query)]

    def version(self) -> int:
        """Grows with every change: a worker reads the rows again when it has."""
        with self.ledger.reading() as conn:
            return int(
                conn.execute(select(func.coalesce(func.max(rate_changes.c.id), 0))).scalar_one()
            )

    def holding(self) -> dict[str, int]:
        """How many letters each missing rate holds (a letter may wait for several)."""
        query = (
            select(letters.c.held_for_rates, func.count())
            .where(letters.c.status == LetterStatus.HELD)
            .where(letters.c.held_for_rates.is_not(None))
            .group_by(letters.c.held_for_rates)
        )
        counts: Counter[str] = Counter()
        with self.ledger.reading() as conn:
            for keys, count in conn.execute(query):
                for key in str(keys).split(HOLD_KEY_SEPARATOR):
                    counts[key] += int(count)
        return dict(sorted(counts.items()))

    def held_letters(self, keys: str) -> list[str]:
        """The letters held for exactly these missing rates."""
        query = (
            select(letters.c.letter_id)
            .where(letters.c.status == LetterStatus.HELD)
            .where(letters.c.held_for_rates == keys)
        )
        with self.ledger.reading() as conn:
            return list(conn.execute(query).scalars())

    def hold_keys(self) -> list[str]:
        """Each distinct set of missing rates letters are held for."""
        query = (
            select(letters.c.held_for_rates)
            .where(letters.c.status == LetterStatus.HELD)
            .where(letters.c.held_for_rates.is_not(None))
            .distinct()
        )
        with self.ledger.reading() as conn:
            return sorted(str(k) for k in conn.execute(query).scalars())

    # -- writing -------------------------------------------------------------------

    def add(
        self, kind: RateKind, valid_from: date, value: Decimal, source: str, by: str, now: datetime
    ) -> RateEntry:
        """A new row, awaiting approval by someone other than ``by``."""
        for _ in range(5):
            try:
                with self.ledger.transaction() as conn:
                    row_id = _next_row_id(conn)
                    conn.execute(
                        insert(rate_rows).values(
                            row_id=row_id,
                            kind=kind.value,
                            valid_from=valid_from,
                            value=str(value),
                            source=source,
                            added_by=by,
                            added_at=now,
                        )
                    )
                    _change_row(conn, row_id, ADDED, by, now, None)
                    return _entry_of(conn, row_id)
            except IntegrityError:
                continue  # another operator took the id at the same moment
        raise RateChangeRefused("could not number the new row; try again")

    def approve(self, row_id: str, by: str, now: datetime, note: str | None = None) -> RateEntry:
        with self.ledger.transaction() as conn:
            entry = _locked_entry(conn, row_id)
            if entry.withdrawn is not None:
                raise RateChangeRefused(f"{row_id} was withdrawn; add the rate again")
            if entry.approved is not None:
                raise RateChangeRefused(f"{row_id} was approved already by {entry.approved.by}")
            if _same_person(entry.added_by, by):
                raise RateChangeRefused(
                    f"{row_id} was added by {entry.added_by}: a second person must approve it"
                )
            _change_row(conn, row_id, APPROVED, by, now, note)
            return _entry_of(conn, row_id)

    def withdraw(self, row_id: str, by: str, now: datetime, note: str) -> RateEntry:
        """The row is used no more (approved or not); it stays in the book."""
        with self.ledger.transaction() as conn:
            entry = _locked_entry(conn, row_id)
            if entry.withdrawn is not None:
                raise RateChangeRefused(f"{row_id} was withdrawn already by {entry.withdrawn.by}")
            _change_row(conn, row_id, WITHDRAWN, by, now, note)
            return _entry_of(conn, row_id)


def _same_person(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _next_row_id(conn: Connection) -> str:
    ids = conn.execute(select(rate_rows.c.row_id)).scalars()
    numbers = [int(i[1:]) for i in ids if i[1:].isdigit()]
    return f"R{max(numbers, default=0) + 1}"


def _change_row(
    conn: Connection, row_id: str, action: str, by: str, now: datetime, note: str | None
) -> None:
    conn.execute(
        insert(rate_changes).values(row_id=row_id, action=action, by=by, at=now, note=note)
    )
    entry = _entry_of(conn, row_id)
    outbox.stage_rate_change(
        conn,
        now,
        {
            "rate_id": row_id,
            "rate_kind": entry.kind.value,
            "valid_from": entry.valid_from.isoformat(),
            "value": str(entry.value),
            "action": action,
            "by": by,
            "source": entry.source,
            "note": note,
        },
    )


def _locked_entry(conn: Connection, row_id: str) -> RateEntry:
    # Two approvals at once: the second waits for the first and then sees it.
    locked = conn.execute(
        select(rate_rows.c.row_id).where(rate_rows.c.row_id == row_id).with_for_update()
    ).first()
    if locked is None:
        raise RateChangeRefused(f"no rate row {row_id} (letters rates list shows them)")
    return _entry_of(conn, row_id)


def _entry_of(conn: Connection, row_id: str) -> RateEntry:
    [entry] = [e for e in _entries(conn, row_id) if e.row_id == row_id]
    return entry


def _entries(conn: Connection, row_id: str | None = None) -> list[RateEntry]:
    rows_query = select(rate_rows).order_by(rate_rows.c.added_at, rate_rows.c.row_id)
    changes_query = select(rate_changes).order_by(rate_changes.c.id)
    if row_id is not None:
        rows_query = rows_query.where(rate_rows.c.row_id == row_id)
        changes_query = changes_query.where(rate_changes.c.row_id == row_id)
    approved: dict[str, RateChange] = {}
    withdrawn: dict[str, RateChange] = {}
    for r in conn.execute(changes_query):
        change = _change(r)
        if change.action == APPROVED:
            approved.setdefault(change.row_id, change)
        elif change.action == WITHDRAWN:
            withdrawn.setdefault(change.row_id, change)
    return [
        RateEntry(
            row_id=r.row_id,
            kind=RateKind(r.kind),
            valid_from=r.valid_from,
            value=Decimal(r.value),
            source=r.source,
            added_by=r.added_by,
            added_at=as_utc(r.added_at),
            approved=approved.get(r.row_id),
            withdrawn=withdrawn.get(r.row_id),
        )
        for r in conn.execute(rows_query)
    ]


def _change(r: Row[Any]) -> RateChange:
    return RateChange(r.row_id, r.action, r.by, as_utc(r.at), r.note)
