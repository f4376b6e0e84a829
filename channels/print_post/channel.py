"""Print and post: letters join a print batch that goes to the print house when cut.

``send`` checks the PDF against the print rules (``channels.printability``,
with the address in the envelope window and the sheet-code zone blank), then
adds the letter to the open batch for its destination and returns a receipt
naming the batch. The batch is cut by size or at the daily cut-off and
delivered by ``channels.print_post.dispatch`` (the worker does that
periodically; ``letters print cut`` does it now). Sending the same letter
again names the batch it is already in: a letter is in at most one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from channels.base import OutgoingLetter, Receipt, ReceiptStatus
from channels.print_post.batches import PrintBatches, open_batches
from channels.print_post.sheet_codes import sheet_code_zone
from channels.printability import PrintRules, check_printable
from letters.clock import utcnow
from letters.config import Settings
from letters.domain.postal_address import window_lines
from letters.envelopes import ENVELOPES
from letters.ledger import BatchStatus


class PrintPostChannel:
    def __init__(
        self,
        batches: PrintBatches,
        rules: PrintRules,
        name: str = "print",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.batches = batches
        self.rules = rules
        self.name = name
        self.clock = clock

    def sending_day(self, now: datetime) -> date:
        """The posting day of the batch a letter handed over now joins."""
        return self.batches.posting_day(now)

    def send(self, letter: OutgoingLetter) -> Receipt:
        recipient = letter.recipient
        check_printable(letter.pdf, self.rules, window_lines(recipient.name, recipient.address))
        placement = self.batches.add(
            letter.letter_id,
            letter.case_number,
            letter.page_count,
            recipient.address.country_code,
            self.clock(),
        )
        sent = placement.batch_status is BatchStatus.SENT
        return Receipt(
            channel=self.name,
            letter_id=letter.letter_id,
            status=ReceiptStatus.SENT if sent else ReceiptStatus.BATCHED,
            provider_ref=placement.batch_id,
            detail=(
                f"batch {placement.batch_id} ({placement.destination}), letter {placement.position}"
            ),
            duplicate=placement.duplicate,
            delivery_method="PRINT" if sent else None,
        )


def print_rules(settings: Settings) -> PrintRules:
    return PrintRules(
        max_pages=settings.print.max_pages,
        envelope=ENVELOPES[settings.print.envelope],
        code_zone=sheet_code_zone(settings).window,
    )


def build_channel(route: str, settings: Settings) -> PrintPostChannel:
    return PrintPostChannel(open_batches(settings), print_rules(settings), name=route)
