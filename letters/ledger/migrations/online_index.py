"""Indexes built while the service writes: ``CREATE INDEX CONCURRENTLY`` on PostgreSQL.

A plain ``CREATE INDEX`` holds a SHARE lock on its table until it is built, so
every insert and update of the table waits (on a ledger of millions of letters,
for seconds). ``CONCURRENTLY`` takes a SHARE UPDATE EXCLUSIVE lock instead:
reads and writes go on. It cannot run in a transaction, so the migration steps
out of its own (``letters.ledger.database`` gives each migration one), and a
build that was cut off leaves an invalid index behind, which is dropped first.
SQLite has no such lock to avoid: there it is a plain ``CREATE INDEX``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


def create_index_online(
    name: str,
    table: str,
    columns: Sequence[str | sa.TextClause],
    where: str | None = None,
    include: Sequence[str] = (),
) -> None:
    """``include``: columns carried in the index for reading it alone (PostgreSQL's
    ``INCLUDE``); on SQLite they are more columns of the key."""
    condition = sa.text(where) if where else None
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(name, table, [*columns, *include], sqlite_where=condition)
        return
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
        op.create_index(
            name,
            table,
            list(columns),
            postgresql_where=condition,
            postgresql_include=list(include),
            postgresql_concurrently=True,
        )


def drop_index_online(name: str, table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index(name, table)
        return
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
