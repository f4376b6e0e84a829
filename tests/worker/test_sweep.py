"""The ledger sweep on the embedded transport: what it sends back, when, and what it leaves."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from letters.clock import utcnow
from letters.config import Settings, SweepSettings
from letters.ledger import Ledger, LetterStatus
from letters.messaging.broker import Publisher
from letters.worker.sweep import sweep
from tests.support.stacks import sample_request

SETTINGS = SweepSettings(interval_s=60, retry_grace_s=120, stale_after_s=900, max_recoveries=2)


def _accepted(ledger: Ledger) -> str:
    request = sample_request("purring-nb-plain")
    ledger.accept(
        letter_id=request["letter_id"],
        case_number=request["case"]["case_number"],
        letter_type=request["letter_type"],
        language=request["language"],
        request=json.dumps(request),
    )
    return str(request["letter_id"])


def test_a_lost_letter_is_sent_back_with_backoff_then_left_for_operations(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"LETTERS_VAR_DIR": str(tmp_path)})
    ledger = Ledger.for_settings(settings)
    ledger.upgrade()
    letter_id = _accepted(ledger)
    start = utcnow()
    with Publisher.open(settings) as publisher:
        work = publisher.topology.work_queue.name

        assert sweep(ledger, publisher, SETTINGS, start + timedelta(minutes=10)).recovered == []
        first_at = start + timedelta(minutes=16)
        first = sweep(ledger, publisher, SETTINGS, first_at)
        assert [o.letter_id for o in first.recovered] == [letter_id]
        assert publisher.queue_depth(work) == 1
        # Recovered once: lost again only after twice the bound (30 minutes).
        assert sweep(ledger, publisher, SETTINGS, first_at + timedelta(minutes=16)).recovered == []
        second_at = first_at + timedelta(minutes=31)
        second = sweep(ledger, publisher, SETTINGS, second_at)
        assert [o.letter_id for o in second.recovered] == [letter_id]
        # Recovered twice, the most allowed: after four times the bound it is left.
        assert (
            sweep(ledger, publisher, SETTINGS, second_at + timedelta(minutes=59)).unrecoverable
            == []
        )
        last = sweep(ledger, publisher, SETTINGS, second_at + timedelta(minutes=61))
        assert last.recovered == [] and [o.letter_id for o in last.unrecoverable] == [letter_id]
        assert publisher.queue_depth(work) == 2

    record = ledger.get(letter_id)
    assert record is not None and record.status is LetterStatus.REQUEUED
    assert [e.event for e in ledger.history(letter_id)].count("recovered") == 2
    ledger.close()


def test_a_dry_run_sends_nothing_and_marks_nothing(tmp_path: Path) -> None:
    settings = Settings.from_env({"LETTERS_VAR_DIR": str(tmp_path)})
    ledger = Ledger.for_settings(settings)
    ledger.upgrade()
    letter_id = _accepted(ledger)
    report = sweep(ledger, None, SETTINGS, utcnow() + timedelta(hours=1))
    assert [o.letter_id for o in report.recovered] == [letter_id]
    assert [e.event for e in ledger.history(letter_id)] == ["accepted"]
    ledger.close()
