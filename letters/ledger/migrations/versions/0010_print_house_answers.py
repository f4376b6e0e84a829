"""The print house answers: posting receipts per batch, and returned mail per letter.

Revision ID: 0010
Revises: 0009

A batch keeps the day it was planned to be posted on, and from its receipt the
day it was posted and which receipt said so (its SHA-256, so the same receipt
read twice is known). A letter posted later than it was dated for keeps the
deadline the law gives counting from the real posting day. ``returned_mail``
holds each letter that came back, once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("print_batches") as batch:
        batch.add_column(sa.Column("planned_posting_day", sa.Date))
        batch.add_column(sa.Column("posted_on", sa.Date))
        batch.add_column(sa.Column("receipt_sha256", sa.String(64)))
        batch.add_column(sa.Column("receipt_name", sa.String(300)))
        batch.add_column(sa.Column("receipt_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("lawful_deadline", sa.Date))
    op.create_table(
        "returned_mail",
        sa.Column("letter_id", sa.String(36), sa.ForeignKey("letters.letter_id"), primary_key=True),
        sa.Column("returned_on", sa.Date, nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_returned_mail_recorded_at", "returned_mail", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_returned_mail_recorded_at", "returned_mail")
    op.drop_table("returned_mail")
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("lawful_deadline")
    with op.batch_alter_table("print_batches") as batch:
        batch.drop_column("receipt_at")
        batch.drop_column("receipt_name")
        batch.drop_column("receipt_sha256")
        batch.drop_column("posted_on")
        batch.drop_column("planned_posting_day")
