"""Rates that operations add and approve, and letters held for a rate.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("held_for_rates", sa.String(200)))
    op.create_index("ix_letters_held_for_rates", "letters", ["held_for_rates"])
    op.create_table(
        "rate_rows",
        sa.Column("row_id", sa.String(12), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("value", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rate_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("row_id", sa.String(12), sa.ForeignKey("rate_rows.row_id"), nullable=False),
        sa.Column("action", sa.String(12), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_rate_changes_row_id", "rate_changes", ["row_id"])
    for table in _APPEND_ONLY_TABLES:
        _forbid_changes(table)


# A rate row and its changes are the evidence of which figure a letter used and who
# read it: the database refuses edits, as it does for letter_events.
_APPEND_ONLY_TABLES = ("rate_rows", "rate_changes")
_MESSAGE = "rate rows and their changes are append-only"


def _forbid_changes(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{_MESSAGE}'; END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} "
                f"ON {table} BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )


def downgrade() -> None:
    for table in reversed(_APPEND_ONLY_TABLES):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION {table}_append_only()")
        else:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{action}")
    op.drop_index("ix_rate_changes_row_id", "rate_changes")
    op.drop_table("rate_changes")
    op.drop_table("rate_rows")
    op.drop_index("ix_letters_held_for_rates", "letters")
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("held_for_rates")
