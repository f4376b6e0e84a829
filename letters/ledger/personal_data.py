"""The ledger's personal data: sealed at rest, found by a blind index, erased when its time is up.

The debtor's name, address and national identity number are in the stored
request only (the ``recipient``), which is sealed (``letters.ledger.sealing``).
The national identity number is also kept as a keyed hash (``nin_index``), so
that an access request can find a person's letters without it in the clear.

Retention erases the ``recipient`` from the request of a letter finished more
than ``LETTERS_RETENTION_DAYS`` ago, and its blind index; what is left (ids,
hashes, statuses, dates, channel, receipts, the amounts and the case) is the
record of what was sent, sealed under the data key. Then the letter's erasure
key is destroyed, so that the request as it was, in any dump or backup of the
ledger, opens for nobody (``letters.ledger.erasure_keys``). The archived PDF
keeps to the archive's own retention (Object Lock on S3).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, and_, select

from letters.errors import ConfigurationError
from letters.ledger import history
from letters.ledger.keys import KEY_FILE_SETTING, LedgerKeys
from letters.ledger.records import FINISHED
from letters.ledger.schema import letters
from letters.ledger.sealing import SEALED, Sealer

ERASED_EVENT = "erased"
_BATCH = 500
# How long after an erasure its keys are destroyed again, should a pass have stopped
# between erasing and destroying (retention runs daily).
_KEY_DESTRUCTION_WINDOW = timedelta(days=7)


class _Sealing(Protocol):
    """What these functions need of the ledger (``letters.ledger.store.Ledger``)."""

    @property
    def sealer(self) -> Sealer | None: ...

    @property
    def keys(self) -> LedgerKeys | None: ...

    def transaction(self) -> AbstractContextManager[Connection]: ...


def blind_index_of(keys: LedgerKeys, request: str) -> str | None:
    """The blind index of the request's national identity number, if it has one."""
    number = _recipient(json.loads(request)).get("national_identity_number")
    return keys.blind_index(number) if isinstance(number, str) and number else None


def seal_plain_requests(ledger: _Sealing) -> int:
    """Seal every request stored before the ledger sealed them, and index it; how many.

    Run by ``Ledger.upgrade`` after the migrations, so that a ledger from before
    this version is encrypted in place the first time a process with the keys
    starts; a no-op once done.
    """
    sealer, keys = _needed(ledger)
    sealed = 0
    while True:
        with ledger.transaction() as conn:
            rows = conn.execute(
                select(letters.c.letter_id, letters.c.request)
                .where(letters.c.request.not_like(f"{SEALED}%"))
                .limit(_BATCH)
            ).all()
        if not rows:
            return sealed
        sealer.ready()
        with ledger.transaction() as conn:
            for row in rows:
                # Only if still as read: another process may be sealing it too.
                sealed += history.seal_in_place(
                    conn,
                    row.letter_id,
                    row.request,
                    sealer.seal(row.request, row.letter_id),
                    blind_index_of(keys, row.request),
                )


def erase_expired(ledger: _Sealing, now: datetime, retention_days: int) -> int:
    """Erase the personal data of letters finished more than ``retention_days`` ago; how
    many. Each erasure is a line in the letter's history."""
    sealer, _ = _needed(ledger)
    before = now - timedelta(days=retention_days)
    expired = and_(
        letters.c.status.in_(sorted(FINISHED)),
        letters.c.updated_at < before,
        letters.c.personal_data_erased_at.is_(None),
    )
    erased = 0
    # Keys an earlier pass erased the letters of but stopped before destroying.
    _destroy_keys_of_erased(ledger, sealer, now)
    while True:
        with ledger.transaction() as conn:
            rows = conn.execute(
                select(letters.c.letter_id, letters.c.request).where(expired).limit(_BATCH)
            ).all()
        if not rows:
            return erased
        sealer.ready()
        with ledger.transaction() as conn:
            for row in rows:
                data = json.loads(sealer.open(row.request, row.letter_id))
                data["recipient"] = {"erased_on": now.date().isoformat()}
                erased += history.record(
                    conn,
                    row.letter_id,
                    ERASED_EVENT,
                    now,
                    f"personal data erased, {retention_days} days after the letter finished",
                    only_if=expired,
                    request=sealer.seal_lasting(json.dumps(data, sort_keys=True), row.letter_id),
                    nin_index=None,
                    personal_data_erased_at=now,
                )
        # Only once the record without them is committed: a key destroyed first would
        # take the record of what was sent with it.
        sealer.destroy(row.letter_id for row in rows)


def _destroy_keys_of_erased(ledger: _Sealing, sealer: Sealer, now: datetime) -> None:
    with ledger.transaction() as conn:
        ids = (
            conn.execute(
                select(letters.c.letter_id).where(
                    letters.c.personal_data_erased_at >= now - _KEY_DESTRUCTION_WINDOW
                )
            )
            .scalars()
            .all()
        )
    sealer.destroy(ids)


def letter_ids_of_person(ledger: _Sealing, national_identity_number: str) -> list[str]:
    """The letters whose debtor has this national identity number, by its blind index."""
    _, keys = _needed(ledger)
    wanted = keys.blind_index(national_identity_number)
    with ledger.transaction() as conn:
        rows = conn.execute(
            select(letters.c.letter_id)
            .where(letters.c.nin_index == wanted)
            .order_by(letters.c.created_at, letters.c.letter_id)
        ).all()
    return [row.letter_id for row in rows]


def _recipient(data: Any) -> dict[str, Any]:
    recipient = data.get("recipient") if isinstance(data, dict) else None
    return recipient if isinstance(recipient, dict) else {}


def _needed(ledger: _Sealing) -> tuple[Sealer, LedgerKeys]:
    if ledger.sealer is None or ledger.keys is None:
        raise ConfigurationError(f"{KEY_FILE_SETTING}: the ledger's keys are needed for this")
    return ledger.sealer, ledger.keys
