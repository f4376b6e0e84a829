"""The erasure keys: one key per letter (and per dead letter), kept apart from the ledger.

Crypto-erasure needs a key that exists nowhere once it is destroyed. A key
kept in the ledger's own database would live on in every dump and backup of
it, and with the master key they would open an erased person's data again.
So each letter's personal data is sealed under a key of its own, and these
keys are kept in a database of their own (``LETTERS_ERASURE_KEYS_URL``; on
the embedded default ``var/erasure-keys.db``). Erasure destroys the letter's
key: from then on the sealed values in the ledger, in its dumps and in its
backups open for nobody, once the erasure-key database's own backups older
than the erasure have aged out. Keep those backups short (the README says
how long).

Each key is stored wrapped under one of the ledger's data keys
(``letters.ledger.sealing``), so the key database alone opens nothing either.
The ``erasure_keys`` table is this module's alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Delete,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    Update,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from letters.clock import utcnow
from letters.config import Settings
from letters.config.declared import ERASURE_KEYS_URL
from letters.errors import ConfigurationError, TransientError
from letters.ledger.engine import create_ledger_engine

SETTING = ERASURE_KEYS_URL.name
FILE_NAME = "erasure-keys.db"
_CHUNK = 500
T = TypeVar("T")

_metadata = MetaData()
erasure_keys = Table(
    "erasure_keys",
    _metadata,
    # The letter id or dead id whose values the key seals.
    Column("context", String(36), primary_key=True),
    # The ledger's data key it is wrapped under, and the wrapped key (nonce + ciphertext).
    Column("data_key_id", String(36), nullable=False),
    Column("wrapped", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class WrappedKey:
    data_key_id: str
    wrapped: str


class ErasureKeys:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_ledger_engine(url, SETTING)
        self._ready = False

    @classmethod
    def for_settings(cls, settings: Settings) -> ErasureKeys:
        return cls(erasure_keys_url(settings))

    def close(self) -> None:
        self.engine.dispose()

    def get(self, context: str) -> WrappedKey | None:
        self._create()
        row = self._run(
            lambda conn: conn.execute(
                select(erasure_keys.c.data_key_id, erasure_keys.c.wrapped).where(
                    erasure_keys.c.context == context
                )
            ).first()
        )
        return WrappedKey(row.data_key_id, row.wrapped) if row else None

    def keep(self, context: str, key: WrappedKey) -> WrappedKey:
        """Keep ``key`` for ``context``, unless another process kept one first: the one kept."""
        self._create()
        try:
            self._run(
                lambda conn: conn.execute(
                    insert(erasure_keys).values(
                        context=context,
                        data_key_id=key.data_key_id,
                        wrapped=key.wrapped,
                        created_at=utcnow(),
                    )
                )
            )
        except IntegrityError:
            kept = self.get(context)
            if kept is None:  # destroyed between the two: it was being erased
                raise TransientError(f"erasure key of {context}: destroyed while kept") from None
            return kept
        return key

    def destroy(self, contexts: Iterable[str]) -> int:
        """Destroy the keys of these letters or dead letters; how many there were."""
        self._create()
        wanted = list(contexts)
        destroyed = 0
        for start in range(0, len(wanted), _CHUNK):
            statement = delete(erasure_keys).where(
                erasure_keys.c.context.in_(wanted[start : start + _CHUNK])
            )
            destroyed += self._run(partial(_deleted, statement))
        if destroyed and self.engine.dialect.name == "postgresql":
            # The deleted rows' space is reclaimed now; VACUUM FULL, on a schedule, rewrites
            # the file (the README says so).
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM erasure_keys")
        return destroyed

    def wrapped_under(
        self, data_key_ids: set[str], after: str, limit: int
    ) -> list[tuple[str, WrappedKey]]:
        """Up to ``limit`` keys wrapped under one of ``data_key_ids``, by context from
        ``after`` on."""
        self._create()
        rows = self._run(
            lambda conn: conn.execute(
                select(erasure_keys.c.context, erasure_keys.c.data_key_id, erasure_keys.c.wrapped)
                .where(erasure_keys.c.data_key_id.in_(sorted(data_key_ids)))
                .where(erasure_keys.c.context > after)
                .order_by(erasure_keys.c.context)
                .limit(limit)
            ).all()
        )
        return [(r.context, WrappedKey(r.data_key_id, r.wrapped)) for r in rows]

    def replace(self, context: str, old: WrappedKey, new: WrappedKey) -> bool:
        """Store ``new`` for ``context`` if ``old`` is still stored."""
        statement = (
            update(erasure_keys)
            .where(erasure_keys.c.context == context, erasure_keys.c.wrapped == old.wrapped)
            .values(data_key_id=new.data_key_id, wrapped=new.wrapped)
        )
        return bool(self._run(partial(_changed, statement)))

    def data_keys_in_use(self) -> set[str]:
        self._create()
        return set(
            self._run(
                lambda conn: (
                    conn.execute(select(erasure_keys.c.data_key_id).distinct()).scalars().all()
                )
            )
        )

    def count(self) -> int:
        self._create()
        return self._run(
            lambda conn: int(
                conn.execute(select(func.count()).select_from(erasure_keys)).scalar_one()
            )
        )

    def _create(self) -> None:
        if not self._ready:
            self._run(lambda conn: _metadata.create_all(conn, checkfirst=True))
            self._ready = True

    def _run(self, work: Callable[[Connection], T]) -> T:
        try:
            with self.engine.begin() as conn:
                return work(conn)
        except IntegrityError:
            raise
        except OperationalError as err:
            raise TransientError(f"erasure keys unavailable: {err.orig!r}") from err
        except SQLAlchemyError as err:
            raise TransientError(f"erasure keys: {type(err).__name__}") from err


def _deleted(statement: Delete, conn: Connection) -> int:
    return int(conn.execute(statement).rowcount)


def _changed(statement: Update, conn: Connection) -> int:
    return int(conn.execute(statement).rowcount)


def erasure_keys_url(settings: Settings) -> str:
    if settings.erasure_keys_url:
        return settings.erasure_keys_url
    if not settings.database_url.startswith("sqlite"):
        raise ConfigurationError(
            f"{SETTING} is not set: with a shared ledger the keys that crypto-erasure destroys "
            "live in a database of their own (another PostgreSQL database), so that no dump or "
            "backup of the ledger holds them"
        )
    return f"sqlite:///{settings.var_dir / FILE_NAME}"
