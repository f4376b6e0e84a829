"""Every ``LETTERS_*`` setting, declared once: its variable, how it is read, and what it
means.

``letters.config.settings`` reads them into ``Settings``; a module that names a
variable in a message imports its declaration (``PRINT_URL.name``), so a name
is spelled once; and the settings table of ``docs/configuration.md`` is made
from these declarations (``python -m letters.config.page --write``), which a
test holds equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from letters.config.units import (
    Reader,
    clock_time,
    delays,
    encryption,
    flag,
    millimetres,
    names,
    one_of,
    optional_path,
    optional_positive_int,
    optional_text,
    paths,
    port,
    positive_int,
    rate,
    seconds,
    text,
    whole_number,
)
from letters.envelopes import DEFAULT_ENVELOPE, ENVELOPES
from letters.errors import ConfigurationError

T = TypeVar("T")

DEFAULT_RETRY_DELAYS = "10s,1m,10m,1h"


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    name: str
    reader: Reader[T]
    # One line each, as the configuration page shows them.
    doc: str
    default_doc: str

    def read(self, env: Mapping[str, str]) -> T:
        """The value, or ConfigurationError naming the variable and what it takes."""
        return self.reader(env, self.name)

    def __str__(self) -> str:
        return self.name


SETTINGS: list[Setting[object]] = []


def _declare(name: str, reader: Reader[T], doc: str, default_doc: str) -> Setting[T]:
    setting = Setting(name, reader, doc, default_doc)
    SETTINGS.append(setting)  # type: ignore[arg-type]
    return setting


def _upper(default: str) -> Reader[str]:
    return lambda env, name: env.get(name, default).upper()


def _sender_id(default: str) -> Reader[str]:
    def read(env: Mapping[str, str], name: str) -> str:
        sender_id = env.get(name, default)
        if not (sender_id.isascii() and sender_id.isdigit()):
            raise ConfigurationError(f"{name}: {sender_id!r} is not a Digipost sender id (digits)")
        return sender_id

    return read


def _authentication_level(default: str) -> Reader[str]:
    def read(env: Mapping[str, str], name: str) -> str:
        level = env.get(name, default).upper()
        if level not in ("PASSWORD", "TWO_FACTOR"):
            raise ConfigurationError(f"{name}: {level!r} is not PASSWORD or TWO_FACTOR")
        return level

    return read


# -- the settings, in the order the configuration page lists them --------------------------

PASSWORD_PEPPER_FILE = _declare(
    "LETTERS_PASSWORD_PEPPER_FILE",
    optional_path(),
    (
        "the secret key of the one-time password hash (at least 32 bytes, for example "
        "`head -c 32 /dev/urandom | base64`); required with a PostgreSQL ledger"
    ),
    "made once as `var/password-pepper` on the embedded default",
)

LEDGER_KEY_FILE = _declare(
    "LETTERS_LEDGER_KEY_FILE",
    optional_path(),
    (
        "the ledger's master key: a file of 32 random bytes as base64 (`head -c 32 "
        "/dev/urandom | base64`); it wraps the data keys that seal the debtors' personal "
        "data"
    ),
    (
        "made once as `var/ledger-master-key` on the embedded default; with PostgreSQL "
        "this or the next is required"
    ),
)

LEDGER_KMS_KEY_ID = _declare(
    "LETTERS_LEDGER_KMS_KEY_ID",
    optional_text(),
    (
        "instead of a key file: an AWS KMS key id, ARN or alias that wraps the data keys "
        "(boto3's credentials)"
    ),
    "none",
)

LEDGER_RETIRED_KEY_FILES = _declare(
    "LETTERS_LEDGER_RETIRED_KEY_FILES",
    paths(),
    (
        "master key files being rotated out (comma-separated), read until `letters keys "
        "rotate` has re-wrapped every data key"
    ),
    "none",
)

LEDGER_INDEX_KEY_FILE = _declare(
    "LETTERS_LEDGER_INDEX_KEY_FILE",
    optional_path(),
    (
        "the blind index's key (32 bytes as base64): national identity numbers are looked"
        " up by their keyed hash"
    ),
    "made once as `var/ledger-index-key`; required with PostgreSQL",
)

ERASURE_KEYS_URL = _declare(
    "LETTERS_ERASURE_KEYS_URL",
    optional_text(),
    (
        "the database of the per-letter erasure keys, apart from the ledger (another "
        "PostgreSQL database; its backups kept no longer than erasure may take)"
    ),
    "`var/erasure-keys.db` on the embedded default; required with PostgreSQL",
)

OPS_HOSTS = _declare(
    "LETTERS_OPS_HOSTS",
    names(),
    ("host names `letters ops --serve` answers to when bound beyond loopback (comma-separated)"),
    "none",
)

OPS_TOKEN_FILE = _declare(
    "LETTERS_OPS_TOKEN_FILE",
    optional_path(),
    ("the token `letters ops --serve` asks for when bound beyond loopback (HTTP basic password)"),
    "none",
)

RETENTION_DAYS = _declare(
    "LETTERS_RETENTION_DAYS",
    positive_int(400),
    (
        "days after a letter is finished that its personal data is kept (its re-send "
        "window), then erased"
    ),
    "`400`",
)

HISTORY_ARCHIVE_DAYS = _declare(
    "LETTERS_HISTORY_ARCHIVE_DAYS",
    positive_int(30),
    (
        "days after a letter's personal data is erased that its history and delivery "
        "events are moved from the ledger to the archive (letters archive put-away)"
    ),
    "`30`",
)

METRICS_PORT = _declare(
    "LETTERS_METRICS_PORT",
    port(),
    ("the worker group serves `/metrics` (Prometheus), `/healthz` and `/readyz` on this port"),
    "not served",
)

METRICS_HOST = _declare(
    "LETTERS_METRICS_HOST",
    optional_text(),
    "the address that server listens on",
    "`127.0.0.1`",
)

ALLOW_UNCHECKED_RATES = _declare(
    "LETTERS_ALLOW_UNCHECKED_RATES",
    flag(False),
    (
        "letters may use the packaged rate rows nobody has checked (the placeholders); "
        "only on the embedded default, refused with a broker URL or a PostgreSQL ledger; "
        "`letters demo` sets it"
    ),
    "`false`",
)

RATES_FILE = _declare(
    "LETTERS_RATES_FILE",
    optional_path(),
    ("the baseline rate table instead of the packaged one (the test suite's table of test data)"),
    "`letters/domain/rates.toml`",
)

PRINT_WHEN_UNREAD = _declare(
    "LETTERS_PRINT_WHEN_UNREAD",
    flag(False),
    (
        "print and post a copy of a Digipost letter not opened in time (which types and "
        "how many days: the agency profile's `[rules.print_when_unread]`)"
    ),
    "`false`",
)

AGENCY_PROFILE = _declare(
    "LETTERS_AGENCY_PROFILE",
    optional_path(),
    (
        "the agency profile (TOML): name, address, phone, e-mail, opening hours, portal, "
        "account, IBAN, BIC, org. number, the privacy notice (`[agency.privacy]`: the "
        "data protection officer's e-mail and the privacy policy's address), NAV's debt "
        "advice number (`[debt_help]`), KID method and length, deadline days per type, "
        "the order of letters"
    ),
    "`letters/example_agency.toml`",
)

TEMPLATES_DIR = _declare(
    "LETTERS_TEMPLATES_DIR",
    optional_path(),
    "the template folder",
    "`templates/`",
)

VAR_DIR = _declare(
    "LETTERS_VAR_DIR",
    optional_path(),
    "where the embedded defaults live",
    "`var/`",
)

BROKER_URL = _declare(
    "LETTERS_BROKER_URL",
    optional_text(),
    (
        "kombu broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672//`; the nodes of a "
        "cluster joined by `;` (kombu's failover form), tried in order"
    ),
    "the embedded filesystem transport in `var/broker/`",
)

DATABASE_URL = _declare(
    "LETTERS_DATABASE_URL",
    optional_text(),
    (
        "SQLAlchemy URL of the ledger, e.g. `postgresql+psycopg://user@host/letters`; "
        "a primary and its standbys as libpq's several hosts, "
        "`postgresql+psycopg://user@/letters?host=a:5432&host=b:5432"
        "&target_session_attrs=read-write`"
    ),
    "`sqlite:///var/letters.db`",
)

LEDGER_WAIT = _declare(
    "LETTERS_LEDGER_WAIT",
    seconds("2m"),
    (
        "how long a worker that has lost the ledger's database (a restart, a failover to "
        "a standby) holds the letter in hand and waits for it, the reason logged, before "
        "it puts the letter back on the queue; it goes on waiting with the next one"
    ),
    "`2m`",
)

ARCHIVE_URL = _declare(
    "LETTERS_ARCHIVE_URL",
    optional_text(),
    "the PDF archive: `s3://bucket/prefix`, or a directory (or `file://…`)",
    "`var/archive`",
)

S3_ENDPOINT_URL = _declare(
    "LETTERS_S3_ENDPOINT_URL",
    optional_text(),
    (
        "S3 endpoint for S3-compatible servers (MinIO, Ceph, moto); credentials come from"
        " boto3's usual chain (`AWS_ACCESS_KEY_ID`, …)"
    ),
    "AWS",
)

S3_REGION = _declare(
    "LETTERS_S3_REGION",
    optional_text(),
    "S3 region",
    "`eu-north-1`",
)

ARCHIVE_SSE = _declare(
    "LETTERS_ARCHIVE_SSE",
    encryption(),
    (
        "server-side encryption of archived PDFs: `AES256`, `aws:kms` or `none` (the "
        "bucket's default)"
    ),
    "`AES256`",
)

ARCHIVE_KMS_KEY_ID = _declare(
    "LETTERS_ARCHIVE_KMS_KEY_ID",
    optional_text(),
    "the KMS key for `aws:kms`",
    "the bucket's",
)

ARCHIVE_RETENTION_DAYS = _declare(
    "LETTERS_ARCHIVE_RETENTION_DAYS",
    optional_positive_int(),
    (
        "Object Lock (COMPLIANCE) retention per archived PDF, in days; the bucket must "
        "have Object Lock enabled"
    ),
    "none (the bucket's default retention)",
)

CONCURRENCY = _declare(
    "LETTERS_CONCURRENCY",
    positive_int(1),
    "worker processes (`--concurrency` wins)",
    "`1`",
)

RETRY_DELAYS = _declare(
    "LETTERS_RETRY_DELAYS",
    delays(DEFAULT_RETRY_DELAYS),
    (
        "delays of the retry queues, in order (`ms`, `s`, `m`, `h`); a letter gets one "
        "try plus one per delay"
    ),
    "`10s,1m,10m,1h`",
)

QUEUE_PREFIX = _declare(
    "LETTERS_QUEUE_PREFIX",
    text(""),
    "prefix of every exchange and queue name (tests, shared brokers)",
    "none",
)

BROKER_HEARTBEAT = _declare(
    "LETTERS_BROKER_HEARTBEAT",
    positive_int(30),
    "AMQP heartbeat in seconds",
    "`30`",
)

MAX_BODY_BYTES = _declare(
    "LETTERS_MAX_BODY_BYTES",
    positive_int(256 * 1024),
    ("a message body larger than this is refused before it is parsed (worker, `letters publish`)"),
    "`262144` (256 KiB)",
)

MAX_NESTING = _declare(
    "LETTERS_MAX_NESTING",
    positive_int(16),
    "a body nested deeper than this is refused before it is parsed",
    "`16`",
)

MAX_WORKER_STOPS = _declare(
    "LETTERS_MAX_WORKER_STOPS",
    positive_int(5),
    "a message a worker died with this often is dead-lettered with that reason",
    "`5`",
)

PREVIEW_HOSTS = _declare(
    "LETTERS_PREVIEW_HOSTS",
    names(),
    (
        "host names `letters preview --serve` answers to besides `127.0.0.1`, `localhost`"
        " and `[::1]` (comma-separated; any other `Host` gets 421)"
    ),
    "none",
)

SWEEP_INTERVAL = _declare(
    "LETTERS_SWEEP_INTERVAL",
    seconds("1m", allow_zero=True),
    (
        "how often the first worker runs the ledger sweep; `0` turns it off "
        "(`--until-empty` still sweeps once the queues are empty)"
    ),
    "`1m`",
)

SWEEP_RETRY_GRACE = _declare(
    "LETTERS_SWEEP_RETRY_GRACE",
    seconds("2m"),
    "a failed letter whose retry is overdue by more than this has lost its message",
    "`2m`",
)

SWEEP_STALE_AFTER = _declare(
    "LETTERS_SWEEP_STALE_AFTER",
    seconds("15m"),
    (
        "a letter accepted, rendered, archived, routed or requeued and untouched for "
        "longer than this has lost its message; keep it well above the longest a letter "
        "can take"
    ),
    "`15m`",
)

SWEEP_MAX_RECOVERIES = _declare(
    "LETTERS_SWEEP_MAX_RECOVERIES",
    whole_number(3),
    (
        "a letter recovered this many times and still overdue is left for operations "
        "(`letters recover` lists it)"
    ),
    "`3`",
)

EVENTS_RELAY_INTERVAL = _declare(
    "LETTERS_EVENTS_RELAY_INTERVAL",
    seconds("1s", allow_zero=True),
    (
        "how often the first worker publishes pending `letters.event/1` events; `0`: "
        "workers never relay (`letters events relay` does)"
    ),
    "`1s`",
)

EVENTS_KEEP = _declare(
    "LETTERS_EVENTS_KEEP",
    seconds("90d"),
    "how long published events are kept for `letters events replay` (`d` for days)",
    "`90d`",
)

CHANNEL_DIGIPOST = _declare(
    "LETTERS_CHANNEL_DIGIPOST",
    text("digipost"),
    "the backend of the Digipost route: `digipost` or `fake`",
    "`digipost`",
)

CHANNEL_PRINT = _declare(
    "LETTERS_CHANNEL_PRINT",
    text("print_post"),
    "the backend of the print route: `print_post` or `fake`",
    "`print_post`",
)

PRINT_URL = _declare(
    "LETTERS_PRINT_URL",
    optional_text(),
    "where print batches go: `s3://bucket/prefix` or a directory",
    "`var/print`",
)

PRINT_BATCH_SIZE = _declare(
    "LETTERS_PRINT_BATCH_SIZE",
    positive_int(500),
    "letters per batch before it is cut",
    "`500`",
)

PRINT_CUTOFF = _declare(
    "LETTERS_PRINT_CUTOFF",
    clock_time("16:00"),
    "the daily cut-off, local time in Norway (`HH:MM`)",
    "`16:00`",
)

PRINT_POSTING_DELAY = _declare(
    "LETTERS_PRINT_POSTING_DELAY",
    whole_number(1),
    (
        "working days from the print house getting a batch to posting it; print letters "
        "are dated by that posting day"
    ),
    "`1`",
)

PRINT_ENVELOPE = _declare(
    "LETTERS_PRINT_ENVELOPE",
    one_of(DEFAULT_ENVELOPE, tuple(ENVELOPES), upper=True),
    "the window envelope: `E65`, `C6/5`, `C5` or `EC4`",
    "`E65`",
)

PRINT_MAX_PAGES = _declare(
    "LETTERS_PRINT_MAX_PAGES",
    positive_int(10),
    "page limit for a printed letter",
    "`10`",
)

PRINT_CODE_ZONE = _declare(
    "LETTERS_PRINT_CODE_ZONE",
    millimetres((2.0, 100.0, 12.0)),
    (
        "where each printed sheet's QR code goes: left, top and size of its square in mm "
        "from the sheet's top-left corner"
    ),
    "`2,100,12`",
)

PRINT_RECEIPTS_INTERVAL = _declare(
    "LETTERS_PRINT_RECEIPTS_INTERVAL",
    seconds("5m", allow_zero=True),
    ("how often the first worker process reads the print house's receipts; `0` turns it off"),
    "`5m`",
)

PRINT_RECEIPT_WAIT = _declare(
    "LETTERS_PRINT_RECEIPT_WAIT",
    whole_number(2),
    (
        "working days after its posting day a batch's receipt may take before "
        "`letters_print_batches_without_receipt` counts it"
    ),
    "`2`",
)

PRINT_INTERVAL = _declare(
    "LETTERS_PRINT_INTERVAL",
    seconds("1m", allow_zero=True),
    ("how often the first worker closes due batches and delivers closed ones; `0` turns it off"),
    "`1m`",
)

PRINT_SSE = _declare(
    "LETTERS_PRINT_SSE",
    encryption(),
    "server-side encryption of the print drop: `AES256`, `aws:kms` or `none`",
    "`AES256`",
)

PRINT_KMS_KEY_ID = _declare(
    "LETTERS_PRINT_KMS_KEY_ID",
    optional_text(),
    "the KMS key for `aws:kms` in the print drop",
    "the bucket's",
)

DIGIPOST_URL = _declare(
    "LETTERS_DIGIPOST_URL",
    optional_text(),
    ("Digipost API base URL (`https://api.digipost.no/`, test `https://api.test.digipost.no/`)"),
    "a local Digipost double started in the worker",
)

DIGIPOST_SENDER_ID = _declare(
    "LETTERS_DIGIPOST_SENDER_ID",
    _sender_id("1000001"),
    "the agency's Digipost sender (broker) id",
    "`1000001`",
)

DIGIPOST_KEY = _declare(
    "LETTERS_DIGIPOST_KEY",
    optional_path(),
    "the enterprise key: PKCS#12 (`.p12`) or PEM; required for a non-local URL",
    "a generated test key in `var/digipost/` (local doubles only)",
)

DIGIPOST_KEY_PASSWORD = _declare(
    "LETTERS_DIGIPOST_KEY_PASSWORD",
    text(""),
    "the key's password (never logged or shown)",
    "none",
)

DIGIPOST_CERTIFICATE = _declare(
    "LETTERS_DIGIPOST_CERTIFICATE",
    optional_path(),
    "Digipost's certificate (PEM) to trust for answers",
    "the one in Digipost's entry point",
)

DIGIPOST_CONNECT_TIMEOUT = _declare(
    "LETTERS_DIGIPOST_CONNECT_TIMEOUT",
    seconds("10s"),
    "the timeout of connecting to Digipost",
    "`10s`",
)

DIGIPOST_TIMEOUT = _declare(
    "LETTERS_DIGIPOST_TIMEOUT",
    seconds("30s"),
    "the read and write timeout of a request to Digipost",
    "`30s`",
)

DIGIPOST_POOL_SIZE = _declare(
    "LETTERS_DIGIPOST_POOL_SIZE",
    positive_int(10),
    "HTTP connections per worker process",
    "`10`",
)

DIGIPOST_AUTHENTICATION_LEVEL = _declare(
    "LETTERS_DIGIPOST_AUTHENTICATION_LEVEL",
    _authentication_level("TWO_FACTOR"),
    "`TWO_FACTOR` or `PASSWORD` to open the letter",
    "`TWO_FACTOR`",
)

DIGIPOST_MAX_PAGES = _declare(
    "LETTERS_DIGIPOST_MAX_PAGES",
    positive_int(20),
    "page limit of the print rules",
    "`20`",
)

DIGIPOST_SYNC_INTERVAL = _declare(
    "LETTERS_DIGIPOST_SYNC_INTERVAL",
    seconds("5m", allow_zero=True),
    "how often the first worker fetches delivery news; `0` turns it off",
    "`5m`",
)

DIGIPOST_DOUBLE_DIR = _declare(
    "LETTERS_DIGIPOST_DOUBLE_DIR",
    optional_path(),
    "the local double's mailbox",
    "`var/digipost-double`",
)

FAKE_OUTBOX = _declare(
    "LETTERS_FAKE_OUTBOX",
    optional_path(),
    "where the fake channel records deliveries (and reads `plan.json`)",
    "`var/fake-outbox`",
)

STENCIL = _declare(
    "LETTERS_STENCIL",
    flag(True),
    (
        "lay a letter out on the stencil of its shape: the first letter of a template "
        "version and shape laid out in full and kept, later ones laying out only the text "
        "that differs; off lays every letter out in full (docs/development.md, rendering)"
    ),
    "on",
)

REQUIRE_APPROVED_TEMPLATES = _declare(
    "LETTERS_REQUIRE_APPROVED_TEMPLATES",
    flag(False),
    (
        "render only template versions recorded in `templates/approved.json` (on in "
        "`deploy/production.env`)"
    ),
    "off",
)

RESEND_RATE = _declare(
    "LETTERS_RESEND_RATE",
    rate("10/s"),
    "default pace of `letters resend`: `N/s`, `N/min` or `N/h`",
    "`10/s`",
)

RESEND_PROCESSES = _declare(
    "LETTERS_RESEND_PROCESSES",
    positive_int(1),
    "processes a re-send job renders and sends in when given no `--processes`",
    "`1`",
)

RESEND_CONFIRM_OVER = _declare(
    "LETTERS_RESEND_CONFIRM_OVER",
    positive_int(100),
    "a re-send job of more letters asks for confirmation (or `--yes`)",
    "`100`",
)

LOG_LEVEL = _declare(
    "LETTERS_LOG_LEVEL",
    _upper("INFO"),
    "`DEBUG`, `INFO`, `WARNING`, …",
    "`INFO`",
)
