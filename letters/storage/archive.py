"""The PDF archive: every letter is kept, by letter id, before it is dispatched.

The archive is a create-only store (``letters.storage``): writing the
same letter again is a no-op; writing a different body under the same key is
refused, because the archive is the evidence of what the debtor received.
"""

from __future__ import annotations

from datetime import date

from letters.config import S3Settings
from letters.config.declared import ARCHIVE_URL
from letters.storage.base import (
    ObjectConflictError,
    ObjectNotFoundError,
    ObjectStore,
    StoreUnavailableError,
    WriteOptions,
)
from letters.storage.by_url import open_store
from letters.storage.directory import DirectoryStore

# The archive's failures are the store's, under the names callers know them by.
ArchiveConflictError = ObjectConflictError
ArchiveUnavailableError = StoreUnavailableError
NotArchivedError = ObjectNotFoundError
Archive = ObjectStore
LocalArchive = DirectoryStore

__all__ = [
    "Archive",
    "ArchiveConflictError",
    "ArchiveUnavailableError",
    "LocalArchive",
    "NotArchivedError",
    "archive_key",
    "open_archive",
]


def archive_key(letter_date: date, letter_id: str) -> str:
    """``2026/11/23/<letter id>.pdf``: by date for retention, never personal data."""
    return f"{letter_date:%Y/%m/%d}/{letter_id}.pdf"


def open_archive(url: str, s3: S3Settings | None = None) -> Archive:
    """The archive at ``LETTERS_ARCHIVE_URL``: ``s3://bucket/prefix`` or a directory."""
    s3 = s3 or S3Settings()
    options = WriteOptions(
        server_side_encryption=s3.archive_sse,
        kms_key_id=s3.archive_kms_key_id,
        retention_days=s3.archive_retention_days,
    )
    return open_store(url, s3, setting=ARCHIVE_URL.name, label="archive", options=options)
