"""Worker benchmark: RabbitMQ + PostgreSQL ledger, 1 and 2 processes.

Consenting sample debtors go to Digipost (the local double each worker
starts, over HTTP with signing and verification), the others to the fake
print channel.

    ./dev bench-worker [--letters N]

For each process count, on a fresh queue prefix and a fresh PostgreSQL
database, with the workers started and consuming first:

1. burst: N letters published at once; letters per second from the first
   publish to the last delivery recorded in the ledger;
2. paced: N/2 letters published at 70 % of the burst rate, so that the
   publish-to-delivered latency (p50, p99) shows the pipeline, not a queue;
3. where the worker's time goes, from its own log: the share of each
   message's handling time spent composing and rendering the letter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from kombu.connection import Connection
from sqlalchemy import create_engine, text

from letters.config import PROJECT_ROOT, Settings
from letters.domain.pepper import make_pepper_file
from letters.ledger import Ledger
from letters.messaging.broker import Publisher, topology_for
from tests.support.stacks import fresh_case

SAMPLES = sorted((PROJECT_ROOT / "samples").glob("*.json"))
BROKER_URL = os.environ.get("LETTERS_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_ADMIN_URL = os.environ.get(
    "LETTERS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Result:
    processes: int
    letters_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    render_share: float
    mean_handling_ms: float


def requests(count: int) -> list[dict[str, Any]]:
    bodies = []
    for n in range(count):
        data = json.loads(SAMPLES[n % len(SAMPLES)].read_text(encoding="utf-8"))
        data["letter_id"] = str(uuid.uuid4())
        bodies.append(fresh_case(data))
    return bodies


def wait_delivered(ledger: Ledger, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ledger.status_counts().get("delivered", 0) >= total:
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out: {ledger.status_counts()} of {total}")


def delivered_at(ledger: Ledger, letter_ids: list[str]) -> dict[str, float]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT letter_id, at FROM letter_events WHERE event = 'delivered'")
        ).all()
    wanted = set(letter_ids)
    return {r.letter_id: r.at.timestamp() for r in rows if r.letter_id in wanted}


def run(processes: int, count: int, workdir: Path) -> Result:
    database = f"letters_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LETTERS_")},
        "LETTERS_BROKER_URL": BROKER_URL,
        "LETTERS_DATABASE_URL": POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}",
        "LETTERS_QUEUE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}.",
        "LETTERS_VAR_DIR": str(workdir / f"var-{processes}"),
        "LETTERS_PASSWORD_PEPPER_FILE": str(make_pepper_file(workdir / "password-pepper")),
        # The print route's letters count as delivered only with the fake: print and post
        # leaves them batched until the cut-off, which is the print benchmark's business.
        "LETTERS_CHANNEL_PRINT": "fake",
    }
    settings = Settings.from_env(env)
    log_path = workdir / f"worker-{processes}.log"
    ledger = Ledger(settings.database_url)
    ledger.upgrade()
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "letters.cli", "worker", "--concurrency", str(processes)],
            env=env,
            stderr=log,
            stdout=subprocess.DEVNULL,
        )
    try:
        with Publisher.open(settings) as publisher:
            # Warm-up: every process renders once before the clock starts.
            warm = requests(processes * 2)
            for body in warm:
                publisher.publish_request(json.dumps(body).encode())
            wait_delivered(ledger, len(warm), 120)

            burst = requests(count)
            started = time.time()
            for body in burst:
                publisher.publish_request(json.dumps(body).encode())
            wait_delivered(ledger, len(warm) + count, 1200)
            done = delivered_at(ledger, [b["letter_id"] for b in burst])
            rate = count / (max(done.values()) - started)

            paced = requests(max(count // 2, 1))
            interval = 1 / (rate * 0.7)
            published: dict[str, float] = {}
            next_at = time.monotonic()
            for body in paced:
                time.sleep(max(0.0, next_at - time.monotonic()))
                published[body["letter_id"]] = time.time()
                publisher.publish_request(json.dumps(body).encode())
                next_at += interval
            wait_delivered(ledger, len(warm) + count + len(paced), 1200)
            seen = delivered_at(ledger, list(published))
            latencies = sorted((seen[i] - published[i]) * 1000 for i in published)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        ledger.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
        _delete_queues(settings)
    return Result(
        processes=processes,
        letters_per_s=rate,
        latency_p50_ms=statistics.median(latencies),
        latency_p99_ms=latencies[min(len(latencies) - 1, round(len(latencies) * 0.99))],
        **_time_spent(log_path),
    )


def _time_spent(log_path: Path) -> dict[str, float]:
    render = handled = messages = 0
    for line in log_path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "rendered":
            render += event["render_ms"]
        elif event.get("event") == "done":
            handled += event["duration_ms"]
            messages += 1
    return {
        "render_share": render / handled if handled else 0.0,
        "mean_handling_ms": handled / messages if messages else 0.0,
    }


def _delete_queues(settings: Settings) -> None:
    with Connection(settings.broker_url) as conn:
        topology_for(settings).delete(conn.default_channel)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=400)
    args = parser.parse_args()
    print(f"{args.letters} letters per run, {os.cpu_count()} CPU(s), RabbitMQ + PostgreSQL")
    results = []
    with TemporaryDirectory() as workdir:
        for processes in (1, 2):
            result = run(processes, args.letters, Path(workdir))
            results.append(result)
            print(
                f"{processes} process(es): {result.letters_per_s:6.2f} letters/s; "
                f"latency p50 {result.latency_p50_ms:6.0f} ms, p99 {result.latency_p99_ms:6.0f} ms "
                f"(paced at 70 % of that rate); {result.mean_handling_ms:.0f} ms per message, "
                f"{result.render_share:.0%} of it rendering"
            )
    print(f"speed-up with 2 processes: {results[1].letters_per_s / results[0].letters_per_s:.2f}x")


if __name__ == "__main__":
    main()
