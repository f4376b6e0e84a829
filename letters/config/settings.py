"""The service's settings, read from the ``LETTERS_*`` variables declared in
``letters.config.declared``, each with a safe embedded default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from letters.config import declared as d
from letters.config.paths import EXAMPLE_PROFILE, PROJECT_ROOT, default_templates
from letters.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Settings:
    agency_profile: Path
    templates_dir: Path
    var_dir: Path
    # None: the embedded kombu transport under var/broker.
    broker_url: str | None
    database_url: str
    archive_url: str
    concurrency: int
    # Seconds; one retry queue per delay, in order.
    retry_delays_s: tuple[float, ...]
    # Prepended to every exchange and queue name (tests, parallel environments).
    queue_prefix: str
    heartbeat_s: int
    # Which backend serves each delivery route ("fake" until the real ones exist).
    digipost_backend: str
    print_backend: str
    fake_outbox: Path
    log_level: str
    digipost: DigipostSettings
    s3: S3Settings
    print: PrintSettings
    resend: ResendSettings
    sweep: SweepSettings
    events: EventSettings
    # A body larger than this, or nested deeper, is refused before it is parsed.
    max_body_bytes: int
    max_nesting: int
    # A message a worker died with this often is dead-lettered with that reason.
    max_worker_stops: int
    # How long a worker that lost the ledger's database waits for it with a letter in hand.
    ledger_wait_s: float
    # Host names the preview server answers to besides the loopback ones.
    preview_hosts: tuple[str, ...] = ()
    # The operations page beyond loopback: the host names it answers to, and the file of
    # the token it asks for (letters.operations.server).
    ops_hosts: tuple[str, ...] = ()
    ops_token_file: Path | None = None
    # Refuse to render with a template version legal has not approved (on in production).
    require_approved_templates: bool = False
    stencil: bool = True
    # The secret key of the one-time password hash (None: made under var/ on the
    # embedded default; see letters.domain.pepper).
    password_pepper_file: Path | None = None
    # The keys of the ledger's personal data (None: made under var/ on the embedded
    # default; see letters.ledger.keys).
    ledger_key_file: Path | None = None
    ledger_kms_key_id: str | None = None
    ledger_retired_key_files: tuple[Path, ...] = ()
    ledger_index_key_file: Path | None = None
    # Where the per-letter keys that erasure destroys live: a database apart from the
    # ledger (letters.ledger.erasure_keys); None: var/erasure-keys.db on the embedded default.
    erasure_keys_url: str | None = None
    # Days a finished letter's personal data is kept (its re-send window), then erased.
    retention_days: int = 400
    # Days after the erasure that a letter's history is put away in the archive.
    history_archive_days: int = 30
    # Where the worker group serves /metrics, /healthz and /readyz (None: not served).
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    # Print a copy of a Digipost letter nobody opened (the profile says which and when).
    print_when_unread: bool = False
    # The packaged rate table's unchecked rows may be used (the embedded demo only).
    allow_unchecked_rates: bool = False
    # The baseline rate table (None: the one packaged with the service).
    rates_file: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        var_dir = d.VAR_DIR.read(env) or PROJECT_ROOT / "var"
        return cls(
            agency_profile=d.AGENCY_PROFILE.read(env) or EXAMPLE_PROFILE,
            templates_dir=d.TEMPLATES_DIR.read(env) or default_templates(),
            var_dir=var_dir,
            broker_url=d.BROKER_URL.read(env),
            database_url=d.DATABASE_URL.read(env) or f"sqlite:///{var_dir / 'letters.db'}",
            archive_url=d.ARCHIVE_URL.read(env) or str(var_dir / "archive"),
            concurrency=d.CONCURRENCY.read(env),
            retry_delays_s=d.RETRY_DELAYS.read(env),
            queue_prefix=d.QUEUE_PREFIX.read(env),
            heartbeat_s=d.BROKER_HEARTBEAT.read(env),
            digipost_backend=d.CHANNEL_DIGIPOST.read(env),
            print_backend=d.CHANNEL_PRINT.read(env),
            fake_outbox=d.FAKE_OUTBOX.read(env) or var_dir / "fake-outbox",
            log_level=d.LOG_LEVEL.read(env),
            digipost=DigipostSettings.from_env(env, var_dir),
            s3=S3Settings.from_env(env),
            print=PrintSettings.from_env(env, var_dir),
            resend=ResendSettings.from_env(env),
            sweep=SweepSettings.from_env(env),
            events=EventSettings.from_env(env),
            max_body_bytes=d.MAX_BODY_BYTES.read(env),
            max_nesting=d.MAX_NESTING.read(env),
            max_worker_stops=d.MAX_WORKER_STOPS.read(env),
            ledger_wait_s=d.LEDGER_WAIT.read(env),
            preview_hosts=d.PREVIEW_HOSTS.read(env),
            ops_hosts=d.OPS_HOSTS.read(env),
            ops_token_file=d.OPS_TOKEN_FILE.read(env),
            require_approved_templates=d.REQUIRE_APPROVED_TEMPLATES.read(env),
            stencil=d.STENCIL.read(env),
            password_pepper_file=d.PASSWORD_PEPPER_FILE.read(env),
            ledger_key_file=d.LEDGER_KEY_FILE.read(env),
            ledger_kms_key_id=d.LEDGER_KMS_KEY_ID.read(env),
            ledger_retired_key_files=d.LEDGER_RETIRED_KEY_FILES.read(env),
            ledger_index_key_file=d.LEDGER_INDEX_KEY_FILE.read(env),
            erasure_keys_url=d.ERASURE_KEYS_URL.read(env),
            retention_days=d.RETENTION_DAYS.read(env),
            history_archive_days=d.HISTORY_ARCHIVE_DAYS.read(env),
            metrics_port=d.METRICS_PORT.read(env),
            metrics_host=d.METRICS_HOST.read(env) or "127.0.0.1",
            print_when_unread=d.PRINT_WHEN_UNREAD.read(env),
            allow_unchecked_rates=_unchecked_rates(env),
            rates_file=d.RATES_FILE.read(env),
        )

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url is None

    @property
    def broker_dir(self) -> Path:
        return self.var_dir / "broker"


@dataclass(frozen=True, slots=True)
class S3Settings:
    """S3 for the archive (and the print drop); credentials come from boto3's usual chain."""

    # None: AWS itself; set for S3-compatible servers (MinIO, Ceph, moto).
    endpoint_url: str | None = None
    region: str = "eu-north-1"
    # "AES256", "aws:kms", or None to rely on the bucket's default encryption.
    archive_sse: str | None = "AES256"
    archive_kms_key_id: str | None = None
    # Object Lock retention per archived letter; None: the bucket's default.
    archive_retention_days: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Settings:
        return cls(
            endpoint_url=d.S3_ENDPOINT_URL.read(env),
            region=d.S3_REGION.read(env) or "eu-north-1",
            archive_sse=d.ARCHIVE_SSE.read(env),
            archive_kms_key_id=d.ARCHIVE_KMS_KEY_ID.read(env),
            archive_retention_days=d.ARCHIVE_RETENTION_DAYS.read(env),
        )


@dataclass(frozen=True, slots=True)
class PrintSettings:
    """The print house: where batches go, when they are cut, what they must pass."""

    # s3://bucket/prefix or a directory.
    url: str
    batch_size: int
    # Local time in Europe/Oslo at which every open batch is cut each day.
    cutoff: time
    # The envelope whose window the address must sit in (letters.envelopes.ENVELOPES).
    envelope: str
    max_pages: int
    # Seconds between the worker's looks for batches to cut and deliver; 0 turns it off.
    interval_s: float
    # "AES256", "aws:kms" or None for the print bucket's default encryption.
    sse: str | None = "AES256"
    kms_key_id: str | None = None
    # Working days from the print house getting a batch to posting it.
    posting_delay: int = 1
    # Where each sheet's code goes: left, top and size of its square, in mm from the
    # sheet's top-left corner (channels.print_post.sheet_codes checks it can be scanned).
    code_zone: tuple[float, float, float] = (2.0, 100.0, 12.0)
    # Seconds between the worker's reads of the print house's receipts; 0 turns it off.
    receipts_interval_s: float = 300.0
    # Working days after a batch's posting day that its receipt may take before an alert.
    receipt_wait: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str], var_dir: Path) -> PrintSettings:
        return cls(
            url=d.PRINT_URL.read(env) or str(var_dir / "print"),
            batch_size=d.PRINT_BATCH_SIZE.read(env),
            cutoff=d.PRINT_CUTOFF.read(env),
            envelope=d.PRINT_ENVELOPE.read(env),
            max_pages=d.PRINT_MAX_PAGES.read(env),
            interval_s=d.PRINT_INTERVAL.read(env),
            sse=d.PRINT_SSE.read(env),
            kms_key_id=d.PRINT_KMS_KEY_ID.read(env),
            posting_delay=d.PRINT_POSTING_DELAY.read(env),
            code_zone=d.PRINT_CODE_ZONE.read(env),
            receipts_interval_s=d.PRINT_RECEIPTS_INTERVAL.read(env),
            receipt_wait=d.PRINT_RECEIPT_WAIT.read(env),
        )


@dataclass(frozen=True, slots=True)
class ResendSettings:
    """Bulk re-send jobs: their default pace and when they ask before starting."""

    # Letters per second when ``letters resend`` is given no --rate.
    rate: float
    # A job of more letters than this asks for confirmation (or --yes).
    confirm_over: int
    # Processes a job renders and sends in when ``letters resend`` is given no --processes.
    processes: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ResendSettings:
        return cls(
            rate=d.RESEND_RATE.read(env).per_second,
            confirm_over=d.RESEND_CONFIRM_OVER.read(env),
            processes=d.RESEND_PROCESSES.read(env),
        )


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """The ledger sweep: when a letter in flight counts as lost by the broker."""

    # Seconds between sweeps in the first worker process; 0 turns them off.
    interval_s: float
    # A failed letter whose retry is overdue by more than this has lost its message.
    retry_grace_s: float
    # Accepted, rendered, archived, routed or requeued and untouched for longer than this.
    stale_after_s: float
    # A letter recovered this many times and still overdue is left for operations.
    max_recoveries: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SweepSettings:
        return cls(
            interval_s=d.SWEEP_INTERVAL.read(env),
            retry_grace_s=d.SWEEP_RETRY_GRACE.read(env),
            stale_after_s=d.SWEEP_STALE_AFTER.read(env),
            max_recoveries=d.SWEEP_MAX_RECOVERIES.read(env),
        )


@dataclass(frozen=True, slots=True)
class EventSettings:
    """The letters.event/1 outbox and its relay."""

    # Seconds between relay rounds in the first worker process; 0 turns them off.
    relay_interval_s: float
    # Published events are kept this long (seconds) for ``letters events replay``.
    keep_s: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EventSettings:
        return cls(
            relay_interval_s=d.EVENTS_RELAY_INTERVAL.read(env),
            keep_s=d.EVENTS_KEEP.read(env),
        )


@dataclass(frozen=True, slots=True)
class DigipostSettings:
    # None: a local Digipost double started inside the process (the embedded default).
    url: str | None
    sender_id: str
    # None: a generated test key under var/digipost (only for a local double).
    key: Path | None
    key_password: str = field(repr=False)
    # Trust this certificate for Digipost's answers; None: the entry point's.
    certificate: Path | None
    connect_timeout_s: float
    timeout_s: float
    pool_size: int
    authentication_level: str
    max_pages: int
    # Seconds between document event fetches in the worker; 0 turns them off.
    sync_interval_s: float
    keys_dir: Path
    double_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str], var_dir: Path) -> DigipostSettings:
        return cls(
            url=d.DIGIPOST_URL.read(env),
            sender_id=d.DIGIPOST_SENDER_ID.read(env),
            key=d.DIGIPOST_KEY.read(env),
            key_password=d.DIGIPOST_KEY_PASSWORD.read(env),
            certificate=d.DIGIPOST_CERTIFICATE.read(env),
            connect_timeout_s=d.DIGIPOST_CONNECT_TIMEOUT.read(env),
            timeout_s=d.DIGIPOST_TIMEOUT.read(env),
            pool_size=d.DIGIPOST_POOL_SIZE.read(env),
            authentication_level=d.DIGIPOST_AUTHENTICATION_LEVEL.read(env),
            max_pages=d.DIGIPOST_MAX_PAGES.read(env),
            sync_interval_s=d.DIGIPOST_SYNC_INTERVAL.read(env),
            keys_dir=var_dir / "digipost",
            double_dir=d.DIGIPOST_DOUBLE_DIR.read(env) or var_dir / "digipost-double",
        )


def _unchecked_rates(env: Mapping[str, str]) -> bool:
    """LETTERS_ALLOW_UNCHECKED_RATES, refused anywhere but on the embedded default: a
    letter in production prints only rates read in the regulation or approved."""
    allowed = d.ALLOW_UNCHECKED_RATES.read(env)
    database = d.DATABASE_URL.read(env) or "sqlite:"
    shared = bool(d.BROKER_URL.read(env)) or not database.startswith("sqlite")
    if allowed and shared:
        raise ConfigurationError(
            f"{d.ALLOW_UNCHECKED_RATES}: only the embedded default (no {d.BROKER_URL}, "
            "a SQLite ledger) may use rates nobody has checked"
        )
    return allowed
