"""The pipeline, the print dispatcher and a clock the test sets, in one process: what a
worker has (the real print channel and dispatcher on SQLite and a directory, the fake
Digipost channel), for the tests of lawful posting and of the print house's answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from channels.base import DIGIPOST, PRINT, ChannelSet
from channels.fake import FakeChannel, FakeDirectory
from channels.print_post.channel import PrintPostChannel, print_rules
from channels.print_post.fonts import FontLibrary
from letters.clock import OSLO
from letters.config import Settings
from letters.delivery.case_changes import CaseOutcome
from letters.delivery.outcome import Outcome
from letters.delivery.pipeline import Pipeline
from letters.delivery.print_batches import PrintBatches
from letters.delivery.print_dispatch import PrintDispatcher, open_print_drop
from letters.digests import sha256_hex
from letters.errors import InvalidRequest
from letters.ledger import Ledger, LetterRecord
from letters.ledger.dead_letters import DeadLetterStore
from letters.ledger.locks import FileLetterLocks
from letters.rendering.letter_service import LetterService
from letters.storage import DirectoryStore
from tests.support.events import check_outbox
from tests.support.stacks import sample_request

FRIDAY_BEFORE_EASTER_WEEK = date(2027, 3, 19)


def oslo(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=OSLO).astimezone(UTC)


@dataclass
class Post:
    """The pipeline, the print dispatcher and a clock: what a worker has, in one process."""

    settings: Settings
    ledger: Ledger
    archive: DirectoryStore
    digipost: FakeChannel
    directory: FakeDirectory
    pipeline: Pipeline
    dispatcher: PrintDispatcher
    now: datetime = field(default_factory=lambda: oslo(FRIDAY_BEFORE_EASTER_WEEK, 10))

    def process(self, request: dict[str, Any]) -> Outcome:
        return self.pipeline.process(json.dumps(request).encode())

    def refused(self, request: dict[str, Any]) -> str:
        """Process a request that must be refused; dead-letter it as the worker would."""
        body = json.dumps(request).encode()
        with pytest.raises(InvalidRequest) as err:
            self.pipeline.process(body)
        DeadLetterStore(self.ledger).record(
            dead_id=str(uuid.uuid4()),
            letter_id=request["letter_id"],
            case_number=request["case"]["case_number"],
            reason=str(err.value),
            attempts=1,
            body=body,
            body_sha256=sha256_hex(body),
            known_letter=True,
        )
        return str(err.value)

    def case(self, case_number: str, state: str, at: datetime | None = None) -> CaseOutcome:
        message = {
            "schema": "letters.case/1",
            "case_number": case_number,
            "state": state,
            "at": (at or self.now).isoformat(),
        }
        return self.pipeline.process_case(json.dumps(message).encode())

    def record(self, letter_id: str) -> LetterRecord:
        record = self.ledger.get(letter_id)
        assert record is not None
        return record

    def pdf(self, letter_id: str) -> bytes:
        key = self.record(letter_id).archive_key
        assert key is not None
        return self.archive.get(key)

    def events(self, letter_id: str) -> list[str]:
        return [e.event for e in self.ledger.history(letter_id)]

    def details(self, letter_id: str) -> str:
        return "\n".join(f"{e.event}: {e.detail}" for e in self.ledger.history(letter_id))

    def dropped(self, batch_id: str) -> tuple[bytes, dict[str, Any]]:
        drop = self.dispatcher.drop
        manifest = json.loads(drop.get(f"{batch_id}/{batch_id}.json"))
        return drop.get(f"{batch_id}/{batch_id}.pdf"), manifest


@pytest.fixture
def post(tmp_path: Path, service: LetterService) -> Iterator[Post]:
    settings = Settings.from_env({"LETTERS_VAR_DIR": str(tmp_path / "var")})
    ledger = Ledger.for_settings(settings)
    ledger.upgrade()
    archive = DirectoryStore(tmp_path / "archive")
    digipost, directory = FakeChannel(DIGIPOST), FakeDirectory()
    holder: dict[str, Post] = {}

    def clock() -> datetime:
        return holder["post"].now

    batches = ledger.batches
    printed = PrintPostChannel(print_rules(settings), time(16, 0), posting_delay=1)
    pipeline = Pipeline(
        service=service,
        ledger=ledger,
        archive=archive,
        channels=ChannelSet({DIGIPOST: digipost, PRINT: printed}, directory),
        locks=FileLetterLocks(tmp_path / "locks"),
        print_batches=PrintBatches(batches, 500, time(16, 0)),
        clock=clock,
    )
    dispatcher = PrintDispatcher(
        batches,
        archive,
        open_print_drop(settings),
        FontLibrary(settings.templates_dir / "fonts"),
        settings.print.envelope,
        clock=clock,
        posting_delay=1,
        redate=pipeline.redate,
    )
    holder["post"] = Post(settings, ledger, archive, digipost, directory, pipeline, dispatcher)
    yield holder["post"]
    try:
        check_outbox(ledger)
    finally:
        ledger.close()


def printed(**changes: Any) -> dict[str, Any]:
    """An inkassovarsel for a debtor who has not consented: it goes to print."""
    request = sample_request("inkassovarsel-nb-plain", **changes)
    request["recipient"]["digital_consent"] = False
    return request


def same_case(first: dict[str, Any], name: str) -> dict[str, Any]:
    later = sample_request(name)
    later["case"]["case_number"] = first["case"]["case_number"]
    later["case"].pop("kid", None)
    # The ledger's letters are the precedents; the creditor's purring, which the fees
    # it carries need (inkassoforskriften § 1-3), is still reported.
    reported = later["case"].pop("earlier_letters", [])
    later["case"]["earlier_letters"] = [e for e in reported if e["letter_type"] == "purring"]
    return later
