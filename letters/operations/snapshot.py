"""One look at the service for the operations page, taken from the ledger and the broker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from letters.clock import utcnow
from letters.delivery.print_answers import returned_by_reason
from letters.ledger import Ledger
from letters.ledger.case_states import CaseState
from letters.ledger.overview import (
    LetterLine,
    cases_not_open,
    recent_letters,
    waiting_dead_letters,
    waiting_for_case,
)
from letters.ledger.print_answers import ReturnedLetter
from letters.ledger.records import SETTLED_LATELY, Batch, DeadLetter, StatusOverview

QueueDepths = Callable[[], dict[str, int]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: datetime
    # Messages ready per queue; None when the broker did not answer (``broker_error`` says why).
    queue_depths: dict[str, int] | None
    broker_error: str | None
    # Every letter not settled, by status, exactly; the settled ones over the last day.
    letters: StatusOverview
    dead_letters: list[DeadLetter]
    batches: list[Batch]
    recent: list[LetterLine]
    waiting_for_case: list[LetterLine]
    cases: list[CaseState]
    # How many letters each missing rate holds ("KIND PERIOD" -> count).
    held_for_rates: dict[str, int]
    # Returned mail by reason, most letters first, newest letters first within a reason.
    returned: dict[str, list[ReturnedLetter]] = field(default_factory=dict)


def take_snapshot(ledger: Ledger, queue_depths: QueueDepths, recent: int = 50) -> Snapshot:
    """Reads only. A broker that does not answer is shown as such; the ledger must answer."""
    depths: dict[str, int] | None
    try:
        depths, broker_error = queue_depths(), None
    except Exception as err:  # the page shows the broker's trouble rather than failing
        depths, broker_error = None, f"{type(err).__name__}: {str(err)[:200]}"
    return Snapshot(
        taken_at=utcnow(),
        queue_depths=depths,
        broker_error=broker_error,
        letters=ledger.status_overview(utcnow() - SETTLED_LATELY),
        dead_letters=waiting_dead_letters(ledger),
        batches=ledger.batches.batches(limit=50),
        recent=recent_letters(ledger, recent),
        waiting_for_case=waiting_for_case(ledger),
        cases=cases_not_open(ledger),
        held_for_rates=ledger.rates.holding(),
        returned=returned_by_reason(ledger.print_answers.returned(limit=200)),
    )
