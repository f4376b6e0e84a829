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

On PostgreSQL each is built ``CONCURRENTLY`` (``online_index``): the service
reads and writes the table while it builds.
"""

from __future__ import annotations

import sqlalchemy as sa

from letters.ledger.migrations.online_index import create_index_online, drop_index_online

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_index_online("ix_letters_recent", "letters", [sa.text("updated_at DESC"), "letter_id"])
    create_index_online("ix_event_outbox_waiting", "event_outbox", ["position"],
                        where="published_at IS NULL")  # fmt: skip
    create_index_online("ix_letters_to_erase", "letters", ["updated_at"],
                        where="personal_data_erased_at IS NULL")  # fmt: skip
    create_index_online("ix_letters_erased_at", "letters", ["personal_data_erased_at"],
                        where="personal_data_erased_at IS NOT NULL")  # fmt: skip


def downgrade() -> None:
    for name, table in (
        ("ix_letters_erased_at", "letters"),
        ("ix_letters_to_erase", "letters"),
        ("ix_event_outbox_waiting", "event_outbox"),
        ("ix_letters_recent", "letters"),
    ):
        drop_index_online(name, table)
