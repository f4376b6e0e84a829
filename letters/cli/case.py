"""``letters case``: show or set what is known about a case (open, closed, paid)."""

from __future__ import annotations

import argparse

from letters.cli.common import EXIT_OK, Command, open_ledger
from letters.config import Settings
from letters.ledger import CASE_STATES, CaseStates


def _arguments(case: argparse.ArgumentParser) -> None:
    case.add_argument("case_number", metavar="CASE_NUMBER")
    case.add_argument("--set", choices=CASE_STATES, help="record this state")
    case.add_argument("--note", help="why (no personal data)")


def case_command(args: argparse.Namespace, settings: Settings) -> int:
    ledger = open_ledger(settings)
    try:
        cases = CaseStates(ledger)
        state = cases.set(args.case_number, args.set, args.note) if args.set else None
        state = state or cases.get(args.case_number)
    finally:
        ledger.close()
    when = state.changed_at.isoformat(timespec="seconds") if state.changed_at else "never set"
    print(f"case {state.case_number}: {state.state} ({when}){f', {state.note}' * bool(state.note)}")
    return EXIT_OK


CASE = Command("case", "show or set a case's state (open, closed, paid)", _arguments, case_command)
