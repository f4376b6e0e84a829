"""The one writer of the letters and their history: a change, its history line and its
event are written together or not at all, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import pytest

from letters.clock import utcnow
from letters.ledger import Ledger, LetterStatus
from letters.ledger import history as letter_history
from letters.ledger.schema import letters as letters_table

LETTER = "4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61"


class Interrupted(Exception):
    """Raised inside a transaction: the process stopped halfway."""


def _accepted(ledger: Ledger) -> None:
    ledger.accept(
        letter_id=LETTER,
        case_number="2026-0045127",
        letter_type="purring",
        language="nb",
        request=json.dumps({"letter_id": LETTER}),
    )


def _route(ledger: Ledger, *, then_stop: bool) -> None:
    with ledger.transaction() as conn:
        changed = letter_history.record(
            conn, LETTER, LetterStatus.ROUTED, utcnow(), "print: no consent",
            status=LetterStatus.ROUTED, channel="print", route_reason="no consent",
        )  # fmt: skip
        assert changed
        if then_stop:
            raise Interrupted


def _insert_then_stop(ledger: Ledger, values: dict[str, object]) -> None:
    with ledger.transaction() as conn:
        letter_history.insert_letter(conn, values, [(LetterStatus.ACCEPTED, None)], utcnow())
        raise Interrupted


def _state(ledger: Ledger) -> tuple[object, ...]:
    record = ledger.get(LETTER)
    return (
        record and (record.status, record.channel, record.event_sequence),
        [(e.event, e.detail) for e in ledger.history(LETTER)],
        [(e.kind, e.sequence) for e in ledger.outbox.for_letter(LETTER)],
    )


def test_a_change_rolled_back_leaves_neither_the_row_nor_the_event_nor_the_outbox_line(
    ledger: Ledger,
) -> None:
    _accepted(ledger)
    before = _state(ledger)
    assert before[2] == [("accepted", 1)]
    with pytest.raises(Interrupted):
        _route(ledger, then_stop=True)
    assert _state(ledger) == before

    # The same change committed: all three are there, the event numbered next.
    _route(ledger, then_stop=False)
    record, events, outbox = _state(ledger)
    assert record == (LetterStatus.ROUTED, "print", 2)
    assert events[-1] == (LetterStatus.ROUTED, "print: no consent")
    assert outbox == [("accepted", 1), ("routed", 2)]


def test_a_new_letter_rolled_back_leaves_nothing(ledger: Ledger) -> None:
    values = ledger.accepted_values(
        letter_id=LETTER,
        case_number="2026-0045127",
        letter_type="purring",
        language="nb",
        request=json.dumps({"letter_id": LETTER}),
    )
    with pytest.raises(Interrupted):
        _insert_then_stop(ledger, values)
    assert _state(ledger) == (None, [], [])


def test_a_guarded_change_whose_guard_fails_writes_nothing(ledger: Ledger) -> None:
    _accepted(ledger)
    before = _state(ledger)
    with ledger.transaction() as conn:
        changed = letter_history.record(
            conn, LETTER, LetterStatus.DELIVERED, utcnow(), "not sent yet",
            only_if=letters_table.c.status == LetterStatus.SENT, status=LetterStatus.DELIVERED,
        )  # fmt: skip
    assert changed is False
    assert _state(ledger) == before
