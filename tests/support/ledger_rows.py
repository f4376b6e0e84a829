"""Setting a letter's row behind the ledger's back, for tests that need a state the
state machine (``letters.ledger.records.ALLOWED_FROM``) would never lead to from here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from letters.ledger import Ledger, LetterStatus
from letters.ledger.schema import letters


def force_status(ledger: Ledger, letter_id: str, status: LetterStatus, **values: Any) -> None:
    """No history line, no event: only for arranging a test."""
    with ledger.transaction() as conn:
        changed = conn.execute(
            update(letters).where(letters.c.letter_id == letter_id).values(status=status, **values)
        ).rowcount
    assert changed == 1, f"letter {letter_id} is not in the ledger"
