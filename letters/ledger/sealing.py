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

With erasure keys (``letters.ledger.erasure_keys``), a value is sealed under
its letter's own key instead (``sealed:2:``), which the data key only wraps:
destroying that key (``destroy``) crypto-erases every value sealed under it,
in the ledger and in its backups alike. What must outlive an erasure (the
record of an erased letter) is sealed under the data key (``seal_lasting``).
"""

from __future__ import annotations

import base64
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select, update

from letters.clock import utcnow
from letters.errors import ConfigurationError, PermanentError
from letters.ledger.engine import Readings
from letters.ledger.erasure_keys import ErasureKeys, WrappedKey
from letters.ledger.keys import KeyDoesNotOpen, LedgerKeys
from letters.ledger.schema import data_keys

SEALED = "sealed:"
_UNDER_DATA_KEY = "sealed:1:"
_UNDER_ERASURE_KEY = "sealed:2:"
_SEALS_PER_KEY = 2**20
# Erasure keys opened, kept for the letters a process is working on.
_OPEN_ERASURE_KEYS = 4096
_ERASURE_WRAP = b"letters erasure key\0"


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED)


class UnreadableValueError(PermanentError):
    """A sealed value that does not open with its own data key: changed, or moved."""


class ErasedValueError(UnreadableValueError):
    """A value sealed under an erasure key that was destroyed: the data was erased."""


@dataclass(frozen=True, slots=True)
class Rewrapped:
    data_keys: int
    already_current: int


class Sealer:
    def __init__(
        self, keys: LedgerKeys, ledger: Readings, erasure_keys: ErasureKeys | None = None
    ) -> None:
        self.keys = keys
        self.erasure_keys = erasure_keys
        self._ledger = ledger
        self._lock = threading.Lock()
        self._current: tuple[str, AESGCM] | None = None
        self._sealed_with_current = 0
        self._opened: dict[str, AESGCM] = {}
        self._erasure_opened: OrderedDict[str, AESGCM] = OrderedDict()

    def seal(self, plaintext: str, context: str) -> str:
        """``plaintext`` encrypted; ``context`` (the letter id, or the dead id) must be given
        to open it. Under the context's erasure key, if this ledger has erasure keys."""
        if self.erasure_keys is None:
            return self.seal_lasting(plaintext, context)
        aead = self._erasure_key(context, make=True)
        assert aead is not None  # noqa: S101 - made if missing
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_UNDER_ERASURE_KEY}{base64.b64encode(nonce + sealed).decode('ascii')}"

    def seal_lasting(self, plaintext: str, context: str) -> str:
        """Sealed under the data key: what is kept after its letter's erasure key is gone."""
        key_id, aead = self._key_for_sealing()
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_UNDER_DATA_KEY}{key_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def destroy(self, contexts: Iterable[str]) -> int:
        """Crypto-erase every value sealed under these contexts' erasure keys; how many keys
        were destroyed."""
        wanted = list(contexts)
        with self._lock:
            for context in wanted:
                self._erasure_opened.pop(context, None)
        return self.erasure_keys.destroy(wanted) if self.erasure_keys is not None else 0

    def open(self, value: str, context: str) -> str:
        """The plaintext of a sealed value; a value from before sealing is returned as it is
        (``Ledger.upgrade`` seals those)."""
        if not is_sealed(value):
            return value
        if value.startswith(_UNDER_ERASURE_KEY):
            return self._open_erasable(value[len(_UNDER_ERASURE_KEY) :], context)
        key_id, _, body = value[len(_UNDER_DATA_KEY) :].partition(":")
        try:
            raw = base64.b64decode(body, validate=True)
            return self._data_key(key_id).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError) as err:
            raise UnreadableValueError(
                f"ledger: the sealed value of {context} does not open with its data key "
                f"{key_id} (changed, or copied from another row)"
            ) from err

    def start_new_data_key(self) -> str:
        """Seal from now on under a data key made now (re-keying); its id."""
        with self._lock:
            self._current = self._new_data_key()
            self._sealed_with_current = 0
            return self._current[0]

    def rewrapped_erasure_key(self, context: str, kept: WrappedKey) -> WrappedKey:
        """The erasure key of ``context`` wrapped under the current data key instead."""
        raw = base64.b64decode(kept.wrapped)
        aad = _ERASURE_WRAP + context.encode()
        try:
            key = self._data_key(kept.data_key_id).decrypt(raw[:12], raw[12:], aad)
        except InvalidTag as err:
            raise UnreadableValueError(
                f"ledger: the erasure key of {context} does not open with its data key"
            ) from err
        key_id, wrapping = self._key_for_sealing()
        nonce = os.urandom(12)
        wrapped = nonce + wrapping.encrypt(nonce, key, aad)
        return WrappedKey(key_id, base64.b64encode(wrapped).decode("ascii"))

    def _open_erasable(self, body: str, context: str) -> str:
        aead = self._erasure_key(context, make=False)
        if aead is None:
            raise ErasedValueError(
                f"ledger: the erasure key of {context} was destroyed; its personal data is erased"
            )
        try:
            raw = base64.b64decode(body, validate=True)
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError) as err:
            raise UnreadableValueError(
                f"ledger: the sealed value of {context} does not open with its erasure key "
                "(changed, or copied from another row)"
            ) from err

    def _erasure_key(self, context: str, *, make: bool) -> AESGCM | None:
        with self._lock:
            aead = self._erasure_opened.get(context)
            if aead is not None:
                self._erasure_opened.move_to_end(context)
                return aead
        assert self.erasure_keys is not None  # noqa: S101 - only called with erasure keys
        kept = self.erasure_keys.get(context)
        if kept is None:
            if not make:
                return None
            key = AESGCM.generate_key(bit_length=256)
            key_id, wrapping = self._key_for_sealing()
            nonce = os.urandom(12)
            wrapped = nonce + wrapping.encrypt(nonce, key, _ERASURE_WRAP + context.encode())
            kept = self.erasure_keys.keep(
                context, WrappedKey(key_id, base64.b64encode(wrapped).decode("ascii"))
            )
        raw = base64.b64decode(kept.wrapped)
        try:
            key = self._data_key(kept.data_key_id).decrypt(
                raw[:12], raw[12:], _ERASURE_WRAP + context.encode()
            )
        except InvalidTag as err:
            raise UnreadableValueError(
                f"ledger: the erasure key of {context} does not open with its data key"
            ) from err
        aead = AESGCM(key)
        with self._lock:
            self._erasure_opened[context] = aead
            while len(self._erasure_opened) > _OPEN_ERASURE_KEYS:
                self._erasure_opened.popitem(last=False)
        return aead

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
