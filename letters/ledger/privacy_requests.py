"""The audit of requests about a person's data (GDPR art. 15 exports): who asked, and why.

The ``privacy_requests`` table is this module's alone. A subject is named by
the blind index of its national identity number or by a case number, never
by the number itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from letters.clock import as_utc, utcnow
from letters.ledger.engine import Transactions
from letters.ledger.schema import privacy_requests


@dataclass(frozen=True, slots=True)
class PrivacyRequest:
    request_id: str
    at: datetime
    action: str
    subject: str
    requested_by: str
    reason: str
    letter_count: int
    sha256: str | None


class PrivacyRequests:
    def __init__(self, ledger: Transactions) -> None:
        self.ledger = ledger

    def record(
        self,
        action: str,
        subject: str,
        requested_by: str,
        reason: str,
        letter_count: int,
        sha256: str | None = None,
    ) -> PrivacyRequest:
        entry = PrivacyRequest(
            str(uuid.uuid4()), utcnow(), action, subject, requested_by, reason, letter_count, sha256
        )
        with self.ledger.transaction() as conn:
            conn.execute(insert(privacy_requests).values(_values(entry)))
        return entry

    def all(self) -> list[PrivacyRequest]:
        with self.ledger.transaction() as conn:
            rows = conn.execute(select(privacy_requests).order_by(privacy_requests.c.at)).all()
        return [PrivacyRequest(**{**r._mapping, "at": as_utc(r.at)}) for r in rows]


def _values(entry: PrivacyRequest) -> dict[str, object]:
    return {name: getattr(entry, name) for name in PrivacyRequest.__slots__}
