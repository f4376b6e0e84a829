"""Indexes for a ledger of millions of letters, found by the scale benchmark.

Revision ID: 0011
Revises: 0010

- ``ix_letters_recent``: the operations page's most recently changed letters
  (``ORDER BY updated_at DESC, letter_id``) read the newest rows of an index,
  instead of sorting every letter.
- ``ix_event_outbox_waiting``: the relay's waiting events, in the order they
  were written, from an index of only the waiting ones (a few, however many
  have been published).
- ``ix_letters_to_erase``: retention's letters whose personal data is still
  kept, by when they last changed; the erased ones are not in it.
- ``ix_letters_erased_at``: the letters erased lately, whose keys retention
  destroys.

On PostgreSQL each ``CREATE INDEX`` holds a SHARE lock on its table while it
builds: reads go on, writes wait (the scale benchmark's note has how long on a
million letters).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_letters_recent", "letters", [sa.text("updated_at DESC"), "letter_id"])
    waiting = sa.text("published_at IS NULL")
    op.create_index(
        "ix_event_outbox_waiting",
        "event_outbox",
        ["position"],
        postgresql_where=waiting,
        sqlite_where=waiting,
    )
    kept = sa.text("personal_data_erased_at IS NULL")
    op.create_index(
        "ix_letters_to_erase", "letters", ["updated_at"], postgresql_where=kept, sqlite_where=kept
    )
    erased = sa.text("personal_data_erased_at IS NOT NULL")
    op.create_index(
        "ix_letters_erased_at",
        "letters",
        ["personal_data_erased_at"],
        postgresql_where=erased,
        sqlite_where=erased,
    )


def downgrade() -> None:
    op.drop_index("ix_letters_erased_at", "letters")
    op.drop_index("ix_letters_to_erase", "letters")
    op.drop_index("ix_event_outbox_waiting", "event_outbox")
    op.drop_index("ix_letters_recent", "letters")
