"""Re-keying after a master key rotation: old keys and an old backup open nothing current.

Re-wrapping the data keys under the new master key (``Sealer.rewrap``) is not
enough: a backup of the ledger from before the rotation holds the same data
keys wrapped under the old master key, so whoever has both could still open
today's data. So ``letters keys rotate`` also re-keys:

1. it seals from now on under a data key made now;
2. every erasure key is wrapped under that data key instead;
3. every value sealed under an older data key (the record an erased letter
   keeps, a request from before erasure keys) is sealed again under it;
4. every older data key nothing refers to any more is destroyed.

Run it once every process has been restarted with the new master key: a
process still sealing under an older data key keeps that key in use, and it
is left in place (the report says how many were kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, or_, select

from letters.errors import ConfigurationError
from letters.ledger import history
from letters.ledger.keys import KEY_FILE_SETTING
from letters.ledger.schema import data_keys, dead_letters, letters
from letters.ledger.store import Ledger

_BATCH = 500
_UNDER_DATA_KEY = "sealed:1:"


@dataclass(frozen=True, slots=True)
class Rekeyed:
    data_key_id: str
    erasure_keys_rewrapped: int
    values_resealed: int
    data_keys_destroyed: int
    data_keys_kept: int


def rekey(ledger: Ledger) -> Rekeyed:
    sealer = ledger.sealer
    if sealer is None:
        raise ConfigurationError(f"{KEY_FILE_SETTING}: the ledger's keys are needed for this")
    with ledger.transaction() as conn:
        older_keys = set(conn.execute(select(data_keys.c.key_id)).scalars().all())
    current = sealer.start_new_data_key()
    rewrapped = 0
    if ledger.erasure_keys is not None:
        after_context = ""
        while batch := ledger.erasure_keys.wrapped_under(older_keys, after_context, _BATCH):
            after_context = batch[-1][0]
            for context, stored in batch:
                fresh = sealer.rewrapped_erasure_key(context, stored)
                rewrapped += ledger.erasure_keys.replace(context, stored, fresh)
    resealed = 0
    older = or_(*(letters.c.request.like(f"{_UNDER_DATA_KEY}{key}:%") for key in older_keys))
    after = ""
    while older_keys:
        with ledger.transaction() as conn:
            rows = conn.execute(
                select(letters.c.letter_id, letters.c.request)
                .where(older, letters.c.letter_id > after)
                .order_by(letters.c.letter_id)
                .limit(_BATCH)
            ).all()
        if not rows:
            break
        after = rows[-1].letter_id
        sealer.ready()  # a data key is written in a transaction of its own
        with ledger.transaction() as conn:
            for row in rows:
                plain = sealer.open(row.request, row.letter_id)
                resealed += history.reseal_in_place(
                    conn, row.letter_id, row.request, sealer.seal_lasting(plain, row.letter_id)
                )
    destroyed, kept = _destroy_unused(ledger, older_keys)
    return Rekeyed(current, rewrapped, resealed, destroyed, kept)


def _destroy_unused(ledger: Ledger, older_keys: set[str]) -> tuple[int, int]:
    in_use = ledger.erasure_keys.data_keys_in_use() if ledger.erasure_keys else set()
    destroyed = kept = 0
    with ledger.transaction() as conn:
        for key_id in sorted(older_keys):
            prefix = f"{_UNDER_DATA_KEY}{key_id}:%"
            referred = key_id in in_use or any(
                conn.execute(select(column).where(column.like(prefix)).limit(1)).first()
                for column in (letters.c.request, dead_letters.c.body)
            )
            if referred:
                kept += 1
                continue
            conn.execute(delete(data_keys).where(data_keys.c.key_id == key_id))
            destroyed += 1
    return destroyed, kept
