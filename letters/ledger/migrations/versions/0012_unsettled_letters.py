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
Built concurrently on PostgreSQL.
"""

from __future__ import annotations

from letters.ledger.migrations.online_index import create_index_online, drop_index_online
from letters.ledger.records import UNSETTLED_SQL

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_index_online(
        "ix_letters_unsettled", "letters", ["status", "created_at"], where=UNSETTLED_SQL
    )


def downgrade() -> None:
    drop_index_online("ix_letters_unsettled", "letters")
