"""Worker benchmark: RabbitMQ + PostgreSQL ledger, 1 and 2 processes, against the renderer.

Consenting sample debtors go to Digipost (a local double in a process of its
own, over HTTP with signing and verification, as Digipost is a service of
its own), the others to the fake print channel.

    ./dev bench-worker [--letters N] [--memory-letters M]

In one run, for each process count, on a fresh queue prefix and a fresh
PostgreSQL database, with the workers started and consuming first:

1. bursts: N letters in bursts of N/10, each published at once; letters per
   second from each burst's first publish to its last delivery recorded in
   the ledger. With one process, the renderer alone (the same mix composed
   and rendered in a process of its own) renders as many letters after each
   burst, so that both are timed in the same stretches of the run: this
   machine's speed drifts by a quarter over minutes;
2. paced: N/2 letters published at 70 % of the burst rate, so that the
   publish-to-delivered latency (p50, p99) shows the pipeline, not a queue;
3. where the worker's time goes, from its own log: the share of each
   message's handling time spent composing and rendering the letter.

Then the ratios: end-to-end per process ÷ the renderer alone, and 2
processes ÷ 1; and with ``--memory-letters M``, M letters through one worker
process, its resident memory (RSS) at ten checkpoints.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from kombu.connection import Connection
from sqlalchemy import create_engine, text

from benchmarks.summary import print_summary
from letters.config import PROJECT_ROOT, Settings
from letters.ledger import Ledger
from letters.messaging.broker import Publisher, topology_for
from letters.rendering.letter_service import LetterService
from tests.support.rates import suite_rates_env, use_suite_rates
from tests.support.stacks import fresh_case, secrets_env

SAMPLES = sorted((PROJECT_ROOT / "samples").glob("*.json"))
# The benchmark's own LETTERS_STENCIL (on or off) reaches its workers; other LETTERS_* do not.
STENCIL = os.environ.get("LETTERS_STENCIL", "on")
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
    rss_mib: list[float]


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


class RendererAlone:
    """The renderer alone in a process of its own, rendering a share of the mix on demand,
    so that its turns can be interleaved with the worker's (the machine's speed drifts)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", "--renderer-alone"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.seconds = 0.0
        self.letters = 0

    def render(self, count: int) -> float:
        """Seconds to compose and render ``count`` letters."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{count}\n")
        self.process.stdin.flush()
        seconds = float(self.process.stdout.readline())
        self.seconds += seconds
        self.letters += count
        return seconds

    @property
    def letters_per_s(self) -> float:
        return self.letters / self.seconds

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _render_alone() -> None:
    with TemporaryDirectory() as workdir:
        service = LetterService(
            Settings.from_env({**secrets_env(Path(workdir)), "LETTERS_STENCIL": STENCIL})
        )
        for body in requests(2):  # warm-up, as the workers have
            service.renderer.render(service.compose_request(json.dumps(body)))
        for line in sys.stdin:
            bodies = [json.dumps(body) for body in requests(int(line))]
            started = time.perf_counter()
            for body in bodies:
                service.renderer.render(service.compose_request(body))
            print(time.perf_counter() - started, flush=True)


@contextmanager
def digipost_double(env: dict[str, str], workdir: Path) -> Iterator[str]:
    """The local Digipost double in a process of its own; its URL."""
    with open(workdir / "digipost-double.log", "wb") as log:
        double = subprocess.Popen(
            [sys.executable, "-m", "letters.cli", "digipost", "serve", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert double.stdout is not None
        line = double.stdout.readline()
        url = line.split(" at ", 1)[1].split(" ", 1)[0] if " at " in line else ""
        if not url.startswith("http"):
            raise SystemExit(f"the Digipost double did not start: {line!r}")
        yield url
    finally:
        double.terminate()
        double.wait(timeout=30)


def run(
    processes: int,
    count: int,
    workdir: Path,
    memory_letters: int = 0,
    alone: RendererAlone | None = None,
) -> Result:
    database = f"letters_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LETTERS_")},
        **suite_rates_env(),
        "LETTERS_BROKER_URL": BROKER_URL,
        "LETTERS_DATABASE_URL": POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}",
        "LETTERS_QUEUE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}.",
        "LETTERS_VAR_DIR": str(workdir / f"var-{processes}-{uuid.uuid4().hex[:6]}"),
        "LETTERS_STENCIL": STENCIL,
        **secrets_env(workdir / "secrets"),
        # The print route's letters count as delivered only with the fake: print and post
        # leaves them batched until the cut-off, which is the print benchmark's business.
        "LETTERS_CHANNEL_PRINT": "fake",
    }
    settings = Settings.from_env(env)
    log_path = Path(env["LETTERS_VAR_DIR"]) / "worker.log"
    log_path.parent.mkdir(parents=True)
    ledger = Ledger.for_settings(settings)
    ledger.upgrade()
    with digipost_double(env, workdir) as url:
        env["LETTERS_DIGIPOST_URL"] = url
        return _run(processes, count, memory_letters, env, settings, ledger, log_path, admin,
                    database, alone)  # fmt: skip


def _run(
    processes: int,
    count: int,
    memory_letters: int,
    env: dict[str, str],
    settings: Settings,
    ledger: Ledger,
    log_path: Path,
    admin: Any,
    database: str,
    alone: RendererAlone | None,
) -> Result:
    rss: list[float] = []
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

            rate, handled = _bursts(publisher, ledger, count, len(warm), alone)

            paced = requests(max(count // 2, 1))
            interval = 1 / (rate * 0.7)
            published: dict[str, float] = {}
            next_at = time.monotonic()
            for body in paced:
                time.sleep(max(0.0, next_at - time.monotonic()))
                published[body["letter_id"]] = time.time()
                publisher.publish_request(json.dumps(body).encode())
                next_at += interval
            wait_delivered(ledger, handled + len(paced), 1200)
            seen = delivered_at(ledger, list(published))
            latencies = sorted((seen[i] - published[i]) * 1000 for i in published)
            if memory_letters:
                done = handled + len(paced)
                rss = memory_checkpoints(publisher, ledger, worker.pid, done, memory_letters)
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
        rss_mib=rss,
        **_time_spent(log_path),
    )


def _bursts(
    publisher: Publisher, ledger: Ledger, count: int, done: int, alone: RendererAlone | None
) -> tuple[float, int]:
    """Letters per second over ``count`` letters in bursts of a tenth, each from its first
    publish to its last delivery; with ``alone``, the renderer alone renders as many after
    each burst, so that both are timed in the same stretch of the run. Also the letters
    the ledger has delivered by then."""
    step = max(1, count // 10)
    seconds = 0.0
    sent = 0
    while sent < count:
        burst = requests(min(step, count - sent))
        started = time.time()
        for body in burst:
            publisher.publish_request(json.dumps(body).encode())
        sent += len(burst)
        wait_delivered(ledger, done + sent, 1200)
        delivered = delivered_at(ledger, [b["letter_id"] for b in burst])
        seconds += max(delivered.values()) - started
        if alone is not None:
            alone.render(len(burst))
    return count / seconds, done + count


def memory_checkpoints(
    publisher: Publisher, ledger: Ledger, pid: int, done: int, total: int, points: int = 10
) -> list[float]:
    """Publish ``total`` more letters a tenth at a time; the worker's RSS after each tenth.

    A tenth is published only when the one before is delivered, so the queue
    stays short and the memory is the worker's, not the messages waiting.
    """
    rss = []
    step = max(1, total // points)
    sent = 0
    while sent < total:
        batch = requests(min(step, total - sent))
        for body in batch:
            publisher.publish_request(json.dumps(body).encode())
        sent += len(batch)
        wait_delivered(ledger, done + sent, 3600)
        rss.append(round(_rss_mib(pid), 1))
        print(f"  {sent:>6} letters: worker RSS {rss[-1]} MiB", flush=True)
    return rss


def _rss_mib(pid: int) -> float:
    """The RSS of the worker's consuming process: the one process, or a group's largest."""
    pids = [pid, *_children(pid)]
    sizes = []
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text(encoding="ascii")
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return max(sizes)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(p) for p in text.split()]


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


def _summary(result: Result) -> str:
    return (
        f"{result.processes} process(es): {result.letters_per_s:6.2f} letters/s; latency p50 "
        f"{result.latency_p50_ms:6.0f} ms, p99 {result.latency_p99_ms:6.0f} ms (paced at 70 % "
        f"of that rate); {result.mean_handling_ms:.0f} ms per message, "
        f"{result.render_share:.0%} of it rendering"
    )


def main() -> None:
    # Speed on any day: the letters take their rates from the suite's table of test data.
    use_suite_rates()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=400)
    parser.add_argument(
        "--memory-letters",
        type=int,
        default=0,
        metavar="M",
        help="then M letters through one process, RSS at ten checkpoints",
    )
    parser.add_argument("--renderer-alone", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.renderer_alone:
        _render_alone()
        return
    print(
        f"{args.letters} letters per run, {os.cpu_count()} CPU(s), RabbitMQ + PostgreSQL, "
        f"stencils {STENCIL} (LETTERS_STENCIL)"
    )
    results = []
    alone = RendererAlone()
    with TemporaryDirectory() as workdir:
        try:
            for processes in (1, 2):
                # The renderer alone takes turns with the one-process worker.
                result = run(
                    processes, args.letters, Path(workdir), alone=alone if processes == 1 else None
                )
                results.append(result)
                print(_summary(result))
        finally:
            alone.close()
        one, two = results
        print(
            f"renderer alone (compose + render, one process, in turns with the 1-process "
            f"worker's bursts): {alone.letters_per_s:6.2f} letters/s"
        )
        share = one.letters_per_s / alone.letters_per_s
        print(f"end-to-end per process / renderer alone: {share:.0%} "
              f"({one.letters_per_s:.2f} / {alone.letters_per_s:.2f} letters/s)")  # fmt: skip
        print(f"speed-up with 2 processes: {two.letters_per_s / one.letters_per_s:.2f}x")
        rss: list[float] = []
        if args.memory_letters:
            print(f"memory: {args.memory_letters} letters through one worker process")
            memory = run(1, 2, Path(workdir), memory_letters=args.memory_letters)
            rss = memory.rss_mib
            growth = rss[-1] - rss[0]
            print(
                f"worker RSS at {len(rss)} checkpoints (MiB): {rss}; "
                f"growth first to last {growth:+.1f} MiB"
            )
    print_summary(
        "worker",
        letters=args.letters,
        runs=[asdict(result) for result in results],
        renderer_alone_per_s=alone.letters_per_s,
        share_of_renderer=share,
        speed_up_2_processes=two.letters_per_s / one.letters_per_s,
        memory_rss_mib=rss,
    )


if __name__ == "__main__":
    main()
