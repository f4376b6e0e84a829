"""The transactional outbox of letters.event/1 events, and each letter's event count.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        # Letters from before the outbox start their events at 1.
        batch.add_column(
            sa.Column("event_sequence", sa.Integer, nullable=False, server_default="0")
        )
    op.create_table(
        "event_outbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        # None for a request refused before it was accepted: there is no letter yet.
        sa.Column("letter_id", sa.String(36)),
        sa.Column("case_number", sa.String(32)),
        sa.Column("sequence", sa.Integer),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("letter_id", "sequence", name="uq_event_outbox_sequence"),
    )
    op.create_index("ix_event_outbox_pending", "event_outbox", ["published_at", "position"])
    op.create_index("ix_event_outbox_case_number", "event_outbox", ["case_number"])
    op.create_index("ix_event_outbox_at", "event_outbox", ["at"])


def downgrade() -> None:
    op.drop_index("ix_event_outbox_at", "event_outbox")
    op.drop_index("ix_event_outbox_case_number", "event_outbox")
    op.drop_index("ix_event_outbox_pending", "event_outbox")
    op.drop_table("event_outbox")
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("event_sequence")
