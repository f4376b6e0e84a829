"""A letter that needs a rate nobody has checked is held, never sent with a guess; it goes on
once the rate is approved, dated by the day it leaves. The clock is the test's own: 2027,
with a rate table that has no interest for the first half of 2027."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pdfplumber
import pytest

from channels.base import DIGIPOST, PRINT, ChannelSet
from channels.fake import FakeChannel, FakeDirectory
from letters.config import Settings
from letters.delivery.pipeline import Pipeline
from letters.delivery.print_batches import open_batches
from letters.delivery.rates import release_held, warn_if_rates_run_out
from letters.domain.rates import Rate, RateKind, RateTable, load_rates
from letters.ledger import Ledger, LetterStatus
from letters.ledger.locks import FileLetterLocks
from letters.ledger.outbox import Outbox
from letters.ledger.rates import RateBook
from letters.rendering.letter_service import LetterService
from letters.storage import DirectoryStore
from tests.support.events import check_outbox
from tests.support.rates import suite_rates_file
from tests.support.stacks import ledger_keys, needs_interest, needs_no_interest, sample_request

H1_2027 = date(2027, 1, 1)
MISSING = "late_payment_interest 2027-01-01"


def without_interest_from(table: RateTable, day: date) -> RateTable:
    rows = tuple(
        r
        for r in table.rows
        if not (r.kind is RateKind.LATE_PAYMENT_INTEREST and r.valid_from >= day)
    )
    return dataclasses.replace(table, rows=rows)


@dataclass
class Setup:
    pipeline: Pipeline
    ledger: Ledger
    digipost: FakeChannel
    printed: FakeChannel
    now: list[datetime]

    def process(self, request: dict[str, Any]) -> Any:
        return self.pipeline.process(json.dumps(request).encode())

    def status(self, letter_id: str) -> LetterStatus:
        record = self.ledger.get(letter_id)
        assert record is not None
        return record.status

    def approve_interest(self, value: str = "11.75") -> str:
        book = RateBook(self.ledger)
        row_id = book.add(
            RateKind.LATE_PAYMENT_INTEREST,
            H1_2027,
            Decimal(value),
            "FOR-2026-12-18-1",
            "Ola",
            self.now[0],
        ).row_id
        book.approve(row_id, "Kari", self.now[0])
        return row_id

    def release(self) -> list[str]:
        """What the worker's sweep does: release, then each letter through the pipeline."""
        released = release_held(self.ledger, self.pipeline.rates).released
        for record in released:
            self.pipeline.process(record.request)
        return [r.letter_id for r in released]


@contextmanager
def make_setup(tmp_path: Path, table: RateTable) -> Iterator[Setup]:
    service = LetterService(Settings.from_env({}))
    service.contract_rules = dataclasses.replace(service.contract_rules, rates=table)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", ledger_keys())
    ledger.upgrade()
    now = [datetime(2027, 1, 5, 10, 0, tzinfo=UTC)]
    digipost, printed = FakeChannel(DIGIPOST), FakeChannel(PRINT)
    pipeline = Pipeline(
        service=service,
        ledger=ledger,
        archive=DirectoryStore(tmp_path / "archive"),
        channels=ChannelSet({DIGIPOST: digipost, PRINT: printed}, FakeDirectory()),
        locks=FileLetterLocks(tmp_path / "locks"),
        print_batches=open_batches(Settings.from_env({}), ledger),
        clock=lambda: now[0],
    )
    yield Setup(pipeline, ledger, digipost, printed, now)
    try:
        check_outbox(ledger)
    finally:
        ledger.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with make_setup(tmp_path, without_interest_from(load_rates(suite_rates_file()), H1_2027)) as s:
        yield s


def test_a_letter_that_needs_a_missing_rate_is_held_and_says_which(setup: Setup) -> None:
    request = needs_interest()
    outcome = setup.process(request)

    assert outcome.stopped is LetterStatus.HELD and outcome.waiting_for == "a rate"
    record = setup.ledger.get(request["letter_id"])
    assert record is not None and record.status is LetterStatus.HELD
    assert record.held_for_rates == MISSING and record.pdf_sha256 is None
    assert setup.digipost.outbox == [] and setup.printed.outbox == []
    held = setup.ledger.history(record.letter_id)[-1]
    assert held.event == "held"
    assert held.detail is not None
    assert held.detail.startswith("no checked late_payment_interest for 2027-01-01")
    [event] = [json.loads(e.body) for e in Outbox(setup.ledger).for_letter(record.letter_id)
               if e.kind == "held"]  # fmt: skip
    assert "no checked late_payment_interest for 2027-01-01" in event["details"]["reason"]
    assert RateBook(setup.ledger).holding() == {MISSING: 1}
    # A redelivered message of a held letter changes nothing.
    assert setup.process(request).already_finished


def test_every_missing_rate_is_named_not_only_the_first(tmp_path: Path) -> None:
    table = load_rates(suite_rates_file())
    rows = tuple(r for r in table.rows if r.valid_from < H1_2027)
    with make_setup(tmp_path, dataclasses.replace(table, rows=rows)) as s:
        request = sample_request("varsel_rettslig_pagang-nb-plain")
        s.process(request)
        record = s.ledger.get(request["letter_id"])
    assert record is not None and record.held_for_rates is not None
    assert set(record.held_for_rates.split(", ")) == {
        "late_payment_interest 2027-01-01", "collection_rate 2027", "court_fee 2027",
    }  # fmt: skip


def test_letters_that_need_no_missing_rate_are_delivered_meanwhile(setup: Setup) -> None:
    held, free = needs_interest(), needs_no_interest()
    setup.process(held)
    outcome = setup.process(free)

    assert outcome.stopped is None and outcome.receipt is not None
    assert setup.status(free["letter_id"]) is LetterStatus.DELIVERED
    assert setup.status(held["letter_id"]) is LetterStatus.HELD
    assert setup.digipost.delivered_ids() == [free["letter_id"]]


def test_a_held_letter_goes_on_once_the_rate_is_approved_dated_by_the_day_it_leaves(
    setup: Setup,
) -> None:
    request = needs_interest()
    setup.process(request)
    book = RateBook(setup.ledger)
    row_id = book.add(
        RateKind.LATE_PAYMENT_INTEREST,
        H1_2027,
        Decimal("11.75"),
        "FOR-2026-12-18-1",
        "Ola",
        setup.now[0],
    ).row_id
    # Added but not approved: not used, nothing goes on.
    assert setup.release() == []
    assert setup.status(request["letter_id"]) is LetterStatus.HELD

    book.approve(row_id, "Kari", setup.now[0])
    setup.now[0] = datetime(2027, 1, 8, 9, 0, tzinfo=UTC)  # three days later
    assert setup.release() == [request["letter_id"]]

    record = setup.ledger.get(request["letter_id"])
    assert record is not None and record.status is LetterStatus.DELIVERED
    assert record.letter_date == date(2027, 1, 8)
    assert record.deadline is not None and record.deadline >= date(2027, 1, 22)
    assert record.held_for_rates is None
    [sent] = setup.digipost.outbox
    with pdfplumber.open(io.BytesIO(sent.pdf)) as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    assert "Forsinkelsesrente 11,75" in text, text
    assert RateBook(setup.ledger).holding() == {}


def test_a_withdrawn_row_stops_being_used(setup: Setup) -> None:
    row_id = setup.approve_interest()
    first = needs_interest()
    setup.process(first)
    assert setup.status(first["letter_id"]) is LetterStatus.DELIVERED

    RateBook(setup.ledger).withdraw(row_id, "Kari", setup.now[0], "typed wrong")
    second = needs_interest()
    setup.process(second)
    assert setup.status(second["letter_id"]) is LetterStatus.HELD
    assert setup.release() == []


def test_an_unchecked_packaged_row_is_used_only_where_the_setting_allows_it(tmp_path: Path) -> None:
    table = without_interest_from(load_rates(suite_rates_file()), H1_2027)
    placeholder = Rate(
        RateKind.LATE_PAYMENT_INTEREST, H1_2027, Decimal("12.00"), "PLACEHOLDER", False
    )
    production = dataclasses.replace(table, rows=(*table.rows, placeholder))
    demo = dataclasses.replace(production, allow_unchecked=True)
    for rates, status in ((production, LetterStatus.HELD), (demo, LetterStatus.DELIVERED)):
        folder = tmp_path / str(status)
        folder.mkdir()
        with make_setup(folder, rates) as s:
            request = needs_interest()
            s.process(request)
            assert s.status(request["letter_id"]) is status
            history = s.ledger.history(request["letter_id"])
        if status is LetterStatus.DELIVERED:
            [rendered] = [e.detail or "" for e in history if e.event == "rendered"]
            assert (
                "UNCHECKED rates used: late_payment_interest from 2027-01-01 = 12.00 "
                "(packaged, UNCHECKED: PLACEHOLDER)" in rendered
            )


def test_the_start_up_warning_names_each_table_that_ends_within_a_month() -> None:
    table = without_interest_from(load_rates(suite_rates_file()), H1_2027)
    assert warn_if_rates_run_out(table, date(2026, 11, 1)) == []
    [warning] = warn_if_rates_run_out(table, date(2026, 12, 5))
    assert warning.startswith("late_payment_interest has a checked figure until 2026-12-31")
