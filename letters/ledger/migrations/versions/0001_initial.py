"""Letters, their append-only status history, and dead letters.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY = "letter_events is append-only"


def upgrade() -> None:
    op.create_table(
        "letters",
        sa.Column("letter_id", sa.String(36), primary_key=True),
        sa.Column("case_number", sa.String(32), nullable=False),
        sa.Column("letter_type", sa.String(32), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("retry_at", sa.DateTime(timezone=True)),
        sa.Column("letter_date", sa.Date),
        sa.Column("deadline", sa.Date),
        sa.Column("kid", sa.String(25)),
        sa.Column("amount_due", sa.Numeric(14, 2)),
        sa.Column("template_version", sa.String(40)),
        sa.Column("pdf_sha256", sa.String(64)),
        sa.Column("page_count", sa.Integer),
        sa.Column("archive_key", sa.String(200)),
        sa.Column("otp_hash", sa.String(200)),
        sa.Column("otp_expires_on", sa.Date),
        sa.Column("channel", sa.String(20)),
        sa.Column("route_reason", sa.String(200)),
        sa.Column("provider_ref", sa.String(200)),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_letters_status", "letters", ["status"])
    op.create_index("ix_letters_case_number", "letters", ["case_number"])
    op.create_table(
        "letter_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("letter_id", sa.String(36), sa.ForeignKey("letters.letter_id"), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_letter_events_letter_id", "letter_events", ["letter_id"])
    op.create_table(
        "dead_letters",
        sa.Column("dead_id", sa.String(36), primary_key=True),
        sa.Column("letter_id", sa.String(36)),
        sa.Column("case_number", sa.String(32)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requeued_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_dead_letters_letter_id", "dead_letters", ["letter_id"])
    op.create_index("ix_dead_letters_body_sha256", "dead_letters", ["body_sha256"])
    _forbid_event_changes()


def _forbid_event_changes() -> None:
    # The history is evidence of what was sent; the database refuses edits.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION letter_events_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER letter_events_append_only BEFORE UPDATE OR DELETE ON letter_events "
            "FOR EACH ROW EXECUTE FUNCTION letter_events_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER letter_events_no_{action.lower()} BEFORE {action} "
                f"ON letter_events BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER letter_events_append_only ON letter_events")
        op.execute("DROP FUNCTION letter_events_append_only()")
    op.drop_table("dead_letters")
    op.drop_table("letter_events")
    op.drop_table("letters")
