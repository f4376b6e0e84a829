"""A recording channel and directory for tests and the embedded default.

``FakeChannel`` keeps what it was sent in ``outbox`` and can be told to fail.
With an outbox folder it also records on disk, so that tests can watch worker
processes: ``<folder>/<route>/<letter id>.json`` per delivered letter (created
once, which makes the fake idempotent on letter id across processes) and
``<folder>/attempts.jsonl`` with one line per call. No personal data is written.

A plan file ``<folder>/plan.json`` scripts failures across processes::

    {"letters": {"<letter id>": ["transient", "ok"]}, "not_digipost": ["<national id>"]}

The n-th call for a letter takes the n-th outcome (the last one repeats):
``ok``, ``transient``, ``permanent``, ``configuration``, ``slow`` (deliver
after two seconds; ``slow:N`` after N seconds), ``hang`` (sleep before
sending, so a test can kill the worker mid-letter), ``deliver-then-hang``
(deliver, then sleep, so the worker dies before recording the receipt) or
``crash`` (end the worker process at once, as a fatal bug would).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from channels.base import (
    ChannelUnavailableError,
    DeliveryRefusedError,
    Identification,
    OutgoingLetter,
    Receipt,
    ReceiptStatus,
)
from letters.clock import OSLO
from letters.config import Settings
from letters.errors import ConfigurationError

HANG_SECONDS = 3600.0
CRASH_EXIT_CODE = 70
SLOW_SECONDS = 2.0


@dataclass
class FakeChannel:
    name: str
    folder: Path | None = None
    # What was delivered, for a test in this process; without a folder only.
    outbox: list[OutgoingLetter] = field(default_factory=list)
    attempts: list[tuple[str, str]] = field(default_factory=list)
    _failures: deque[Exception] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sending_day(self, now: datetime) -> date:
        return now.astimezone(OSLO).date()

    def fail_next(self, *errors: Exception) -> None:
        """Raise these errors, in order, on the next calls to ``send``."""
        self._failures.extend(errors)

    def send(self, letter: OutgoingLetter) -> Receipt:
        with self._lock:
            outcome = self._next_outcome(letter.letter_id)
            self._log_attempt(letter.letter_id, outcome)
            if outcome == "crash":
                os._exit(CRASH_EXIT_CODE)
            if outcome == "hang":
                time.sleep(HANG_SECONDS)
            elif outcome.startswith("slow"):
                time.sleep(float(outcome.partition(":")[2] or SLOW_SECONDS))
            if self._failures:
                raise self._failures.popleft()
            if outcome == "transient":
                raise ChannelUnavailableError(f"fake {self.name}: told to fail transiently")
            if outcome == "permanent":
                raise DeliveryRefusedError(f"fake {self.name}: told to refuse the letter")
            if outcome == "configuration":
                raise ConfigurationError(f"fake {self.name}: told to fail its configuration")
            duplicate = not self._record_delivery(letter)
            if not duplicate and self.folder is None:
                # In a test's process; with a folder (a worker's backend) the files are the
                # record, and a list of every PDF would grow with every letter.
                self.outbox.append(letter)
            if outcome == "deliver-then-hang":
                time.sleep(HANG_SECONDS)
            return Receipt(
                channel=self.name,
                letter_id=letter.letter_id,
                status=ReceiptStatus.DELIVERED,
                provider_ref=f"fake-{letter.letter_id}",
                detail="already in the fake outbox" if duplicate else "recorded by the fake",
                duplicate=duplicate,
            )

    def delivered_ids(self) -> list[str]:
        return [letter.letter_id for letter in self.outbox]

    def _next_outcome(self, letter_id: str) -> str:
        plan = read_plan(self.folder).get("letters", {}).get(letter_id)
        if not plan:
            return "ok"
        done = sum(1 for lid, _ in self.attempts_on_disk() if lid == letter_id)
        return str(plan[min(done, len(plan) - 1)])

    def _log_attempt(self, letter_id: str, outcome: str) -> None:
        self.attempts.append((letter_id, outcome))
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)
            line = json.dumps({"channel": self.name, "letter_id": letter_id, "outcome": outcome})
            # One short O_APPEND write per line: whole lines even across processes.
            fd = os.open(self.folder / "attempts.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)

    def _record_delivery(self, letter: OutgoingLetter) -> bool:
        if self.folder is None:
            return letter.letter_id not in self.delivered_ids()
        folder = self.folder / self.name
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "letter_id": letter.letter_id,
            "case_number": letter.case_number,
            "letter_type": letter.letter_type,
            "language": letter.language,
            "pages": letter.page_count,
            "pdf_sha256": letter.pdf_sha256,
            "deadline": letter.deadline.isoformat(),
            "at": time.time(),
        }
        try:
            with open(folder / f"{letter.letter_id}.json", "x", encoding="utf-8") as out:
                json.dump(record, out)
        except FileExistsError:
            return False
        return True

    def attempts_on_disk(self) -> list[tuple[str, str]]:
        if self.folder is None:
            return list(self.attempts)
        return [(a["letter_id"], a["outcome"]) for a in read_attempts(self.folder)]


@dataclass
class FakeDirectory:
    """Says every person has a Digipost mailbox, except those it is told about."""

    folder: Path | None = None
    not_digipost: set[str] = field(default_factory=set)

    def identify(self, national_identity_number: str) -> Identification:
        planned = set(read_plan(self.folder).get("not_digipost", []))
        if national_identity_number in self.not_digipost | planned:
            return Identification.UNIDENTIFIED
        return Identification.DIGIPOST


def read_plan(folder: Path | None) -> dict[str, Any]:
    if folder is None:
        return {}
    try:
        plan: dict[str, Any] = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return plan


def read_attempts(folder: Path) -> list[dict[str, Any]]:
    try:
        lines = (folder / "attempts.jsonl").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line]


def delivered_records(folder: Path, route: str) -> list[dict[str, Any]]:
    """What the fake delivered on ``route``, read back from its folder."""
    if not (folder / route).is_dir():
        return []
    texts = (p.read_text(encoding="utf-8") for p in sorted((folder / route).iterdir()))
    # A record is created empty and then written: an empty one is still being written.
    return [json.loads(text) for text in texts if text]


def build_channel(route: str, settings: Settings) -> FakeChannel:
    return FakeChannel(name=route, folder=settings.fake_outbox)


def build_directory(settings: Settings) -> FakeDirectory:
    return FakeDirectory(folder=settings.fake_outbox)
