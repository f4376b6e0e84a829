"""What became of one letter request: the pipeline's answer, and what it is counted by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from channels.base import Receipt, ReceiptStatus
from letters.ledger import LetterRecord, LetterStatus


@dataclass(frozen=True, slots=True)
class Outcome:
    letter_id: str
    case_number: str
    receipt: Receipt | None
    # The ledger already had the letter finished (or waiting for its case); nothing was done.
    already_finished: bool = False
    # Held or cancelled because of its case, or held for a rate, instead of sent.
    stopped: LetterStatus | None = None
    # What the metrics count it by: words from fixed sets, never debtor data.
    letter_type: str = ""
    language: str = ""
    channel: str = ""
    # Why it was stopped: "its case" or "a rate".
    waiting_for: str = ""

    @property
    def name(self) -> str:
        """What became of it, in the words of ``letters.metrics.OUTCOMES``."""
        if self.already_finished:
            return "duplicate"
        if self.stopped is not None:
            return self.stopped.value
        if self.receipt is not None and self.receipt.status is ReceiptStatus.BATCHED:
            return "batched"
        return "delivered"


def outcome_of(
    record: LetterRecord,
    receipt: Receipt | None,
    *,
    already_finished: bool = False,
    stopped: LetterStatus | None = None,
    waiting_for: str = "its case",
) -> Outcome:
    return Outcome(
        record.letter_id,
        record.case_number,
        receipt,
        already_finished,
        stopped,
        letter_type=record.letter_type,
        language=record.language,
        channel=receipt.channel if receipt else record.channel or "",
        waiting_for=waiting_for if stopped else "",
    )


class LetterIds(TypedDict):
    letter_id: str
    case_number: str


def ids_of(record: LetterRecord) -> LetterIds:
    """What a log line names a letter by: its ids, never the debtor's data."""
    return {"letter_id": record.letter_id, "case_number": record.case_number}
