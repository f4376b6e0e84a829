"""The day a letter leaves (planned and actual), and the history of case states.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        # For print the batch's posting day, for Digipost the day it is sent: every
        # deadline counts from it. Planned when the letter is dated, actual when it left.
        batch.add_column(sa.Column("planned_posting_day", sa.Date))
        batch.add_column(sa.Column("posted_on", sa.Date))
    with op.batch_alter_table("case_states") as batch:
        batch.alter_column("state", type_=sa.String(12))
        batch.add_column(sa.Column("reference", sa.String(200)))
    op.create_table(
        "case_state_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("case_number", sa.String(32), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        # When the case system says the case changed (messages may come out of order).
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_number", "state", "at", name="uq_case_state_events_change"),
    )
    op.create_index("ix_case_state_events_case_number", "case_state_events", ["case_number"])


def downgrade() -> None:
    op.drop_index("ix_case_state_events_case_number", "case_state_events")
    op.drop_table("case_state_events")
    with op.batch_alter_table("case_states") as batch:
        batch.drop_column("reference")
        batch.alter_column("state", type_=sa.String(10))
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("posted_on")
        batch.drop_column("planned_posting_day")
