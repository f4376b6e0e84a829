"""The history of erased letters put away in the archive: written first, then deleted, once."""

from __future__ import annotations

import gzip
import json
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from letters.clock import utcnow
from letters.ledger import Ledger, LetterStatus
from letters.ledger.delivery_events import DeliveryEvent
from letters.ledger.history import HISTORY_ARCHIVED_EVENT
from letters.ledger.personal_data import erase_expired
from letters.ledger.schema import letters
from letters.retention.history_put_away import (
    HistoryFileError,
    archived_history,
    put_away_history,
)
from letters.storage import LocalArchive
from tests.support.stacks import Stack, sample_request

# Retention erases at ERASED (401 days on, LETTERS_RETENTION_DAYS 400); the history is
# put away 30 days after that.
ERASED = utcnow() + timedelta(days=401)
DUE = ERASED + timedelta(days=31)


@pytest.fixture
def archive(tmp_path: Path) -> LocalArchive:
    return LocalArchive(tmp_path / "archive")


def _letter(ledger: Ledger, *, delivered: bool = True) -> str:
    request = sample_request()
    letter_id = str(request["letter_id"])
    ledger.accept(
        letter_id=letter_id,
        case_number=request["case"]["case_number"],
        letter_type=request["letter_type"],
        language=request["language"],
        request=json.dumps(request),
    )
    ledger.record_routed(letter_id, "digipost", "consented")
    if delivered:
        ledger.record_sent(letter_id, LetterStatus.DELIVERED, f"ref-{letter_id}", "digipost")
        for number, event in enumerate(("DELIVERED", "OPENED")):
            ledger.deliveries.record_event(
                letter_id,
                f"{letter_id}-{number}",
                DeliveryEvent("digipost", event, utcnow(), None),
            )
    return letter_id


def _lines(ledger: Ledger, letter_id: str) -> list[tuple[str, str | None]]:
    return [(e.event, e.detail) for e in ledger.history(letter_id)]


def _stored(archive: LocalArchive) -> list[Path]:
    return sorted(p for p in archive.root.rglob("*.jsonl.gz"))


def test_erased_letters_history_goes_to_the_archive_and_comes_back_the_same(
    ledger: Ledger, archive: LocalArchive
) -> None:
    done = [_letter(ledger) for _ in range(3)]
    waiting = _letter(ledger, delivered=False)
    before = {i: _lines(ledger, i) for i in done}
    events_before = {i: ledger.deliveries.events(i) for i in done}
    assert all(len(events_before[i]) == 2 for i in done)
    assert erase_expired(ledger, ERASED, 400) == 3
    erased_history = {i: _lines(ledger, i) for i in done}
    updated = {i: ledger.get(i).updated_at for i in done}  # type: ignore[union-attr]

    # Not yet: erased only 29 days before.
    early = put_away_history(ledger, archive, ERASED + timedelta(days=29), 30)
    assert early.letters == 0 and _stored(archive) == []

    report = put_away_history(ledger, archive, DUE, 30, batch=2)
    assert (report.letters, report.delivery_events) == (3, 6)
    assert report.lines == sum(len(erased_history[i]) for i in done)
    assert len(report.files) == 2 and len(_stored(archive)) == 2  # a file per batch of two

    for letter_id in done:
        record = ledger.get(letter_id)
        assert record is not None and record.history_archive_key in report.files
        assert re.fullmatch(
            r"history/\d{4}/\d{2}/[0-9a-f]{64}\.jsonl\.gz", record.history_archive_key
        )
        assert record.updated_at == updated[letter_id]  # the letter itself did not change
        (only,) = ledger.history(letter_id)
        assert only.event == HISTORY_ARCHIVED_EVENT
        assert record.history_archive_key in (only.detail or "")
        assert ledger.deliveries.events(letter_id) == []
        kept = archived_history(archive, record.history_archive_key, letter_id)
        assert [(line["event"], line["detail"]) for line in kept["history"]] == erased_history[
            letter_id
        ]
        assert erased_history[letter_id][: len(before[letter_id])] == before[letter_id]
        assert [(e["channel"], e["event"]) for e in kept["delivery_events"]] == [
            (e.channel, e.event) for e in events_before[letter_id]
        ]
    # The unfinished letter, whose data is kept, keeps its history in the ledger.
    assert [e for e, _ in _lines(ledger, waiting)] == ["accepted", "routed"]
    assert ledger.get(waiting).history_archive_key is None  # type: ignore[union-attr]

    again = put_away_history(ledger, archive, DUE + timedelta(days=1), 30)
    assert again.letters == 0 and len(_stored(archive)) == 2
    assert all(len(ledger.history(i)) == 1 for i in done)


def test_the_database_lets_only_put_away_lines_be_deleted(
    ledger: Ledger, archive: LocalArchive
) -> None:
    put, kept = _letter(ledger), _letter(ledger, delivered=False)
    erase_expired(ledger, ERASED, 400)
    put_away_history(ledger, archive, DUE, 30)
    record = ledger.get(put)
    assert record is not None and record.history_archived_through is not None
    for statement, letter_id in (
        ("DELETE FROM letter_events WHERE letter_id = :id", kept),  # never put away
        ("DELETE FROM letter_events WHERE letter_id = :id", put),  # the line saying where
        ("UPDATE letter_events SET detail = 'edited' WHERE letter_id = :id", put),
    ):
        with pytest.raises(DBAPIError, match="append-only"), ledger.engine.begin() as conn:
            conn.execute(text(statement), {"id": letter_id})
    assert len(ledger.history(put)) == 1 and len(ledger.history(kept)) == 2


def test_a_pass_stopped_after_the_file_puts_each_letter_away_once(
    ledger: Ledger, archive: LocalArchive, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = [_letter(ledger) for _ in range(3)]
    erase_expired(ledger, ERASED, 400)
    lines = {i: _lines(ledger, i) for i in done}
    store = ledger.history_archive
    real = store.put_away

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt("killed between the file and the rows")

    monkeypatch.setattr(store, "put_away", crash)
    with pytest.raises(KeyboardInterrupt):
        put_away_history(ledger, archive, DUE, 30)
    (written,) = _stored(archive)
    assert all(_lines(ledger, i) == lines[i] for i in done)  # nothing deleted yet

    monkeypatch.setattr(store, "put_away", real)
    # The pass that follows runs later: an hour on, the file must still be the same bytes.
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    report = put_away_history(ledger, archive, DUE, 30)
    assert report.letters == 3
    assert _stored(archive) == [written]  # the same bytes, under the same name
    for letter_id in done:
        record = ledger.get(letter_id)
        assert record is not None
        kept = archived_history(archive, record.history_archive_key or "", letter_id)
        assert [(line["event"], line["detail"]) for line in kept["history"]] == lines[letter_id]


def test_two_passes_over_the_same_letters_put_each_away_once_and_keep_later_lines(
    ledger: Ledger, archive: LocalArchive
) -> None:
    first, second = _letter(ledger), _letter(ledger)
    erase_expired(ledger, ERASED, 400)
    store = ledger.history_archive
    read_by_one = store.due(DUE - timedelta(days=30), 10)
    read_by_other = store.due(DUE - timedelta(days=30), 10)
    # A line that arrives after both passes read the history, before either deletes it.
    ledger.deliveries.record_event(
        first, "late-event", DeliveryEvent("digipost", "OPENED", utcnow(), None)
    )
    assert len(store.put_away(read_by_one, "history/one.jsonl.gz", DUE)) == 2
    assert store.put_away(read_by_other, "history/other.jsonl.gz", DUE) == []
    for letter_id in (first, second):
        record = ledger.get(letter_id)
        assert record is not None and record.history_archive_key == "history/one.jsonl.gz"
    assert [e.event for e in ledger.history(first)] == ["opened", HISTORY_ARCHIVED_EVENT]
    assert [e.event for e in ledger.deliveries.events(first)] == ["OPENED"]
    assert [e.event for e in ledger.history(second)] == [HISTORY_ARCHIVED_EVENT]


def test_a_history_file_that_is_not_what_its_name_says_is_refused(
    ledger: Ledger, archive: LocalArchive
) -> None:
    letter_id = _letter(ledger)
    erase_expired(ledger, ERASED, 400)
    (key,) = put_away_history(ledger, archive, DUE, 30).files
    with pytest.raises(HistoryFileError, match="holds no history of letter other"):
        archived_history(archive, key, "other")
    path = archive.root / key
    lines = gzip.decompress(path.read_bytes()).decode().replace('"routed"', '"sent"')
    path.chmod(0o600)
    path.write_bytes(gzip.compress(lines.encode(), mtime=0))
    with pytest.raises(HistoryFileError, match=re.escape(f"{key}: the file's SHA-256")):
        archived_history(archive, key, letter_id)


def test_put_away_and_read_back_from_the_command_line(embedded: Stack) -> None:
    ledger = embedded.ledger
    letter_id = _letter(ledger)
    now = utcnow()
    erase_expired(ledger, now + timedelta(days=401), 400)
    _erased_on(ledger, letter_id, now - timedelta(days=45))

    dry = embedded.run("archive", "put-away", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("1 letter(s) erased"), dry.stderr
    assert ledger.get(letter_id).history_archive_key is None  # type: ignore[union-attr]
    done = embedded.run("archive", "put-away", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["letters"], report["delivery_events"], len(report["files"])) == (1, 2, 1)

    shown = embedded.run("archive", "history", letter_id)
    assert shown.returncode == 0, shown.stderr
    assert "accepted" in shown.stdout and "digipost: OPENED" in shown.stdout
    assert "erased" in shown.stdout
    status = embedded.run("status", letter_id)
    assert f"letters archive history {letter_id}" in status.stdout
    as_json = json.loads(embedded.run("archive", "history", letter_id, "--json").stdout)
    assert as_json["archive_key"] == report["files"][0]
    assert [e["event"] for e in as_json["kept_in_the_ledger"]] == [HISTORY_ARCHIVED_EVENT]

    unknown = embedded.run("archive", "history", "no-such-letter")
    assert unknown.returncode == 1 and "no history put away" in unknown.stderr


def test_the_worker_puts_history_away_every_hour(embedded: Stack) -> None:
    from letters.delivery.pipeline import build_pipeline
    from letters.worker.periodic import periodic_tasks

    ledger = embedded.ledger
    letter_id = _letter(ledger)
    erase_expired(ledger, utcnow() + timedelta(days=401), 400)
    _erased_on(ledger, letter_id, utcnow() - timedelta(days=31))
    pipeline = build_pipeline(embedded.settings, ledger)
    (task,) = [
        t
        for t in periodic_tasks(embedded.settings, ledger, pipeline)
        if t.name == "history put-away"
    ]
    assert task.interval_s == 3600
    task.run_if_due()
    record = ledger.get(letter_id)
    assert record is not None and record.history_archive_key is not None


def _erased_on(ledger: Ledger, letter_id: str, when: datetime) -> None:
    """As if retention had erased the letter on ``when``: the one way to put an erasure in
    the past without waiting for it."""
    with ledger.engine.begin() as conn:
        conn.execute(
            update(letters)
            .where(letters.c.letter_id == letter_id)
            .values(personal_data_erased_at=when)
        )
