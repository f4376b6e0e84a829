"""Alembic environment: the ledger passes its own connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
# One transaction per migration, where the caller has not begun one (PostgreSQL, see
# letters.ledger.database): a migration may then step outside it to build an index
# concurrently.
context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
