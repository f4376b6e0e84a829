"""The ledger's database: its engine, its transactions and its migrations.

A transaction that meets a database that is down, restarting or locked
raises TransientError, so the letter waits and nothing is lost; an
IntegrityError is left to the caller, which knows what a duplicate means.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from letters.errors import TransientError
from letters.ledger.engine import READ_ONLY, create_ledger_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant will do; it keeps two processes from migrating at once.
_MIGRATION_LOCK_KEY = 0x4C455454


class LedgerUnavailableError(TransientError):
    """The database cannot be reached: down, restarting, or failing over to a standby.
    Nothing about the letter is wrong, so a worker waits for the database with the letter
    in hand rather than cycling its queue."""


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_ledger_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to call from every process).

        On SQLite all of it is one transaction, which SQLite's write lock serialises.
        On PostgreSQL a session lock keeps two processes from migrating at once, and
        each migration is its own transaction, so that one may build an index outside
        any transaction (``CREATE INDEX CONCURRENTLY``: writes go on while it builds).
        """
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        if self.engine.dialect.name != "postgresql":
            with self.transaction() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
            return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({_MIGRATION_LOCK_KEY})")
                conn.commit()
                try:
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
                finally:
                    conn.rollback()
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK_KEY})")
                    conn.commit()
        except OperationalError as err:
            raise LedgerUnavailableError(f"ledger unavailable: {err.orig!r}") from err

    def ping(self) -> None:
        """Raise LedgerUnavailableError unless the database answers. The pool checks a
        connection before handing it out, so one to a primary that died is replaced; with
        ``target_session_attrs=read-write`` in the URL only a primary is connected to."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except OperationalError as err:
            raise LedgerUnavailableError(f"ledger unavailable: {err.orig!r}") from err

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction; on SQLite it does not wait for a writer, so it may run
        while this process holds another transaction (the sealer's data keys)."""
        try:
            reading = self.engine.connect().execution_options(**{READ_ONLY: True})
            with reading as conn, conn.begin():
                yield conn
        except OperationalError as err:
            raise LedgerUnavailableError(f"ledger unavailable: {err.orig!r}") from err

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as err:
            # The database is down, restarting or locked: the letter can wait.
            raise LedgerUnavailableError(f"ledger unavailable: {err.orig!r}") from err
        except IntegrityError:
            raise
        except SQLAlchemyError as err:
            raise TransientError(f"ledger error: {type(err).__name__}") from err
