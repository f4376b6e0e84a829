"""Soak on a cluster: three RabbitMQ nodes and a PostgreSQL primary with a standby, broken
on purpose while letters go through, then every letter and every event counted.

    ./dev soak --cluster [--letters 300] [--kills 8] [--replication sync|async]

On this machine, under ``var/``: three clustered RabbitMQ nodes on 5781-5783
(``tests/support/rabbitmq_cluster.py``), and a PostgreSQL primary on 5441 with a
streaming standby on 5442 made by ``pg_basebackup -R``
(``tests/support/postgres_pair.py``); synchronous unless ``--replication async``.
Two worker groups (``letters worker --concurrency 2``), one pointed first at
node a and one at node b, each with the whole cluster in its URL; the Digipost
double fails a share of requests at random; print goes to a directory. The
letters are published while it runs, through the cluster, by a publisher that
rides out the faults. At random moments, in random order:

- the node that leads the work queue is SIGKILLed, and brought back;
- one node's Erlang VM is paused (SIGSTOP) past the net tick time, cut off from
  its peers and clients, then let go and the cluster awaited whole again;
- the PostgreSQL standby falls behind (the primary's WAL sender paused for two
  seconds), the primary is killed (``pg_ctl stop -m immediate``), the standby
  promoted, and the old primary rebuilt as the new standby; a canary writer
  commits rows throughout, and the rows the database acknowledged and the new
  primary does not have are counted (commits forgotten);
- and between them, SIGKILLs of a worker group, as the single-node soak does.

Then a last worker drains the queues, the print batches are cut, and the letters
are counted as ``./dev soak`` counts them (lost, sent twice, misrouted,
unfinished), and the events queue is read whole and held against the ledger's
outbox: an event the ledger wrote and the queue never got is missing; a
letter's events that arrived in another order than their sequence are out of
order; one the queue has and the ledger does not know (it forgot it in a
failover), or two different events with one letter's sequence number, are
counted too. Exits 1 on any of these, or any commit forgotten, above zero.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from benchmarks.soak import (
    Counts,
    count,
    digipost_double,
    kill_group,
    letters_command,
    print_counted,
    requests,
    soak_env,
    start_group,
)
from benchmarks.summary import print_summary
from letters.config import PROJECT_ROOT, Settings
from letters.ledger import FINISHED, Ledger
from letters.ledger.schema import event_outbox
from letters.messaging.broker import Publisher
from letters.messaging.event_tail import read_events
from tests.support.postgres_pair import CommitCanary, PostgresPair
from tests.support.process_sweep import ProcessSweep
from tests.support.rabbitmq_cluster import NET_TICKTIME_S, RabbitCluster

FAULTS = ("leader kill", "partition", "database failover")


@dataclass
class EventCounts:
    received: int = 0
    missing: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    conflicting: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        found = (self.missing, self.out_of_order, self.unknown, self.conflicting)
        return sum(len(ids) for ids in found)


@dataclass
class ClusterRun:
    letters: Counts
    events: EventCounts
    faults: list[str]
    replication: str
    published_again: int = 0
    seconds: float = 0.0
    # Acknowledged commits of the canary writer that the database failover forgot.
    commits_forgotten: int = 0

    @property
    def failures(self) -> int:
        return self.letters.failures + self.events.failures + self.commits_forgotten


class SteadyPublisher(threading.Thread):
    """Publishes the bodies one by one over ``spread_s``, through whichever node is up:
    a publish that fails (not confirmed) is published again on a new connection, never
    taken as done."""

    def __init__(self, settings: Settings, bodies: list[dict[str, Any]], spread_s: float) -> None:
        super().__init__(name="publisher", daemon=True)
        self.settings = settings
        self.bodies = bodies
        self.pause_s = spread_s / max(1, len(bodies))
        self.published_again = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        publisher: Publisher | None = None
        try:
            for body in self.bodies:
                raw = json.dumps(body).encode()
                while True:
                    try:
                        if publisher is None:
                            publisher = Publisher.open(self.settings)
                        publisher.publish_request(raw)
                        break
                    except Exception:  # any broker failure: a new connection, the same body
                        self.published_again += 1
                        if publisher is not None:
                            with contextlib.suppress(Exception):
                                publisher.close()
                        publisher = None
                        time.sleep(1)
                time.sleep(self.pause_s)
        except BaseException as err:  # reported by the soak, which then fails
            self.error = err
        finally:
            if publisher is not None:
                with contextlib.suppress(Exception):
                    publisher.close()


def cluster_soak(
    letters: int, kills: int, fail_rate: float, workdir: Path, seed: int, synchronous: bool
) -> ClusterRun:
    chance = random.Random(seed)  # noqa: S311 - when to break what, not a secret
    started = time.monotonic()
    var = workdir / "var"
    with ProcessSweep(workdir / "pids").owning() as sweep:
        cluster = RabbitCluster(var / "rabbitmq", sweep)
        pair = PostgresPair(var / "postgresql", sweep, synchronous=synchronous)
        print("starting three RabbitMQ nodes and a PostgreSQL primary with a standby", flush=True)
        cluster.start()
        pair.start()
        env = soak_env(workdir, var / "letters", cluster.url(0), pair.url()) | {
            # A node cut off is noticed by its clients within about this many seconds.
            "LETTERS_BROKER_HEARTBEAT": "5",
        }
        double_dir = workdir / "digipost-double"
        log = workdir / "workers.log"
        bodies = requests(letters)
        faults: list[str] = []
        commits_forgotten = 0
        with digipost_double(env, double_dir, fail_rate, sweep) as url:
            env["LETTERS_DIGIPOST_URL"] = url
            group_env = [env | {"LETTERS_BROKER_URL": cluster.url(n)} for n in (0, 1)]
            groups = [start_group(e, log) for e in group_env]
            for group in groups:
                sweep.register(group.pid, "worker group")
            # Publishing goes on through the faults (which take about two minutes), so that
            # some publishes meet a node going down.
            spread_s = min(120.0, letters * 0.4)
            publisher = SteadyPublisher(Settings.from_env(env), bodies, spread_s)
            publisher.start()
            # The faults come once letters flow: a database failover during the workers'
            # start-up would find nothing in flight to lose.
            _await_finished(Settings.from_env(env), bodies, max(5, letters // 20))
            order = list(FAULTS)
            chance.shuffle(order)
            plan = order + ["worker kill"] * max(0, kills - len(order))
            for n, step in enumerate(plan):
                time.sleep(chance.uniform(2.0, 6.0))
                which = chance.randrange(2)
                kill_group(groups[which])
                groups[which] = start_group(group_env[which], log)
                sweep.register(groups[which].pid, "worker group")
                if step != "worker kill":
                    what, forgotten = _break(step, cluster, pair, chance, env)
                    commits_forgotten += forgotten
                    print(f"  {n + 1}. {what}", flush=True)
                    faults.append(step)
            publisher.join()
            if publisher.error is not None:
                raise SystemExit(f"the publisher failed: {publisher.error!r}")
            for group in groups:
                kill_group(group)
            drain = start_group(env, log, "--until-empty")
            sweep.register(drain.pid, "draining worker")
            if drain.wait(timeout=1800) != 0:
                print(f"the draining worker exited {drain.returncode}; see {log}")
            cut = subprocess.run(letters_command("print", "cut", "--json"), env=env,
                                 cwd=PROJECT_ROOT, capture_output=True, text=True)  # fmt: skip
            if cut.returncode != 0:
                print(f"letters print cut failed: {cut.stderr[-2000:]}")
            # The cut's own events (the printed letters sent) leave the outbox too.
            relayed = subprocess.run(letters_command("events", "relay"), env=env,
                                     cwd=PROJECT_ROOT, capture_output=True, text=True)  # fmt: skip
            if relayed.returncode != 0:
                print(f"letters events relay failed: {relayed.stderr[-2000:]}")
        settings = Settings.from_env(env)
        ledger = Ledger.for_settings(settings)
        try:
            counted = count(bodies, double_dir, workdir / "print-drop", ledger)
            events = count_events(settings, ledger, [b["letter_id"] for b in bodies])
        finally:
            ledger.close()
        counted.kills = len(plan)
        return ClusterRun(
            counted,
            events,
            faults,
            "synchronous" if synchronous else "asynchronous",
            publisher.published_again,
            time.monotonic() - started,
            commits_forgotten,
        )


def _await_finished(settings: Settings, bodies: list[dict[str, Any]], wanted: int) -> None:
    ids = [b["letter_id"] for b in bodies]
    ledger = Ledger.for_settings(settings)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # the schema not made yet
                if sum(r.status in FINISHED for r in ledger.letters_in(ids)) >= wanted:
                    return
            time.sleep(0.5)
    finally:
        ledger.close()
    raise SystemExit(f"not {wanted} letters finished within 5 minutes of the start")


def _break(
    step: str, cluster: RabbitCluster, pair: PostgresPair, chance: random.Random,
    env: dict[str, str],
) -> tuple[str, int]:  # fmt: skip
    """Do one fault and heal it; what was done, and how many acknowledged commits the
    database forgot."""
    started = time.monotonic()
    forgotten = 0
    if step == "leader kill":
        work_queue = env["LETTERS_QUEUE_PREFIX"] + "letters.work"
        leader = cluster.leader_of(work_queue)
        cluster.kill(leader)
        time.sleep(chance.uniform(3.0, 8.0))
        cluster.start_node(leader)
        cluster.await_whole()
        after = cluster.leader_of(work_queue).name
        what = f"SIGKILL of {leader.name}, leader of the work queue (now {after}), and back"
    elif step == "partition":
        node = chance.choice(cluster.nodes)
        cluster.pause(node)
        cut_s = NET_TICKTIME_S * 1.5 + chance.uniform(0, 5)
        time.sleep(cut_s)
        cluster.resume(node)
        healed = cluster.heal(node)
        what = f"{node.name} cut off (VM paused) for {cut_s:.0f} s; the cluster {healed}"
    else:
        old = pair.primary.name
        canary = CommitCanary(pair)
        canary.start()
        time.sleep(1)
        pair.fail_over(standby_behind_s=2.0)
        time.sleep(chance.uniform(3.0, 6.0))
        pair.rebuild_standby()
        forgotten = canary.forgotten()
        what = (
            f"PostgreSQL failover: {old} killed with its standby 2 s behind, "
            f"{pair.primary.name} promoted, {old} rebuilt as its standby; "
            f"{forgotten} of {len(canary.acknowledged)} acknowledged commits of a canary "
            "writer forgotten"
        )

    return f"{what} ({time.monotonic() - started:.0f} s)", forgotten


def count_events(settings: Settings, ledger: Ledger, letter_ids: list[str]) -> EventCounts:
    """The events queue, read whole, held against the ledger's outbox."""
    ours = set(letter_ids)
    queue = settings.queue_prefix + "letters.events"
    received = [e for e in read_events(settings, queue_name=queue, idle_s=5.0)]
    query = select(event_outbox.c.event_id, event_outbox.c.letter_id, event_outbox.c.sequence)
    with ledger.transaction() as conn:
        written = {r.event_id: (r.letter_id, r.sequence) for r in conn.execute(query)}
    counts = EventCounts(received=len(received))
    seen: dict[str, list[int]] = defaultdict(list)
    ids_of: dict[tuple[str, int], set[str]] = defaultdict(set)
    for event in received:
        letter_id, sequence = event.get("letter_id"), event.get("sequence")
        if letter_id not in ours or sequence is None:
            continue
        if event["event_id"] not in written:
            counts.unknown.append(event["event_id"])
        ids_of[(letter_id, sequence)].add(event["event_id"])
        if sequence not in seen[letter_id]:
            seen[letter_id].append(sequence)
    got = {event["event_id"] for event in received}
    counts.missing = [
        event_id for event_id, (letter_id, _) in written.items()
        if letter_id in ours and event_id not in got
    ]  # fmt: skip
    counts.out_of_order = [lid for lid, order in seen.items() if order != sorted(order)]
    counts.conflicting = [f"{lid}#{seq}" for (lid, seq), ids in ids_of.items() if len(ids) > 1]
    return counts


def run(args: Any) -> int:
    workdir = args.keep or PROJECT_ROOT / "var" / f"soak-cluster-{uuid.uuid4().hex[:8]}"
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = cluster_soak(
            args.letters, args.kills, args.fail_rate, workdir, args.seed,
            args.replication == "sync",
        )  # fmt: skip
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return report(result, args.fail_rate)


def report(result: ClusterRun, fail_rate: float) -> int:
    letters, events = result.letters, result.events
    print(
        f"soak --cluster: {letters.published} letters ({letters.to_digipost} to Digipost users, "
        f"{letters.to_print} to print), Digipost failing {fail_rate:.0%} of requests, "
        f"{result.replication} replication; {letters.kills} worker-group SIGKILLs and "
        f"{', '.join(result.faults)}; {result.published_again} publishes retried; "
        f"{result.seconds:.0f} s"
    )
    print_counted(letters.by_kind(), width=26)
    print(f"  {'commits forgotten':<26}{result.commits_forgotten}  (the canary's, in the failover)")
    print(f"  {'events received':<26}{events.received}")
    print_counted(
        [
            ("events missing", events.missing),
            ("events out of order", events.out_of_order),
            ("events the ledger forgot", events.unknown),
            ("sequence numbers reused", events.conflicting),
        ],
        width=26,
    )
    print_summary(
        "soak-cluster",
        letters=letters.published,
        replication=result.replication,
        faults=result.faults,
        kills=letters.kills,
        published_again=result.published_again,
        seconds=round(result.seconds),
        lost=letters.lost,
        sent_twice=letters.sent_twice,
        misrouted=letters.misrouted,
        unfinished=letters.unfinished,
        events_received=events.received,
        events_missing=events.missing,
        events_out_of_order=events.out_of_order,
        events_unknown=events.unknown,
        events_conflicting=events.conflicting,
        commits_forgotten=result.commits_forgotten,
    )
    return 1 if result.failures else 0
