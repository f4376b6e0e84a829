"""A letter's history can be put away in the archive once its personal data is erased.

Revision ID: 0013
Revises: 0012

``letter_events`` and ``delivery_events`` grow by about ten rows a letter,
for ever. Once retention has erased a letter's personal data nothing reads its
history in the ledger again but a person looking into that one letter, so the
history of such letters is written to the archive and deleted from the ledger
(``letters.operations.history_put_away``). The letter's row keeps where it went
(``history_archive_key``: content-addressed, so it checks itself) and up to
which history line (``history_archived_through``).

The history stays append-only: the trigger now lets a line be deleted only when
its letter's row says the line was put away, and refuses every other delete
and every update, as before. The letters waiting to be put away are found by a
partial index of only them, built concurrently on PostgreSQL. Adding two
nullable columns changes only the catalogue on PostgreSQL (no table rewrite).
A downgrade drops the columns: the letters put away keep the history line that
names their file, and the trigger refuses every delete again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from letters.ledger.migrations.online_index import create_index_online, drop_index_online

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_APPEND_ONLY = "letter_events is append-only"
_HISTORY_DUE = (
    "personal_data_erased_at IS NOT NULL AND history_archive_key IS NULL"  # schema.HISTORY_DUE_SQL
)


def upgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("history_archive_key", sa.String(200)))
        batch.add_column(sa.Column("history_archived_through", sa.BigInteger))
    _allow_deleting_put_away_lines()
    create_index_online(
        "ix_letters_history_due",
        "letters",
        ["personal_data_erased_at", "letter_id"],
        where=_HISTORY_DUE,
    )


def downgrade() -> None:
    drop_index_online("ix_letters_history_due", "letters")
    _refuse_every_delete()
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("history_archived_through")
        batch.drop_column("history_archive_key")


def _allow_deleting_put_away_lines() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION letter_events_append_only() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' AND OLD.id <= (
                    SELECT history_archived_through FROM letters
                    WHERE letter_id = OLD.letter_id
                ) THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION 'letter_events is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        return
    op.execute("DROP TRIGGER letter_events_no_delete")
    op.execute(
        "CREATE TRIGGER letter_events_no_delete BEFORE DELETE ON letter_events "
        "WHEN OLD.id > COALESCE((SELECT history_archived_through FROM letters "
        "WHERE letter_id = OLD.letter_id), 0) "
        "BEGIN SELECT RAISE(ABORT, 'letter_events is append-only'); END"
    )


def _refuse_every_delete() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION letter_events_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END;
            $$ LANGUAGE plpgsql
            """
        )
        return
    op.execute("DROP TRIGGER letter_events_no_delete")
    op.execute(
        "CREATE TRIGGER letter_events_no_delete BEFORE DELETE ON letter_events "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
    )
