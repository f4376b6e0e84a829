"""Put the history of erased letters away in the archive, and take it out again.

The ledger's history tables grow by about ten rows a letter. Letters whose
personal data retention erased more than ``LETTERS_HISTORY_ARCHIVE_DAYS`` ago
have their history lines and delivery events written to the archive as one
gzipped JSON-lines file per batch, then deleted from the ledger
(``letters.ledger.history_archive``). Each letter keeps a history line naming
the file, and the file's name is its own SHA-256, so what comes back can be
checked. Nothing an access export reads is put away: an erased letter can no
longer be found by the person's national identity number.

The file is written before the rows are deleted, and written again byte for
byte if a pass stops between the two: the batch is the same letters, read in
the same order, so the same file under the same name, which the create-only
archive takes as already there.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from letters.errors import PermanentError
from letters.ledger import Ledger
from letters.ledger.history_archive import PastHistory
from letters.storage import Archive

FORMAT = "letters.history/1"
HISTORY_PREFIX = "history/"
# Letters a file and a transaction hold: a file of some tens of kilobytes.
BATCH = 500
_CONTENT_TYPE = "application/gzip"


class HistoryFileError(PermanentError):
    """An archived history file is not the one its name says, or not one at all."""


@dataclass(frozen=True, slots=True)
class PutAwayReport:
    letters: int = 0
    lines: int = 0
    delivery_events: int = 0
    files: tuple[str, ...] = ()

    def add(self, done: Sequence[PastHistory], key: str) -> PutAwayReport:
        return PutAwayReport(
            letters=self.letters + len(done),
            lines=self.lines + sum(len(p.lines) for p in done),
            delivery_events=self.delivery_events + sum(len(p.delivery_events) for p in done),
            files=(*self.files, key) if done else self.files,
        )


def put_away_history(
    ledger: Ledger,
    archive: Archive,
    now: datetime,
    after_days: int,
    *,
    limit: int | None = None,
    batch: int = BATCH,
) -> PutAwayReport:
    """Put away the history of every letter erased more than ``after_days`` ago (at most
    ``limit`` letters), a batch at a time: the file first, then the rows."""
    erased_before = now - timedelta(days=after_days)
    report = PutAwayReport()
    while limit is None or report.letters < limit:
        size = batch if limit is None else min(batch, limit - report.letters)
        due = ledger.history_archive.due(erased_before, size)
        if not due:
            break
        body = history_file(due)
        key = history_file_key(due, body)
        archive.put(key, body, _CONTENT_TYPE)
        report = report.add(ledger.history_archive.put_away(due, key, now), key)
    return report


def history_file(histories: Sequence[PastHistory]) -> bytes:
    """One JSON line naming the format, then one per letter; gzipped without a timestamp,
    so the same histories always make the same bytes."""
    lines = [json.dumps({"format": FORMAT, "letters": len(histories)})]
    lines.extend(
        json.dumps(
            {
                "letter_id": past.letter_id,
                "case_number": past.case_number,
                "history": list(past.lines),
                "delivery_events": list(past.delivery_events),
            },
            sort_keys=True,
        )
        for past in histories
    )
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def history_file_key(histories: Sequence[PastHistory], body: bytes) -> str:
    """``history/2027/02/<sha256>.jsonl.gz``: the month the batch's first letter was
    erased, for the archive's own retention rules, and the file's digest."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{HISTORY_PREFIX}{histories[0].erased_at:%Y/%m}/{digest}.jsonl.gz"


def archived_history(archive: Archive, key: str, letter_id: str) -> dict[str, Any]:
    """The letter's put-away history from the file under ``key``, checked against the
    digest the name holds: {"history": [...], "delivery_events": [...], ...}."""
    body = archive.get(key)
    expected = key.rsplit("/", 1)[-1].removesuffix(".jsonl.gz")
    if hashlib.sha256(body).hexdigest() != expected:
        raise HistoryFileError(f"{key}: the file's SHA-256 is not the one its name holds")
    for entry in _entries(body, key):
        if entry.get("letter_id") == letter_id:
            return entry
    raise HistoryFileError(f"{key}: holds no history of letter {letter_id}")


def _entries(body: bytes, key: str) -> Iterator[dict[str, Any]]:
    try:
        lines = gzip.decompress(body).decode().splitlines()
        header = json.loads(lines[0])
    except (OSError, ValueError, IndexError) as err:
        raise HistoryFileError(f"{key}: not a history file: {err}") from err
    if header.get("format") != FORMAT:
        raise HistoryFileError(f"{key}: format {header.get('format')!r}, not {FORMAT}")
    for line in lines[1:]:
        yield json.loads(line)
