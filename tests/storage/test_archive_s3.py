"""The S3 archive against an S3-compatible server over HTTP (moto's server mode)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from letters.config import S3Settings
from letters.errors import ConfigurationError
from letters.storage.archive import (
    ArchiveConflictError,
    ArchiveUnavailableError,
    NotArchivedError,
    archive_key,
    open_archive,
)
from letters.storage.s3 import S3Store
from tests.support.s3 import CREDENTIALS, client, new_bucket, s3_endpoint
from tests.support.stacks import Stack, sample_request, stack_env

PDF = b"%PDF-1.7\n% letter one\n%%EOF\n"
OTHER = b"%PDF-1.7\n% letter two\n%%EOF\n"


def archive(bucket: str, **settings: object) -> S3Store:
    s3 = S3Settings(endpoint_url=s3_endpoint(), **settings)  # type: ignore[arg-type]
    opened = open_archive(f"s3://{bucket}/letters/archive", s3)
    assert isinstance(opened, S3Store)
    return opened


def key() -> str:
    return archive_key(date(2026, 11, 23), str(uuid.uuid4()))


def test_create_only_same_body_is_a_no_op_different_body_an_error() -> None:
    bucket = new_bucket()
    store, name = archive(bucket), key()
    assert store.put(name, PDF) is True
    assert store.put(name, PDF) is False
    with pytest.raises(ArchiveConflictError):
        store.put(name, OTHER)
    assert store.get(name) == PDF


def test_keys_and_metadata_hold_nothing_about_the_debtor() -> None:
    bucket = new_bucket()
    name = key()
    archive(bucket).put(name, PDF)
    stored = client().head_object(Bucket=bucket, Key=f"letters/archive/{name}")
    assert stored["Metadata"] == {"sha256": hashlib.sha256(PDF).hexdigest()}
    assert stored["ContentType"] == "application/pdf"
    listed = client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"letters/archive/{name}"]


def test_missing_letters_and_exists() -> None:
    store, name = archive(new_bucket()), key()
    assert not store.exists(name)
    with pytest.raises(NotArchivedError):
        store.get(name)
    store.put(name, PDF)
    assert store.exists(name)


def test_server_side_encryption_is_requested() -> None:
    bucket = new_bucket()
    name = key()
    archive(bucket, archive_sse="aws:kms", archive_kms_key_id="alias/letters").put(name, PDF)
    stored = client().head_object(Bucket=bucket, Key=f"letters/archive/{name}")
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert stored["SSEKMSKeyId"].endswith("alias/letters")


def test_object_lock_retention_is_set_per_letter() -> None:
    bucket = new_bucket(object_lock=True)
    name = key()
    archive(bucket, archive_retention_days=30).put(name, PDF)
    stored = client().head_object(Bucket=bucket, Key=f"letters/archive/{name}")
    assert stored["ObjectLockMode"] == "COMPLIANCE"
    until = stored["ObjectLockRetainUntilDate"]
    expected = datetime.now(UTC) + timedelta(days=30)
    assert abs(until - expected) < timedelta(minutes=5)


def test_an_unreachable_server_is_transient() -> None:
    store = open_archive("s3://bucket/x", S3Settings(endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(ArchiveUnavailableError):
        store.put(key(), PDF)


def test_a_missing_bucket_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="NoSuchBucket"):
        archive(f"no-such-{uuid.uuid4().hex[:8]}").put(key(), PDF)


def test_a_bad_archive_url_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="LETTERS_ARCHIVE_URL"):
        open_archive("s3:///no-bucket", S3Settings())


def test_the_worker_archives_to_s3_and_archive_get_reads_it_back(tmp_path: Path) -> None:
    bucket = new_bucket()
    env = stack_env(tmp_path, broker=False, database_url=None)
    env |= CREDENTIALS | {
        "LETTERS_ARCHIVE_URL": f"s3://{bucket}/archive",
        "LETTERS_S3_ENDPOINT_URL": s3_endpoint(),
    }
    stack = Stack(env)
    try:
        request = sample_request("purring-nb-foreign_address")
        stack.publish(request)
        stack.run_worker()
        record = stack.ledger.get(request["letter_id"])
        assert record is not None and record.archive_key
        stored = client().get_object(Bucket=bucket, Key=f"archive/{record.archive_key}")
        pdf = stored["Body"].read()
        assert hashlib.sha256(pdf).hexdigest() == record.pdf_sha256
        out = tmp_path / "copy.pdf"
        result = stack.run("archive", "get", request["letter_id"], "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert out.read_bytes() == pdf
        missing = stack.run("archive", "get", str(uuid.uuid4()), "-o", str(out))
        assert missing.returncode == 1 and "has no archived PDF" in missing.stderr
    finally:
        stack.close()
