"""The debtor portal's side of the one-time passwords.

A debtor logs in with the case number and the password printed in a letter.
Every letter of the case whose password is neither expired nor revoked may
match. A renewed letter revokes the password of the letter it replaces, so
the old letter stops logging in once the new one is on its way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select

from letters.clock import utcnow
from letters.domain import otp
from letters.ledger import history
from letters.ledger.schema import letters
from letters.ledger.store import Ledger


def verify_login(
    ledger: Ledger,
    case_number: str,
    typed: str,
    today: date,
    peppers: Sequence[otp.Pepper] = (),
) -> str | None:
    """The id of the letter whose password ``typed`` is, or None.

    Only letters of ``case_number`` with a live password are tried, each
    against ``peppers`` (the current one and any it replaced; records of
    earlier releases, hashed with scrypt, need none).
    """
    query = (
        select(letters.c.letter_id, letters.c.otp_hash, letters.c.otp_expires_on)
        .where(letters.c.case_number == case_number)
        .where(letters.c.otp_hash.is_not(None))
        .where(letters.c.otp_revoked_at.is_(None))
        .where(letters.c.otp_expires_on >= today)
        .order_by(letters.c.created_at.desc())
    )
    with ledger.transaction() as conn:
        candidates = conn.execute(query).all()
    for letter_id, hashed, expires_on in candidates:
        if otp.verify(typed, otp.PasswordRecord(hashed, expires_on), today, peppers):
            return str(letter_id)
    return None


def revoke_password(ledger: Ledger, letter_id: str, replaced_by: str) -> datetime | None:
    """Stop ``letter_id``'s password from logging in; when it was revoked (first time only)."""
    now = utcnow()
    with ledger.transaction() as conn:
        changed = history.record(
            conn,
            letter_id,
            "password-revoked",
            now,
            f"replaced by {replaced_by}",
            only_if=letters.c.otp_revoked_at.is_(None),
            otp_revoked_at=now,
        )
    return now if changed else None
