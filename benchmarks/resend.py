"""Re-send benchmark: a copy job of N letters to the Digipost double and print and post.

    ./dev bench-resend [--letters 10000] [--stack embedded|rabbitmq|both]

For each stack (embedded: SQLite ledger, embedded broker; rabbitmq: RabbitMQ
and a fresh PostgreSQL database), the 16 sample requests go through the
worker first (8 to the local Digipost double, 8 to print, batch cut). Their
ledger rows are then cloned into N sent letters with their own letter ids
(sharing the 16 archived PDFs, so the archive is not N copies of the same
bytes). The benchmark times ``letters resend --mode copy`` over all of them
with no rate limit, as a real process, then ``letters print cut`` for the
print half. It prints letters per second, from the job's own report, and
the seconds to cut and deliver the print batches.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import create_engine, insert, select, text

from letters.clock import utcnow
from letters.config import PROJECT_ROOT
from letters.digests import sha256_hex
from letters.domain.pepper import make_pepper_file
from letters.ledger import Ledger, LetterStatus
from letters.ledger.schema import letters

SAMPLES = sorted((PROJECT_ROOT / "samples").glob("*.json"))
BROKER_URL = os.environ.get("LETTERS_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_ADMIN_URL = os.environ.get(
    "LETTERS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def letters_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "letters.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )


def checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def clone_sent_letters(ledger: Ledger, count: int) -> None:
    """``count`` sent letters, each a clone of one of the sample letters with its own id."""
    with ledger.transaction() as conn:
        templates = [dict(r._mapping) for r in conn.execute(select(letters))]
    now = utcnow()
    rows = []
    for index in range(count):
        row = dict(templates[index % len(templates)])
        request = json.loads(row["request"])
        request["letter_id"] = row["letter_id"] = str(uuid.uuid4())
        row["request"] = json.dumps(request, ensure_ascii=False, sort_keys=True)
        row["request_sha256"] = sha256_hex(row["request"].encode())
        row["status"] = LetterStatus.SENT
        row["created_at"] = row["updated_at"] = now
        rows.append(row)
    with ledger.transaction() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(letters), rows[start : start + 1000])


def run(stack: str, count: int, workdir: Path) -> dict[str, Any]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LETTERS_")},
        "LETTERS_VAR_DIR": str(workdir / stack),
        "LETTERS_LOG_LEVEL": "WARNING",
    }
    database = None
    if stack == "rabbitmq":
        database = f"letters_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        env["LETTERS_BROKER_URL"] = BROKER_URL
        env["LETTERS_QUEUE_PREFIX"] = f"bench-{uuid.uuid4().hex[:8]}."
        env["LETTERS_DATABASE_URL"] = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
        pepper = make_pepper_file(workdir / stack / "password-pepper")
        env["LETTERS_PASSWORD_PEPPER_FILE"] = str(pepper)
    try:
        checked(letters_cli(env, "demo"))
        ledger = Ledger(
            env.get("LETTERS_DATABASE_URL") or f"sqlite:///{workdir / stack}/letters.db"
        )
        try:
            clone_sent_letters(ledger, count)
        finally:
            ledger.close()
        started = time.perf_counter()
        job = checked(
            letters_cli(
                env, "resend", "--status", "sent", "--status", "delivered", "--mode", "copy",
                "--rate", "1000000/s", "--yes", "--json", "--job", f"bench-{stack}",
            )
        )  # fmt: skip
        wall = time.perf_counter() - started
        report = json.loads(job.stdout)
        started = time.perf_counter()
        cut = checked(letters_cli(env, "print", "cut", "--json"))
        cut_s = time.perf_counter() - started
        batches = json.loads(cut.stdout)
        return {
            "stack": stack,
            "letters": report["letters"],
            "sent": report["sent"],
            "failed": report["failed"],
            "job_seconds": report["this_run"]["seconds"],
            "letters_per_second": report["this_run"]["letters_per_second"],
            "process_seconds": round(wall, 1),
            "print_cut_seconds": round(cut_s, 1),
            "print_batches": len(batches.get("sent", [])),
        }
    finally:
        if database:
            _drop(database)
            _drop_queues(env)


def _drop(database: str) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()


def _drop_queues(env: dict[str, str]) -> None:
    from kombu import Connection

    from letters.config import Settings
    from letters.messaging.broker import topology_for

    settings = Settings.from_env(env)
    with Connection(settings.broker_url, connect_timeout=5) as conn:
        topology_for(settings).delete(conn.default_channel)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=10_000)
    parser.add_argument("--stack", choices=("embedded", "rabbitmq", "both"), default="both")
    args = parser.parse_args()
    stacks = ["embedded", "rabbitmq"] if args.stack == "both" else [args.stack]
    with TemporaryDirectory(prefix="bench-resend-") as tmp:
        for stack in stacks:
            result = run(stack, args.letters, Path(tmp))
            print(json.dumps(result))


if __name__ == "__main__":
    main()
