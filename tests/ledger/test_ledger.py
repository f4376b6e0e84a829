"""The ledger on SQLite and on PostgreSQL: migrations, idempotent accept, history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from letters.clock import utcnow
from letters.ledger import FINISHED, Ledger, LetterStatus
from letters.ledger.database import MIGRATIONS
from letters.ledger.dead_letters import DeadLetterStore


def _accept(ledger: Ledger, letter_id: str = "4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61") -> None:
    ledger.accept(
        letter_id=letter_id,
        case_number="2026-0045127",
        letter_type="purring",
        language="nb",
        request=json.dumps({"letter_id": letter_id}),
    )


def test_migrations_are_versioned_and_can_run_again(ledger: Ledger) -> None:
    ledger.upgrade()
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0013"


def test_a_ledger_of_the_first_version_upgrades_with_its_letters(ledger: Ledger) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # A connection without a transaction: each migration is its own, as Ledger.upgrade
    # runs them on PostgreSQL (an index built concurrently steps outside it).
    with ledger.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
        # A letter as the first version stored it (the code now selects newer columns).
        conn.execute(
            text(
                "INSERT INTO letters (letter_id, case_number, letter_type, language, status, "
                "attempts, request, request_sha256, created_at, updated_at) VALUES (:id, "
                "'2026-0045127', 'purring', 'nb', 'sent', 0, '{}', '', :now, :now)"
            ),
            {"id": "4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61", "now": datetime.now(UTC)},
        )
        conn.commit()
    ledger.upgrade()
    record = ledger.get("4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61")
    assert record is not None and record.case_number == "2026-0045127"
    assert record.delivery_method is None and record.delivered_at is None


def test_the_scale_indexes_are_built_without_stopping_writes(ledger: Ledger) -> None:
    """Migrations 0011, 0012 and 0013 build their indexes CONCURRENTLY on PostgreSQL, outside a
    transaction (a plain CREATE INDEX would make every write to the table wait)."""
    from sqlalchemy import event

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with ledger.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0010")
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *_: object) -> None:
        if "INDEX" in statement.upper():
            statements.append(" ".join(statement.split()))

    event.listen(ledger.engine, "before_cursor_execute", seen)
    try:
        ledger.upgrade()
    finally:
        event.remove(ledger.engine, "before_cursor_execute", seen)
    created = [s for s in statements if s.upper().startswith("CREATE INDEX")]
    names = {"ix_letters_recent", "ix_event_outbox_waiting", "ix_letters_to_erase",
             "ix_letters_erased_at", "ix_letters_unsettled", "ix_letters_recent_status",
             "ix_letters_history_due"}  # fmt: skip
    assert {n for n in names if any(n in s for s in created)} == names, created
    concurrently = [s for s in created if "CONCURRENTLY" in s.upper()]
    if ledger.engine.dialect.name == "postgresql":
        assert len(concurrently) == len(created) == len(names), created
    else:
        assert not concurrently


def test_accept_is_idempotent_on_letter_id(ledger: Ledger) -> None:
    _, created = ledger.accept(
        letter_id="a", case_number="1-2", letter_type="purring", language="nb", request="{}"
    )
    again, created_again = ledger.accept(
        letter_id="a", case_number="9-9", letter_type="inkassovarsel", language="en", request="{}"
    )
    assert created and not created_again
    assert again.case_number == "1-2" and again.status is LetterStatus.ACCEPTED
    assert [e.event for e in ledger.history("a")] == ["accepted"]


def test_history_is_in_order_and_append_only(ledger: Ledger) -> None:
    _accept(ledger, "b")
    ledger.record_routed("b", "print", "no consent to digital delivery")
    ledger.record_sent("b", LetterStatus.SENT, "ref-1", "print: batch 7")
    history = ledger.history("b")
    assert [e.event for e in history] == ["accepted", "routed", "sent"]
    assert history[1].detail == "print: no consent to digital delivery"
    assert history[0].at <= history[1].at <= history[2].at
    for statement in ("UPDATE letter_events SET detail = 'edited'", "DELETE FROM letter_events"):
        with pytest.raises(DBAPIError, match="append-only"), ledger.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(ledger.history("b")) == 3


def test_a_due_retry_is_claimed_by_one_process_only(ledger: Ledger) -> None:
    _accept(ledger, "c")
    ledger.record_failed("c", 1, "digipost down", utcnow() - timedelta(seconds=1))
    other = Ledger(ledger.url, ledger.keys)
    try:
        first = ledger.claim_due_retries(utcnow())
        second = other.claim_due_retries(utcnow())
    finally:
        other.close()
    assert [r.letter_id for r in first] == ["c"] and second == []
    assert first[0].status is LetterStatus.REQUEUED and first[0].attempts == 1


def test_unfinished_and_waiting_letters(ledger: Ledger) -> None:
    for letter_id in ("d1", "d2", "d3"):
        _accept(ledger, letter_id)
    ledger.record_sent("d1", LetterStatus.DELIVERED, None, "")
    ledger.record_failed("d2", 1, "x", utcnow() + timedelta(minutes=1))
    assert [r.letter_id for r in ledger.unfinished()] == ["d3"]
    # In flight: d3 in a worker's hand, d2 with a retry due within the horizon.
    assert ledger.in_flight(utcnow(), timedelta(minutes=5)) == 2
    assert ledger.in_flight(utcnow(), timedelta(seconds=1)) == 1
    assert ledger.status_counts() == {"delivered": 1, "failed": 1, "accepted": 1}
    assert LetterStatus.DELIVERED in FINISHED


def test_the_status_overview_counts_unsettled_letters_all_and_settled_ones_lately(
    ledger: Ledger,
) -> None:
    from letters.ledger.records import SETTLED, UNSETTLED_SQL
    from tests.support.ledger_rows import force_status

    now = utcnow()
    statuses = {
        "u1": (LetterStatus.ACCEPTED, now - timedelta(days=400)),
        "u2": (LetterStatus.FAILED, now - timedelta(days=30)),
        "u3": (LetterStatus.DEAD_LETTERED, now - timedelta(days=900)),
        "s1": (LetterStatus.DELIVERED, now - timedelta(days=1)),
        "s2": (LetterStatus.DELIVERED, now - timedelta(days=30)),
        "s3": (LetterStatus.RETURNED, now - timedelta(hours=2)),
        "s4": (LetterStatus.SENT, now - timedelta(days=8)),
    }
    for letter_id, (status, changed_at) in statuses.items():
        _accept(ledger, letter_id)
        force_status(ledger, letter_id, status, updated_at=changed_at)
    overview = ledger.status_overview(now - timedelta(days=7))
    # Unsettled: every one, however old; settled: only those changed within the window.
    assert overview.unsettled == {"accepted": 1, "failed": 1, "dead-lettered": 1}
    assert overview.settled == {"delivered": 1, "returned": 1}
    assert set(overview.unsettled).isdisjoint(SETTLED)
    # The metrics' oldest unfinished letter reads the unsettled index: it needs this.
    assert SETTLED <= FINISHED
    assert ledger.status_counts() == {
        "accepted": 1, "failed": 1, "dead-lettered": 1, "delivered": 2, "returned": 1, "sent": 1,
    }  # fmt: skip

    # The unsettled count reads the partial index of the unsettled letters only.
    explain = "EXPLAIN QUERY PLAN " if ledger.engine.dialect.name == "sqlite" else "EXPLAIN "
    count = f"SELECT status, count(*) FROM letters WHERE {UNSETTLED_SQL} GROUP BY status"  # noqa: S608
    with ledger.engine.connect() as conn:
        if ledger.engine.dialect.name == "postgresql":
            # A ledger whose letters are nearly all settled, as a real one is, so the
            # planner's choice is the one it makes in production.
            conn.exec_driver_sql(
                "INSERT INTO letters (letter_id, case_number, letter_type, language, status, "
                "attempts, request, request_sha256, created_at, updated_at) SELECT "
                "'settled-' || n, '2026-0045127', 'purring', 'nb', 'delivered', 0, '{}', '', "
                "now() - interval '400 days', now() - interval '400 days' "
                "FROM generate_series(1, 5000) AS n"
            )
            conn.commit()
            conn.exec_driver_sql("ANALYZE letters")
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(explain + count))
    assert "ix_letters_unsettled" in plan, plan


def test_dead_letters_are_recorded_and_requeued(ledger: Ledger) -> None:
    _accept(ledger, "e")
    DeadLetterStore(ledger).record(
        dead_id="dead-1",
        letter_id="e",
        case_number="2026-0045127",
        reason="template purring.html:3: boom",
        attempts=1,
        body=b'{"letter_id": "e"}',
        body_sha256="ab" * 32,
        known_letter=True,
    )
    assert DeadLetterStore(ledger).body("dead-1") == b'{"letter_id": "e"}'
    assert DeadLetterStore(ledger).get("dead-1").body_kept  # type: ignore[union-attr]
    assert ledger.get("e").status is LetterStatus.DEAD_LETTERED  # type: ignore[union-attr]
    assert DeadLetterStore(ledger).is_known_body("ab" * 32)
    DeadLetterStore(ledger).record_requeued("dead-1", "e")
    assert ledger.get("e").status is LetterStatus.REQUEUED  # type: ignore[union-attr]
    assert [e.event for e in ledger.history("e")] == ["accepted", "dead-lettered", "requeued"]


def test_overdue_letters_are_found_and_recovered_once(ledger: Ledger) -> None:
    for letter_id in ("f1", "f2", "f3", "f4"):
        _accept(ledger, letter_id)
    now = utcnow()
    ledger.record_failed("f1", 2, "x", now - timedelta(minutes=10))  # retry long overdue
    ledger.record_failed("f2", 1, "x", now + timedelta(hours=1))  # waiting, not overdue
    ledger.record_sent("f4", LetterStatus.DELIVERED, None, "")  # done
    later = now + timedelta(minutes=30)  # f3 (accepted) untouched for 30 minutes by then

    found = {o.letter_id: o for o in ledger.overdue(later, 120, 900)}
    assert set(found) == {"f1", "f3"}
    assert found["f1"].attempts == 2 and "retry due at" in found["f1"].reason
    assert "accepted and untouched for" in found["f3"].reason
    assert found["f3"].recoveries == 0 and found["f3"].request

    assert ledger.record_recovered(found["f1"], later, 120, 900)
    assert not ledger.record_recovered(found["f1"], later, 120, 900)  # not overdue any more
    recovered = ledger.get("f1")
    assert recovered is not None and recovered.status is LetterStatus.REQUEUED
    assert [e.event for e in ledger.history("f1")][-1] == "recovered"
    assert {o.letter_id for o in ledger.overdue(later, 120, 900)} == {"f3"}
    again = {o.letter_id: o for o in ledger.overdue(later + timedelta(hours=2), 120, 900)}
    assert again["f1"].recoveries == 1 and again["f2"].recoveries == 0


def test_opening_the_sqlite_ledger_again_in_a_process_keeps_its_other_connections_working(
    tmp_path: Path,
) -> None:
    """Closing any descriptor of an SQLite file drops the process's locks on it; another
    process then takes its connections for gone and deletes the WAL under them."""
    import subprocess
    import sys

    from letters.ledger.engine import create_ledger_engine

    path = tmp_path / "letters.db"
    first = create_ledger_engine(f"sqlite:///{path}")
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE notes (n INTEGER)"))
        conn.execute(text("INSERT INTO notes VALUES (1)"))
    with first.connect() as conn:  # an open connection, as a worker's pool keeps one
        create_ledger_engine(f"sqlite:///{path}").dispose()  # e.g. a command's second Ledger
        other = subprocess.run(
            [sys.executable, "-c",
             "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
             "db.execute('INSERT INTO notes VALUES (2)'); db.commit(); db.close()",
             str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert other.returncode == 0, other.stderr
        assert path.with_name("letters.db-wal").exists(), "the WAL was removed under us"
        assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 2
    first.dispose()
