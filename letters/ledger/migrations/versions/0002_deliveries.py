"""Delivery answers on letters, channel events after sending, sync cursors.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("delivery_method", sa.String(20)))
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True)))
    op.create_index("ix_letters_provider_ref", "letters", ["provider_ref"])
    op.create_table(
        "delivery_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("letter_id", sa.String(36), sa.ForeignKey("letters.letter_id"), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("event_key", sa.String(200), nullable=False, unique=True),
    )
    op.create_index("ix_delivery_events_letter_id", "delivery_events", ["letter_id"])
    op.create_table(
        "sync_cursors",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_cursors")
    op.drop_index("ix_delivery_events_letter_id", "delivery_events")
    op.drop_table("delivery_events")
    op.drop_index("ix_letters_provider_ref", "letters")
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("delivered_at")
        batch.drop_column("delivery_method")
