"""Real services for the queue tests: RabbitMQ, PostgreSQL, and worker processes.

Every test gets its own queue names (a prefix), its own PostgreSQL database
and its own var/ folder, so tests never see each other's letters. A service
that is down fails the test with a message that says how to start it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kombu.connection import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from channels.fake import delivered_records, read_attempts
from letters.config import PROJECT_ROOT, Settings
from letters.domain.kid import KidMethod, make_kid
from letters.domain.pepper import make_pepper_file
from letters.ledger import Ledger
from letters.ledger.keys import KEY_FILE_SETTING, FileMasterKey, LedgerKeys, make_key_file
from letters.messaging.broker import Publisher, topology_for
from tests.support.events import check_outbox
from tests.support.rates import suite_rates_file

RABBITMQ_URL = os.environ.get("LETTERS_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_ADMIN_URL = os.environ.get(
    "LETTERS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SAMPLES = PROJECT_ROOT / "samples"
WORKER_TIMEOUT_S = 180


# The test being run, set by conftest: a test that reaches for a service must say so.
current_test: list[pytest.Item] = []
SERVICES_MARKER = "services"


def _require_marked(service: str) -> None:
    if current_test and current_test[-1].get_closest_marker(SERVICES_MARKER) is None:
        pytest.fail(
            f"{current_test[-1].nodeid} uses {service}: mark it @pytest.mark.{SERVICES_MARKER}",
            pytrace=False,
        )


def require_rabbitmq(url: str = RABBITMQ_URL) -> None:
    _require_marked("RabbitMQ")
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=2, interval_start=0.5)
    except Exception as err:
        pytest.fail(
            f"RabbitMQ is not reachable at {url} ({type(err).__name__}: {err}). These tests need "
            "it: start it with `rabbitmq-server -detached` (./dev test does this when RabbitMQ "
            "is installed), or point LETTERS_TEST_BROKER_URL at a running broker.",
            pytrace=False,
        )


def require_postgres(url: str = POSTGRES_ADMIN_URL) -> None:
    _require_marked("PostgreSQL")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:
        pytest.fail(
            f"PostgreSQL is not reachable at {url} ({type(err).__name__}). These tests need it: "
            "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
            "start` (./dev test does this when PostgreSQL is installed), or point "
            "LETTERS_TEST_POSTGRES_URL at a running server.",
            pytrace=False,
        )
    finally:
        engine.dispose()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    require_postgres()
    name = f"letters_test_{uuid.uuid4().hex[:12]}"
    # No pool: a test may restart PostgreSQL between creating and dropping the database.
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def sample_request(name: str = "purring-nb-plain", **changes: Any) -> dict[str, Any]:
    """A sample request with a fresh letter id and case; ``changes`` set top-level fields."""
    data: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    data["letter_id"] = str(uuid.uuid4())
    fresh_case(data)
    data.update(changes)
    return data


def needs_interest() -> dict[str, Any]:
    """A sample request whose letter needs the interest of the half-year it leaves in."""
    return sample_request("inkassovarsel-nb-plain")


def needs_no_interest() -> dict[str, Any]:
    """A sample request whose letter needs no interest rate (only the year's inkassosats)."""
    request = sample_request("purring-nb-plain")
    del request["case"]["interest"]
    return request


# Case numbers handed out in this process: counted from a random start, so that none
# comes twice (random draws from 10**7 collide within a few thousand letters, and a
# second letter of a case meets the order of letters and the cost rules).
_CASE_NUMBERS = itertools.count(secrets.randbelow(10**7))


def fresh_case(data: dict[str, Any]) -> dict[str, Any]:
    """A case number of its own (and the KID that goes with it), so that sample letters
    are not a second letter of a type for one case (the order of letters refuses that)."""
    case = data["case"]
    case["case_number"] = f"2026-{next(_CASE_NUMBERS) % 10**7:07d}"
    if case.get("kid"):
        case["kid"] = make_kid(case["case_number"].replace("-", "").zfill(11), KidMethod.MOD10)
    return data


@dataclass
class Stack:
    """One isolated set of settings: broker (or embedded), database, var folder."""

    env: dict[str, str]
    _ledger: Ledger | None = None
    _workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    @property
    def outbox(self) -> Path:
        return self.settings.fake_outbox

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger.for_settings(self.settings)
            self._ledger.upgrade()
        return self._ledger

    def publish(
        self, *requests: dict[str, Any] | bytes, headers: dict[str, Any] | None = None
    ) -> None:
        with Publisher.open(self.settings) as publisher:
            for request in requests:
                body = request if isinstance(request, bytes) else json.dumps(request).encode()
                publisher.publish_request(body, headers)

    def publish_raw(self, body: bytes, content_type: str, content_encoding: str = "binary") -> None:
        with Publisher.open(self.settings) as publisher:
            topology = publisher.topology
            publisher.publish(
                body,
                topology.requests_exchange,
                topology.request_routing_key(None),
                content_type=content_type,
                content_encoding=content_encoding,
            )
            assert not publisher.by_queue_name, "raw publishing is for RabbitMQ tests"

    def plan(self, letters: dict[str, list[str]], not_digipost: list[str] | None = None) -> None:
        self.outbox.mkdir(parents=True, exist_ok=True)
        plan = {"letters": letters, "not_digipost": not_digipost or []}
        (self.outbox / "plan.json").write_text(json.dumps(plan), encoding="utf-8")

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "letters.cli", *args]

    def run(
        self, *args: str, timeout: float = WORKER_TIMEOUT_S, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.process_env(),
            capture_output=True,
            text=input is None,
            input=input,
            timeout=timeout,
            check=False,
            cwd=PROJECT_ROOT,
        )

    def run_worker(
        self, *args: str, timeout: float = WORKER_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        result = self.run("worker", "--until-empty", *args, timeout=timeout)
        assert result.returncode == 0, (
            f"worker failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )
        return result

    def start_worker(self, *args: str) -> subprocess.Popen[bytes]:
        with open(self.log_file(), "ab") as log:
            # The child has its own copy of the descriptor once started.
            process = subprocess.Popen(
                self.command("worker", *args),
                env=self.process_env(),
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=PROJECT_ROOT,
                # A session of its own: closing the stack kills the whole group, so no
                # worker outlives its test even if its supervisor was killed alone.
                start_new_session=True,
            )
        self._workers.append(process)
        return process

    def log_file(self) -> Path:
        path = Path(self.env["LETTERS_VAR_DIR"]) / "worker.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def process_env(self) -> dict[str, str]:
        # The developer's own LETTERS_* settings must not leak into a test's stack.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("LETTERS_")}
        return {**inherited, **self.env}

    def delivered(self, route: str | None = None) -> list[dict[str, Any]]:
        routes = [route] if route else ["digipost", "print"]
        return [r for name in routes for r in delivered_records(self.outbox, name)]

    def attempts(self, letter_id: str | None = None) -> list[str]:
        return [
            a["outcome"]
            for a in read_attempts(self.outbox)
            if letter_id is None or a["letter_id"] == letter_id
        ]

    def events(self, letter_id: str) -> list[str]:
        return [e.event for e in self.ledger.history(letter_id)]

    def queue_depth(self, queue_name: str) -> int:
        with Publisher.open(self.settings) as publisher:
            return publisher.queue_depth(queue_name)

    @property
    def topology(self) -> Any:
        return topology_for(self.settings)

    def close(self) -> None:
        for process in self._workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            if process.poll() is None:
                process.wait(timeout=10)
        try:
            check_outbox(self.ledger)
        finally:
            self.ledger.close()
        if self.env.get("LETTERS_BROKER_URL"):
            _delete_topology(self.settings)


def _delete_topology(settings: Settings) -> None:
    with Connection(settings.broker_url, connect_timeout=5) as conn:
        topology_for(settings).delete(conn.default_channel)


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stack_env(tmp_path: Path, *, broker: bool, database_url: str | None) -> dict[str, str]:
    env = {
        "LETTERS_VAR_DIR": str(tmp_path / "var"),
        "LETTERS_RETRY_DELAYS": "1s,2s",
        "LETTERS_LOG_LEVEL": "INFO",
        # The queue tests script the fake channels; the Digipost and print tests override this.
        "LETTERS_CHANNEL_DIGIPOST": "fake",
        "LETTERS_CHANNEL_PRINT": "fake",
        # Rates of test data for any day (tests/support/rates.py), not today's shipped table.
        "LETTERS_RATES_FILE": str(suite_rates_file()),
    }
    if broker:
        env["LETTERS_BROKER_URL"] = RABBITMQ_URL
        env["LETTERS_QUEUE_PREFIX"] = f"test-{uuid.uuid4().hex[:10]}."
    if database_url:
        env["LETTERS_DATABASE_URL"] = database_url
        # A shared ledger needs its secrets named, as production does.
        env.update(secrets_env(tmp_path / "secrets"))
    return env


def ledger_keys() -> LedgerKeys:
    """Fresh keys for a ledger a test makes itself (a stack's come from its settings)."""
    return LedgerKeys(FileMasterKey(os.urandom(32), KEY_FILE_SETTING), os.urandom(32))


def secrets_env(folder: Path) -> dict[str, str]:
    """The settings of a shared ledger's secrets, as files made under ``folder``: the
    password pepper, the ledger's master and index keys, and the erasure keys' database
    (a SQLite file here; another PostgreSQL database in production)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "LETTERS_ERASURE_KEYS_URL": f"sqlite:///{folder / 'erasure-keys.db'}",
        "LETTERS_PASSWORD_PEPPER_FILE": str(make_pepper_file(folder / "password-pepper")),
        "LETTERS_LEDGER_KEY_FILE": str(make_key_file(folder / "ledger-master-key")),
        "LETTERS_LEDGER_INDEX_KEY_FILE": str(make_key_file(folder / "ledger-index-key")),
    }
