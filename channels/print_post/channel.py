"""Print and post: a letter checked against the print rules and handed over for a batch.

``send`` checks the PDF against the print rules (``channels.printability``,
with the address in the envelope window and the sheet-code zone blank), and
returns a ``batched`` receipt. Which batch the letter joins is the delivery
layer's decision, with the ledger (``letters.delivery.print_batches``); the
batch is cut by size or at the daily cut-off and delivered by
``letters.delivery.print_dispatch``. The channel itself keeps no state.
"""

from __future__ import annotations

from datetime import date, datetime, time

from channels.base import OutgoingLetter, Receipt, ReceiptStatus
from channels.print_post.sheet_codes import sheet_code_zone
from channels.printability import PrintRules, check_printable
from letters.config import Settings
from letters.domain.postal_address import window_lines
from letters.domain.posting import print_leaving_day
from letters.envelopes import ENVELOPES


class PrintPostChannel:
    def __init__(
        self, rules: PrintRules, cutoff: time, posting_delay: int = 1, name: str = "print"
    ) -> None:
        self.rules = rules
        self.cutoff = cutoff
        # Working days from the print house getting a batch to posting it.
        self.posting_delay = posting_delay
        self.name = name

    def sending_day(self, now: datetime) -> date:
        """The posting day of the batch a letter handed over now joins."""
        return print_leaving_day(now, self.cutoff, self.posting_delay)

    def send(self, letter: OutgoingLetter) -> Receipt:
        recipient = letter.recipient
        check_printable(letter.pdf, self.rules, window_lines(recipient.name, recipient.address))
        return Receipt(
            channel=self.name,
            letter_id=letter.letter_id,
            status=ReceiptStatus.BATCHED,
            provider_ref=None,
            detail="printable; to join a print batch",
        )


def print_rules(settings: Settings) -> PrintRules:
    return PrintRules(
        max_pages=settings.print.max_pages,
        envelope=ENVELOPES[settings.print.envelope],
        code_zone=sheet_code_zone(settings).window,
    )


def build_channel(route: str, settings: Settings) -> PrintPostChannel:
    return PrintPostChannel(
        print_rules(settings), settings.print.cutoff, settings.print.posting_delay, name=route
    )
