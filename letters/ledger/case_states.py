"""What is known about a case beyond its letters: open, closed or paid.

The case system (or operations, with ``letters case``) records it here; a
re-send job leaves out letters of closed and paid cases unless told otherwise.
A case with no entry is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from letters.clock import as_utc, utcnow
from letters.ledger.schema import case_states
from letters.ledger.store import Ledger

# A re-send job leaves out letters of these cases unless it is told otherwise.
CLOSED_STATES = ("closed", "paid")
CASE_STATES = ("open", *CLOSED_STATES)


class UnknownCaseStateError(ValueError):
    """Not one of ``CASE_STATES``."""


@dataclass(frozen=True, slots=True)
class CaseState:
    case_number: str
    state: str
    changed_at: datetime | None
    note: str | None


class CaseStates:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def get(self, case_number: str) -> CaseState:
        query = select(case_states).where(case_states.c.case_number == case_number)
        with self.ledger.transaction() as conn:
            row = conn.execute(query).first()
        if row is None:
            return CaseState(case_number, "open", None, None)
        return CaseState(row.case_number, row.state, as_utc(row.changed_at), row.note)

    def set(self, case_number: str, state: str, note: str | None = None) -> CaseState:
        if state not in CASE_STATES:
            raise UnknownCaseStateError(
                f"state: {state!r} is not a case state ({', '.join(CASE_STATES)})"
            )
        now = utcnow()
        values = {"state": state, "changed_at": now, "note": note}
        with self.ledger.transaction() as conn:
            changed = conn.execute(
                update(case_states).where(case_states.c.case_number == case_number).values(**values)
            ).rowcount
            if not changed:
                conn.execute(insert(case_states).values(case_number=case_number, **values))
        return CaseState(case_number, state, now, note)
