"""Settings from ``LETTERS_*`` environment variables, each with a safe embedded default."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from letters.envelopes import DEFAULT_ENVELOPE, ENVELOPES
from letters.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
EXAMPLE_PROFILE = Path(__file__).with_name("example_agency.toml")
DEFAULT_RETRY_DELAYS = "10s,1m,10m,1h"
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$")
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True, slots=True)
class Rate:
    """A pace for bulk jobs: letters per second, parsed from ``20/s``, ``600/min`` or ``5000/h``."""

    per_second: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``20/s``, ``600/min``, ``5000/h`` or a plain number per second."""
        match = _RATE.match(text)
        if not match or float(match[1]) <= 0:
            raise ValueError(f"not a rate like 20/s, 600/min or 5000/h: {text!r}")
        return cls(float(match[1]) / _PER[match[2] or "s"])

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    def __str__(self) -> str:
        return f"{self.per_second:g}/s"


_DURATION_RE = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


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
    retry_delays: tuple[float, ...]
    # Prepended to every exchange and queue name (tests, parallel environments).
    queue_prefix: str
    heartbeat: int
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
    # Host names the preview server answers to besides the loopback ones.
    preview_hosts: tuple[str, ...] = ()
    # The operations page beyond loopback: the host names it answers to, and the file of
    # the token it asks for (letters.operations.server).
    ops_hosts: tuple[str, ...] = ()
    ops_token_file: Path | None = None
    # Refuse to render with a template version legal has not approved (on in production).
    require_approved_templates: bool = False
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
        var_dir = Path(env.get("LETTERS_VAR_DIR", PROJECT_ROOT / "var"))
        return cls(
            agency_profile=Path(env.get("LETTERS_AGENCY_PROFILE", EXAMPLE_PROFILE)),
            templates_dir=Path(env.get("LETTERS_TEMPLATES_DIR", _default_templates())),
            var_dir=var_dir,
            broker_url=env.get("LETTERS_BROKER_URL") or None,
            database_url=env.get("LETTERS_DATABASE_URL") or f"sqlite:///{var_dir / 'letters.db'}",
            archive_url=env.get("LETTERS_ARCHIVE_URL") or str(var_dir / "archive"),
            concurrency=_positive_int(env, "LETTERS_CONCURRENCY", 1),
            retry_delays=parse_delays(
                env.get("LETTERS_RETRY_DELAYS", DEFAULT_RETRY_DELAYS), "LETTERS_RETRY_DELAYS"
            ),
            queue_prefix=env.get("LETTERS_QUEUE_PREFIX", ""),
            heartbeat=_positive_int(env, "LETTERS_BROKER_HEARTBEAT", 30),
            digipost_backend=env.get("LETTERS_CHANNEL_DIGIPOST", "digipost"),
            print_backend=env.get("LETTERS_CHANNEL_PRINT", "print_post"),
            fake_outbox=Path(env.get("LETTERS_FAKE_OUTBOX", var_dir / "fake-outbox")),
            log_level=env.get("LETTERS_LOG_LEVEL", "INFO").upper(),
            digipost=DigipostSettings.from_env(env, var_dir),
            s3=S3Settings.from_env(env),
            print=PrintSettings.from_env(env, var_dir),
            resend=ResendSettings.from_env(env),
            sweep=SweepSettings.from_env(env),
            events=EventSettings.from_env(env),
            max_body_bytes=_positive_int(env, "LETTERS_MAX_BODY_BYTES", 256 * 1024),
            max_nesting=_positive_int(env, "LETTERS_MAX_NESTING", 16),
            max_worker_stops=_positive_int(env, "LETTERS_MAX_WORKER_STOPS", 5),
            preview_hosts=tuple(
                h.strip() for h in env.get("LETTERS_PREVIEW_HOSTS", "").split(",") if h.strip()
            ),
            ops_hosts=tuple(
                h.strip() for h in env.get("LETTERS_OPS_HOSTS", "").split(",") if h.strip()
            ),
            ops_token_file=_path(env, "LETTERS_OPS_TOKEN_FILE"),
            require_approved_templates=_flag(env, "LETTERS_REQUIRE_APPROVED_TEMPLATES", False),
            password_pepper_file=_path(env, "LETTERS_PASSWORD_PEPPER_FILE"),
            ledger_key_file=_path(env, "LETTERS_LEDGER_KEY_FILE"),
            ledger_kms_key_id=env.get("LETTERS_LEDGER_KMS_KEY_ID") or None,
            ledger_retired_key_files=tuple(
                Path(p.strip())
                for p in env.get("LETTERS_LEDGER_RETIRED_KEY_FILES", "").split(",")
                if p.strip()
            ),
            ledger_index_key_file=_path(env, "LETTERS_LEDGER_INDEX_KEY_FILE"),
            erasure_keys_url=env.get("LETTERS_ERASURE_KEYS_URL") or None,
            retention_days=_positive_int(env, "LETTERS_RETENTION_DAYS", 400),
            metrics_port=_port(env, "LETTERS_METRICS_PORT"),
            metrics_host=env.get("LETTERS_METRICS_HOST") or "127.0.0.1",
            print_when_unread=_flag(env, "LETTERS_PRINT_WHEN_UNREAD", False),
            allow_unchecked_rates=_unchecked_rates(env),
            rates_file=_path(env, "LETTERS_RATES_FILE"),
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
        sse = env.get("LETTERS_ARCHIVE_SSE", "AES256")
        if sse not in ("AES256", "aws:kms", "none"):
            raise ConfigurationError(f"LETTERS_ARCHIVE_SSE: {sse!r} is not AES256, aws:kms or none")
        retention = env.get("LETTERS_ARCHIVE_RETENTION_DAYS")
        return cls(
            endpoint_url=env.get("LETTERS_S3_ENDPOINT_URL") or None,
            region=env.get("LETTERS_S3_REGION") or "eu-north-1",
            archive_sse=None if sse == "none" else sse,
            archive_kms_key_id=env.get("LETTERS_ARCHIVE_KMS_KEY_ID") or None,
            archive_retention_days=(
                _positive_int(env, "LETTERS_ARCHIVE_RETENTION_DAYS", 1) if retention else None
            ),
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
    interval: float
    # "AES256", "aws:kms" or None for the print bucket's default encryption.
    sse: str | None = "AES256"
    kms_key_id: str | None = None
    # Working days from the print house getting a batch to posting it.
    posting_delay: int = 1
    # Where each sheet's code goes: left, top and size of its square, in mm from the
    # sheet's top-left corner (channels.print_post.sheet_codes checks it can be scanned).
    code_zone: tuple[float, float, float] = (2.0, 100.0, 12.0)
    # Seconds between the worker's reads of the print house's receipts; 0 turns it off.
    receipts_interval: float = 300.0
    # Working days after a batch's posting day that its receipt may take before an alert.
    receipt_wait: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str], var_dir: Path) -> PrintSettings:
        envelope = (env.get("LETTERS_PRINT_ENVELOPE") or DEFAULT_ENVELOPE).upper()
        if envelope not in ENVELOPES:
            raise ConfigurationError(
                f"LETTERS_PRINT_ENVELOPE: {envelope!r} is not one of {', '.join(ENVELOPES)}"
            )
        sse = env.get("LETTERS_PRINT_SSE", "AES256")
        if sse not in ("AES256", "aws:kms", "none"):
            raise ConfigurationError(f"LETTERS_PRINT_SSE: {sse!r} is not AES256, aws:kms or none")
        return cls(
            url=env.get("LETTERS_PRINT_URL") or str(var_dir / "print"),
            batch_size=_positive_int(env, "LETTERS_PRINT_BATCH_SIZE", 500),
            cutoff=_clock_time(env, "LETTERS_PRINT_CUTOFF", "16:00"),
            envelope=envelope,
            max_pages=_positive_int(env, "LETTERS_PRINT_MAX_PAGES", 10),
            interval=_seconds(env, "LETTERS_PRINT_INTERVAL", "1m", allow_zero=True),
            sse=None if sse == "none" else sse,
            kms_key_id=env.get("LETTERS_PRINT_KMS_KEY_ID") or None,
            posting_delay=_whole_number(env, "LETTERS_PRINT_POSTING_DELAY", 1),
            code_zone=_millimetres(env, "LETTERS_PRINT_CODE_ZONE", (2.0, 100.0, 12.0)),
            receipts_interval=_seconds(
                env, "LETTERS_PRINT_RECEIPTS_INTERVAL", "5m", allow_zero=True
            ),
            receipt_wait=_whole_number(env, "LETTERS_PRINT_RECEIPT_WAIT", 2),
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
        text = env.get("LETTERS_RESEND_RATE") or "10/s"
        try:
            rate = Rate.parse(text)
        except ValueError as err:
            raise ConfigurationError(f"LETTERS_RESEND_RATE: {err}") from err
        return cls(
            rate=rate.per_second,
            confirm_over=_positive_int(env, "LETTERS_RESEND_CONFIRM_OVER", 100),
            processes=_positive_int(env, "LETTERS_RESEND_PROCESSES", 1),
        )


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """The ledger sweep: when a letter in flight counts as lost by the broker."""

    # Seconds between sweeps in the first worker process; 0 turns them off.
    interval: float
    # A failed letter whose retry is overdue by more than this has lost its message.
    retry_grace: float
    # Accepted, rendered, archived, routed or requeued and untouched for longer than this.
    stale_after: float
    # A letter recovered this many times and still overdue is left for operations.
    max_recoveries: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SweepSettings:
        return cls(
            interval=_seconds(env, "LETTERS_SWEEP_INTERVAL", "1m", allow_zero=True),
            retry_grace=_seconds(env, "LETTERS_SWEEP_RETRY_GRACE", "2m"),
            stale_after=_seconds(env, "LETTERS_SWEEP_STALE_AFTER", "15m"),
            max_recoveries=_whole_number(env, "LETTERS_SWEEP_MAX_RECOVERIES", 3),
        )


@dataclass(frozen=True, slots=True)
class EventSettings:
    """The letters.event/1 outbox and its relay."""

    # Seconds between relay rounds in the first worker process; 0 turns them off.
    relay_interval: float
    # Published events are kept this long (seconds) for ``letters events replay``.
    keep: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EventSettings:
        return cls(
            relay_interval=_seconds(env, "LETTERS_EVENTS_RELAY_INTERVAL", "1s", allow_zero=True),
            keep=_seconds(env, "LETTERS_EVENTS_KEEP", "90d"),
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
    connect_timeout: float
    timeout: float
    pool_size: int
    authentication_level: str
    max_pages: int
    # Seconds between document event fetches in the worker; 0 turns them off.
    sync_interval: float
    keys_dir: Path
    double_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str], var_dir: Path) -> DigipostSettings:
        level = env.get("LETTERS_DIGIPOST_AUTHENTICATION_LEVEL", "TWO_FACTOR").upper()
        if level not in ("PASSWORD", "TWO_FACTOR"):
            raise ConfigurationError(
                f"LETTERS_DIGIPOST_AUTHENTICATION_LEVEL: {level!r} is not PASSWORD or TWO_FACTOR"
            )
        sender_id = env.get("LETTERS_DIGIPOST_SENDER_ID", "1000001")
        if not (sender_id.isascii() and sender_id.isdigit()):
            raise ConfigurationError(
                f"LETTERS_DIGIPOST_SENDER_ID: {sender_id!r} is not a Digipost sender id (digits)"
            )
        key = env.get("LETTERS_DIGIPOST_KEY")
        certificate = env.get("LETTERS_DIGIPOST_CERTIFICATE")
        return cls(
            url=env.get("LETTERS_DIGIPOST_URL") or None,
            sender_id=sender_id,
            key=Path(key) if key else None,
            key_password=env.get("LETTERS_DIGIPOST_KEY_PASSWORD", ""),
            certificate=Path(certificate) if certificate else None,
            connect_timeout=_seconds(env, "LETTERS_DIGIPOST_CONNECT_TIMEOUT", "10s"),
            timeout=_seconds(env, "LETTERS_DIGIPOST_TIMEOUT", "30s"),
            pool_size=_positive_int(env, "LETTERS_DIGIPOST_POOL_SIZE", 10),
            authentication_level=level,
            max_pages=_positive_int(env, "LETTERS_DIGIPOST_MAX_PAGES", 20),
            sync_interval=_seconds(env, "LETTERS_DIGIPOST_SYNC_INTERVAL", "5m", allow_zero=True),
            keys_dir=var_dir / "digipost",
            double_dir=Path(env.get("LETTERS_DIGIPOST_DOUBLE_DIR", var_dir / "digipost-double")),
        )


def _unchecked_rates(env: Mapping[str, str]) -> bool:
    """LETTERS_ALLOW_UNCHECKED_RATES, refused anywhere but on the embedded default: a
    letter in production prints only rates read in the regulation or approved."""
    allowed = _flag(env, "LETTERS_ALLOW_UNCHECKED_RATES", False)
    database = env.get("LETTERS_DATABASE_URL") or "sqlite:"
    shared = bool(env.get("LETTERS_BROKER_URL")) or not database.startswith("sqlite")
    if allowed and shared:
        raise ConfigurationError(
            "LETTERS_ALLOW_UNCHECKED_RATES: only the embedded default (no LETTERS_BROKER_URL, "
            "a SQLite ledger) may use rates nobody has checked"
        )
    return allowed


def _seconds(env: Mapping[str, str], name: str, default: str, allow_zero: bool = False) -> float:
    raw = env.get(name) or default
    if allow_zero and raw.strip() in ("0", "0s"):
        return 0.0
    delays = parse_delays(raw, name)
    if len(delays) != 1:
        raise ConfigurationError(f"{name}: one duration such as 30s, got {raw!r}")
    return delays[0]


def _clock_time(env: Mapping[str, str], name: str, default: str) -> time:
    raw = (env.get(name) or default).strip()
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw)
    if not match:
        raise ConfigurationError(f"{name}: {raw!r} is not a time of day such as 16:00")
    return time(int(match.group(1)), int(match.group(2)))


def parse_delays(text: str, setting: str) -> tuple[float, ...]:
    """``"10s,1m,10m,1h"`` → ``(10.0, 60.0, 600.0, 3600.0)``; an empty list disables retries."""
    delays: list[float] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _DURATION_RE.match(part)
        if not match or int(match.group(1)) == 0:
            raise ConfigurationError(
                f"{setting}: {part!r} is not a positive duration such as 500ms, 10s, 1m, 1h or 1d"
            )
        delays.append(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return tuple(delays)


def delay_label(seconds: float) -> str:
    """The short name of a delay, used in retry queue names: 10s, 1m, 1h, 500ms."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds)}s"


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name}: {text!r} is not on or off (true/false, 1/0, yes/no)")


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ConfigurationError(f"{name}: must be a whole number of 0 or more, got {raw!r}")
    return int(raw)


def _millimetres(
    env: Mapping[str, str], name: str, default: tuple[float, float, float]
) -> tuple[float, float, float]:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        left, top, size = (float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigurationError(
            f"{name}: must be left,top,size in millimetres, such as 2,100,12; got {raw!r}"
        ) from None
    return (left, top, size)


def _path(env: Mapping[str, str], name: str) -> Path | None:
    return Path(env[name]) if env.get(name) else None


def _port(env: Mapping[str, str], name: str) -> int | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigurationError(f"{name}: must be a TCP port from 1 to 65535, got {raw!r}")
    return int(raw)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigurationError(f"{name}: must be a whole number of 1 or more, got {raw!r}")
    return value


def _default_templates() -> Path:
    # From a checkout the templates sit beside the package; from a wheel, inside it.
    packaged = Path(__file__).resolve().parent / "_data" / "templates"
    return TEMPLATES_DIR if TEMPLATES_DIR.is_dir() else packaged
