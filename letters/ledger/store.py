"""The ledger: every letter, its status and its append-only history, in SQL.

It is the source of truth that makes redelivery harmless: a worker looks a
letter up before doing anything, and records each step before acknowledging.
SQLite (one file under ``var/``) by default, PostgreSQL in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from letters.clock import as_utc, utcnow
from letters.digests import sha256_hex
from letters.errors import ConfigurationError, PermanentError, TransientError
from letters.ledger import history
from letters.ledger.records import (
    FINISHED,
    IN_HAND,
    RECOVERED,
    DeadLetter,
    LetterEvent,
    LetterRecord,
    LetterStatus,
    OverdueLetter,
    Rendering,
    Resend,
    record_from_row,
)
from letters.ledger.schema import dead_letters, letter_events, letters

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant will do; it keeps two processes from migrating at once.
_MIGRATION_LOCK_KEY = 0x4C455454


class Ledger:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (safe to call from every process)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.transaction() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    # -- reading ---------------------------------------------------------------

    def get(self, letter_id: str) -> LetterRecord | None:
        with self.transaction() as conn:
            row = conn.execute(select(letters).where(letters.c.letter_id == letter_id)).first()
        return record_from_row(row._mapping) if row else None

    def history(self, letter_id: str) -> list[LetterEvent]:
        query = (
            select(letter_events.c.event, letter_events.c.at, letter_events.c.detail)
            .where(letter_events.c.letter_id == letter_id)
            .order_by(letter_events.c.id)
        )
        with self.transaction() as conn:
            return [LetterEvent(r.event, as_utc(r.at), r.detail) for r in conn.execute(query)]

    def unfinished(self) -> list[LetterRecord]:
        """Letters accepted but neither finished nor waiting for a scheduled retry."""
        waiting = LetterStatus.FAILED
        query = select(letters).where(letters.c.status.not_in([*FINISHED, waiting]))
        with self.transaction() as conn:
            return [record_from_row(r._mapping) for r in conn.execute(query)]

    def overdue(
        self, now: datetime, retry_grace_s: float, stale_after_s: float
    ) -> list[OverdueLetter]:
        """Letters in flight whose message must be lost: a retry overdue by more than
        ``retry_grace_s``, or a letter in hand untouched for longer than ``stale_after_s``."""
        recoveries = (
            select(func.count())
            .select_from(letter_events)
            .where(letter_events.c.letter_id == letters.c.letter_id)
            .where(letter_events.c.event == RECOVERED)
            .scalar_subquery()
        )
        query = select(letters, recoveries.label("recoveries")).where(
            _overdue(now, retry_grace_s, stale_after_s)
        )
        found = []
        with self.transaction() as conn:
            for row in conn.execute(query.order_by(letters.c.updated_at)):
                updated_at, retry_at = as_utc(row.updated_at), row.retry_at and as_utc(row.retry_at)
                if row.status == LetterStatus.FAILED and retry_at is not None:
                    late = round((now - retry_at).total_seconds())
                    reason = f"retry due at {retry_at.isoformat(timespec='seconds')}, {late} s ago"
                else:
                    idle = round((now - updated_at).total_seconds())
                    reason = f"{row.status} and untouched for {idle} s"
                found.append(
                    OverdueLetter(
                        letter_id=row.letter_id,
                        case_number=row.case_number,
                        status=LetterStatus(row.status),
                        attempts=row.attempts,
                        updated_at=updated_at,
                        retry_at=retry_at,
                        reason=reason,
                        recoveries=int(row.recoveries),
                        request=row.request,
                    )
                )
        return found

    def in_flight(self, now: datetime, horizon: timedelta) -> int:
        """Letters a worker has in hand, or whose retry is due before ``now + horizon``."""
        query = (
            select(func.count())
            .select_from(letters)
            .where(
                or_(
                    letters.c.status.in_(IN_HAND),
                    and_(
                        letters.c.status == LetterStatus.FAILED,
                        letters.c.retry_at <= now + horizon,
                    ),
                )
            )
        )
        with self.transaction() as conn:
            return int(conn.execute(query).scalar_one())

    def status_counts(self) -> dict[str, int]:
        query = select(letters.c.status, func.count()).group_by(letters.c.status)
        with self.transaction() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def letters_in(self, letter_ids: list[str]) -> list[LetterRecord]:
        query = select(letters).where(letters.c.letter_id.in_(letter_ids))
        with self.transaction() as conn:
            return [record_from_row(r._mapping) for r in conn.execute(query)]

    def dead_letters_for(self, letter_id: str) -> list[DeadLetter]:
        """Every message dead-lettered under this letter id (a conflicting request too)."""
        query = (
            select(dead_letters)
            .where(dead_letters.c.letter_id == letter_id)
            .order_by(dead_letters.c.dead_at)
        )
        with self.transaction() as conn:
            return [
                DeadLetter(
                    dead_id=row.dead_id,
                    letter_id=row.letter_id,
                    reason=row.reason,
                    attempts=row.attempts,
                    dead_at=as_utc(row.dead_at),
                    requeued_at=as_utc(row.requeued_at) if row.requeued_at else None,
                )
                for row in conn.execute(query)
            ]

    def is_known_dead_body(self, body_sha256: str) -> bool:
        query = select(dead_letters.c.dead_id).where(dead_letters.c.body_sha256 == body_sha256)
        with self.transaction() as conn:
            return conn.execute(query.limit(1)).first() is not None

    # -- writing ---------------------------------------------------------------

    def accept(
        self,
        *,
        letter_id: str,
        case_number: str,
        letter_type: str,
        language: str,
        request: str,
        resend: Resend | None = None,
    ) -> tuple[LetterRecord, bool]:
        """Record a valid request; returns the letter and whether it is new."""
        values = {
            "letter_id": letter_id,
            "case_number": case_number,
            "letter_type": letter_type,
            "language": language,
            "status": LetterStatus.ACCEPTED,
            "attempts": 0,
            "request": request,
            "request_sha256": sha256_hex(request.encode()),
            **(resend.columns() if resend else {}),
        }
        detail = resend.detail() if resend else None
        try:
            with self.transaction() as conn:
                history.insert_letter(conn, values, [(LetterStatus.ACCEPTED, detail)], utcnow())
            created = True
        except IntegrityError:
            created = False
        record = self.get(letter_id)
        assert record is not None  # noqa: S101 - inserted above or by a competitor
        return record, created

    def create_copy(self, source: LetterRecord, new_id: str, resend: Resend) -> None:
        """A new letter with the original's archived PDF and rendering, ready to route.

        The copy carries no password of its own: the PDF is the original's, so the
        password printed in it is the original's, checked against the original.
        Creating the same copy again is a no-op.
        """
        if not source.archive_key or not source.pdf_sha256:
            raise PermanentError(f"letter {source.letter_id} has no archived PDF to copy")
        data = json.loads(source.request)
        data["letter_id"] = new_id
        request = json.dumps(data, ensure_ascii=False, sort_keys=True)
        # What the PDF shows; delivery, routing and the password are the copy's own.
        copied = (
            "case_number",
            "letter_type",
            "language",
            "letter_date",
            "deadline",
            "kid",
            "amount_due",
            "template_version",
            "pdf_sha256",
            "page_count",
            "archive_key",
        )
        values = {
            "letter_id": new_id,
            "status": LetterStatus.ARCHIVED,
            "attempts": 0,
            "request": request,
            "request_sha256": sha256_hex(request.encode()),
            **{name: getattr(source, name) for name in copied},
            **resend.columns(),
        }
        events = [
            (LetterStatus.ACCEPTED, resend.detail()),
            (LetterStatus.ARCHIVED, source.archive_key),
        ]
        try:
            with self.transaction() as conn:
                history.insert_letter(conn, values, events, utcnow())
        except IntegrityError:
            pass  # made by an earlier run that stopped before recording the item

    def record_rendered(self, letter_id: str, rendering: Rendering, detail: str) -> None:
        values = {f.name: getattr(rendering, f.name) for f in fields(rendering)}
        self._advance(letter_id, LetterStatus.RENDERED, detail, archive_key=None, **values)

    def record_archived(self, letter_id: str, archive_key: str) -> None:
        self._advance(letter_id, LetterStatus.ARCHIVED, archive_key, archive_key=archive_key)

    def record_routed(self, letter_id: str, channel: str, reason: str) -> None:
        detail = f"{channel}: {reason}"
        self._advance(letter_id, LetterStatus.ROUTED, detail, channel=channel, route_reason=reason)

    def record_sent(
        self,
        letter_id: str,
        status: LetterStatus,
        provider_ref: str | None,
        detail: str,
        delivery_method: str | None = None,
        delivered_at: datetime | None = None,
    ) -> None:
        self._advance(
            letter_id,
            status,
            detail,
            provider_ref=provider_ref,
            retry_at=None,
            delivery_method=delivery_method,
            delivered_at=delivered_at,
        )

    def record_batched(self, letter_id: str, batch_id: str, detail: str) -> None:
        """The letter waits in print batch ``batch_id``; never undoes a batch already sent."""
        with self.transaction() as conn:
            history.record(
                conn,
                letter_id,
                LetterStatus.BATCHED,
                utcnow(),
                detail,
                only_if=letters.c.status.not_in([LetterStatus.SENT, LetterStatus.DELIVERED]),
                status=LetterStatus.BATCHED,
                provider_ref=batch_id,
                retry_at=None,
            )

    def record_failed(
        self, letter_id: str, attempt: int, reason: str, retry_at: datetime | None
    ) -> None:
        when = f"; retry at {retry_at.isoformat(timespec='seconds')}" if retry_at else ""
        self._advance(
            letter_id,
            LetterStatus.FAILED,
            f"attempt {attempt}: {reason}{when}",
            attempts=attempt,
            retry_at=retry_at,
        )

    def record_requeued(self, letter_id: str, detail: str) -> None:
        self._advance(letter_id, LetterStatus.REQUEUED, detail, retry_at=None)

    def claim_due_retries(self, now: datetime, limit: int = 100) -> list[LetterRecord]:
        """Move letters whose retry is due from failed to requeued, and return them.

        The conditional update makes each claim exclusive between processes.
        """
        due = (
            select(letters.c.letter_id)
            .where(letters.c.status == LetterStatus.FAILED)
            .where(letters.c.retry_at <= now)
            .limit(limit)
        )
        claimed = []
        with self.transaction() as conn:
            for letter_id in conn.execute(due).scalars().all():
                if history.record(
                    conn,
                    letter_id,
                    LetterStatus.REQUEUED,
                    now,
                    "retry due",
                    only_if=letters.c.status == LetterStatus.FAILED,
                    status=LetterStatus.REQUEUED,
                    retry_at=None,
                ):
                    claimed.append(letter_id)
        return self.letters_in(claimed) if claimed else []

    def record_dead(
        self,
        *,
        dead_id: str,
        letter_id: str | None,
        case_number: str | None,
        reason: str,
        attempts: int,
        body_sha256: str,
        known_letter: bool,
    ) -> None:
        """Record a message sent to the dead-letter queue under ``dead_id``."""
        now = utcnow()
        with self.transaction() as conn:
            conn.execute(
                insert(dead_letters).values(
                    dead_id=dead_id,
                    letter_id=letter_id,
                    case_number=case_number,
                    reason=reason,
                    attempts=attempts,
                    body_sha256=body_sha256,
                    dead_at=now,
                )
            )
            if known_letter and letter_id:
                history.record(
                    conn,
                    letter_id,
                    LetterStatus.DEAD_LETTERED,
                    now,
                    reason,
                    status=LetterStatus.DEAD_LETTERED,
                    retry_at=None,
                )

    def record_dead_requeued(self, dead_id: str | None, letter_id: str | None) -> None:
        """A dead letter went back to the work queue (``letters dead retry``)."""
        now = utcnow()
        with self.transaction() as conn:
            if dead_id:
                conn.execute(
                    update(dead_letters)
                    .where(dead_letters.c.dead_id == dead_id)
                    .values(requeued_at=now)
                )
            if letter_id:
                history.record(
                    conn,
                    letter_id,
                    LetterStatus.REQUEUED,
                    now,
                    "from the dead letters",
                    status=LetterStatus.REQUEUED,
                    retry_at=None,
                    attempts=0,
                )

    def record_recovered(
        self, letter: OverdueLetter, now: datetime, retry_grace_s: float, stale_after_s: float
    ) -> bool:
        """Mark an overdue letter requeued by the sweep, if it is still overdue."""
        with self.transaction() as conn:
            return history.record(
                conn,
                letter.letter_id,
                RECOVERED,
                now,
                letter.reason,
                only_if=and_(
                    letters.c.status == letter.status,
                    _overdue(now, retry_grace_s, stale_after_s),
                ),
                status=LetterStatus.REQUEUED,
                retry_at=None,
            )

    # -- plumbing --------------------------------------------------------------

    def _advance(self, letter_id: str, status: LetterStatus, detail: str, **values: Any) -> None:
        with self.transaction() as conn:
            history.record(conn, letter_id, status, utcnow(), detail, status=status, **values)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as err:
            # The database is down, restarting or locked: the letter can wait.
            raise TransientError(f"ledger unavailable: {err.orig!r}") from err
        except IntegrityError:
            raise
        except SQLAlchemyError as err:
            raise TransientError(f"ledger error: {type(err).__name__}") from err


def _overdue(now: datetime, retry_grace_s: float, stale_after_s: float) -> ColumnElement[bool]:
    return or_(
        and_(
            letters.c.status == LetterStatus.FAILED,
            letters.c.retry_at.is_not(None),
            letters.c.retry_at < now - timedelta(seconds=retry_grace_s),
        ),
        and_(
            letters.c.status.in_(IN_HAND),
            letters.c.updated_at < now - timedelta(seconds=stale_after_s),
        ),
    )


def _create_engine(url: str) -> Engine:
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
