"""Create-only object stores (a directory or S3) and the PDF archive built on them.

A store never replaces what it holds: the same bytes again are a no-op,
different bytes under a name already taken are refused, because what was
stored is evidence of what was sent.
"""

from letters.storage.archive import (
    Archive,
    ArchiveConflictError,
    ArchiveUnavailableError,
    LocalArchive,
    NotArchivedError,
    archive_key,
    open_archive,
)
from letters.storage.base import (
    ObjectConflictError,
    ObjectNotFoundError,
    ObjectStore,
    StoreUnavailableError,
    WriteOptions,
)
from letters.storage.by_url import open_store
from letters.storage.directory import DirectoryStore

__all__ = [
    "Archive",
    "ArchiveConflictError",
    "ArchiveUnavailableError",
    "DirectoryStore",
    "LocalArchive",
    "NotArchivedError",
    "ObjectConflictError",
    "ObjectNotFoundError",
    "ObjectStore",
    "StoreUnavailableError",
    "WriteOptions",
    "archive_key",
    "open_archive",
    "open_store",
]
