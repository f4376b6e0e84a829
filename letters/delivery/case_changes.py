"""What a change of a case's state does to its letters, and cancelling one letter.

- disputed or on hold: a letter that has not left waits, ``held``; one in an
  open print batch is taken out of it first, ``withdrawn`` (the manifest will
  not list it);
- open: every held or withdrawn letter goes on (back to the work queue, where
  it is dated again if it now leaves later);
- paid or closed: a letter that has not left is ``cancelled``, out of its
  open print batch too;
- a letter that has left (sent, delivered, or in a batch already closed) gets
  the change in its history and nothing else.

Each letter is changed under its lock, so no worker sends it meanwhile. A
change older than one already recorded (messages out of order) is kept in
the case's history and changes no letter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from letters.domain.case_message import CaseStateChange
from letters.ledger import FINISHED, Ledger, LetterLocks, LetterRecord, LetterStatus
from letters.ledger.case_states import CLOSED_STATES, HOLDING_STATES, OPEN, CaseChange
from letters.logs import log_event

log = logging.getLogger("letters.pipeline")


@dataclass
class CaseOutcome:
    change: CaseChange
    # Letters that wait no more; the caller sends them back to the work queue.
    released: list[LetterRecord] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    # Letters that had left: the change is in their history only.
    noted: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Cancellation:
    cancelled: bool
    # What happened, for the operator: cancelled (and from which batch), or why not.
    detail: str


class CaseStateHandler:
    def __init__(self, ledger: Ledger, locks: LetterLocks) -> None:
        self.ledger = ledger
        self.locks = locks
        self.cases = ledger.cases
        self.batches = ledger.batches

    def apply(self, change: CaseStateChange, source: str = "case system") -> CaseOutcome:
        recorded = self.cases.record(
            change.case_number, change.state, change.at, reference=change.reference, source=source
        )
        outcome = CaseOutcome(recorded)
        if not (recorded.new and recorded.latest):
            return outcome  # a repeat, or older than what the ledger knows
        when = change.at.isoformat(timespec="seconds")
        reason = f"case {change.state} at {when}" + (
            f" ({change.reference})" if change.reference else ""
        )
        for letter in self.ledger.case_letters(change.case_number):
            with self.locks.hold(letter.letter_id):
                record = self.ledger.get(letter.letter_id)
                if record is not None:
                    self._apply_to(record, change.state, reason, outcome)
        log_event(
            log,
            "case state",
            case_number=change.case_number,
            status=change.state,
            count=len(outcome.held) + len(outcome.withdrawn) + len(outcome.cancelled),
        )
        return outcome

    def cancel(self, letter_id: str, reason: str) -> Cancellation:
        """Stop one letter if it has not left (``letters cancel``)."""
        return self.stop(letter_id, f"cancelled by operations: {reason}")

    def stop(self, letter_id: str, reason: str) -> Cancellation:
        """Stop one letter if it has not left, for ``reason`` (operations said so, or a
        letter it rests on came back)."""
        with self.locks.hold(letter_id):
            record = self.ledger.get(letter_id)
            if record is None:
                return Cancellation(False, f"no letter {letter_id} in the ledger")
            if record.status is LetterStatus.CANCELLED:
                return Cancellation(False, "already cancelled")
            return self._cancel(record, reason)

    def _apply_to(
        self, record: LetterRecord, state: str, reason: str, outcome: CaseOutcome
    ) -> None:
        if state == OPEN:
            if record.waiting_for_case and self.ledger.record_released(
                record.letter_id, f"{reason}: the letter goes on"
            ):
                outcome.released.append(record)
            return
        if record.status in FINISHED - {LetterStatus.BATCHED}:
            if record.status in (LetterStatus.SENT, LetterStatus.DELIVERED):
                self.ledger.record_case_news(record.letter_id, f"{reason}; the letter had left")
                outcome.noted.append(record.letter_id)
            return
        if state in CLOSED_STATES:
            if self._cancel(record, f"{reason}: the letter will not be sent").cancelled:
                outcome.cancelled.append(record.letter_id)
            else:
                outcome.noted.append(record.letter_id)
            return
        if state in HOLDING_STATES and not record.waiting_for_case:
            if record.status is LetterStatus.BATCHED:
                batch_id = self.batches.withdraw(
                    record.letter_id, LetterStatus.WITHDRAWN, f"{reason}: the letter waits"
                )
                if batch_id is None:
                    self.ledger.record_case_news(
                        record.letter_id, f"{reason}; its print batch was already closed"
                    )
                    outcome.noted.append(record.letter_id)
                    return
                outcome.withdrawn.append(record.letter_id)
                return
            self.ledger.record_held(
                record.letter_id, LetterStatus.HELD, f"{reason}: the letter waits"
            )
            outcome.held.append(record.letter_id)

    def _cancel(self, record: LetterRecord, reason: str) -> Cancellation:
        if record.status in (LetterStatus.SENT, LetterStatus.DELIVERED):
            when = record.posted_on or record.letter_date
            return Cancellation(
                False, f"it has left: {record.status} via {record.channel} ({when})"
            )
        if record.status is LetterStatus.DEAD_LETTERED:
            return Cancellation(False, "it was dead-lettered and will not be sent")
        if record.status is LetterStatus.BATCHED:
            batch_id = self.batches.withdraw(record.letter_id, LetterStatus.CANCELLED, reason)
            if batch_id is None:
                batch = self.batches.batch_of(record.letter_id)
                where = f" {batch.batch_id} ({batch.status})" if batch else ""
                return Cancellation(
                    False, f"its print batch{where} is already closed: the letter goes"
                )
            return Cancellation(True, f"{reason}; taken out of print batch {batch_id}")
        if not self.ledger.record_cancelled(record.letter_id, reason):
            return Cancellation(False, f"it is {record.status} and cannot be cancelled")
        return Cancellation(True, reason)
