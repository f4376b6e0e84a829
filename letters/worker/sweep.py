"""The ledger sweep: letters the ledger holds in flight that no message can be carrying any more.

A broker may drop a message (a classic queue that dead-letters at most once,
a purge, a bug of ours); the ledger never forgets a letter. Periodically (in
the first worker process) and on demand (``letters recover``), the sweep
finds letters that are ``failed`` with a retry overdue by more than a grace
period, or accepted, rendered, archived, routed or requeued and untouched for
longer than a bound, marks each ``recovered`` in its history (status
``requeued``) and republishes its request to the work queue with its attempt
count. Marking first makes a crash between the two harmless: the letter is
found again once it is stale again. A letter that is only slow is not sent
twice: its lock and the ledger make the republished copy a no-op.

Each recovery of a letter waits twice as long as the one before (a letter
recovered once counts as lost only after twice the grace or the bound): a
republished letter behind a long queue is not lost, and is not sent back
again and again while it waits. A letter recovered ``max_recoveries`` times
and still overdue is left for operations and reported as unrecoverable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from letters.config import SweepSettings
from letters.ledger import Ledger, LetterStatus, OverdueLetter
from letters.logs import log_event
from letters.messaging.broker import Publisher
from letters.messaging.topology import ATTEMPT_HEADER

log = logging.getLogger("letters.worker")


@dataclass
class SweepReport:
    recovered: list[OverdueLetter] = field(default_factory=list)
    unrecoverable: list[OverdueLetter] = field(default_factory=list)
    # Letters held for a rate that is approved now, sent on (by the worker's sweep).
    released_for_rates: int = 0


def sweep(
    ledger: Ledger,
    publisher: Publisher | None,
    settings: SweepSettings,
    now: datetime,
) -> SweepReport:
    """Recover what is overdue (``publisher`` None: a dry run that only reports it)."""
    report = SweepReport()
    grace, stale = settings.retry_grace_s, settings.stale_after_s
    for letter in ledger.overdue(now, grace, stale):
        if not _overdue_after_backoff(letter, now, grace, stale):
            continue
        if letter.recoveries >= settings.max_recoveries:
            report.unrecoverable.append(letter)
            continue
        if publisher is None:
            report.recovered.append(letter)
            continue
        if not ledger.record_recovered(letter, now, grace, stale):
            continue  # it moved on since we looked: a worker has it
        publisher.publish_to_work_queue(
            letter.request.encode(), {ATTEMPT_HEADER: letter.attempts + 1}
        )
        report.recovered.append(letter)
        log_event(
            log,
            "recovered",
            level=logging.WARNING,
            letter_id=letter.letter_id,
            case_number=letter.case_number,
            reason=letter.reason,
        )
    return report


def _overdue_after_backoff(
    letter: OverdueLetter, now: datetime, grace_s: float, stale_s: float
) -> bool:
    factor = 2**letter.recoveries
    if letter.retry_at is not None and letter.status is LetterStatus.FAILED:
        return now - letter.retry_at > timedelta(seconds=grace_s * factor)
    return now - letter.updated_at > timedelta(seconds=stale_s * factor)
