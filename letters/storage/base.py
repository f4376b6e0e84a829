"""Create-only object stores: the protocol, its errors and write options.

The PDF archive and the print drop are both stores that never replace what
they hold. Writing the same bytes again is a no-op, which makes every write
safe to repeat after a crash; writing different bytes under a name already
taken is refused, because what was stored is evidence of what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from letters.errors import PermanentError, TransientError


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

    def check_reachable(self) -> None:
        """Raise StoreUnavailableError (or ConfigurationError) if the store cannot be
        written to now: the readiness check."""
        ...

    def location(self, name: str) -> str:
        """Where ``name`` is, for people: a path or an s3:// URL."""
        ...

    def names(self, prefix: str) -> list[str]:
        """The names stored directly under ``prefix`` (a folder such as ``receipts/``),
        sorted; what lies in folders below it is not listed."""
        ...

    def remove(self, name: str) -> None:
        """Delete ``name`` if it is there. Only an inbox (the print house's receipts)
        is ever emptied: an archive keeps what it was given."""
        ...
