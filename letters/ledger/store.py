"""The ledger: every letter, its status and its append-only history, in SQL.

It is the source of truth that makes redelivery harmless: a worker looks a
letter up before doing anything, and records each step before acknowledging.
SQLite (one file under ``var/``) by default, PostgreSQL in production.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from letters.errors import ConfigurationError, TransientError
from letters.ledger_schema import dead_letters, letter_events, letters

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant will do; it keeps two processes from migrating at once.
_MIGRATION_LOCK_KEY = 0x4C455454


class LetterStatus(StrEnum):
    ACCEPTED = "accepted"
    RENDERED = "rendered"
    ARCHIVED = "archived"
    ROUTED = "routed"
    # In a print batch that has not gone to the print house yet.
    BATCHED = "batched"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD_LETTERED = "dead-lettered"
    REQUEUED = "requeued"


# The worker's part is done: a batched letter is the print dispatcher's from here.
FINISHED = frozenset(
    {
        LetterStatus.BATCHED,
        LetterStatus.SENT,
        LetterStatus.DELIVERED,
        LetterStatus.DEAD_LETTERED,
    }
)


@dataclass(frozen=True, slots=True)
class LetterRecord:
    letter_id: str
    case_number: str
    letter_type: str
    language: str
    status: LetterStatus
    attempts: int
    retry_at: datetime | None
    letter_date: date | None
    deadline: date | None
    kid: str | None
    amount_due: Decimal | None
    template_version: str | None
    pdf_sha256: str | None
    page_count: int | None
    archive_key: str | None
    otp_hash: str | None
    otp_expires_on: date | None
    channel: str | None
    route_reason: str | None
    provider_ref: str | None
    delivery_method: str | None
    delivered_at: datetime | None
    request: str = field(repr=False)
    request_sha256: str
    created_at: datetime
    updated_at: datetime
    origin_letter_id: str | None = None
    resend_job_id: str | None = None
    resend_mode: str | None = None
    otp_revoked_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True, slots=True)
class LetterEvent:
    event: str
    at: datetime
    detail: str | None


@dataclass(frozen=True, slots=True)
class Rendering:
    """What the ledger keeps of a rendered letter (never the PDF or the password)."""

    letter_date: date
    deadline: date
    kid: str
    amount_due: Decimal
    template_version: str
    pdf_sha256: str
    page_count: int
    otp_hash: str
    otp_expires_on: date


@dataclass(frozen=True, slots=True)
class Resend:
    """Where a re-sent letter comes from: the original letter, the job and the mode."""

    origin_letter_id: str
    job_id: str
    mode: str

    def columns(self) -> dict[str, str]:
        return {
            "origin_letter_id": self.origin_letter_id,
            "resend_job_id": self.job_id,
            "resend_mode": self.mode,
        }

    def detail(self) -> str:
        return f"{self.mode} of {self.origin_letter_id} (job {self.job_id})"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


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

    def awaiting_retry(self, now: datetime, horizon: timedelta) -> int:
        """How many letters wait for a retry due before ``now + horizon``."""
        query = (
            select(func.count())
            .select_from(letters)
            .where(letters.c.status == LetterStatus.FAILED)
            .where(letters.c.retry_at <= now + horizon)
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
        now = utcnow()
        try:
            with self.transaction() as conn:
                conn.execute(
                    insert(letters).values(
                        letter_id=letter_id,
                        case_number=case_number,
                        letter_type=letter_type,
                        language=language,
                        status=LetterStatus.ACCEPTED,
                        attempts=0,
                        request=request,
                        request_sha256=sha256_hex(request.encode()),
                        created_at=now,
                        updated_at=now,
                        **(resend.columns() if resend else {}),
                    )
                )
                detail = resend.detail() if resend else None
                add_event(conn, letter_id, LetterStatus.ACCEPTED, now, detail)
            created = True
        except IntegrityError:
            created = False
        record = self.get(letter_id)
        assert record is not None  # noqa: S101 - inserted above or by a competitor
        return record, created

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
        now = utcnow()
        with self.transaction() as conn:
            moved = conn.execute(
                update(letters)
                .where(letters.c.letter_id == letter_id)
                .where(letters.c.status.not_in([LetterStatus.SENT, LetterStatus.DELIVERED]))
                .values(
                    status=LetterStatus.BATCHED,
                    provider_ref=batch_id,
                    retry_at=None,
                    updated_at=now,
                )
            )
            if moved.rowcount:
                add_event(conn, letter_id, LetterStatus.BATCHED, now, detail)

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
                result = conn.execute(
                    update(letters)
                    .where(letters.c.letter_id == letter_id)
                    .where(letters.c.status == LetterStatus.FAILED)
                    .values(status=LetterStatus.REQUEUED, retry_at=None, updated_at=now)
                )
                if result.rowcount == 1:
                    add_event(conn, letter_id, LetterStatus.REQUEUED, now, "retry due")
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
                _set(conn, letter_id, LetterStatus.DEAD_LETTERED, now, retry_at=None)
                add_event(conn, letter_id, LetterStatus.DEAD_LETTERED, now, reason)

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
            if (
                letter_id
                and conn.execute(
                    select(letters.c.letter_id).where(letters.c.letter_id == letter_id)
                ).first()
            ):
                _set(conn, letter_id, LetterStatus.REQUEUED, now, retry_at=None, attempts=0)
                add_event(conn, letter_id, LetterStatus.REQUEUED, now, "from the dead letters")

    # -- plumbing --------------------------------------------------------------

    def _advance(self, letter_id: str, status: LetterStatus, detail: str, **values: Any) -> None:
        now = utcnow()
        with self.transaction() as conn:
            _set(conn, letter_id, status, now, **values)
            add_event(conn, letter_id, status, now, detail)

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


def _set(conn: Connection, letter_id: str, status: str, now: datetime, **values: Any) -> None:
    conn.execute(
        update(letters)
        .where(letters.c.letter_id == letter_id)
        .values(status=status, updated_at=now, **values)
    )


def add_event(
    conn: Connection, letter_id: str, event_name: str, now: datetime, detail: str | None
) -> None:
    conn.execute(
        insert(letter_events).values(letter_id=letter_id, event=event_name, at=now, detail=detail)
    )


def record_from_row(row: Any) -> LetterRecord:
    values = dict(row)
    values["status"] = LetterStatus(values["status"])
    for name in ("retry_at", "created_at", "updated_at", "delivered_at", "otp_revoked_at"):
        values[name] = as_utc(values[name]) if values[name] else None
    return LetterRecord(**values)


def as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the ledger writes is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
