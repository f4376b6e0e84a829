"""The rate book: rows operations add, approved by a second person, withdrawn, never edited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from letters.domain.rates import RateKind
from letters.ledger import Ledger
from letters.ledger.rates import RateBook, RateChangeRefused
from letters.ledger.schema import event_outbox
from tests.support.events import check_outbox
from tests.support.stacks import fresh_postgres_database, ledger_keys

NOW = datetime(2026, 12, 18, 9, 30, tzinfo=UTC)
H1_2027 = date(2027, 1, 1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    with ExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'ledger.db'}"
            if request.param == "sqlite"
            else stack.enter_context(fresh_postgres_database())
        )
        ledger = Ledger(url, ledger_keys())
        stack.callback(ledger.close)
        ledger.upgrade()
        yield ledger
        check_outbox(ledger)


def _add(book: RateBook, by: str = "Ola Operatør") -> str:
    entry = book.add(
        RateKind.LATE_PAYMENT_INTEREST, H1_2027, Decimal("11.75"), "FOR-2026-12-18-1 § 1", by, NOW
    )
    return entry.row_id


def test_a_row_is_used_only_once_someone_else_approves_it(ledger: Ledger) -> None:
    book = RateBook(ledger)
    row_id = _add(book)
    [added] = book.rates()
    assert (added.row_id, added.checked, added.added_by) == (row_id, False, "Ola Operatør")
    for same in ("Ola Operatør", "  ola   operatør "):
        with pytest.raises(RateChangeRefused, match="a second person must approve it"):
            book.approve(row_id, same, NOW)
    assert not book.rates()[0].checked
    entry = book.approve(row_id, "Kari Kontroll", NOW, "read in Lovdata")
    assert entry.status == "approved"
    [approved] = book.rates()
    assert approved.checked and approved.approved_by == "Kari Kontroll"
    with pytest.raises(RateChangeRefused, match="approved already by Kari Kontroll"):
        book.approve(row_id, "Per Tredje", NOW)


def test_a_withdrawn_row_is_kept_but_no_longer_offered_and_cannot_be_approved(
    ledger: Ledger,
) -> None:
    book = RateBook(ledger)
    row_id = _add(book)
    book.approve(row_id, "Kari Kontroll", NOW)
    version = book.version()
    entry = book.withdraw(row_id, "Kari Kontroll", NOW, "the regulation says 12.00")
    assert entry.status == "withdrawn" and entry.withdrawn and entry.withdrawn.note
    assert book.rates() == []
    assert [e.row_id for e in book.entries()] == [row_id]
    assert book.version() > version
    with pytest.raises(RateChangeRefused, match="withdrawn"):
        book.approve(row_id, "Per Tredje", NOW)
    with pytest.raises(RateChangeRefused, match="withdrawn already"):
        book.withdraw(row_id, "Per Tredje", NOW, "again")
    with pytest.raises(RateChangeRefused, match="no rate row R99"):
        book.approve("R99", "Per Tredje", NOW)
    assert [c.action for c in book.changes(row_id)] == ["added", "approved", "withdrawn"]


def test_every_change_is_a_rates_changed_event(ledger: Ledger) -> None:
    book = RateBook(ledger)
    row_id = _add(book)
    book.approve(row_id, "Kari Kontroll", NOW)
    book.withdraw(row_id, "Kari Kontroll", NOW, "typed wrong")
    with ledger.transaction() as conn:
        bodies = [json.loads(b) for b in conn.execute(select(event_outbox.c.body)).scalars()]
    assert [(b["kind"], b["details"]["action"]) for b in bodies] == [
        ("rates_changed", "added"),
        ("rates_changed", "approved"),
        ("rates_changed", "withdrawn"),
    ]
    first = bodies[0]
    assert first["letter_id"] is None and first["sequence"] is None
    assert first["details"] | {"note": None} == {
        "rate_id": row_id,
        "rate_kind": "late_payment_interest",
        "valid_from": "2027-01-01",
        "value": "11.75",
        "action": "added",
        "by": "Ola Operatør",
        "source": "FOR-2026-12-18-1 § 1",
        "note": None,
    }
    assert bodies[2]["details"]["note"] == "typed wrong"
    assert check_outbox(ledger) == 3  # each keeps queue/event.schema.json


def test_rows_and_their_changes_cannot_be_edited_or_deleted(ledger: Ledger) -> None:
    book = RateBook(ledger)
    row_id = _add(book)
    for statement in (
        "UPDATE rate_rows SET value = '1.00' WHERE row_id = :row_id",
        "DELETE FROM rate_changes WHERE row_id = :row_id",
        "DELETE FROM rate_rows WHERE row_id = :row_id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), ledger.engine.begin() as conn:
            conn.execute(text(statement), {"row_id": row_id})
    assert book.entries()[0].value == Decimal("11.75")


def test_rows_are_numbered_in_the_order_they_are_added(ledger: Ledger) -> None:
    book = RateBook(ledger)
    ids = [_add(book) for _ in range(11)]
    assert ids == [f"R{n}" for n in range(1, 12)]
