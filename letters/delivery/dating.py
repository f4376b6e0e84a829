"""Dating a letter by the day it leaves, and the order of letters in its case.

A letter is dated when it is rendered, after it is routed: by the day its
channel will send it (``Channel.sending_day``). It is dated again, with a new
deadline and password, whenever it turns out to leave later than that and
its deadline would then be short: a retry that runs past the day, a print
batch that leaves late. A re-send copy is never dated again: it is the
archived letter, byte for byte.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from letters.domain.deadline import payment_deadline
from letters.domain.letter_order import PriorLetter
from letters.domain.letter_types import LetterType
from letters.domain.model import Cost, CostCode, LetterRequest
from letters.domain.posting import letter_date_for
from letters.domain.profile import AgencyProfile
from letters.ledger import LetterRecord, LetterStatus

# Earlier letters that no longer count: they never left and never will (a letter the
# print house did not post was made again as a new letter, which counts instead).
_GONE = frozenset({LetterStatus.DEAD_LETTERED, LetterStatus.CANCELLED, LetterStatus.NOT_POSTED})


def needs_new_date(
    record: LetterRecord, request: LetterRequest, leaves_on: date, profile: AgencyProfile
) -> bool:
    """Whether a rendered letter that leaves on ``leaves_on`` would have too short a deadline."""
    if record.resend_mode == "copy" or record.deadline is None:
        return False
    letter_date = letter_date_for(request.letter_date, leaves_on)
    required = payment_deadline(
        request.letter_type,
        letter_date,
        profile.deadline_days,
        request.requested_deadline,
        profile.deadline_extensions,
        abroad=not request.recipient.address.is_domestic,
    )
    return required > record.deadline


def lawful_deadline(
    record: LetterRecord, request: LetterRequest, posted_on: date, profile: AgencyProfile
) -> date | None:
    """The deadline the law gives a letter that was posted on ``posted_on``, later than the
    date it carries; None when it was not posted later than that. Never before the printed
    deadline: a debtor keeps the time the letter gave."""
    if record.letter_date is None or record.deadline is None or posted_on <= record.letter_date:
        return None
    required = payment_deadline(
        request.letter_type,
        letter_date_for(request.letter_date, posted_on),
        profile.deadline_days,
        request.requested_deadline,
        profile.deadline_extensions,
        abroad=not request.recipient.address.is_domestic,
    )
    return max(required, record.deadline)


def renewal_request(original: dict[str, Any], new_id: str, today: date) -> dict[str, Any]:
    """The original request as a new letter dated today.

    The deadline is computed again from today by the type's legal minimum; a
    deadline the original asked for is kept only while it is still later.
    """
    data = dict(original)
    data["letter_id"] = new_id
    data["letter_date"] = today.isoformat()
    asked = data.get("deadline")
    if isinstance(asked, str) and asked <= today.isoformat():
        del data["deadline"]
    return data


def ledger_letters(record: LetterRecord, case_letters: list[LetterRecord]) -> list[PriorLetter]:
    """The case's other letters in the ledger that the order of letters counts.

    A re-send copy is the letter it copies, not another one; a renewal replaces
    the letter it renews; a letter dead-lettered or cancelled never left.
    """
    replaced = record.origin_letter_id if record.resend_mode == "renew" else None
    prior = []
    for other in case_letters:
        if (
            other.letter_id == record.letter_id
            or other.letter_id == replaced
            or other.resend_mode == "copy"
            or other.status in _GONE
        ):
            continue
        sent_on = other.posted_on or other.planned_posting_day or other.letter_date
        # Posted later than dated: the next step waits for the deadline the law gives.
        deadline = max(filter(None, (other.deadline, other.lawful_deadline)), default=None)
        prior.append(
            PriorLetter(
                LetterType(other.letter_type),
                sent_on if deadline else None,
                deadline,
                f"letter {other.letter_id}",
                costs_claimed(other.request),
                returned=other.status is LetterStatus.RETURNED,
            )
        )
    return prior


def costs_claimed(stored_request: str) -> tuple[Cost, ...]:
    """The costs a letter's stored request claimed (it was validated when it was accepted)."""
    case = json.loads(stored_request).get("case", {})
    return tuple(
        Cost(
            CostCode(cost["code"]),
            Decimal(cost["amount"]),
            date.fromisoformat(cost["charged_on"]) if cost.get("charged_on") else None,
        )
        for cost in case.get("costs", [])
    )
