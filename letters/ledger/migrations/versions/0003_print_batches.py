"""Print batches and the letters in them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "print_batches",
        sa.Column("batch_id", sa.String(40), primary_key=True),
        sa.Column("destination", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("open_slot", sa.String(10), unique=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("close_reason", sa.String(20)),
        sa.Column("letter_count", sa.Integer, nullable=False),
        sa.Column("page_count", sa.Integer),
        sa.Column("sheet_count", sa.Integer),
        sa.Column("pdf_sha256", sa.String(64)),
        sa.Column("pdf_bytes", sa.BigInteger),
        sa.Column("assembled_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("location", sa.String(300)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_print_batches_status", "print_batches", ["status"])
    op.create_table(
        "print_batch_letters",
        sa.Column("letter_id", sa.String(36), sa.ForeignKey("letters.letter_id"), primary_key=True),
        sa.Column(
            "batch_id", sa.String(40), sa.ForeignKey("print_batches.batch_id"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("case_number", sa.String(32), nullable=False),
        sa.Column("page_count", sa.Integer, nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("postage_class", sa.String(30), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("batch_id", "position", name="uq_print_batch_letters_position"),
    )


def downgrade() -> None:
    op.drop_table("print_batch_letters")
    op.drop_index("ix_print_batches_status", "print_batches")
    op.drop_table("print_batches")
