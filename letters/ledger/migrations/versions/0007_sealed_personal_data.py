"""Personal data sealed at rest: data keys, the blind index, retention and access requests.

Revision ID: 0007
Revises: 0006

The requests already in the ledger are sealed by ``Ledger.upgrade`` right
after this migration, with the keys from the settings (a migration has none).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("nin_index", sa.String(64)))
        batch.add_column(sa.Column("personal_data_erased_at", sa.DateTime(timezone=True)))
    op.create_index("ix_letters_nin_index", "letters", ["nin_index"])
    op.create_table(
        "data_keys",
        sa.Column("key_id", sa.String(36), primary_key=True),
        sa.Column("master_key_id", sa.String(200), nullable=False),
        sa.Column("wrapped", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "privacy_requests",
        sa.Column("request_id", sa.String(36), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("letter_count", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("privacy_requests")
    op.drop_table("data_keys")
    op.drop_index("ix_letters_nin_index", "letters")
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("personal_data_erased_at")
        batch.drop_column("nin_index")
