"""``letters case`` (a case's state, shown or set) and ``letters cancel`` (one letter)."""

from __future__ import annotations

import argparse
import sys

from letters.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Command, open_ledger
from letters.clock import utcnow
from letters.config import Settings
from letters.delivery.case_changes import CaseOutcome, CaseStateHandler
from letters.domain.case_message import CaseStateChange
from letters.domain.message_body import canonical_uuid
from letters.domain.request_shape import case_number_problem
from letters.domain.text import nfc, text_problem
from letters.ledger import letter_locks
from letters.ledger.case_states import CASE_STATES
from letters.messaging.broker import Publisher
from letters.messaging.topology import ATTEMPT_HEADER


def _case_arguments(case: argparse.ArgumentParser) -> None:
    case.add_argument("case_number", metavar="CASE_NUMBER")
    case.add_argument("--set", choices=CASE_STATES, help="record this state now")
    case.add_argument(
        "--note",
        "--reference",
        dest="note",
        help="why, or the case system's reference (no personal data)",
    )


def case_command(args: argparse.Namespace, settings: Settings) -> int:
    if bad_case := case_number_problem("CASE_NUMBER", args.case_number):
        print(f"letters case: {bad_case}", file=sys.stderr)
        return EXIT_BAD_INPUT
    ledger = open_ledger(settings)
    try:
        if args.set:
            if args.note and (problem := text_problem(nfc(args.note))):
                print(f"letters case: --note {problem}", file=sys.stderr)
                return EXIT_BAD_INPUT
            handler = CaseStateHandler(ledger, letter_locks(ledger.engine, settings.var_dir))
            change = CaseStateChange(args.case_number, args.set, utcnow(), args.note)
            outcome = handler.apply(change, source="operations")
            _release(settings, outcome)
            _report(outcome)
        cases = ledger.cases
        state = cases.get(args.case_number)
        changes = cases.history(args.case_number)
    finally:
        ledger.close()
    when = state.changed_at.isoformat(timespec="seconds") if state.changed_at else "never set"
    print(f"case {state.case_number}: {state.state} ({when}){f', {state.note}' * bool(state.note)}")
    for event in changes:
        reference = f"  {event.reference}" if event.reference else ""
        at = event.at.isoformat(timespec="seconds")
        print(f"  {at}  {event.state:<9} {event.source}{reference}")
    return EXIT_OK


def _release(settings: Settings, outcome: CaseOutcome) -> None:
    if not outcome.released:
        return
    with Publisher.open(settings) as publisher:
        for record in outcome.released:
            publisher.publish_to_work_queue(
                record.request.encode(), {ATTEMPT_HEADER: record.attempts + 1}
            )


def _report(outcome: CaseOutcome) -> None:
    for label, ids in (
        ("held", outcome.held),
        ("withdrawn from a print batch", outcome.withdrawn),
        ("cancelled", outcome.cancelled),
        ("going on", [r.letter_id for r in outcome.released]),
        ("already left", outcome.noted),
    ):
        for letter_id in ids:
            print(f"  {label}: {letter_id}")


def _cancel_arguments(cancel: argparse.ArgumentParser) -> None:
    cancel.add_argument("letter_id", metavar="LETTER_ID")
    cancel.add_argument("--reason", required=True, help="why (no personal data)")


def cancel_command(args: argparse.Namespace, settings: Settings) -> int:
    letter_id = canonical_uuid(args.letter_id) or args.letter_id
    if problem := text_problem(nfc(args.reason)):
        print(f"letters cancel: --reason {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    ledger = open_ledger(settings)
    try:
        handler = CaseStateHandler(ledger, letter_locks(ledger.engine, settings.var_dir))
        result = handler.cancel(letter_id, args.reason)
    finally:
        ledger.close()
    if result.cancelled:
        print(f"cancelled {letter_id}: {result.detail}")
        return EXIT_OK
    print(f"letters cancel: {letter_id} not cancelled: {result.detail}", file=sys.stderr)
    return EXIT_FAILURE


CASE = Command(
    "case",
    "show or set a case's state (open, paid, closed, disputed, on_hold)",
    _case_arguments,
    case_command,
    description="Show a case's state and its history, or record a new state now, as the "
    "case system's letters.case/1 messages do: disputed or on_hold holds the case's letters "
    "that have not left (taking them out of an open print batch), open lets them go on, "
    "paid or closed cancels them.",
)
CANCEL = Command(
    "cancel",
    "stop one letter that has not left",
    _cancel_arguments,
    cancel_command,
    description="Cancel a letter that has not left (taking it out of an open print batch); "
    "says what happened to it if it has. Exits 1 if it was not cancelled.",
)
