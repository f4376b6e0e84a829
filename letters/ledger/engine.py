"""The ledger's database engine: SQLite under ``var/`` by default, PostgreSQL in production."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.engine import make_url

from letters.config.declared import DATABASE_URL
from letters.errors import ConfigurationError

# The execution option of a connection that only reads (Ledger.reading).
READ_ONLY = "letters_read_only"


class Transactions(Protocol):
    """What owns a table needs of the ledger: a transaction (``Ledger.transaction``)."""

    def transaction(self) -> AbstractContextManager[Connection]: ...


class Readings(Transactions, Protocol):
    """And a read-only transaction, which may run inside another one (``Ledger.reading``)."""

    def reading(self) -> AbstractContextManager[Connection]: ...


def create_ledger_engine(url: str, setting: str = DATABASE_URL.name) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as err:
        raise ConfigurationError(f"{setting}: not a database URL: {err}") from err
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        engine = create_engine(parsed, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's BEGIN below, not the driver, open transactions.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted and overwritten rows are zeroed in the file, not left in free pages:
            # an erased person's data (and a destroyed erasure key) must not linger.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Take the write lock up front: a deferred transaction that later
            # writes can fail with "database is locked" instead of waiting. A
            # read-only one (Ledger.reading) does not wait for the writer.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2)
    raise ConfigurationError(
        f"{setting}: {parsed.get_backend_name()} is not supported; "
        "use sqlite:///… or postgresql+psycopg://…"
    )


def _private_file(path: Path) -> None:
    """The SQLite file (and so its WAL and shared-memory files, which SQLite makes with the
    same mode) readable by its owner only, also when an earlier version made it 644.

    An existing file is never opened here: closing any descriptor of a database file
    drops every POSIX lock this process holds on it, so another process would take its
    connections for gone and remove the WAL under them (stale reads, then "disk I/O
    error", and writes lost).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return
    os.close(descriptor)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Many rows of one shape into ``table``, in the caller's transaction: PostgreSQL's
    COPY, many times faster than INSERTs for the bulk path; an executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    names = ", ".join(f'"{name}"' for name in columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])
