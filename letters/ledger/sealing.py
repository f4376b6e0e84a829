"""Envelope encryption of the ledger's personal data: AES-GCM under wrapped data keys.

A value is sealed with a 256-bit data key (AES-GCM, a random 96-bit nonce,
the letter id as associated data, so a sealed value moved to another row
does not open). Data keys live in the ``data_keys`` table only wrapped by the
master key (``letters.ledger.keys``), with the master key's id beside them;
a sealed value names its data key. So a dump or a backup of the ledger holds
no personal data in the clear, and a master key rotates by re-wrapping the
few data keys (``rewrap``), without touching the values.

Each process makes its own data key when it first seals, and a new one after
``_SEALS_PER_KEY`` values (checked by ``ready``, between transactions), well
inside AES-GCM's limit for random nonces.
"""

from __future__ import annotations

import base64
import os
import threading
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select, update

from letters.clock import utcnow
from letters.errors import ConfigurationError, PermanentError
from letters.ledger.engine import Readings
from letters.ledger.keys import KeyDoesNotOpen, LedgerKeys
from letters.ledger.schema import data_keys

SEALED = "sealed:1:"
_SEALS_PER_KEY = 2**20


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED)


class UnreadableValueError(PermanentError):
    """A sealed value that does not open with its own data key: changed, or moved."""


@dataclass(frozen=True, slots=True)
class Rewrapped:
    data_keys: int
    already_current: int


class Sealer:
    def __init__(self, keys: LedgerKeys, ledger: Readings) -> None:
        self.keys = keys
        self._ledger = ledger
        self._lock = threading.Lock()
        self._current: tuple[str, AESGCM] | None = None
        self._sealed_with_current = 0
        self._opened: dict[str, AESGCM] = {}

    def seal(self, plaintext: str, context: str) -> str:
        """``plaintext`` encrypted; ``context`` (the letter id) must be given to open it."""
        key_id, aead = self._key_for_sealing()
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{SEALED}{key_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def open(self, value: str, context: str) -> str:
        """The plaintext of a sealed value; a value from before sealing is returned as it is
        (``Ledger.upgrade`` seals those)."""
        if not is_sealed(value):
            return value
        key_id, _, body = value[len(SEALED) :].partition(":")
        try:
            raw = base64.b64decode(body, validate=True)
            return self._data_key(key_id).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError) as err:
            raise UnreadableValueError(
                f"ledger: the sealed value of {context} does not open with its data key "
                f"{key_id} (changed, or copied from another row)"
            ) from err

    def rewrap(self) -> Rewrapped:
        """Every data key wrapped under the current master key (``letters keys rotate``)."""
        current = self.keys.master
        moved = kept = 0
        with self._ledger.transaction() as conn:
            rows = conn.execute(select(data_keys).with_for_update()).all()
            for row in rows:
                if row.master_key_id == current.key_id:
                    kept += 1
                    continue
                key = self._unwrap(row.key_id, row.master_key_id, row.wrapped)
                conn.execute(
                    update(data_keys)
                    .where(data_keys.c.key_id == row.key_id)
                    .values(
                        master_key_id=current.key_id,
                        wrapped=base64.b64encode(current.wrap(key)).decode("ascii"),
                        rewrapped_at=utcnow(),
                    )
                )
                moved += 1
        return Rewrapped(moved, kept)

    def ready(self) -> None:
        """Make the data key the next values are sealed with, if it is due.

        Called outside any transaction: a data key is written in a transaction of
        its own, which would wait forever behind SQLite's one writer.
        """
        with self._lock:
            if self._current is None or self._sealed_with_current >= _SEALS_PER_KEY:
                self._current = self._new_data_key()
                self._sealed_with_current = 0

    def _key_for_sealing(self) -> tuple[str, AESGCM]:
        if self._current is None:
            self.ready()
        with self._lock:
            assert self._current is not None  # noqa: S101 - made above
            self._sealed_with_current += 1
            return self._current

    def _new_data_key(self) -> tuple[str, AESGCM]:
        key = AESGCM.generate_key(bit_length=256)
        key_id = str(uuid.uuid4())
        master = self.keys.master
        # In a transaction of its own: a value sealed with it may be written by any later one.
        with self._ledger.transaction() as conn:
            conn.execute(
                insert(data_keys).values(
                    key_id=key_id,
                    master_key_id=master.key_id,
                    wrapped=base64.b64encode(master.wrap(key)).decode("ascii"),
                    created_at=utcnow(),
                )
            )
        aead = AESGCM(key)
        self._opened[key_id] = aead
        return key_id, aead

    def _data_key(self, key_id: str) -> AESGCM:
        aead = self._opened.get(key_id)
        if aead is not None:
            return aead
        with self._ledger.reading() as conn:
            row = conn.execute(select(data_keys).where(data_keys.c.key_id == key_id)).first()
        if row is None:
            raise UnreadableValueError(f"ledger: data key {key_id} is not in the ledger")
        aead = AESGCM(self._unwrap(key_id, row.master_key_id, row.wrapped))
        with self._lock:
            self._opened[key_id] = aead
        return aead

    def _unwrap(self, key_id: str, master_key_id: str, wrapped: str) -> bytes:
        master = self.keys.master_by_id(master_key_id)
        try:
            return master.unwrap(base64.b64decode(wrapped))
        except KeyDoesNotOpen as err:
            raise ConfigurationError(
                f"{master.setting}: the key {master.key_id} does not open data key {key_id} "
                "(a wrong key file, or a key that was replaced without `letters keys rotate`)"
            ) from err
