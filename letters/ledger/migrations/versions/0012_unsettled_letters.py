"""An index of the letters not settled, by status.

Revision ID: 0012
Revises: 0011

The operations page and the metrics counted every letter by status: on a
ledger of a million letters, a scan of all of them (about 300 ms) on every
page view and every scrape. Nearly all of those letters are settled (sent,
delivered, cancelled, not posted, returned); the page now counts the others
exactly from this index of only them, and the settled ones over a recent
window (``Ledger.status_overview``). With ``created_at`` beside the status,
the oldest unfinished letter (a metric) is read from the index alone too.

The index of the most recently changed letters (0011) is built again with the
status in it (``ix_letters_recent_status``), so that the settled letters of the
last day are counted from the index alone, not from a scan of the table.
Built concurrently on PostgreSQL; the new index is built before the old one is
dropped, so the page always has one.
"""

from __future__ import annotations

import sqlalchemy as sa

from letters.ledger.migrations.online_index import create_index_online, drop_index_online
from letters.ledger.records import UNSETTLED_SQL

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


_RECENT: list[str | sa.TextClause] = [sa.text("updated_at DESC"), "letter_id"]


def upgrade() -> None:
    create_index_online(
        "ix_letters_unsettled", "letters", ["status", "created_at"], where=UNSETTLED_SQL
    )
    create_index_online("ix_letters_recent_status", "letters", _RECENT, include=["status"])
    drop_index_online("ix_letters_recent", "letters")


def downgrade() -> None:
    create_index_online("ix_letters_recent", "letters", _RECENT)
    drop_index_online("ix_letters_recent_status", "letters")
    drop_index_online("ix_letters_unsettled", "letters")
