"""The dead letters: every message a worker gave up on, why, and whether it was requeued.

The ``dead_letters`` table is this module's alone. A dead-lettered message of a
letter the ledger holds marks that letter dead-lettered too (``history`` is
the one writer of a letter's status), in the same transaction.

The message itself is kept here, sealed like a letter's request (the dead id
is its associated data) and found by the blind index of the national identity
number in it: the dead-letter queue carries only a reference, so no broker
file or queue holds a refused request in the clear. Retention erases the body
of a dead letter older than ``LETTERS_RETENTION_DAYS``; the reason (which
names fields and rules, never values) and the digest stay as the record.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, insert, select, update

from letters.clock import as_utc, utcnow
from letters.errors import ConfigurationError
from letters.ledger import history, outbox
from letters.ledger.keys import KEY_FILE_SETTING, LedgerKeys
from letters.ledger.records import DeadLetter, LetterStatus
from letters.ledger.schema import dead_letters
from letters.ledger.sealing import Sealer

if TYPE_CHECKING:  # the ledger hands this store out (letters.ledger.stores)
    from letters.ledger.store import Ledger

_ERASE_BATCH = 500


@dataclass(frozen=True, slots=True)
class RefusedRequest:
    """What could be read of a refused letter request, each only if it is valid."""

    case_number: str | None
    letter_type: str | None
    language: str | None


class DeadLetterStore:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def for_letter(self, letter_id: str) -> list[DeadLetter]:
        """Every message dead-lettered under this letter id (a conflicting request too)."""
        return self._where(dead_letters.c.letter_id == letter_id)

    def of_person(self, national_identity_number: str) -> list[DeadLetter]:
        """Every dead letter whose body names this person, by the blind index."""
        keys = self._keys()
        return self.of_person_by_index(keys.blind_index(national_identity_number))

    def of_person_by_index(self, nin_index: str) -> list[DeadLetter]:
        return self._where(dead_letters.c.nin_index == nin_index)

    def get(self, dead_id: str) -> DeadLetter | None:
        found = self._where(dead_letters.c.dead_id == dead_id)
        return found[0] if found else None

    def body(self, dead_id: str) -> bytes | None:
        """The message as it was dead-lettered; None if unknown, kept before bodies were
        kept, or erased by retention."""
        with self.ledger.transaction() as conn:
            sealed = conn.execute(
                select(dead_letters.c.body).where(dead_letters.c.dead_id == dead_id)
            ).scalar()
        if sealed is None:
            return None
        return base64.b64decode(self._sealer().open(sealed, dead_id))

    def _where(self, condition: Any) -> list[DeadLetter]:
        query = select(dead_letters).where(condition).order_by(dead_letters.c.dead_at)
        with self.ledger.transaction() as conn:
            return [_dead_letter(row) for row in conn.execute(query)]

    def _sealed(self, body: bytes, dead_id: str) -> str:
        """The body sealed under the dead id (outside any transaction: it may make a key)."""
        sealer = self._sealer()
        sealer.ready()
        return sealer.seal(base64.b64encode(body).decode("ascii"), dead_id)

    def _sealer(self) -> Sealer:
        if self.ledger.sealer is None:
            raise ConfigurationError(f"{KEY_FILE_SETTING}: the ledger's keys are needed for this")
        return self.ledger.sealer

    def _keys(self) -> LedgerKeys:
        if self.ledger.keys is None:
            raise ConfigurationError(f"{KEY_FILE_SETTING}: the ledger's keys are needed for this")
        return self.ledger.keys

    def is_known_body(self, body_sha256: str) -> bool:
        """Whether a body with this SHA-256 was dead-lettered before."""
        query = select(dead_letters.c.dead_id).where(dead_letters.c.body_sha256 == body_sha256)
        with self.ledger.transaction() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def record(
        self,
        *,
        dead_id: str,
        letter_id: str | None,
        case_number: str | None,
        reason: str,
        attempts: int,
        body: bytes,
        body_sha256: str,
        known_letter: bool,
        refused: RefusedRequest | None = None,
    ) -> None:
        """Record a message sent to the dead-letter queue under ``dead_id``, with its body
        sealed.

        ``known_letter``: the letter is in the ledger and is dead-lettered with it.
        ``refused``: a letter request the ledger never took (or whose letter id another
        request has); its ``refused`` event is staged in the same transaction.
        """
        now = utcnow()
        sealed = self._sealed(body, dead_id)
        with self.ledger.transaction() as conn:
            conn.execute(
                insert(dead_letters).values(
                    dead_id=dead_id,
                    letter_id=letter_id,
                    case_number=case_number,
                    reason=reason,
                    attempts=attempts,
                    body_sha256=body_sha256,
                    dead_at=now,
                    body=sealed,
                    nin_index=_blind_index(self._keys(), body),
                )
            )
            if known_letter and letter_id:
                history.record(
                    conn,
                    letter_id,
                    LetterStatus.DEAD_LETTERED,
                    now,
                    reason,
                    status=LetterStatus.DEAD_LETTERED,
                    retry_at=None,
                )
            elif refused is not None:
                outbox.stage_refusal(
                    conn,
                    letter_id=letter_id,
                    case_number=refused.case_number,
                    letter_type=refused.letter_type,
                    language=refused.language,
                    reason=reason,
                    now=now,
                )

    def record_requeued(self, dead_id: str | None, letter_id: str | None) -> None:
        """A dead letter went back to the work queue (``letters dead retry``)."""
        now = utcnow()
        with self.ledger.transaction() as conn:
            if dead_id:
                conn.execute(
                    update(dead_letters)
                    .where(dead_letters.c.dead_id == dead_id)
                    .values(requeued_at=now)
                )
            if letter_id:
                history.record(
                    conn,
                    letter_id,
                    LetterStatus.REQUEUED,
                    now,
                    "from the dead letters",
                    status=LetterStatus.REQUEUED,
                    retry_at=None,
                    attempts=0,
                )

    def keep_body(self, dead_id: str, body: bytes) -> bool:
        """Seal the body of a dead letter recorded without one (by an earlier version, which
        left the message whole on the dead queue); whether it was kept."""
        sealed = self._sealed(body, dead_id)
        with self.ledger.transaction() as conn:
            return bool(
                conn.execute(
                    update(dead_letters)
                    .where(dead_letters.c.dead_id == dead_id)
                    .where(dead_letters.c.body.is_(None))
                    .where(dead_letters.c.body_erased_at.is_(None))
                    .values(body=sealed, nin_index=_blind_index(self._keys(), body))
                ).rowcount
            )

    def erase_expired(self, now: datetime, retention_days: int) -> int:
        """Erase the bodies of dead letters older than ``retention_days``; how many."""
        before = now - timedelta(days=retention_days)
        erased = 0
        with self.ledger.transaction() as conn:
            # Keys an earlier pass stopped before destroying.
            recent = (
                conn.execute(
                    select(dead_letters.c.dead_id).where(
                        dead_letters.c.body_erased_at >= now - timedelta(days=7)
                    )
                )
                .scalars()
                .all()
            )
        self._sealer().destroy(recent)
        while True:
            with self.ledger.transaction() as conn:
                ids = list(
                    conn.execute(
                        select(dead_letters.c.dead_id)
                        .where(dead_letters.c.dead_at < before)
                        .where(dead_letters.c.body.is_not(None))
                        .limit(_ERASE_BATCH)
                    ).scalars()
                )
                if not ids:
                    return erased
                erased += conn.execute(
                    update(dead_letters)
                    .where(dead_letters.c.dead_id.in_(ids))
                    .values(body=None, nin_index=None, body_erased_at=now)
                ).rowcount
            self._sealer().destroy(ids)


def _dead_letter(row: Row[Any]) -> DeadLetter:
    return DeadLetter(
        dead_id=row.dead_id,
        letter_id=row.letter_id,
        reason=row.reason,
        attempts=row.attempts,
        dead_at=as_utc(row.dead_at),
        requeued_at=as_utc(row.requeued_at) if row.requeued_at else None,
        case_number=row.case_number,
        body_kept=row.body is not None,
        body_erased_at=as_utc(row.body_erased_at) if row.body_erased_at else None,
    )


def _blind_index(keys: LedgerKeys, body: bytes) -> str | None:
    """The blind index of the national identity number in a dead-lettered body, if any."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past what it may be
        return None
    recipient = data.get("recipient") if isinstance(data, dict) else None
    number = recipient.get("national_identity_number") if isinstance(recipient, dict) else None
    return keys.blind_index(number) if isinstance(number, str) and number.strip() else None
