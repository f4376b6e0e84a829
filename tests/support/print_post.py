"""Letters for the print tests: rendered once per session, put in a ledger and archive per test."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from channels.base import OutgoingLetter, Receipt
from channels.print_post.channel import PrintPostChannel, print_rules
from channels.print_post.fonts import FontLibrary
from letters.config import Settings
from letters.delivery.letter_pdf import rendering_of
from letters.delivery.print_batches import PrintBatches, placed_receipt
from letters.delivery.print_dispatch import PrintDispatcher, open_print_drop
from letters.domain.contract import parse_request
from letters.domain.model import LetterRequest
from letters.ledger import Ledger, Rendering
from letters.rendering.letter_service import LetterService
from letters.storage import archive_key, open_archive
from tests.support.events import check_outbox
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY

SCENARIOS = ["plain", "long_names", "many_claims", "no_interest_no_costs"]
TYPES = ["purring", "inkassovarsel", "betalingsoppfordring", "varsel_rettslig_pagang"]
FIRST_NAMES = ["Kari", "Ola", "Åse", "Bjørn", "Sigrid", "Håkon", "Ingrid", "Øystein", "Liv", "Per"]
LAST_NAMES = ["Nordmann", "Hansen", "Kjærstad", "Ødegård", "Berg", "Lie", "Dahl", "Strand"]


@dataclass(frozen=True)
class Sample:
    """A rendered letter that can be given any letter id."""

    raw: dict[str, Any]
    request: LetterRequest
    pdf: bytes
    rendering: Rendering


def render_samples(service: LetterService, count: int, country: str = "NO") -> list[Sample]:
    """``count`` different letters: four types, two languages, varied names and amounts."""
    samples = []
    for index in range(count):
        letter_type = TYPES[index % 4]
        language = "nb" if index % 3 else "en"
        scenario = "foreign_address" if country != "NO" else SCENARIOS[index % 4]
        raw = json.loads(
            (GOLDEN_DIR / letter_type / language / scenario / "request.json").read_bytes()
        )
        raw = copy.deepcopy(raw)
        raw["letter_id"] = str(uuid.uuid4())
        raw["recipient"]["name"] = (
            f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {LAST_NAMES[index % len(LAST_NAMES)]}"
        )
        raw["case"]["case_number"] = f"2026-{index + 10000:07d}"
        raw["case"].pop("kid", None)  # the KID of the new case number is made
        for number, claim in enumerate(raw["case"]["claims"]):
            claim["principal"] = str(Decimal(claim["principal"]) + index * 17 + number)
        samples.append(sample_from(service, raw))
    return samples


def sample_from(service: LetterService, raw: dict[str, Any]) -> Sample:
    rendered = service.render_request(raw, TEST_TODAY)
    request = parse_request(raw, service.profile.contract_rules, TEST_TODAY)
    composed = service.compose_request(raw, TEST_TODAY)
    rendering = rendering_of(rendered, composed.totals.due)
    return Sample(raw, request, rendered.pdf, rendering)


class PrintHarness:
    """A ledger, an archive, the print channel and a dispatcher, with a clock a test sets."""

    def __init__(self, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.env = {"LETTERS_VAR_DIR": str(tmp_path / "var"), **(env or {})}
        self.settings = Settings.from_env(self.env)
        self.ledger = Ledger.for_settings(self.settings)
        self.ledger.upgrade()
        self.archive = open_archive(self.settings.archive_url, self.settings.s3)
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Oslo
        self.batches = self.ledger.batches
        self.channel = PrintPostChannel(print_rules(self.settings), self.settings.print.cutoff)
        self.placing = PrintBatches(
            self.batches, self.settings.print.batch_size, self.settings.print.cutoff
        )
        self.dispatcher = self.new_dispatcher()

    def new_dispatcher(self, settings: Settings | None = None) -> PrintDispatcher:
        settings = settings or self.settings
        return PrintDispatcher(
            self.batches,
            self.archive,
            open_print_drop(settings),
            FontLibrary(settings.templates_dir / "fonts"),
            settings.print.envelope,
            clock=lambda: self.now,
        )

    def close(self) -> None:
        try:
            check_outbox(self.ledger)
        finally:
            self.ledger.close()

    def store(self, sample: Sample, letter_id: str | None = None) -> OutgoingLetter:
        """Record ``sample`` in the ledger and archive as the pipeline would, up to routing."""
        letter_id = letter_id or str(uuid.uuid4())
        request = sample.request
        self.ledger.accept(
            letter_id=letter_id,
            case_number=request.case.case_number,
            letter_type=request.letter_type.value,
            language=request.language.value,
            request=json.dumps({**sample.raw, "letter_id": letter_id}),
        )
        self.ledger.record_rendered(letter_id, sample.rendering, "test")
        key = archive_key(sample.rendering.letter_date, letter_id)
        self.archive.put(key, sample.pdf)
        self.ledger.record_archived(letter_id, key)
        self.ledger.record_routed(letter_id, "print", "test")
        r = sample.rendering
        return OutgoingLetter(
            letter_id=letter_id,
            case_number=request.case.case_number,
            letter_type=request.letter_type.value,
            language=request.language.value,
            letter_date=r.letter_date,
            deadline=r.deadline,
            kid=r.kid,
            amount_due=r.amount_due,
            account_number="86011117947",
            page_count=r.page_count,
            pdf_sha256=r.pdf_sha256,
            pdf=sample.pdf,
            recipient=request.recipient,
        )

    def send(self, sample: Sample, letter_id: str | None = None) -> Receipt:
        """Store the sample and send it through the print channel, placing it in its batch
        as the pipeline does."""
        return self.hand_over(self.store(sample, letter_id))

    def hand_over(self, letter: OutgoingLetter) -> Receipt:
        """The print channel's send and the letter's place in its batch, as the pipeline
        does them."""
        receipt = self.channel.send(letter)
        placement = self.placing.place(
            letter.letter_id,
            letter.case_number,
            letter.page_count,
            letter.recipient.address.country_code,
            self.now,
            receipt.channel,
        )
        return placed_receipt(receipt, placement)
