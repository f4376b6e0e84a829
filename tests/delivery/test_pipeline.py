"""The delivery pipeline in this process: the recording fake channels, SQLite and a directory.

Each test drives ``Pipeline.process`` or ``Pipeline.deliver`` directly and
checks the ledger's history, the archive and what each fake channel got.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from channels.base import (
    DIGIPOST,
    PRINT,
    ChannelSet,
    ChannelUnavailableError,
    Identification,
    NotAMailboxError,
)
from channels.fake import FakeChannel, FakeDirectory
from letters.config import Settings
from letters.delivery.letter_pdf import ArchiveMismatchError
from letters.delivery.pipeline import Pipeline
from letters.delivery.print_batches import open_batches
from letters.delivery.routing import Route
from letters.digests import sha256_hex
from letters.errors import InvalidRequest, TransientError
from letters.ledger import Ledger, LetterStatus
from letters.ledger.locks import FileLetterLocks
from letters.rendering.letter_service import LetterService
from letters.rendering.stencil import StencilBook
from letters.storage import DirectoryStore
from tests.support.events import check_outbox
from tests.support.stacks import ledger_keys, sample_request

HAPPY = ["accepted", "routed", "rendered", "archived", "delivered"]


class UnsureDirectory:
    """A directory that cannot answer, as Digipost down would."""

    def identify(self, national_identity_number: str) -> Identification:
        raise ChannelUnavailableError("directory: connection refused")


@dataclass
class Setup:
    pipeline: Pipeline
    ledger: Ledger
    archive: DirectoryStore
    digipost: FakeChannel
    printed: FakeChannel
    renders: list[str]

    def body(self, data: dict[str, Any]) -> bytes:
        return json.dumps(data, ensure_ascii=False).encode()

    def events(self, letter_id: str) -> list[str]:
        return [e.event for e in self.ledger.history(letter_id)]


@pytest.fixture
def setup(
    tmp_path: Path, service: LetterService, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Setup]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", ledger_keys())
    ledger.upgrade()
    digipost, printed = FakeChannel(DIGIPOST), FakeChannel(PRINT)
    archive = DirectoryStore(tmp_path / "archive")
    renders: list[str] = []
    render = service.renderer.render

    def counting_render(composed: Any) -> Any:
        renders.append(composed.request.letter_id)
        return render(composed)

    monkeypatch.setattr(service.renderer, "render", counting_render)
    pipeline = Pipeline(
        service=service,
        ledger=ledger,
        archive=archive,
        channels=ChannelSet({DIGIPOST: digipost, PRINT: printed}, FakeDirectory()),
        locks=FileLetterLocks(tmp_path / "locks"),
        print_batches=open_batches(Settings.from_env({}), ledger),
    )
    yield Setup(pipeline, ledger, archive, digipost, printed, renders)
    try:
        check_outbox(ledger)
    finally:
        ledger.close()


def test_a_consenting_digipost_user_gets_the_archived_pdf_in_digipost(setup: Setup) -> None:
    request = sample_request("inkassovarsel-nb-plain")
    outcome = setup.pipeline.process(setup.body(request))

    record = setup.ledger.get(request["letter_id"])
    assert record is not None and record.status is LetterStatus.DELIVERED
    assert setup.events(record.letter_id) == HAPPY
    assert record.channel == DIGIPOST and record.route_reason == (
        "consented and has a Digipost mailbox"
    )
    assert outcome.receipt is not None and outcome.receipt.channel == DIGIPOST
    [sent] = setup.digipost.outbox
    assert record.archive_key is not None
    archived = setup.archive.get(record.archive_key)
    assert sha256_hex(archived) == record.pdf_sha256 == sent.pdf_sha256
    assert sent.pdf == archived
    assert setup.printed.outbox == []


def test_a_debtor_without_consent_goes_to_print(setup: Setup) -> None:
    request = sample_request("purring-nb-foreign_address")
    setup.pipeline.process(setup.body(request))

    record = setup.ledger.get(request["letter_id"])
    assert record is not None and record.channel == PRINT
    assert record.route_reason == "no consent to digital delivery"
    assert setup.printed.delivered_ids() == [request["letter_id"]]
    assert setup.digipost.outbox == []


def test_the_same_request_twice_is_rendered_and_sent_once(setup: Setup) -> None:
    body = setup.body(sample_request("purring-nb-plain"))
    first = setup.pipeline.process(body)
    second = setup.pipeline.process(body)

    assert not first.already_finished and second.already_finished
    assert second.receipt is None
    assert len(setup.renders) == 1
    assert len(setup.digipost.outbox) == 1
    assert setup.events(first.letter_id) == HAPPY


def test_a_transient_channel_failure_resumes_without_rendering_again(setup: Setup) -> None:
    request = sample_request("betalingsoppfordring-nb-plain")
    setup.digipost.fail_next(ChannelUnavailableError("digipost: 503"))
    with pytest.raises(TransientError):
        setup.pipeline.process(setup.body(request))
    record = setup.ledger.get(request["letter_id"])
    assert record is not None and record.status is LetterStatus.ARCHIVED

    setup.pipeline.process(setup.body(request))

    assert setup.renders == [request["letter_id"]]
    assert setup.digipost.delivered_ids() == [request["letter_id"]]
    assert setup.events(request["letter_id"]) == HAPPY


def test_an_unsure_directory_never_prints(setup: Setup) -> None:
    setup.pipeline.channels = ChannelSet(setup.pipeline.channels.channels, UnsureDirectory())
    request = sample_request("inkassovarsel-en-plain")
    with pytest.raises(TransientError, match="connection refused"):
        setup.pipeline.process(setup.body(request))

    # Routed before it is rendered: nothing is dated, rendered or sent.
    record = setup.ledger.get(request["letter_id"])
    assert record is not None and record.status is LetterStatus.ACCEPTED
    assert record.channel is None and setup.renders == []
    assert setup.printed.outbox == [] and setup.digipost.outbox == []


def test_no_mailbox_at_send_time_goes_to_print_with_the_reason(setup: Setup) -> None:
    request = sample_request("varsel_rettslig_pagang-nb-plain")
    setup.digipost.fail_next(NotAMailboxError("UNKNOWN_RECIPIENT"))
    setup.pipeline.process(setup.body(request))

    record = setup.ledger.get(request["letter_id"])
    assert record is not None and record.channel == PRINT
    assert record.route_reason is not None and "UNKNOWN_RECIPIENT" in record.route_reason
    assert setup.printed.delivered_ids() == [request["letter_id"]]


def test_an_invalid_request_names_the_field_and_leaves_no_letter(setup: Setup) -> None:
    request = sample_request("purring-nb-plain")
    request["recipient"]["address"]["postal_code"] = "15"
    with pytest.raises(InvalidRequest, match=r"recipient\.address\.postal_code: must be 4 digits"):
        setup.pipeline.process(setup.body(request))
    assert setup.ledger.get(request["letter_id"]) is None
    assert setup.renders == []


def test_an_archive_that_changed_is_never_sent(setup: Setup) -> None:
    request = sample_request("purring-nb-plain")
    setup.digipost.fail_next(ChannelUnavailableError("digipost: 503"))
    with pytest.raises(TransientError):
        setup.pipeline.process(setup.body(request))
    record = setup.ledger.get(request["letter_id"])
    assert record is not None and record.archive_key is not None
    path = setup.archive.root / record.archive_key
    path.write_bytes(b"%PDF-1.7 something else")

    with pytest.raises(ArchiveMismatchError, match="differs from the one recorded"):
        setup.pipeline.process(setup.body(request))
    assert setup.digipost.outbox == []


def test_a_forced_route_replaces_the_rule_for_a_letter_in_the_ledger(setup: Setup) -> None:
    request = sample_request("inkassovarsel-nb-plain")
    setup.pipeline.ledger.accept(
        letter_id=request["letter_id"],
        case_number=request["case"]["case_number"],
        letter_type=request["letter_type"],
        language=request["language"],
        request=json.dumps(request),
    )
    outcome = setup.pipeline.deliver(request["letter_id"], Route(PRINT, "forced by a test"))

    assert outcome.receipt is not None and outcome.receipt.channel == PRINT
    record = setup.ledger.get(request["letter_id"])
    assert record is not None and record.route_reason == "forced by a test"
    assert setup.digipost.outbox == []


def test_the_history_says_how_each_letter_was_laid_out(
    setup: Setup, service: LetterService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The suite's service is shared: a book of its own, so the first letter is the first.
    monkeypatch.setattr(service.renderer, "stencils", StencilBook())
    first = sample_request("inkassovarsel-nb-plain")
    second = {**first, "letter_id": "6b3a2c10-4f55-4d6e-9a8b-000000000002"}
    second["case"] = {**first["case"], "case_number": "2026-0045138"}
    longer = {**first, "letter_id": "6b3a2c10-4f55-4d6e-9a8b-000000000003"}
    longer["case"] = {
        **first["case"],
        "case_number": "2026-0045139",
        "creditor": {
            **first["case"]["creditor"],
            "name": "Fjellkraft Nettselskap Vestlandet og Nordland AS",
        },
    }
    details = []
    ways = ("new_stencil", "stencil", "fallback")
    before = {way: _layouts(way) for way in ways}
    for request in (first, second, longer):
        setup.pipeline.process(setup.body(request))
        [rendered] = [
            e for e in setup.ledger.history(request["letter_id"]) if e.event == "rendered"
        ]
        details.append(rendered.detail)
    assert "laid out in full: the first letter of its shape" in details[0]
    assert "laid out on its stencil (" in details[1]
    assert "laid out in full: its " in details[2] and "wraps differently" in details[2]
    # Why, and never the words that did not fit.
    assert "Fjellkraft" not in details[2]
    assert {way: _layouts(way) - before[way] for way in ways} == dict.fromkeys(ways, 1)


def _layouts(way: str) -> float:
    return REGISTRY.get_sample_value("letters_render_layouts_total", {"way": way}) or 0.0
