"""An erased person's sealed data cannot be opened from a dump of the ledger taken before the
erasure, once the letter's erasure key is destroyed (privacy finding 6).

On PostgreSQL, as in production: the ledger in one database, the erasure keys in another.
The dump taken before the erasure is restored into a third, and opened with every key
the service still holds: the master key, the index key and the erasure keys' database.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from letters.clock import utcnow
from letters.ledger import DeadLetterStore, Ledger, LetterStatus, erase_expired
from letters.ledger.erasure_keys import ErasureKeys
from letters.ledger.keys import LedgerKeys
from letters.ledger.sealing import ErasedValueError
from tests.support.stacks import fresh_postgres_database, ledger_keys, sample_request

pytestmark = pytest.mark.services

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
