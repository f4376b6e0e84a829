"""On a cluster: letters go through the loss of a RabbitMQ node and a PostgreSQL failover.

Three RabbitMQ nodes and a PostgreSQL primary with a synchronous standby, on this
machine (``tests/support/rabbitmq_cluster.py``, ``tests/support/postgres_pair.py``).
A worker group takes 50 letters; part-way, the node it is connected to (which
leads the queues) is SIGKILLed and stays down, and the database fails over to
the standby. Every letter must still be sent once, by the right channel, with its
events complete and in order. Given only the lost node's URL, the workers
cannot finish, and the same check fails. ``./dev soak --cluster`` is the long form.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.soak import (
    Counts,
    count,
    digipost_double,
    kill_group,
    letters_command,
    requests,
    soak_env,
)
from benchmarks.soak import start_group as start_worker_group
from benchmarks.soak_cluster import EventCounts, count_events
from letters.config import PROJECT_ROOT, Settings
from letters.ledger import FINISHED, Ledger
from letters.messaging.broker import Publisher
from tests.support.postgres_pair import PostgresPair
from tests.support.process_sweep import ProcessSweep
from tests.support.rabbitmq_cluster import RabbitCluster

# It runs three RabbitMQ nodes and two PostgreSQL servers: alone, with the disruptive tests.
pytestmark = [pytest.mark.cluster, pytest.mark.services]

LETTERS = 50


@dataclass
class Machines:
    cluster: RabbitCluster
    pair: PostgresPair
    sweep: ProcessSweep
    root: Path


@pytest.fixture(scope="module")
def machines() -> Iterator[Machines]:
    root = PROJECT_ROOT / "var" / f"test-cluster-{uuid.uuid4().hex[:8]}"
    try:
        with ProcessSweep(root / "pids").owning() as sweep:
            cluster = RabbitCluster(root / "rabbitmq", sweep)
            pair = PostgresPair(root / "postgresql", sweep)
            try:
                cluster.start()
                pair.start()
            except Exception as err:
                pytest.fail(
                    f"the cluster did not start (RabbitMQ and PostgreSQL installed?): {err}"
                )
            try:
                yield Machines(cluster, pair, sweep, root)
            finally:
                cluster.stop()
                pair.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _through_a_node_loss_and_a_failover(
    machines: Machines, broker_url: str, finish_within_s: float
) -> tuple[Counts, EventCounts]:
    cluster, pair, sweep = machines.cluster, machines.pair, machines.sweep
    run = machines.root / f"run-{uuid.uuid4().hex[:8]}"
    database = f"letters_{run.name.replace('-', '_')}"
    pair.sql(pair.primary, f'CREATE DATABASE "{database}"')
    env = soak_env(run, run / "var", broker_url, pair.url(database)) | {
        "LETTERS_QUEUE_PREFIX": f"{run.name}.",
        "LETTERS_RETRY_DELAYS": "1s,1s,2s,2s,3s,5s,5s,5s",
        "LETTERS_EVENTS_RELAY_INTERVAL": "1s",
        "LETTERS_BROKER_HEARTBEAT": "5",
    }
    # The letters are published through the whole cluster, whatever the workers are given.
    publishing = Settings.from_env(env | {"LETTERS_BROKER_URL": cluster.url(0)})
    bodies = requests(LETTERS)
    log = run / "workers.log"
    first = cluster.nodes[0]
    with digipost_double(env, run / "digipost-double", 0.1, sweep) as url:
        env["LETTERS_DIGIPOST_URL"] = url
        group = start_worker_group(env, log)
        sweep.register(group.pid, "worker group")
        ledger = Ledger.for_settings(publishing)
        try:
            with Publisher.open(publishing) as publisher:
                for body in bodies[: LETTERS // 2]:
                    publisher.publish_request(json.dumps(body).encode())
                _until(lambda: _finished(ledger, bodies) >= 10, 60)
                # The node the workers and the publisher are connected to, which leads the
                # queues declared through it, is lost and stays lost.
                cluster.kill(first)
                # The publisher's connection is gone: each publish must go to a live node
                # and be confirmed there.
                for body in bodies[LETTERS // 2 :]:
                    publisher.publish_request(json.dumps(body).encode())
            pair.fail_over(standby_behind_s=1.0)
            pair.rebuild_standby()
            _until(lambda: _finished(ledger, bodies) == LETTERS, finish_within_s)
        finally:
            kill_group(group)
            cluster.start_node(first)
            cluster.await_whole()
        for command in (("print", "cut", "--json"), ("events", "relay")):
            done = subprocess.run(letters_command(*command), env=env, cwd=PROJECT_ROOT,
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
        try:
            letters = count(bodies, run / "digipost-double", run / "print-drop", ledger)
            events = count_events(
                Settings.from_env(env | {"LETTERS_BROKER_URL": cluster.url(1)}),
                ledger,
                [b["letter_id"] for b in bodies],
            )
        finally:
            ledger.close()
    return letters, events


def _assert_all_sent_once_with_their_events(letters: Counts, events: EventCounts) -> None:
    for label, found in (
        ("lost", letters.lost),
        ("sent twice", letters.sent_twice),
        ("misrouted", letters.misrouted),
        ("unfinished", letters.unfinished),
        ("events missing", events.missing),
        ("events out of order", events.out_of_order),
        ("events unknown to the ledger", events.unknown),
        ("sequence numbers reused", events.conflicting),
    ):
        assert found == [], f"{len(found)} {label}: {found[:5]}"
    assert letters.to_digipost + letters.to_print == LETTERS


def test_letters_go_through_a_lost_node_and_a_database_failover(machines: Machines) -> None:
    letters, events = _through_a_node_loss_and_a_failover(
        machines, machines.cluster.url(0), finish_within_s=240
    )
    _assert_all_sent_once_with_their_events(letters, events)
    assert events.received >= 3 * LETTERS  # accepted, rendered, sent at the least


def test_given_only_the_lost_nodes_url_the_workers_cannot_finish(machines: Machines) -> None:
    # The check above is the one that would catch a worker that cannot fail over.
    only_the_first = machines.cluster.url(0).split(";", 1)[0]
    letters, events = _through_a_node_loss_and_a_failover(
        machines, only_the_first, finish_within_s=30
    )
    with pytest.raises(AssertionError, match=r"lost|unfinished"):
        _assert_all_sent_once_with_their_events(letters, events)


def _finished(ledger: Ledger, bodies: list[dict[str, object]]) -> int:
    ids = [str(b["letter_id"]) for b in bodies]
    try:
        # In a print batch is as far as a printed letter goes until the batch is cut.
        return sum(r.status in FINISHED for r in ledger.letters_in(ids))
    except Exception:  # the schema not made yet, or the database failing over: not yet
        return 0


def _until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
