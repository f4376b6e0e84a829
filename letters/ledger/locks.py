"""One worker at a time per letter, and the lock dies with the worker.

PostgreSQL: a session advisory lock, released when the worker's connection
closes (a killed worker's connection closes with it). SQLite, which lives on
one machine: ``flock`` on one of a fixed set of lock files, released by the
kernel when the process ends. Two letters may share a lock file; that only
makes one wait for the other, never skip work.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from letters.errors import TransientError
from letters.ledger.database import LedgerUnavailableError

LOCK_WAIT_S = 15.0
_POLL_S = 0.02
_FILE_BUCKETS = 1024


class LetterBusyError(TransientError):
    """Another worker holds the letter for longer than we are willing to wait."""


class HeldLock(Protocol):
    def check(self) -> None:
        """Raise LockLostError unless the lock is still held (just before sending)."""
        ...


class LetterLocks(Protocol):
    def hold(self, letter_id: str) -> AbstractContextManager[HeldLock]: ...


class LockLostError(TransientError):
    """The lock died under the worker (the database restarted): another may have the letter."""


class _KernelHeldLock:
    def check(self) -> None:
        # flock is released only when the process ends, and then nothing is sent.
        return None


class _SessionHeldLock:
    """An advisory lock lives as long as its session: a live session still holds it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def check(self) -> None:
        try:
            self.conn.execute(text("SELECT 1"))
        except SQLAlchemyError as err:
            raise LockLostError(
                f"the ledger's lock on the letter was lost ({type(err).__name__})"
            ) from err


def _digest(letter_id: str) -> bytes:
    return hashlib.sha256(letter_id.encode()).digest()


class FileLetterLocks:
    def __init__(self, folder: Path, wait_s: float = LOCK_WAIT_S) -> None:
        self.folder = folder
        self.wait_s = wait_s
        self._fds: dict[int, int] = {}

    def _fd(self, bucket: int) -> int:
        if bucket not in self._fds:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fds[bucket] = os.open(self.folder / f"{bucket:04d}.lock", os.O_RDWR | os.O_CREAT)
        return self._fds[bucket]

    @contextmanager
    def hold(self, letter_id: str) -> Iterator[HeldLock]:
        fd = self._fd(int.from_bytes(_digest(letter_id)[:4]) % _FILE_BUCKETS)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LetterBusyError("letter is being processed by another worker") from None
                time.sleep(_POLL_S)
        try:
            yield _KernelHeldLock()
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


class PostgresLetterLocks:
    def __init__(self, engine: Engine, wait_s: float = LOCK_WAIT_S) -> None:
        self.engine = engine
        self.wait_s = wait_s
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    @contextmanager
    def hold(self, letter_id: str) -> Iterator[HeldLock]:
        key = int.from_bytes(_digest(letter_id)[:8], signed=True)
        deadline = time.monotonic() + self.wait_s
        try:
            conn = self._connection()
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                if time.monotonic() > deadline:
                    raise LetterBusyError("letter is being processed by another worker")
                time.sleep(_POLL_S)
        except OperationalError as err:
            self._conn = None
            raise LedgerUnavailableError(f"ledger unavailable for locking: {err.orig!r}") from err
        except SQLAlchemyError as err:
            self._conn = None
            raise TransientError(f"ledger unavailable for locking: {type(err).__name__}") from err
        try:
            yield _SessionHeldLock(conn)
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            except SQLAlchemyError:
                # The connection is gone, and with it the lock.
                self._conn = None


def letter_locks(
    engine: Engine, var_dir: Path, *, folder: str = "locks", wait_s: float = LOCK_WAIT_S
) -> LetterLocks:
    """Locks by key for the engine's database; ``folder`` (SQLite) keeps other keys' lock
    files apart from the letters' (the event relay's)."""
    if engine.dialect.name == "postgresql":
        return PostgresLetterLocks(engine, wait_s)
    return FileLetterLocks(var_dir / folder, wait_s)
