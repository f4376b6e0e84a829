"""Personal data in the ledger: sealed at rest, found by a blind index, erased past retention."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import text

from letters.clock import utcnow
from letters.config import Settings
from letters.errors import ConfigurationError
from letters.ledger import Ledger, LetterStatus
from letters.ledger.keys import (
    KEY_FILE_SETTING,
    RETIRED_SETTING,
    FileMasterKey,
    KmsMasterKey,
    LedgerKeys,
    load_ledger_keys,
    make_key_file,
)
from letters.ledger.personal_data import erase_expired, letter_ids_of_person
from letters.ledger.sealing import UnreadableValueError, is_sealed
from letters.resend.selection import Selection
from tests.support.stacks import fresh_postgres_database, ledger_keys, sample_request

TABLES = (
    "letters",
    "letter_events",
    "event_outbox",
    "dead_letters",
    "delivery_events",
    "print_batch_letters",
    "case_states",
    "case_state_events",
    "resend_items",
    "data_keys",
    "privacy_requests",
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    with fresh_postgres_database() as database_url:
        yield database_url


def _opened(url: str, keys: LedgerKeys) -> Ledger:
    ledger = Ledger(url, keys)
    try:
        ledger.upgrade()
    except BaseException:
        ledger.close()
        raise
    return ledger


def _accept(ledger: Ledger, request: dict[str, Any]) -> str:
    body = json.dumps(request, ensure_ascii=False, sort_keys=True)
    ledger.accept(
        letter_id=request["letter_id"],
        case_number=request["case"]["case_number"],
        letter_type=request["letter_type"],
        language=request["language"],
        request=body,
    )
    return str(request["letter_id"])


def _personal(request: dict[str, Any]) -> list[str]:
    recipient = request["recipient"]
    return [
        recipient["name"],
        recipient["national_identity_number"],
        *recipient["address"]["lines"],
    ]


def dump(ledger: Ledger) -> str:
    """Every row of every table, as text: what a database dump or a backup holds."""
    lines = []
    with ledger.engine.connect() as conn:
        for table in TABLES:
            for row in conn.execute(text(f"SELECT * FROM {table}")):  # noqa: S608 - our names
                lines.append(" ".join(str(v) for v in row))
    return "\n".join(lines)


def test_a_ledger_dump_holds_no_name_address_or_national_id(url: str) -> None:
    ledger = _opened(url, ledger_keys())
    try:
        requests = [sample_request(n) for n in ("purring-nb-plain", "inkassovarsel-en-plain")]
        ids = [_accept(ledger, r) for r in requests]
        everything = dump(ledger)
        for request in requests:
            for value in _personal(request):
                assert value not in everything, value
        # The ledger itself reads them back whole.
        for letter_id, request in zip(ids, requests, strict=True):
            record = ledger.get(letter_id)
            assert record is not None
            assert json.loads(record.request)["recipient"] == request["recipient"]
    finally:
        ledger.close()


def test_without_keys_nothing_is_written_and_the_error_names_the_setting(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upgrade()
    try:
        with pytest.raises(ConfigurationError, match=KEY_FILE_SETTING):
            _accept(ledger, sample_request())
        with ledger.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM letters")).scalar() == 0
    finally:
        ledger.close()


def test_a_shared_ledger_without_a_key_is_a_configuration_error(tmp_path: Path) -> None:
    env = {
        "LETTERS_VAR_DIR": str(tmp_path),
        "LETTERS_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/letters",
    }
    with pytest.raises(ConfigurationError, match="LETTERS_LEDGER_KEY_FILE or LETTERS_LEDGER_KMS"):
        load_ledger_keys(Settings.from_env(env))
    env["LETTERS_LEDGER_KEY_FILE"] = str(make_key_file(tmp_path / "master"))
    with pytest.raises(ConfigurationError, match="LETTERS_LEDGER_INDEX_KEY_FILE"):
        load_ledger_keys(Settings.from_env(env))
    assert not (tmp_path / "ledger-master-key").exists()


def test_the_embedded_default_makes_its_keys_once_readable_by_their_owner(tmp_path: Path) -> None:
    settings = Settings.from_env({"LETTERS_VAR_DIR": str(tmp_path)})
    first, second = load_ledger_keys(settings), load_ledger_keys(settings)
    assert first.master.key_id == second.master.key_id
    assert first.index_key == second.index_key
    for name in ("ledger-master-key", "ledger-index-key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600


def test_a_wrong_key_is_a_configuration_error_naming_the_setting(url: str) -> None:
    keys = ledger_keys()
    ledger = _opened(url, keys)
    letter_id = _accept(ledger, sample_request())
    ledger.close()
    wrong = LedgerKeys(FileMasterKey(os.urandom(32), KEY_FILE_SETTING), keys.index_key)
    # Refused as the ledger is opened, before a single value is sealed under the wrong key.
    with pytest.raises(ConfigurationError, match=f"{KEY_FILE_SETTING}.*wrapped under"):
        _opened(url, wrong)
    right = _opened(url, keys)
    try:
        assert right.get(letter_id) is not None
    finally:
        right.close()


def test_keys_rotate_rewraps_every_data_key_and_then_the_old_key_can_go(url: str) -> None:
    old = ledger_keys()
    ledger = _opened(url, old)
    ids = [_accept(ledger, sample_request()) for _ in range(3)]
    ledger.close()

    new_master = FileMasterKey(os.urandom(32), KEY_FILE_SETTING)
    rotating = _opened(url, LedgerKeys(new_master, old.index_key, (old.master,)))
    assert rotating.sealer is not None
    report = rotating.sealer.rewrap()
    assert (report.data_keys, report.already_current) == (1, 0)
    assert rotating.sealer.rewrap().data_keys == 0
    rotating.close()

    after = _opened(url, LedgerKeys(new_master, old.index_key))
    try:
        assert all(after.get(i) is not None for i in ids)
    finally:
        after.close()
    # The old key alone no longer opens anything: a process holding it refuses to start.
    with pytest.raises(ConfigurationError, match=RETIRED_SETTING):
        _opened(url, old)


def test_an_aws_kms_master_key_wraps_the_data_keys_and_rotates_from_a_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with mock_aws():
        client = boto3.client("kms")
        kms_key = client.create_key(Description="letters ledger")["KeyMetadata"]["KeyId"]
        file_keys = ledger_keys()
        ledger = _opened(url, file_keys)
        letter_id = _accept(ledger, sample_request())
        ledger.close()

        kms = KmsMasterKey(kms_key, client)
        moving = _opened(url, LedgerKeys(kms, file_keys.index_key, (file_keys.master,)))
        assert moving.sealer is not None
        assert moving.sealer.rewrap().data_keys == 1
        second = _accept(moving, sample_request())
        moving.close()

        on_kms = _opened(url, LedgerKeys(KmsMasterKey(kms_key, client), file_keys.index_key))
        try:
            assert on_kms.get(letter_id) is not None and on_kms.get(second) is not None
            with on_kms.engine.connect() as conn:
                masters = {r[0] for r in conn.execute(text("SELECT master_key_id FROM data_keys"))}
            assert masters == {f"kms:{kms_key}"}
        finally:
            on_kms.close()


def test_requests_stored_in_the_clear_by_an_earlier_version_are_sealed_by_upgrade(
    url: str,
) -> None:
    ledger = _opened(url, ledger_keys())
    request = sample_request()
    letter_id = _accept(ledger, request)
    plain = json.dumps(request, ensure_ascii=False, sort_keys=True)
    with ledger.transaction() as conn:  # as the first version wrote it
        conn.execute(
            text("UPDATE letters SET request = :r, nin_index = NULL WHERE letter_id = :i"),
            {"r": plain, "i": letter_id},
        )
    assert request["recipient"]["name"] in dump(ledger)
    ledger.upgrade()
    try:
        assert request["recipient"]["name"] not in dump(ledger)
        record = ledger.get(letter_id)
        assert record is not None and json.loads(record.request) == request
        number = request["recipient"]["national_identity_number"]
        assert letter_ids_of_person(ledger, number) == [letter_id]
    finally:
        ledger.close()


def test_a_sealed_value_copied_to_another_row_does_not_open(url: str) -> None:
    ledger = _opened(url, ledger_keys())
    try:
        first, second = _accept(ledger, sample_request()), _accept(ledger, sample_request())
        with ledger.transaction() as conn:
            stolen = conn.execute(
                text("SELECT request FROM letters WHERE letter_id = :i"), {"i": first}
            ).scalar()
            assert is_sealed(stolen)
            conn.execute(
                text("UPDATE letters SET request = :r WHERE letter_id = :i"),
                {"r": stolen, "i": second},
            )
        with pytest.raises(UnreadableValueError, match=second):
            ledger.get(second)
    finally:
        ledger.close()


def test_a_national_id_finds_its_letters_only_through_the_blind_index(url: str) -> None:
    ledger = _opened(url, ledger_keys())
    try:
        kari = sample_request()
        other = sample_request("inkassovarsel-en-plain")
        other["recipient"]["national_identity_number"] = "01010150061"
        mine = [_accept(ledger, kari), _accept(ledger, {**kari, "letter_id": str(uuid.uuid4())})]
        _accept(ledger, other)
        number = kari["recipient"]["national_identity_number"]
        assert sorted(letter_ids_of_person(ledger, number)) == sorted(mine)
        assert sorted(letter_ids_of_person(ledger, f"{number[:6]} {number[6:]}")) == sorted(mine)
        assert letter_ids_of_person(ledger, "17054026641") == []
        assert number not in dump(ledger)
    finally:
        ledger.close()


def test_retention_erases_the_personal_data_of_finished_letters_and_keeps_the_record(
    url: str,
) -> None:
    ledger = _opened(url, ledger_keys())
    try:
        done, waiting = sample_request(), sample_request("inkassovarsel-en-plain")
        done_id, waiting_id = _accept(ledger, done), _accept(ledger, waiting)
        ledger.record_routed(done_id, "digipost", "consented")
        ledger.record_sent(done_id, LetterStatus.DELIVERED, "ref-1", "digipost: delivered")
        number = done["recipient"]["national_identity_number"]

        assert erase_expired(ledger, utcnow() + timedelta(days=399), 400) == 0
        assert erase_expired(ledger, utcnow() + timedelta(days=401), 400) == 1
        assert erase_expired(ledger, utcnow() + timedelta(days=402), 400) == 0

        record = ledger.get(done_id)
        assert record is not None and record.personal_data_erased_at is not None
        kept = json.loads(record.request)
        assert "name" not in kept["recipient"] and "erased_on" in kept["recipient"]
        assert kept["case"] == done["case"]  # the amounts and the case: the record of what was sent
        assert (record.status, record.provider_ref) == (LetterStatus.DELIVERED, "ref-1")
        assert [e.event for e in ledger.history(done_id)][-1] == "erased"
        # The same debtor's unfinished letter keeps its data: it may still have to be sent.
        assert waiting["recipient"]["national_identity_number"] == number
        assert letter_ids_of_person(ledger, number) == [waiting_id]
        unfinished = ledger.get(waiting_id)
        assert unfinished is not None and unfinished.personal_data_erased_at is None

        chosen = Selection(letter_ids=(done_id,)).select(ledger, "copy")
        assert chosen.count == 0
        assert any("past retention" in reason for reason in chosen.left_out), chosen.left_out
    finally:
        ledger.close()
