"""Which print batch a letter joins: by destination, cut by size or at the daily cut-off.

A letter joins the open batch for its destination (domestic or foreign). A
batch is closed when it holds ``LETTERS_PRINT_BATCH_SIZE`` letters or when
the daily cut-off (local time in Norway) has passed, whichever comes first,
and is then the dispatcher's to assemble, upload and mark sent. The ledger
(``letters.ledger.PrintBatchStore``) keeps the batches and their invariants.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from functools import cache

from letters.clock import OSLO
from letters.config import Settings
from letters.domain.posting import print_posting_day
from letters.ledger import Ledger, NewBatch, NewMember, Placement, PrintBatchStore

DOMESTIC, FOREIGN = "domestic", "foreign"
# Posten has one domestic class since 2018; letters abroad go Priority to be quick.
POSTAGE_CLASSES = {DOMESTIC: "domestic", FOREIGN: "international-priority"}


def destination_of(country: str) -> str:
    return DOMESTIC if country == "NO" else FOREIGN


def next_cutoff(moment: datetime, cutoff: time) -> datetime:
    """The first cut-off (local time in Norway) after ``moment``, in UTC."""
    local = moment.astimezone(OSLO)
    day: date = local.date()
    candidate = datetime.combine(day, cutoff, tzinfo=OSLO)
    if candidate <= local:
        candidate = datetime.combine(day + timedelta(days=1), cutoff, tzinfo=OSLO)
    return candidate.astimezone(moment.tzinfo)


class PrintBatches:
    def __init__(
        self, store: PrintBatchStore, batch_size: int, cutoff: time, posting_delay: int = 1
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.cutoff = cutoff
        # Working days from the print house getting a batch to posting it.
        self.posting_delay = posting_delay

    def posting_day(self, now: datetime) -> date:
        """When a letter joining a batch at ``now`` is posted: after the next cut-off."""
        cut = next_cutoff(now, self.cutoff).astimezone(OSLO).date()
        return print_posting_day(cut, self.posting_delay)

    def add(
        self, letter_id: str, case_number: str, page_count: int, country: str, now: datetime
    ) -> Placement:
        """Put the letter in its destination's open batch, or say where it already is."""
        destination = destination_of(country)
        member = NewMember(
            letter_id=letter_id,
            case_number=case_number,
            page_count=page_count,
            country=country,
            destination=destination,
            postage_class=POSTAGE_CLASSES[destination],
        )
        batch_id = f"{now.astimezone(OSLO):%Y%m%d}-{destination[0].upper()}-{uuid.uuid4().hex[:8]}"
        new_batch = NewBatch(batch_id, next_cutoff(now, self.cutoff))
        return self.store.add(member, now, self.batch_size, new_batch)


def open_batches(settings: Settings) -> PrintBatches:
    return PrintBatches(
        _ledger(settings.database_url).batches,
        settings.print.batch_size,
        settings.print.cutoff,
        settings.print.posting_delay,
    )


@cache
def _ledger(database_url: str) -> Ledger:
    # One connection pool per process and database for print batches.
    return Ledger(database_url)
