"""Re-send jobs and their items, case states, and the link from a letter to the one it re-sends.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("origin_letter_id", sa.String(36)))
        batch.add_column(sa.Column("resend_job_id", sa.String(64)))
        batch.add_column(sa.Column("resend_mode", sa.String(10)))
        batch.add_column(sa.Column("otp_revoked_at", sa.DateTime(timezone=True)))
    op.create_index("ix_letters_origin_letter_id", "letters", ["origin_letter_id"])
    op.create_index("ix_letters_letter_date", "letters", ["letter_date"])
    op.create_table(
        "resend_jobs",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("forced_channel", sa.String(20)),
        sa.Column("selection", sa.Text, nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("runs", sa.Integer, nullable=False),
    )
    op.create_table(
        "resend_items",
        sa.Column("job_id", sa.String(64), sa.ForeignKey("resend_jobs.job_id"), primary_key=True),
        sa.Column(
            "source_letter_id",
            sa.String(36),
            sa.ForeignKey("letters.letter_id"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("case_number", sa.String(32), nullable=False),
        sa.Column("new_letter_id", sa.String(36), nullable=False, unique=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("run", sa.Integer),
        sa.UniqueConstraint("job_id", "position", name="uq_resend_items_position"),
    )
    op.create_index("ix_resend_items_status", "resend_items", ["job_id", "status"])
    op.create_table(
        "case_states",
        sa.Column("case_number", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(200)),
    )


def downgrade() -> None:
    op.drop_table("case_states")
    op.drop_index("ix_resend_items_status", "resend_items")
    op.drop_table("resend_items")
    op.drop_table("resend_jobs")
    op.drop_index("ix_letters_letter_date", "letters")
    op.drop_index("ix_letters_origin_letter_id", "letters")
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("otp_revoked_at")
        batch.drop_column("resend_mode")
        batch.drop_column("resend_job_id")
        batch.drop_column("origin_letter_id")
