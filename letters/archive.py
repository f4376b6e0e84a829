"""The PDF archive: every letter is kept, by letter id, before it is dispatched.

Writes are create-only. Writing the same letter again is a no-op; writing a
different body under the same key is refused, because the archive is the
evidence of what the debtor received.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Protocol

from letters.config import S3Settings
from letters.errors import ConfigurationError, PermanentError, TransientError


class ArchiveConflictError(PermanentError):
    """The archive already holds a different PDF for this letter."""


class ArchiveUnavailableError(TransientError):
    """The archive could not be read or written just now."""


class NotArchivedError(PermanentError):
    """The archive holds no PDF under the key asked for."""


def archive_key(letter_date: date, letter_id: str) -> str:
    """``2026/11/23/<letter id>.pdf``: by date for retention, never personal data."""
    return f"{letter_date:%Y/%m/%d}/{letter_id}.pdf"


class Archive(Protocol):
    def put(self, key: str, pdf: bytes) -> bool:
        """Store ``pdf`` under ``key`` if absent; True if written, False if already there.

        Raises:
            ArchiveConflictError: a different body is already stored under ``key``.
            ArchiveUnavailableError: the store could not be reached.
        """
        ...

    def get(self, key: str) -> bytes:
        """The PDF under ``key``; NotArchivedError if there is none."""
        ...

    def exists(self, key: str) -> bool: ...


class LocalArchive:
    """A directory tree; files are written once and never replaced."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or not key.endswith(".pdf"):
            raise ValueError(f"not an archive key: {key!r}")
        return path

    def put(self, key: str, pdf: bytes) -> bool:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as temp:
                    temp.write(pdf)
                    temp.flush()
                    os.fsync(temp.fileno())
                # link() fails if the name exists, so a concurrent writer can
                # never replace a file another process has already archived.
                os.link(temp_name, target)
            except FileExistsError:
                existing = target.read_bytes()
                if hashlib.sha256(existing).digest() != hashlib.sha256(pdf).digest():
                    raise ArchiveConflictError(
                        f"archive {key}: a different PDF is already archived for this letter"
                    ) from None
                return False
            finally:
                Path(temp_name).unlink(missing_ok=True)
            _fsync_dir(target.parent)
            return True
        except OSError as err:
            raise ArchiveUnavailableError(f"archive {key}: {err.strerror or err}") from err

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotArchivedError(f"archive {key}: no such letter") from None
        except OSError as err:
            raise ArchiveUnavailableError(f"archive {key}: {err.strerror or err}") from err

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_archive(url: str, s3: S3Settings | None = None) -> Archive:
    """The archive at ``LETTERS_ARCHIVE_URL``: ``s3://bucket/prefix`` or a directory."""
    if url.startswith("s3://"):
        from letters.archive_s3 import ArchivePolicy, S3Archive  # boto3 only when asked for
        from letters.s3 import parse_s3_url, s3_client

        s3 = s3 or S3Settings()
        policy = ArchivePolicy(
            server_side_encryption=s3.archive_sse,
            kms_key_id=s3.archive_kms_key_id,
            retention_days=s3.archive_retention_days,
        )
        client = s3_client(s3.endpoint_url, s3.region)
        return S3Archive(client, parse_s3_url(url, "LETTERS_ARCHIVE_URL"), policy)
    if url.startswith("file://"):
        return LocalArchive(Path(url.removeprefix("file://")))
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigurationError(
            f"LETTERS_ARCHIVE_URL: {scheme}:// is not supported; use s3://bucket/prefix "
            "or a directory"
        )
    return LocalArchive(Path(url))
