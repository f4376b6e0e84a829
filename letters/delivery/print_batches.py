"""Which print batch a letter joins: by destination, cut by size or at the daily cut-off.

The print channel checks a letter and hands it over as ``batched``; the
pipeline then places it here. A letter joins the open batch for its
destination (domestic or foreign). A batch is closed when it holds
``LETTERS_PRINT_BATCH_SIZE`` letters or when the daily cut-off (local time in
Norway) has passed, whichever comes first, and is then the dispatcher's
(``letters.delivery.print_dispatch``) to assemble, upload and mark sent. The
ledger keeps the batches and their invariants, and writes a letter's place
in its batch and its ``batched`` status in one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, time

from channels.base import Receipt, ReceiptStatus
from letters.clock import OSLO
from letters.config import Settings
from letters.domain.posting import next_cutoff
from letters.ledger import Ledger
from letters.ledger.print_batches import PrintBatchStore
from letters.ledger.records import BatchStatus, NewBatch, NewMember, Placement

DOMESTIC, FOREIGN = "domestic", "foreign"
# Posten has one domestic class since 2018; letters abroad go Priority to be quick.
POSTAGE_CLASSES = {DOMESTIC: "domestic", FOREIGN: "international-priority"}


def destination_of(country: str) -> str:
    return DOMESTIC if country == "NO" else FOREIGN


class PrintBatches:
    def __init__(self, store: PrintBatchStore, batch_size: int, cutoff: time) -> None:
        self.store = store
        self.batch_size = batch_size
        self.cutoff = cutoff

    def place(
        self,
        letter_id: str,
        case_number: str,
        page_count: int,
        country: str,
        now: datetime,
        channel: str,
    ) -> Placement:
        """Put the letter in its destination's open batch and mark it ``batched`` (one
        transaction), or say which batch it is in already."""
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
        return self.store.add(member, now, self.batch_size, new_batch, channel)


def placed_receipt(receipt: Receipt, placement: Placement) -> Receipt:
    """The print channel's receipt with the letter's place in its batch; a letter found in
    a batch that has gone to the print house already counts as sent."""
    sent = placement.batch_status is BatchStatus.SENT
    return replace(
        receipt,
        status=ReceiptStatus.SENT if sent else ReceiptStatus.BATCHED,
        provider_ref=placement.batch_id,
        detail=placement.detail,
        duplicate=placement.duplicate,
        delivery_method="PRINT" if sent else None,
    )


def open_batches(settings: Settings, ledger: Ledger) -> PrintBatches:
    return PrintBatches(
        ledger.batches,
        settings.print.batch_size,
        settings.print.cutoff,
    )
