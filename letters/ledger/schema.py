"""The ledger's tables as the code queries them; ``letters/ledger/migrations`` creates them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from letters.ledger.records import UNSETTLED_SQL

metadata = MetaData()

# The partial index's condition, written out as it is (see UNSETTLED_SQL for why).
HISTORY_DUE_SQL = "personal_data_erased_at IS NOT NULL AND history_archive_key IS NULL"

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
EventId = BigInteger().with_variant(Integer(), "sqlite")

letters = Table(
    "letters",
    metadata,
    Column("letter_id", String(36), primary_key=True),
    Column("case_number", String(32), nullable=False),
    Column("letter_type", String(32), nullable=False),
    Column("language", String(2), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("retry_at", DateTime(timezone=True)),
    Column("letter_date", Date),
    Column("deadline", Date),
    Column("kid", String(25)),
    Column("amount_due", Numeric(14, 2)),
    Column("template_version", String(40)),
    Column("pdf_sha256", String(64)),
    Column("page_count", Integer),
    Column("archive_key", String(200)),
    Column("otp_hash", String(200)),
    Column("otp_expires_on", Date),
    Column("channel", String(20)),
    Column("route_reason", String(200)),
    Column("provider_ref", String(200)),
    Column("delivery_method", String(20)),
    Column("delivered_at", DateTime(timezone=True)),
    # The accepted request, so a letter whose message was lost can be resumed: sealed
    # (letters.ledger.sealing), as it holds the debtor's name, address and national id.
    Column("request", Text, nullable=False),
    Column("request_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # A re-sent letter: the letter it re-sends, the job and the mode (copy or renew).
    Column("origin_letter_id", String(36)),
    Column("resend_job_id", String(64)),
    Column("resend_mode", String(10)),
    # A renewed letter replaced this letter's password: it no longer logs in.
    Column("otp_revoked_at", DateTime(timezone=True)),
    # The day the letter leaves (print: its batch's posting day; Digipost: the day it is
    # sent), which its date and deadline count from: planned, then actual.
    Column("planned_posting_day", Date),
    Column("posted_on", Date),
    # How many letters.event/1 events the letter has had: the next one's sequence - 1.
    Column("event_sequence", Integer, nullable=False, default=0),
    # The keyed hash of the debtor's national identity number (the blind index), the
    # only way a letter is found by it; None without one, and once erased.
    Column("nin_index", String(64)),
    # When retention erased the personal data from the request (LETTERS_RETENTION_DAYS).
    Column("personal_data_erased_at", DateTime(timezone=True)),
    # Held because a rate it needs has no checked figure: the missing rates, each as
    # "KIND PERIOD" (letters.domain.rates.MissingRate.key), joined by ", "; None otherwise.
    Column("held_for_rates", String(200)),
    # Posted later than it was dated for: the deadline the law gives counting from the day
    # the print house posted it, which the next letter of the case waits for.
    Column("lawful_deadline", Date),
    # Where the letter's history and delivery events were put away once its personal data
    # was erased (letters.operations.history_put_away), and up to which history line: the
    # database lets only those lines be deleted (migration 0013).
    Column("history_archive_key", String(200)),
    Column("history_archived_through", EventId),
    Index("ix_letters_status", "status"),
    Index("ix_letters_nin_index", "nin_index"),
    Index("ix_letters_case_number", "case_number"),
    Index("ix_letters_provider_ref", "provider_ref"),
    Index("ix_letters_origin_letter_id", "origin_letter_id"),
    Index("ix_letters_letter_date", "letter_date"),
    Index("ix_letters_held_for_rates", "held_for_rates"),
    # The operations page's recent letters; retention's letters still holding personal
    # data, and those erased lately (migration 0011, from the scale benchmark).
    # (0012: with the status carried, so the letters settled lately are counted from it.)
    Index(
        "ix_letters_recent_status",
        text("updated_at DESC"),
        "letter_id",
        postgresql_include=["status"],
    ),
    # The letters not settled, by status (migration 0012): the operations page and the
    # metrics count them exactly without reading the settled millions.
    Index(
        "ix_letters_unsettled",
        "status",
        "created_at",
        postgresql_where=text(UNSETTLED_SQL),
        sqlite_where=text(UNSETTLED_SQL),
    ),
    Index(
        "ix_letters_to_erase",
        "updated_at",
        postgresql_where=text("personal_data_erased_at IS NULL"),
        sqlite_where=text("personal_data_erased_at IS NULL"),
    ),
    # The letters whose history waits to be put away: erased, not yet put away.
    Index(
        "ix_letters_history_due",
        "personal_data_erased_at",
        "letter_id",
        postgresql_where=text(HISTORY_DUE_SQL),
        sqlite_where=text(HISTORY_DUE_SQL),
    ),
    Index(
        "ix_letters_erased_at",
        "personal_data_erased_at",
        postgresql_where=text("personal_data_erased_at IS NOT NULL"),
        sqlite_where=text("personal_data_erased_at IS NOT NULL"),
    ),
)

letter_events = Table(
    "letter_events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("letter_id", String(36), ForeignKey("letters.letter_id"), nullable=False),
    Column("event", String(20), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", Text),
    Index("ix_letter_events_letter_id", "letter_id"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("dead_id", String(36), primary_key=True),
    Column("letter_id", String(36)),
    Column("case_number", String(32)),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("dead_at", DateTime(timezone=True), nullable=False),
    Column("requeued_at", DateTime(timezone=True)),
    # The message as it came, sealed under the dead id (letters.ledger.sealing); the dead
    # queue carries only a reference to it. None once retention erased it.
    Column("body", Text),
    Column("nin_index", String(64)),
    Column("body_erased_at", DateTime(timezone=True)),
    Index("ix_dead_letters_letter_id", "letter_id"),
    Index("ix_dead_letters_body_sha256", "body_sha256"),
    Index("ix_dead_letters_nin_index", "nin_index"),
)

# A keyed check value of each secret the ledger was written with (the index key, the
# password pepper): a process with another one refuses to start (letters.ledger.key_checks).
secret_checks = Table(
    "secret_checks",
    metadata,
    Column("setting", String(60), primary_key=True),
    Column("check_value", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# What the channel reported after sending (Digipost's document events), once each.
delivery_events = Table(
    "delivery_events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("letter_id", String(36), ForeignKey("letters.letter_id"), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("event", String(30), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("detail", Text),
    # The provider's identity of the event; recording it twice is a no-op.
    Column("event_key", String(200), nullable=False, unique=True),
    Index("ix_delivery_events_letter_id", "letter_id"),
)

# How far each periodic fetch has got (for example the Digipost event feed).
sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("position", DateTime(timezone=True), nullable=False),
)

# Print batches: letters gathered for the print house, cut by size or cut-off time.
print_batches = Table(
    "print_batches",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("destination", String(10), nullable=False),
    Column("status", String(12), nullable=False),
    # The destination while the batch is open, NULL after: unique, so there is
    # at most one open batch per destination even with many workers.
    Column("open_slot", String(10), unique=True),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("cutoff_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("close_reason", String(20)),
    Column("letter_count", Integer, nullable=False),
    Column("page_count", Integer),
    Column("sheet_count", Integer),
    Column("pdf_sha256", String(64)),
    Column("pdf_bytes", BigInteger),
    Column("assembled_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("location", String(300)),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    # A process delivering the batch holds it until then; another may take over after.
    Column("claimed_until", DateTime(timezone=True)),
    # The day the letters were dated to be posted on, and the day the print house's
    # receipt says they were, with the receipt that said so (read once).
    Column("planned_posting_day", Date),
    Column("posted_on", Date),
    Column("receipt_sha256", String(64)),
    Column("receipt_name", String(300)),
    Column("receipt_at", DateTime(timezone=True)),
    Index("ix_print_batches_status", "status"),
)

print_batch_letters = Table(
    "print_batch_letters",
    metadata,
    # The letter id is the key: a letter can never be in two batches.
    Column("letter_id", String(36), ForeignKey("letters.letter_id"), primary_key=True),
    Column("batch_id", String(40), ForeignKey("print_batches.batch_id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("case_number", String(32), nullable=False),
    Column("page_count", Integer, nullable=False),
    Column("country", String(2), nullable=False),
    Column("postage_class", String(30), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("batch_id", "position", name="uq_print_batch_letters_position"),
)

# Letters that came back from the post ("ukjent adresse", "flyttet", ...), once each.
returned_mail = Table(
    "returned_mail",
    metadata,
    Column("letter_id", String(36), ForeignKey("letters.letter_id"), primary_key=True),
    Column("returned_on", Date, nullable=False),
    Column("reason", String(30), nullable=False),
    # The returns file and its line, or the channel event it came from.
    Column("source", String(300), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_returned_mail_recorded_at", "recorded_at"),
)

# Bulk re-send jobs: the selection is frozen into items when the job is created,
# so a job run again after a crash continues the same list.
resend_jobs = Table(
    "resend_jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("mode", String(10), nullable=False),
    Column("forced_channel", String(20)),
    # The selection as JSON, to tell a resumed job from a different one.
    Column("selection", Text, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("runs", Integer, nullable=False),
)

resend_items = Table(
    "resend_items",
    metadata,
    Column("job_id", String(64), ForeignKey("resend_jobs.job_id"), primary_key=True),
    Column("source_letter_id", String(36), ForeignKey("letters.letter_id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("case_number", String(32), nullable=False),
    # Derived from the job and the source letter, so every run makes the same letter.
    Column("new_letter_id", String(36), nullable=False, unique=True),
    Column("status", String(10), nullable=False),
    Column("detail", Text),
    Column("attempts", Integer, nullable=False),
    Column("done_at", DateTime(timezone=True)),
    Column("run", Integer),
    UniqueConstraint("job_id", "position", name="uq_resend_items_position"),
    Index("ix_resend_items_status", "job_id", "status"),
)

# What the case system (or operations) says about a case now: open, closed, paid,
# disputed or on hold. The latest change by its own time wins.
case_states = Table(
    "case_states",
    metadata,
    Column("case_number", String(32), primary_key=True),
    Column("state", String(12), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("note", String(200)),
    Column("reference", String(200)),
)

# Every change of a case's state as it was received, once each.
case_state_events = Table(
    "case_state_events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("case_number", String(32), nullable=False),
    Column("state", String(12), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reference", String(200)),
    # "case system" (a letters.case/1 message) or "operations" (letters case --set).
    Column("source", String(20), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("case_number", "state", "at", name="uq_case_state_events_change"),
    Index("ix_case_state_events_case_number", "case_number"),
)

# letters.event/1 events waiting for the relay, and those it published (kept for the
# replay until LETTERS_EVENTS_KEEP has passed). Written in the transaction of the
# change each reports (letters.ledger.outbox).
event_outbox = Table(
    "event_outbox",
    metadata,
    # The order events were written in, which the relay publishes them in.
    Column("position", EventId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    # All three None only for a request refused before the ledger accepted it (it broke
    # the contract): there is no letter yet, and the event says what could be read.
    Column("letter_id", String(36)),
    Column("case_number", String(32)),
    Column("sequence", Integer),
    Column("kind", String(20), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("body", Text, nullable=False),
    Column("published_at", DateTime(timezone=True)),
    UniqueConstraint("letter_id", "sequence", name="uq_event_outbox_sequence"),
    Index("ix_event_outbox_pending", "published_at", "position"),
    Index("ix_event_outbox_case_number", "case_number"),
    Index("ix_event_outbox_at", "at"),
    # Only the events waiting for the relay, in the order they were written (0011).
    Index(
        "ix_event_outbox_waiting",
        "position",
        postgresql_where=text("published_at IS NULL"),
        sqlite_where=text("published_at IS NULL"),
    ),
)

# Data keys, only as the master key wrapped them (letters.ledger.sealing).
data_keys = Table(
    "data_keys",
    metadata,
    Column("key_id", String(36), primary_key=True),
    Column("master_key_id", String(200), nullable=False),
    Column("wrapped", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rewrapped_at", DateTime(timezone=True)),
)

# Who asked for what a debtor's data export held, and why (GDPR art. 15); the subject is
# named by its blind index or case number, never by a national identity number.
privacy_requests = Table(
    "privacy_requests",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(20), nullable=False),
    Column("subject", String(100), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("letter_count", Integer, nullable=False),
    Column("sha256", String(64)),
)

# The rates operations add (letters.ledger.rates): a row is written once and never
# changed; what becomes of it (approved, withdrawn) is in rate_changes.
rate_rows = Table(
    "rate_rows",
    metadata,
    Column("row_id", String(12), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("valid_from", Date, nullable=False),
    # The figure as it was typed, a decimal string.
    Column("value", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("added_by", String(100), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
)

# Every change of an operator's rate row, in order: added, approved, withdrawn.
rate_changes = Table(
    "rate_changes",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("row_id", String(12), ForeignKey("rate_rows.row_id"), nullable=False),
    Column("action", String(12), nullable=False),
    Column("by", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", Text),
    Index("ix_rate_changes_row_id", "row_id"),
)
