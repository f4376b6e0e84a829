"""The keys that protect the ledger's personal data, from configuration, never from the ledger.

- The **master key** wraps the data keys (``letters.ledger.sealing``): a key
  file (``LETTERS_LEDGER_KEY_FILE``, 256 bits as base64) or an AWS KMS key
  (``LETTERS_LEDGER_KMS_KEY_ID``), whose key never leaves KMS. Keys being
  rotated out are named in ``LETTERS_LEDGER_RETIRED_KEY_FILES`` until
  ``letters keys rotate`` has re-wrapped every data key under the new one.
- The **index key** (``LETTERS_LEDGER_INDEX_KEY_FILE``) makes the blind index:
  a national identity number is found by its keyed hash, never stored.

On the embedded default (a SQLite ledger under ``var/``) both key files are
made once under ``var/``, readable by their owner only. A shared ledger
without them is a configuration error: nothing is written unprotected for
want of a key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import make_url

from letters.config import Settings
from letters.config.declared import (
    DATABASE_URL,
    LEDGER_INDEX_KEY_FILE,
    LEDGER_KEY_FILE,
    LEDGER_KMS_KEY_ID,
    LEDGER_RETIRED_KEY_FILES,
)
from letters.errors import ConfigurationError, TransientError
from letters.secret_files import make_secret_file, read_key

KEY_FILE_SETTING = LEDGER_KEY_FILE.name
KMS_SETTING = LEDGER_KMS_KEY_ID.name
RETIRED_SETTING = LEDGER_RETIRED_KEY_FILES.name
INDEX_SETTING = LEDGER_INDEX_KEY_FILE.name
MASTER_KEY_FILE_NAME = "ledger-master-key"
INDEX_KEY_FILE_NAME = "ledger-index-key"
# Bound into every wrapped data key, so that a wrapped key is no use for anything else.
_WRAP_CONTEXT = b"letters ledger data key"
_KMS_CONTEXT = {"purpose": "letters-ledger-data-key"}


class KeyDoesNotOpen(Exception):
    """This master key did not wrap that data key."""


class MasterKey(Protocol):
    """Wraps and unwraps data keys; ``key_id`` is stored with each wrapped key."""

    @property
    def key_id(self) -> str: ...

    @property
    def setting(self) -> str: ...

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class FileMasterKey:
    """A 256-bit key from a file; its id is a fingerprint, which does not reveal it."""

    key: bytes
    setting: str

    @property
    def key_id(self) -> str:
        return "file:" + hashlib.sha256(b"letters key id\0" + self.key).hexdigest()[:16]

    def wrap(self, data_key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self.key).encrypt(nonce, data_key, _WRAP_CONTEXT)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return AESGCM(self.key).decrypt(wrapped[:12], wrapped[12:], _WRAP_CONTEXT)
        except InvalidTag as err:
            raise KeyDoesNotOpen(self.key_id) from err


class KmsMasterKey:
    """An AWS KMS key: data keys are wrapped and unwrapped by KMS; the key stays there."""

    setting = KMS_SETTING

    def __init__(self, kms_key_id: str, client: Any = None) -> None:
        self.kms_key_id = kms_key_id
        self._client = client

    @property
    def key_id(self) -> str:
        return "kms:" + self.kms_key_id

    def wrap(self, data_key: bytes) -> bytes:
        answer = self._call(
            "encrypt", KeyId=self.kms_key_id, Plaintext=data_key, EncryptionContext=_KMS_CONTEXT
        )
        return bytes(answer["CiphertextBlob"])

    def unwrap(self, wrapped: bytes) -> bytes:
        answer = self._call(
            "decrypt", KeyId=self.kms_key_id, CiphertextBlob=wrapped, EncryptionContext=_KMS_CONTEXT
        )
        return bytes(answer["Plaintext"])

    def _call(self, operation: str, **arguments: Any) -> Any:
        import botocore.exceptions

        if self._client is None:
            import boto3

            self._client = boto3.client("kms")
        try:
            return getattr(self._client, operation)(**arguments)
        except botocore.exceptions.ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise KeyDoesNotOpen(self.key_id) from err
            if code in (
                "ThrottlingException",
                "KMSInternalException",
                "DependencyTimeoutException",
            ):
                raise TransientError(f"AWS KMS {operation}: {code}") from err
            raise ConfigurationError(f"{KMS_SETTING}: AWS KMS {operation} failed: {code}") from err
        except botocore.exceptions.BotoCoreError as err:
            raise TransientError(f"AWS KMS {operation}: {type(err).__name__}") from err


@dataclass(frozen=True, slots=True)
class LedgerKeys:
    master: MasterKey
    index_key: bytes
    retired: Sequence[MasterKey] = ()

    def master_by_id(self, key_id: str) -> MasterKey:
        for key in (self.master, *self.retired):
            if key.key_id == key_id:
                return key
        raise ConfigurationError(
            f"{self.master.setting}: a data key in the ledger is wrapped under {key_id}, which "
            f"is neither this key ({self.master.key_id}) nor one in {RETIRED_SETTING}"
        )

    def blind_index(self, national_identity_number: str) -> str:
        """The keyed hash a national identity number is looked up by."""
        digits = "".join(c for c in national_identity_number if c.isdigit())
        return hmac.new(self.index_key, digits.encode(), hashlib.sha256).hexdigest()


def load_ledger_keys(settings: Settings) -> LedgerKeys:
    """The keys the settings name, or the embedded default's, made on first use."""
    shared = not settings.database_url.startswith("sqlite")
    if settings.ledger_kms_key_id:
        master: MasterKey = KmsMasterKey(settings.ledger_kms_key_id)
    elif settings.ledger_key_file is not None:
        master = FileMasterKey(
            read_key(settings.ledger_key_file, KEY_FILE_SETTING), KEY_FILE_SETTING
        )
    elif shared:
        raise ConfigurationError(
            f"{KEY_FILE_SETTING} or {KMS_SETTING} is not set: a shared ledger "
            f"({DATABASE_URL}) keeps debtors' personal data encrypted under a master key "
            "from the secret store or KMS"
        )
    else:
        path = settings.var_dir / MASTER_KEY_FILE_NAME
        _never_again(path, KEY_FILE_SETTING, settings.database_url)
        make_secret_file(path, KEY_FILE_SETTING)
        master = FileMasterKey(read_key(path, KEY_FILE_SETTING), KEY_FILE_SETTING)
    if settings.ledger_index_key_file is not None:
        index_key = read_key(settings.ledger_index_key_file, INDEX_SETTING)
    elif shared:
        raise ConfigurationError(
            f"{INDEX_SETTING} is not set: a shared ledger finds national identity numbers by "
            "a keyed hash, and every process needs the same key, from the secret store"
        )
    else:
        path = settings.var_dir / INDEX_KEY_FILE_NAME
        _never_again(path, INDEX_SETTING, settings.database_url)
        make_secret_file(path, INDEX_SETTING)
        index_key = read_key(path, INDEX_SETTING)
    retired = tuple(
        FileMasterKey(read_key(path, RETIRED_SETTING), RETIRED_SETTING)
        for path in settings.ledger_retired_key_files
    )
    return LedgerKeys(master, index_key, retired)


def _never_again(path: Path, setting: str, database_url: str) -> None:
    """The embedded default makes its key files once: a key made again beside a ledger that
    holds data sealed under the lost one would seal new data that nothing else opens."""
    if path.exists():
        return
    database = make_url(database_url).database
    if not database or database == ":memory:" or not Path(database).exists():
        return
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            held = conn.execute("SELECT 1 FROM data_keys LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        return  # no data_keys table yet: nothing was ever sealed
    if held:
        raise ConfigurationError(
            f"{setting}: {path} is missing, and the ledger {database} holds data sealed under "
            "it. Restore the key file from its backup; a new key would not open that data, so "
            "none is made"
        )


def make_key_file(path: Path) -> Path:
    """A new 256-bit key file, readable by its owner only (a secret store, a test stack)."""
    make_secret_file(path, KEY_FILE_SETTING)
    return path
