"""The ledger's database engine: SQLite under ``var/`` by default, PostgreSQL in production."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from letters.errors import ConfigurationError


class Transactions(Protocol):
    """What owns a table needs of the ledger: a transaction (``Ledger.transaction``)."""

    def transaction(self) -> AbstractContextManager[Connection]: ...


def create_ledger_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as err:
        raise ConfigurationError(f"LETTERS_DATABASE_URL: not a database URL: {err}") from err
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's BEGIN below, not the driver, open transactions.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Take the write lock up front: a deferred transaction that later
            # writes can fail with "database is locked" instead of waiting.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2)
    raise ConfigurationError(
        f"LETTERS_DATABASE_URL: {parsed.get_backend_name()} is not supported; "
        "use sqlite:///… or postgresql+psycopg://…"
    )
