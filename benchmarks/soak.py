"""Soak: the production stack on this machine, broken on purpose, then every letter counted.

    ./dev soak [--letters 300] [--kills 12]
    ./dev soak --cluster [--letters 300] [--kills 8] [--replication sync|async]

RabbitMQ and a fresh PostgreSQL database; the local Digipost double as its
own process (``letters digipost serve``) failing a share of requests at
random (503, 500, a dropped or a late answer); print and post to a directory.
Half the letters go to consenting Digipost users, half to print. The worker
group (``letters worker --concurrency 2``) is SIGKILLed, supervisor and
workers together, at random intervals and started again; RabbitMQ's app is
restarted once and PostgreSQL once while it runs. Then a last worker drains
the queues (``--until-empty``, which runs the ledger sweep), the print
batches are cut, and the letters are counted from what Digipost's mailbox
holds, what the print manifests list and what the ledger says:

- lost: published, and neither in the mailbox nor in a manifest;
- sent twice: in the mailbox and a manifest, or in two manifests;
- misrouted: a Digipost user's letter printed, or a printed debtor's in Digipost;
- unfinished: not sent or delivered in the ledger.

Exits 1 if any count is above zero.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from kombu import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from benchmarks.summary import print_summary
from channels.digipost.channel import delivery_ids
from channels.digipost.double.store import DoubleStore
from letters.config import PROJECT_ROOT, Settings
from letters.ledger import Ledger
from letters.messaging.broker import Publisher, topology_for
from tests.support.process_sweep import ProcessSweep
from tests.support.rates import suite_rates_env, use_suite_rates
from tests.support.services import restart_postgres, restart_rabbitmq
from tests.support.stacks import fresh_case, secrets_env

BROKER_URL = os.environ.get("LETTERS_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_ADMIN_URL = os.environ.get(
    "LETTERS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SAMPLES = PROJECT_ROOT / "samples"
# Enough tries that a letter is not dead-lettered by bad luck at a 20 % failure rate.
RETRY_DELAYS = "1s,1s,2s,2s,3s,3s,5s,5s,5s,5s,5s,5s"


@dataclass
class Counts:
    published: int = 0
    to_digipost: int = 0
    to_print: int = 0
    lost: list[str] = field(default_factory=list)
    sent_twice: list[str] = field(default_factory=list)
    misrouted: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    kills: int = 0
    broker_restarts: int = 0
    database_restarts: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> int:
        return len(self.lost) + len(self.sent_twice) + len(self.misrouted) + len(self.unfinished)

    def by_kind(self) -> list[tuple[str, list[str]]]:
        return [
            ("lost", self.lost),
            ("sent twice", self.sent_twice),
            ("misrouted", self.misrouted),
            ("unfinished", self.unfinished),
        ]


def print_counted(rows: list[tuple[str, list[str]]], width: int) -> None:
    """One line per kind of failure: how many, and the first few letter ids."""
    for label, ids in rows:
        shown = f"  {', '.join(ids[:5])}{' …' if len(ids) > 5 else ''}" if ids else ""
        print(f"  {label:<{width}}{len(ids)}{shown}")


def requests(count: int) -> list[dict[str, Any]]:
    """Half to a consenting Digipost user (the ``plain`` samples), half to print."""
    plain = sorted(SAMPLES.glob("*-plain.json"))
    foreign = sorted(SAMPLES.glob("*-foreign_address.json"))
    bodies = []
    for n in range(count):
        source = (plain if n % 2 == 0 else foreign)[(n // 2) % len(plain)]
        data = json.loads(source.read_text(encoding="utf-8"))
        data["letter_id"] = str(uuid.uuid4())
        bodies.append(fresh_case(data))
    return bodies


def soak_env(workdir: Path, var: Path, broker_url: str, database_url: str) -> dict[str, str]:
    """The environment of a soak's processes: this one's without its LETTERS_ settings, the
    suite's rates, fresh queue names, secrets under ``var``, real channels (the Digipost
    double's URL is added once it runs), print to a folder, and a sweep quick to act."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LETTERS_")},
        **suite_rates_env(),
        "LETTERS_BROKER_URL": broker_url,
        "LETTERS_DATABASE_URL": database_url,
        "LETTERS_QUEUE_PREFIX": f"soak-{uuid.uuid4().hex[:8]}.",
        "LETTERS_VAR_DIR": str(var),
        **secrets_env(var / "secrets"),
        "LETTERS_RETRY_DELAYS": RETRY_DELAYS,
        "LETTERS_CHANNEL_DIGIPOST": "digipost",
        "LETTERS_CHANNEL_PRINT": "print_post",
        "LETTERS_PRINT_URL": str(workdir / "print-drop"),
        "LETTERS_PRINT_INTERVAL": "0",
        "LETTERS_DIGIPOST_SYNC_INTERVAL": "0",
        "LETTERS_DIGIPOST_TIMEOUT": "5s",
        "LETTERS_SWEEP_INTERVAL": "2s",
        "LETTERS_SWEEP_RETRY_GRACE": "5s",
        "LETTERS_SWEEP_STALE_AFTER": "30s",
        "LETTERS_LOG_LEVEL": "WARNING",
    }


def letters_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "letters.cli", *args]


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"letters_soak_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def digipost_double(
    env: dict[str, str], state: Path, fail_rate: float, sweep: ProcessSweep | None = None
) -> Iterator[str]:
    """The double as its own process; its URL."""
    process = subprocess.Popen(
        letters_command(
            "digipost", "serve", "--port", "0", "--state", str(state),
            "--fail-rate", str(fail_rate), "--seed", "7",
        ),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    if sweep is not None:
        sweep.register(process.pid, "Digipost double")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "local Digipost double at " not in line:
            raise SystemExit(f"the Digipost double did not start: {line!r}")
        yield line.split(" at ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def start_group(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A worker group in a session of its own, so that one SIGKILL takes all of it."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            letters_command("worker", "--concurrency", "2", *args),
            env=env, stdout=subprocess.DEVNULL, stderr=out, cwd=PROJECT_ROOT,
            start_new_session=True,
        )  # fmt: skip


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def count(
    bodies: list[dict[str, Any]], double_dir: Path, print_dir: Path, ledger: Ledger
) -> Counts:
    counts = Counts(published=len(bodies))
    in_mailbox = Counter(d.uuid for d in DoubleStore(double_dir).documents())
    printed: Counter[str] = Counter()
    for manifest in print_dir.glob("*/*.json"):
        printed.update(x["letter_id"] for x in json.loads(manifest.read_text())["letters"])
    records = {r.letter_id: r for r in ledger.letters_in([b["letter_id"] for b in bodies])}
    for body in bodies:
        letter_id = body["letter_id"]
        digital = bool(body["recipient"].get("digital_consent"))
        counts.to_digipost += digital
        counts.to_print += not digital
        in_digipost = in_mailbox[delivery_ids(letter_id)[1]]
        in_print = printed[letter_id]
        if in_digipost + in_print == 0:
            counts.lost.append(letter_id)
        elif in_digipost + in_print > 1:
            counts.sent_twice.append(letter_id)
        elif (in_print if digital else in_digipost) > 0:
            counts.misrouted.append(letter_id)
        record = records.get(letter_id)
        if record is None or record.status not in ("sent", "delivered"):
            counts.unfinished.append(letter_id)
    return counts


def soak(letters: int, kills: int, fail_rate: float, workdir: Path, seed: int) -> Counts:
    chance = random.Random(seed)  # noqa: S311 - when to kill, not a secret
    started = time.monotonic()
    var = workdir / "var"
    with fresh_database() as database_url:
        env = soak_env(workdir, var, BROKER_URL, database_url)
        double_dir = workdir / "digipost-double"
        log = workdir / "workers.log"
        settings = Settings.from_env(env)
        bodies = requests(letters)
        with digipost_double(env, double_dir, fail_rate) as url:
            env["LETTERS_DIGIPOST_URL"] = url
            settings = Settings.from_env(env)
            with Publisher.open(settings) as publisher:
                for body in bodies:
                    publisher.publish_request(json.dumps(body).encode())
            counts = Counts()
            broker_at, database_at = kills // 3, (2 * kills) // 3
            for round_ in range(kills):
                group = start_group(env, log)
                time.sleep(chance.uniform(2.0, 6.0))
                if round_ == broker_at:
                    restart_rabbitmq(down_s=3)
                    counts.broker_restarts += 1
                if round_ == database_at:
                    restart_postgres()
                    counts.database_restarts += 1
                time.sleep(chance.uniform(0.5, 3.0))
                kill_group(group)
                counts.kills += 1
            drain = start_group(env, log, "--until-empty")
            if drain.wait(timeout=1800) != 0:
                print(f"the draining worker exited {drain.returncode}; see {log}")
            cut = subprocess.run(letters_command("print", "cut", "--json"), env=env,
                                 cwd=PROJECT_ROOT, capture_output=True, text=True)  # fmt: skip
            if cut.returncode != 0:
                print(f"letters print cut failed: {cut.stderr[-2000:]}")
        ledger = Ledger.for_settings(Settings.from_env(env))
        try:
            result = count(bodies, double_dir, workdir / "print-drop", ledger)
        finally:
            ledger.close()
        _delete_queues(settings)
    result.kills, result.broker_restarts = counts.kills, counts.broker_restarts
    result.database_restarts = counts.database_restarts
    result.seconds = time.monotonic() - started
    return result


def _delete_queues(settings: Settings) -> None:
    with Connection(settings.broker_url, connect_timeout=10) as conn:
        topology_for(settings).delete(conn.default_channel)


def main() -> None:
    # Speed on any day: the letters take their rates from the suite's table of test data.
    use_suite_rates()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=300)
    parser.add_argument("--kills", type=int, help="SIGKILLs of the worker group (12; 8 --cluster)")
    parser.add_argument("--fail-rate", type=float, default=0.2, help="Digipost failures")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the run's files in this folder")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="three RabbitMQ nodes and a PostgreSQL pair, broken in turn (soak_cluster.py)",
    )
    parser.add_argument(
        "--replication", choices=("sync", "async"), default="sync",
        help="--cluster: the standby's replication",
    )  # fmt: skip
    args = parser.parse_args()
    if args.cluster:
        from benchmarks.soak_cluster import run

        args.kills = 8 if args.kills is None else args.kills
        sys.exit(run(args))
    args.kills = 12 if args.kills is None else args.kills
    with TemporaryDirectory() as temporary:
        workdir = args.keep or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        result = soak(args.letters, args.kills, args.fail_rate, workdir, args.seed)
    print(
        f"soak: {result.published} letters ({result.to_digipost} to Digipost users, "
        f"{result.to_print} to print), Digipost failing {args.fail_rate:.0%} of requests, "
        f"{result.kills} SIGKILLs of the worker group, {result.broker_restarts} RabbitMQ "
        f"restart(s), {result.database_restarts} PostgreSQL restart(s), {result.seconds:.0f} s"
    )
    print_counted(result.by_kind(), width=11)
    print_summary(
        "soak",
        letters=result.published,
        to_digipost=result.to_digipost,
        to_print=result.to_print,
        kills=result.kills,
        broker_restarts=result.broker_restarts,
        database_restarts=result.database_restarts,
        seconds=result.seconds,
        lost=result.lost,
        sent_twice=result.sent_twice,
        misrouted=result.misrouted,
        unfinished=result.unfinished,
    )
    sys.exit(1 if result.failures else 0)


if __name__ == "__main__":
    main()
