"""Re-send benchmark: copy and renew jobs to the Digipost double and print and post.

    ./dev bench-resend [--letters 10000] [--renew 10000] [--ratio-letters 120]
                       [--stack embedded|rabbitmq|both]

For each stack (embedded: SQLite ledger, embedded broker; rabbitmq: RabbitMQ
and a fresh PostgreSQL database), the 16 sample requests go through the
worker first (8 to the local Digipost double, 8 to print, batch cut). Their
ledger rows are then cloned into sent letters with their own letter ids and
case numbers (sharing the 16 archived PDFs, so the archive is not N copies
of the same bytes). Then, each as a real ``letters resend`` process with no
rate limit:

1. a copy job of ``--letters`` letters, then ``letters print cut`` for the
   print half;
2. renew jobs of ``--ratio-letters`` letters in 1 and then 2 processes: the
   speed-up of 2 processes over 1, measured in this run;
3. a renew job of ``--renew`` letters in 2 processes.

Each job's letters per second come from its own report; the time 100,000
letters would take is the measured rate applied to 100,000.
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

from benchmarks.summary import print_summary
from letters.clock import utcnow
from letters.config import PROJECT_ROOT, Settings
from letters.digests import sha256_hex
from letters.ledger import Ledger, LetterStatus
from letters.ledger.schema import letters
from tests.support.rates import suite_rates_env, use_suite_rates
from tests.support.stacks import secrets_env

SAMPLES = sorted((PROJECT_ROOT / "samples").glob("*.json"))
# The benchmark's own LETTERS_STENCIL (on or off) reaches its processes; other LETTERS_* do not.
STENCIL = os.environ.get("LETTERS_STENCIL", "on")
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


def clone_sent_letters(ledger: Ledger, count: int, kind: str) -> None:
    """``count`` sent letters, each a clone of a sample letter with its own letter id and case
    number (so that a renew job's letters are not all one case's); ``kind`` marks them for
    a job's ``--cases`` file."""
    with ledger.transaction() as conn:
        templates = [dict(r._mapping) for r in conn.execute(select(letters))]
    templates = [t for t in templates if not t["case_number"].startswith(_CLONED)]
    now = utcnow()
    sealer = ledger.sealer
    assert sealer is not None
    rows = []
    for index in range(count):
        row = dict(templates[index % len(templates)])
        request = json.loads(ledger.open_request(row["request"], row["letter_id"]))
        request["letter_id"] = row["letter_id"] = str(uuid.uuid4())
        case = _case_number(kind, index)
        request["case"]["case_number"] = row["case_number"] = case
        request["case"].pop("kid", None)  # the KID of the new case number is made
        plain = json.dumps(request, ensure_ascii=False, sort_keys=True)
        row["request"] = sealer.seal(plain, row["letter_id"])
        row["request_sha256"] = sha256_hex(plain.encode())
        row["status"] = LetterStatus.SENT
        row["created_at"] = row["updated_at"] = now
        rows.append(row)
    with ledger.transaction() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(letters), rows[start : start + 1000])


# Cloned letters' case numbers: 99-<job>-<n>, apart from the samples' own.
_CLONED = "99-"
_JOBS = ("copy", "renew1", "renew2", "renew")


def _case_number(kind: str, index: int) -> str:
    return f"{_CLONED}{_JOBS.index(kind)}-{index:07d}"


def resend_job(
    env: dict[str, str], workdir: Path, kind: str, count: int, mode: str, processes: int
) -> dict[str, Any]:
    """Clone ``count`` letters and run one job over exactly them; its report's figures."""
    ledger = Ledger.for_settings(Settings.from_env(env))
    try:
        clone_sent_letters(ledger, count, kind)
    finally:
        ledger.close()
    cases = workdir / f"{kind}.txt"
    cases.write_text("\n".join(_case_number(kind, i) for i in range(count)), encoding="utf-8")
    started = time.perf_counter()
    job = checked(
        letters_cli(
            env, "resend", "--cases", str(cases), "--status", "sent", "--mode", mode,
            "--processes", str(processes), "--rate", "1000000/s", "--yes", "--json",
            "--job", f"bench-{kind}",
        )
    )  # fmt: skip
    wall = time.perf_counter() - started
    report = json.loads(job.stdout)
    rate = report["this_run"]["letters_per_second"]
    return {
        "job": kind,
        "mode": mode,
        "processes": processes,
        "letters": report["letters"],
        "sent": report["sent"],
        "failed": report["failed"],
        "job_seconds": report["this_run"]["seconds"],
        "letters_per_second": rate,
        "process_seconds": round(wall, 1),
        "hours_for_100000": round(100_000 / rate / 3600, 2) if rate else None,
    }


def run(stack: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    workdir = workdir / stack
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LETTERS_")},
        **suite_rates_env(),
        "LETTERS_VAR_DIR": str(workdir),
        "LETTERS_LOG_LEVEL": "WARNING",
        "LETTERS_STENCIL": STENCIL,
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
        env.update(secrets_env(workdir / "secrets"))
    results = []
    try:
        checked(letters_cli(env, "demo"))
        if args.letters:
            copy = resend_job(env, workdir, "copy", args.letters, "copy", 1)
            started = time.perf_counter()
            cut = checked(letters_cli(env, "print", "cut", "--json"))
            copy["print_cut_seconds"] = round(time.perf_counter() - started, 1)
            copy["print_batches"] = len(json.loads(cut.stdout).get("sent", []))
            results.append(copy)
            print(json.dumps({"stack": stack, **copy}), flush=True)
        if args.ratio_letters:
            one, two = (
                resend_job(env, workdir, f"renew{n}", args.ratio_letters, "renew", n)
                for n in (1, 2)
            )
            for result in (one, two):
                results.append(result)
                print(json.dumps({"stack": stack, **result}), flush=True)
            speed_up = two["letters_per_second"] / one["letters_per_second"]
            print(f"{stack}: renew jobs of {args.ratio_letters} letters, "
                  f"1 process {one['letters_per_second']} letters/s, "
                  f"2 processes {two['letters_per_second']} letters/s: "
                  f"speed-up {speed_up:.2f}x", flush=True)  # fmt: skip
        if args.renew:
            renew = resend_job(env, workdir, "renew", args.renew, "renew", 2)
            results.append(renew)
            print(json.dumps({"stack": stack, **renew}), flush=True)
        return results
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

    from letters.messaging.broker import topology_for

    settings = Settings.from_env(env)
    with Connection(settings.broker_url, connect_timeout=5) as conn:
        topology_for(settings).delete(conn.default_channel)


def main() -> None:
    # Speed on any day: the letters take their rates from the suite's table of test data.
    use_suite_rates()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=10_000, help="the copy job's letters")
    parser.add_argument("--renew", type=int, default=10_000,
                        help="the large renew job's letters (2 processes)")  # fmt: skip
    parser.add_argument("--ratio-letters", type=int, default=120,
                        help="letters of each renew job timed in 1 and in 2 processes")  # fmt: skip
    parser.add_argument("--stack", choices=("embedded", "rabbitmq", "both"), default="both")
    args = parser.parse_args()
    stacks = ["embedded", "rabbitmq"] if args.stack == "both" else [args.stack]
    print(
        f"re-send benchmark, {os.cpu_count()} CPU(s): copy {args.letters}, renew "
        f"{args.ratio_letters} in 1 and 2 processes, renew {args.renew} in 2, stencils "
        f"{STENCIL} (LETTERS_STENCIL)",
        flush=True,
    )
    with TemporaryDirectory(prefix="bench-resend-") as tmp:
        results = {stack: run(stack, args, Path(tmp)) for stack in stacks}
    print_summary("resend", stacks=results)


if __name__ == "__main__":
    main()
