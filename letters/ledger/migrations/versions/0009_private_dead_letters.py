"""Dead letters keep their body sealed, and the ledger knows the secrets it was written with.

Revision ID: 0009
Revises: 0008

A dead letter's body is sealed like a letter's request, found by the blind
index of its national identity number, and erased by retention. The
``secret_checks`` table holds a keyed check value of the index key and the
password pepper, so that a process started with another one refuses to start
(the master key is checked against the data keys themselves).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("body", sa.Text))
        batch.add_column(sa.Column("nin_index", sa.String(64)))
        batch.add_column(sa.Column("body_erased_at", sa.DateTime(timezone=True)))
    op.create_index("ix_dead_letters_nin_index", "dead_letters", ["nin_index"])
    op.create_table(
        "secret_checks",
        sa.Column("setting", sa.String(60), primary_key=True),
        sa.Column("check_value", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("secret_checks")
    op.drop_index("ix_dead_letters_nin_index", "dead_letters")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("body_erased_at")
        batch.drop_column("nin_index")
        batch.drop_column("body")
