"""What is known about a case beyond its letters: open, paid, closed, disputed or on hold.

The case system records changes with ``letters.case/1`` messages, operations
with ``letters case --set``. Every change is kept once, with the time it
happened; the case's current state is the change with the latest time, so a
message that arrives late never undoes a newer one. A case with no change
recorded is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from letters.clock import as_utc, utcnow
from letters.ledger.schema import case_state_events, case_states

if TYPE_CHECKING:  # the ledger hands this store out (letters.ledger.stores)
    from letters.ledger.store import Ledger

OPEN = "open"
# Letters of these cases never leave: they are cancelled.
CLOSED_STATES = ("closed", "paid")
# Letters of these cases wait (held, or withdrawn from a print batch) until it is open again.
HOLDING_STATES = ("disputed", "on_hold")
CASE_STATES = (OPEN, *CLOSED_STATES, *HOLDING_STATES)


class UnknownCaseStateError(ValueError):
    """Not one of ``CASE_STATES``."""


@dataclass(frozen=True, slots=True)
class CaseState:
    case_number: str
    state: str
    changed_at: datetime | None
    note: str | None
    reference: str | None = None

    @property
    def holds_letters(self) -> bool:
        return self.state in HOLDING_STATES

    @property
    def ends_letters(self) -> bool:
        return self.state in CLOSED_STATES


@dataclass(frozen=True, slots=True)
class CaseChange:
    """What recording a change did: whether it was new, and the case's state after it."""

    state: CaseState
    # False: this very change was recorded before (a message delivered twice).
    new: bool
    # False: a later change was recorded before this one; the case's state did not move.
    latest: bool


@dataclass(frozen=True, slots=True)
class CaseStateEvent:
    state: str
    at: datetime
    reference: str | None
    source: str
    received_at: datetime


class CaseStates:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def get(self, case_number: str) -> CaseState:
        query = select(case_states).where(case_states.c.case_number == case_number)
        with self.ledger.transaction() as conn:
            row = conn.execute(query).first()
        if row is None:
            return CaseState(case_number, OPEN, None, None)
        return CaseState(
            row.case_number, row.state, as_utc(row.changed_at), row.note, row.reference
        )

    def record(
        self,
        case_number: str,
        state: str,
        at: datetime,
        *,
        reference: str | None = None,
        source: str = "case system",
    ) -> CaseChange:
        """Keep one change; it becomes the case's state unless a later one is known."""
        if state not in CASE_STATES:
            raise UnknownCaseStateError(
                f"state: {state!r} is not a case state ({', '.join(CASE_STATES)})"
            )
        try:
            with self.ledger.transaction() as conn:
                conn.execute(
                    insert(case_state_events).values(
                        case_number=case_number,
                        state=state,
                        at=at,
                        reference=reference,
                        source=source,
                        received_at=utcnow(),
                    )
                )
                current = conn.execute(
                    select(case_states.c.changed_at).where(case_states.c.case_number == case_number)
                ).scalar_one_or_none()
                latest = current is None or as_utc(current) <= at
                values = {
                    "state": state,
                    "changed_at": at,
                    "note": reference,
                    "reference": reference,
                }
                if current is None:
                    conn.execute(insert(case_states).values(case_number=case_number, **values))
                elif latest:
                    conn.execute(
                        update(case_states)
                        .where(case_states.c.case_number == case_number)
                        .values(**values)
                    )
            new = True
        except IntegrityError:
            new, latest = False, False
        return CaseChange(self.get(case_number), new=new, latest=latest)

    def set(self, case_number: str, state: str, note: str | None = None) -> CaseState:
        """Operations set the state now (``letters case --set``)."""
        return self.record(case_number, state, utcnow(), reference=note, source="operations").state

    def history(self, case_number: str) -> list[CaseStateEvent]:
        query = (
            select(case_state_events)
            .where(case_state_events.c.case_number == case_number)
            .order_by(case_state_events.c.at, case_state_events.c.id)
        )
        with self.ledger.transaction() as conn:
            return [
                CaseStateEvent(r.state, as_utc(r.at), r.reference, r.source, as_utc(r.received_at))
                for r in conn.execute(query)
            ]
