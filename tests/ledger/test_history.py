"""The one writer of the letters and their history: a change, its history line and its
event are written together or not at all, and only a change the state machine allows,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest

from letters.clock import utcnow
from letters.digests import sha256_hex
from letters.ledger import Ledger, LetterStatus
from letters.ledger import history as letter_history
from letters.ledger.records import ALLOWED_FROM, ForbiddenTransitionError, NewBatch, NewMember
from letters.ledger.schema import letters as letters_table
from tests.support.ledger_rows import force_status

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


# -- the state machine ------------------------------------------------------------------------


def _force_status(ledger: Ledger, status: LetterStatus) -> None:
    force_status(ledger, LETTER, status)


def _change(ledger: Ledger, to: LetterStatus, *, strict: bool = False) -> bool:
    with ledger.transaction() as conn:
        return letter_history.record(
            conn, LETTER, to, utcnow(), "a test's change", strict=strict, status=to
        )


def test_every_transition_the_table_does_not_list_is_refused_and_every_one_it_lists_is_made(
    ledger: Ledger,
) -> None:
    _accepted(ledger)
    refused = made = 0
    for source, target in itertools.product(LetterStatus, LetterStatus):
        _force_status(ledger, source)
        before = _state(ledger)
        changed = _change(ledger, target)
        if source in ALLOWED_FROM[target]:
            assert changed, f"{source} -> {target} is listed but was refused"
            assert ledger.get(LETTER).status is target  # type: ignore[union-attr]
            made += 1
            continue
        assert not changed, f"{source} -> {target} is not listed but was made"
        assert _state(ledger) == before, f"{source} -> {target} left a trace"
        with pytest.raises(ForbiddenTransitionError, match=f"{source} cannot become {target}"):
            _change(ledger, target, strict=True)
        assert _state(ledger) == before
        refused += 1
    # Every status is in the table, and the table forbids most pairs.
    assert set(ALLOWED_FROM) == set(LetterStatus)
    assert made + refused == len(LetterStatus) ** 2
    assert refused > made > 0


def test_the_ledgers_verbs_go_through_the_table(ledger: Ledger) -> None:
    _accepted(ledger)
    _force_status(ledger, LetterStatus.SENT)
    # A step of the worker's on a letter that has left: refused, loudly.
    with pytest.raises(ForbiddenTransitionError, match="sent cannot become routed"):
        ledger.record_routed(LETTER, "print", "no consent")
    # A failure or a dead letter recorded late never takes a sent letter back.
    ledger.record_failed(LETTER, 2, "timeout", None)
    ledger.dead_letters.record(
        dead_id="dead-1",
        letter_id=LETTER,
        case_number="2026-0045127",
        reason="late",
        attempts=3,
        body=b"{}",
        body_sha256=sha256_hex(b"{}"),
        known_letter=True,
    )
    assert ledger.get(LETTER).status is LetterStatus.SENT  # type: ignore[union-attr]
    # Cancelling a batched letter is the batch's to do, with the letter taken out of it.
    _force_status(ledger, LetterStatus.BATCHED)
    assert ledger.record_cancelled(LETTER, "case paid") is False
    assert ledger.get(LETTER).status is LetterStatus.BATCHED  # type: ignore[union-attr]


def _member() -> NewMember:
    return NewMember(
        letter_id=LETTER,
        case_number="2026-0045127",
        page_count=2,
        country="NO",
        destination="domestic",
        postage_class="domestic",
    )


def test_a_letters_place_in_a_batch_and_its_batched_status_are_one_transaction(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    _accepted(ledger)
    _force_status(ledger, LetterStatus.ARCHIVED)
    now = utcnow()
    batch = NewBatch("20270105-D-0a1b2c3d", now + timedelta(hours=4))

    def stop(*args: object, **kwargs: object) -> bool:
        raise Interrupted

    with monkeypatch.context() as patched:
        patched.setattr(letter_history, "record", stop)
        with pytest.raises(Interrupted):
            ledger.batches.add(_member(), now, 500, batch, "print")
    assert ledger.batches.batch_of(LETTER) is None
    assert ledger.batches.batches() == []
    assert ledger.get(LETTER).status is LetterStatus.ARCHIVED  # type: ignore[union-attr]

    placement = ledger.batches.add(_member(), now, 500, batch, "print")
    record = ledger.get(LETTER)
    assert record is not None
    assert (record.status, record.provider_ref) == (LetterStatus.BATCHED, placement.batch_id)
    assert (
        ledger.history(LETTER)[-1].detail == f"print: batch {batch.batch_id} (domestic), letter 1"
    )


def test_a_withdrawal_the_table_refuses_leaves_the_letter_in_its_batch(ledger: Ledger) -> None:
    _accepted(ledger)
    _force_status(ledger, LetterStatus.ARCHIVED)
    now = utcnow()
    ledger.batches.add(_member(), now, 500, NewBatch("20270105-D-0a1b2c3d", now), "print")
    _force_status(ledger, LetterStatus.SENT)  # the letter moved on meanwhile
    with pytest.raises(ForbiddenTransitionError, match="sent cannot become withdrawn"):
        ledger.batches.withdraw(LETTER, LetterStatus.WITHDRAWN, "case on hold")
    assert ledger.batches.batch_of(LETTER) is not None
    assert ledger.get(LETTER).status is LetterStatus.SENT  # type: ignore[union-attr]
