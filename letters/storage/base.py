"""Create-only object stores: a directory, or an S3 bucket (``letters.s3_store``).

The PDF archive and the print drop are both stores that never replace what
they hold. Writing the same bytes again is a no-op, which makes every write
safe to repeat after a crash; writing different bytes under a name already
taken is refused, because what was stored is evidence of what was sent.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from letters.config import S3Settings
from letters.errors import ConfigurationError, PermanentError, TransientError


class ObjectConflictError(PermanentError):
    """The store already holds different bytes under this name."""


class StoreUnavailableError(TransientError):
    """The store could not be read or written just now."""


class ObjectNotFoundError(PermanentError):
    """The store holds nothing under the name asked for."""


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """How an S3 store writes; a directory ignores them."""

    # "AES256", "aws:kms" or None (the bucket's default encryption).
    server_side_encryption: str | None = "AES256"
    kms_key_id: str | None = None
    # Object Lock retention per object; None leaves it to the bucket's default.
    retention_days: int | None = None
    retention_mode: str = "COMPLIANCE"


class ObjectStore(Protocol):
    # What the store is for, in messages: "archive", "print drop".
    label: str

    def put(self, name: str, body: bytes, content_type: str = "application/pdf") -> bool:
        """Store ``body`` under ``name`` if absent; True if written, False if already there.

        Raises:
            ObjectConflictError: different bytes are already stored under ``name``.
            StoreUnavailableError: the store could not be reached.
        """
        ...

    def get(self, name: str) -> bytes:
        """The bytes under ``name``; ObjectNotFoundError if there are none."""
        ...

    def exists(self, name: str) -> bool: ...

    def location(self, name: str) -> str:
        """Where ``name`` is, for people: a path or an s3:// URL."""
        ...


class DirectoryStore:
    """A directory tree; files are written once and never replaced."""

    def __init__(self, root: Path, label: str = "archive") -> None:
        self.root = root
        self.label = label

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()) or path == self.root.resolve():
            raise ValueError(f"not a name inside the {self.label}: {name!r}")
        return path

    def put(self, name: str, body: bytes, content_type: str = "application/pdf") -> bool:
        target = self._path(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as temp:
                    temp.write(body)
                    temp.flush()
                    os.fsync(temp.fileno())
                # link() fails if the name exists, so a concurrent writer can
                # never replace a file another process has already stored.
                os.link(temp_name, target)
            except FileExistsError:
                if _sha256(target.read_bytes()) != _sha256(body):
                    raise ObjectConflictError(
                        f"{self.label} {name}: different content is already stored there"
                    ) from None
                return False
            finally:
                Path(temp_name).unlink(missing_ok=True)
            _fsync_dir(target.parent)
            return True
        except OSError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {err.strerror or err}") from err

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"{self.label} {name}: not found") from None
        except OSError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {err.strerror or err}") from err

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def location(self, name: str) -> str:
        return str(self._path(name))


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_store(
    url: str,
    s3: S3Settings | None,
    *,
    setting: str,
    label: str,
    options: WriteOptions = WriteOptions(),
) -> ObjectStore:
    """The store at ``url``: ``s3://bucket/prefix``, ``file://dir`` or a directory."""
    if url.startswith("s3://"):
        from letters.s3 import parse_s3_url, s3_client  # boto3 only when asked for
        from letters.s3_store import S3Store

        s3 = s3 or S3Settings()
        client = s3_client(s3.endpoint_url, s3.region)
        return S3Store(client, parse_s3_url(url, setting), options, setting=setting, label=label)
    if url.startswith("file://"):
        return DirectoryStore(Path(url.removeprefix("file://")), label)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigurationError(
            f"{setting}: {scheme}:// is not supported; use s3://bucket/prefix or a directory"
        )
    return DirectoryStore(Path(url), label)
