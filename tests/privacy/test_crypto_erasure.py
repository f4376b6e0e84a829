"""An erased person's sealed data cannot be opened from a dump of the ledger taken before the
erasure, once the letter's erasure key is destroyed (privacy finding 6).

On PostgreSQL, as in production: the ledger in one database, the erasure keys in another.
The dump taken before the erasure is restored into a third, and opened with every key
the service still holds: the master key, the index key and the erasure keys' database.
And after a master key rotation, the old key with a backup from before it opens nothing
current (``letters keys rotate`` re-keys).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from letters.clock import utcnow
from letters.ledger import Ledger, LetterStatus
from letters.ledger.dead_letters import DeadLetterStore
from letters.ledger.erasure_keys import ErasureKeys
from letters.ledger.keys import KEY_FILE_SETTING, FileMasterKey, LedgerKeys
from letters.ledger.personal_data import erase_expired
from letters.ledger.rekeying import rekey
from letters.ledger.sealing import ErasedValueError, UnreadableValueError
from tests.support.stacks import fresh_postgres_database, ledger_keys, sample_request

RETENTION_DAYS = 400


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def databases() -> Iterator[tuple[str, str, str]]:
    """The ledger, the erasure keys, and an empty one to restore a dump into."""
    with (
        fresh_postgres_database() as ledger_url,
        fresh_postgres_database() as keys_url,
        fresh_postgres_database() as restored_url,
    ):
        yield ledger_url, keys_url, restored_url


def _opened(url: str, keys: LedgerKeys, keys_url: str) -> Ledger:
    ledger = Ledger(url, keys, ErasureKeys(keys_url))
    ledger.upgrade()
    return ledger


def _finished_letter(ledger: Ledger) -> dict[str, Any]:
    request = sample_request()
    ledger.accept(
        letter_id=request["letter_id"],
        case_number=request["case"]["case_number"],
        letter_type=request["letter_type"],
        language=request["language"],
        request=json.dumps(request, sort_keys=True),
    )
    ledger.record_sent(request["letter_id"], LetterStatus.DELIVERED, "ref-1", "delivered")
    return request


def _dump_into(source: str, target: str) -> None:
    dump = subprocess.run(
        ["pg_dump", "--no-owner", _libpq(source)], capture_output=True, check=True
    ).stdout
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", _libpq(target)],
        input=dump, capture_output=True, check=True,
    )  # fmt: skip


@pytest.mark.services
def test_an_erased_letter_does_not_open_from_a_dump_taken_before(
    databases: tuple[str, str, str],
) -> None:
    ledger_url, keys_url, restored_url = databases
    keys = ledger_keys()
    ledger = _opened(ledger_url, keys, keys_url)
    try:
        request = _finished_letter(ledger)
        letter_id = request["letter_id"]
        DeadLetterStore(ledger).record(
            dead_id="7d0c2a4e-0000-4000-8000-000000000001",
            letter_id=None,
            case_number=None,
            reason="letter_date: must be an ISO 8601 date (YYYY-MM-DD)",
            attempts=1,
            body=json.dumps(request).encode(),
            body_sha256="ab" * 32,
            known_letter=False,
        )
        _dump_into(ledger_url, restored_url)  # the backup, before the erasure
        later = utcnow() + timedelta(days=RETENTION_DAYS + 1)

        backup = _opened(restored_url, keys, keys_url)
        try:
            # The backup opens while the keys exist: the check below can fail.
            record = backup.get(letter_id)
            assert record is not None and json.loads(record.request) == request
            assert DeadLetterStore(backup).body("7d0c2a4e-0000-4000-8000-000000000001")
        finally:
            backup.close()

        assert erase_expired(ledger, later, RETENTION_DAYS) == 1
        dead = DeadLetterStore(ledger)
        assert dead.erase_expired(later + timedelta(days=1), RETENTION_DAYS) == 1

        # With every key the service still holds, the backup no longer opens.
        backup = _opened(restored_url, keys, keys_url)
        try:
            with pytest.raises(ErasedValueError):
                backup.get(letter_id)
            with pytest.raises(ErasedValueError):
                DeadLetterStore(backup).body("7d0c2a4e-0000-4000-8000-000000000001")
        finally:
            backup.close()

        # The live ledger keeps the record of what was sent, without the person.
        kept = ledger.get(letter_id)
        assert kept is not None and "name" not in json.loads(kept.request)["recipient"]
        assert json.loads(kept.request)["case"] == request["case"]
        erasure_keys = ErasureKeys(keys_url)
        try:
            assert erasure_keys.count() == 0
        finally:
            erasure_keys.close()
        with ledger.transaction() as conn:
            assert conn.execute(text("SELECT count(*) FROM data_keys")).scalar() == 1
    finally:
        ledger.close()


def test_after_a_rotation_the_old_master_key_and_an_old_backup_open_nothing_current(
    tmp_path: Path,
) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    keys_url = f"sqlite:///{tmp_path / 'erasure-keys.db'}"
    old = ledger_keys()
    ledger = _opened(ledger_url, old, keys_url)
    request = _finished_letter(ledger)
    ledger.close()
    backup = tmp_path / "backup.db"
    shutil.copy(tmp_path / "ledger.db", backup)  # taken before the rotation

    new_master = FileMasterKey(os.urandom(32), KEY_FILE_SETTING)
    rotating = _opened(ledger_url, LedgerKeys(new_master, old.index_key, (old.master,)), keys_url)
    try:
        assert rotating.sealer is not None and rotating.sealer.rewrap().data_keys == 1
        report = rekey(rotating)
    finally:
        rotating.close()
    assert (report.erasure_keys_rewrapped, report.data_keys_destroyed) == (1, 1)
    assert report.data_keys_kept == 0

    current = _opened(ledger_url, LedgerKeys(new_master, old.index_key), keys_url)
    try:
        record = current.get(request["letter_id"])
        assert record is not None and json.loads(record.request) == request
    finally:
        current.close()
    stolen = _opened(f"sqlite:///{backup}", old, keys_url)
    try:
        with pytest.raises(UnreadableValueError, match="not in the ledger"):
            stolen.get(request["letter_id"])
    finally:
        stolen.close()
