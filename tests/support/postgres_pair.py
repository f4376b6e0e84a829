"""A PostgreSQL primary and a streaming standby on two loopback ports, under a folder of
the caller's (``var/``), run as the ``postgres`` user beside the machine's own cluster.

The standby is made with ``pg_basebackup -R``. Synchronous (the default): the
primary names any standby in ``synchronous_standby_names`` with
``synchronous_commit = on``, so a commit returns only once the standby has it on
disk, and a failover loses nothing a client was told is committed.
Asynchronous: a commit returns at once, and a failover loses what the standby had
not yet received. After a failover the old primary is rebuilt as the new
standby, as an operator would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.support.process_sweep import ProcessSweep

_VERSIONS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
DATABASE = "letters"


@dataclass
class PostgresNode:
    name: str
    port: int
    data: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class PostgresPair:
    def __init__(
        self, root: Path, sweep: ProcessSweep, *, ports: tuple[int, int] = (5441, 5442),
        synchronous: bool = True,
    ) -> None:  # fmt: skip
        if not _VERSIONS:
            raise RuntimeError("PostgreSQL's server programs are not installed")
        self.bin = _VERSIONS[-1]
        self.root = root
        self.sweep = sweep
        self.synchronous = synchronous
        self.nodes = [
            PostgresNode(f"pg-{n}", port, root / f"pg-{n}")
            for n, port in zip("ab", ports, strict=True)
        ]
        self.primary, self.standby = self.nodes
        self.failovers = 0

    # -- the pair --------------------------------------------------------------------

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres")
        self._as_postgres(
            "initdb", "-D", str(self.primary.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        with open(self.primary.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(self._settings())
        self._start(self.primary)
        self.sql(self.primary, f'CREATE DATABASE "{DATABASE}"')
        self._make_standby(self.standby, of=self.primary)

    def url(self, database: str = DATABASE) -> str:
        """libpq's several hosts: whichever is the primary takes the connection."""
        hosts = "&".join(f"host={n.address}" for n in self.nodes)
        return f"postgresql+psycopg://postgres@/{database}?{hosts}&target_session_attrs=read-write"

    def stop(self) -> None:
        for node in self.nodes:
            self._kill(node)

    # -- failures --------------------------------------------------------------------

    def fail_over(self, standby_behind_s: float = 0.0) -> None:
        """The primary dies (``pg_ctl stop -m immediate``) and the standby is promoted.

        With ``standby_behind_s``, the primary's WAL sender is paused that long first, as
        a slow link would hold the standby back: commits made meanwhile are on the primary
        only (asynchronous), or wait for the standby (synchronous) and are never reported
        as done. (Pausing the standby's receiver would not do: on loopback the WAL sent
        waits in its socket and is read after all.) The immediate stop kills the paused
        sender without its sending anything more."""
        sender = self._wal_sender(self.primary) if standby_behind_s else None
        if sender is not None:
            os.kill(sender, signal.SIGSTOP)
            time.sleep(standby_behind_s)
        self._as_postgres("pg_ctl", "stop", "-m", "immediate", "-D", str(self.primary.data))
        if self.primary.process is not None:
            self.primary.process.wait(timeout=60)
            self.primary.process = None
        self._as_postgres("pg_ctl", "promote", "-w", "-D", str(self.standby.data))
        self.primary, self.standby = self.standby, self.primary
        self.failovers += 1

    def rebuild_standby(self) -> None:
        """The old primary, its data thrown away, made again as a standby of the new one."""
        self._kill(self.standby)
        shutil.rmtree(self.standby.data, ignore_errors=True)
        self._make_standby(self.standby, of=self.primary)

    # -- helpers ---------------------------------------------------------------------

    def sql(self, node: PostgresNode, statement: str) -> list[tuple[object, ...]]:
        engine = create_engine(
            f"postgresql+psycopg://postgres@{node.address}/postgres",
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
        )
        try:
            with engine.connect() as conn:
                # The pair's own statements (the database made before its standby) do not
                # wait for a standby.
                conn.execute(text("SET synchronous_commit TO local"))
                result = conn.execute(text(statement))
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def _settings(self) -> str:
        standbys = "'*'" if self.synchronous else "''"
        return (
            "\n# a primary with one streaming standby (tests/support/postgres_pair.py)\n"
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = ''\n"
            "wal_level = replica\n"
            "max_wal_senders = 4\n"
            "wal_keep_size = '256MB'\n"
            "hot_standby = on\n"
            "synchronous_commit = on\n"
            f"synchronous_standby_names = {standbys}\n"
            "max_connections = 200\n"
            "shared_buffers = '32MB'\n"
            "logging_collector = off\n"
        )

    def _make_standby(self, node: PostgresNode, of: PostgresNode) -> None:
        self._as_postgres(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(of.port), "-U", "postgres",
            "-D", str(node.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        self._start(node)
        self._await_streaming(of)

    def _start(self, node: PostgresNode) -> None:
        log = open(self.root / f"{node.name}.log", "ab")  # noqa: SIM115 - the server's
        node.process = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(node.data), "-p", str(node.port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            user="postgres",
            start_new_session=True,
        )
        log.close()
        self.sweep.register(node.process.pid, f"PostgreSQL {node.name}")
        deadline = time.monotonic() + 60
        while subprocess.run(
            [
                str(self.bin / "pg_isready"),
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(node.port),
                "-U",
                "postgres",
            ],
            check=False,
        ).returncode:
            if node.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL {node.name} did not start; see its log")
            time.sleep(0.2)

    def _await_streaming(self, primary: PostgresNode, timeout_s: float = 60) -> None:
        wanted = "sync" if self.synchronous else "async"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = self.sql(primary, "SELECT sync_state FROM pg_stat_replication")
            if (wanted,) in states:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the standby of {primary.name} is not streaming ({wanted})")

    def _wal_sender(self, node: PostgresNode) -> int | None:
        rows = self.sql(node, "SELECT pid FROM pg_stat_replication")
        return int(rows[0][0]) if rows and rows[0][0] else None  # type: ignore[call-overload]

    def _kill(self, node: PostgresNode) -> None:
        if node.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=60)
        node.process = None

    def _as_postgres(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin / program), *args],
            user="postgres",
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"{program} failed: {done.stderr.strip()[-2000:]}")


class CommitCanary(threading.Thread):
    """Commits a numbered row every few milliseconds through the pair's URL, as the
    workers commit, and keeps the numbers the database acknowledged: after a failover,
    ``forgotten()`` says how many of those the new primary does not have."""

    def __init__(self, pair: PostgresPair) -> None:
        super().__init__(name="commit canary", daemon=True)
        database = f"canary_{pair.failovers}"
        pair.sql(pair.primary, f'CREATE DATABASE "{database}"')
        self.url = pair.url(database)
        self.engine = create_engine(self.url, pool_pre_ping=True)
        with self.engine.begin() as conn:
            conn.execute(text("CREATE TABLE acknowledged (n integer PRIMARY KEY)"))
        self.acknowledged: list[int] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self._stopping.is_set():
            n += 1
            try:
                with self.engine.begin() as conn:
                    conn.execute(text("INSERT INTO acknowledged VALUES (:n)"), {"n": n})
                self.acknowledged.append(n)
            except Exception:  # the database failing over: not acknowledged, try the next
                time.sleep(0.2)
            time.sleep(0.01)

    def forgotten(self) -> int:
        self._stopping.set()
        self.join(timeout=120)
        with self.engine.begin() as conn:
            kept = {row[0] for row in conn.execute(text("SELECT n FROM acknowledged"))}
        self.engine.dispose()
        return sum(n not in kept for n in self.acknowledged)
