"""Never lose a letter: broker restarts, dropped connections, a lost message, a database restart.

Each test breaks something on purpose while real worker processes run on
the machine's RabbitMQ and PostgreSQL, then counts what the fake channels
delivered: every letter once, none twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from amqp.exceptions import NotFound
from kombu import Connection
from kombu.entity import Queue

from letters.ledger import LetterStatus
from tests.support.services import (
    drop_broker_connections,
    queue_type,
    restart_postgres,
    restart_rabbitmq,
    start_postgres,
    stop_postgres,
)
from tests.support.stacks import Stack, sample_request, wait_for

pytestmark = pytest.mark.services


def _delivered_once(stack: Stack, letter_ids: list[str]) -> None:
    counts = Counter(d["letter_id"] for d in stack.delivered())
    assert sorted(counts) == sorted(letter_ids), "a letter is missing or unknown"
    assert set(counts.values()) == {1}
    assert stack.ledger.status_counts() == {"delivered": len(letter_ids)}


def _retry_queue(stack: Stack) -> str:
    return str(stack.topology.retry_tiers[0].queue.name)


def test_retry_queues_are_quorum_queues_that_dead_letter_at_least_once(rabbit_pg: Stack) -> None:
    rabbit_pg.run_worker()  # declares the topology and stops at once
    for tier in rabbit_pg.topology.retry_tiers:
        arguments = tier.queue.queue_arguments
        assert arguments["x-queue-type"] == "quorum"
        assert arguments["x-dead-letter-strategy"] == "at-least-once"
        assert arguments["x-overflow"] == "reject-publish"
        assert queue_type(tier.queue.name) == "quorum"


@pytest.mark.disruptive
def test_letters_waiting_in_a_retry_queue_survive_a_broker_restart(rabbit_pg: Stack) -> None:
    rabbit_pg.env["LETTERS_RETRY_DELAYS"] = "8s"
    letters = [sample_request("purring-nb-plain") for _ in range(10)]
    rabbit_pg.plan({x["letter_id"]: ["transient", "ok"] for x in letters})
    rabbit_pg.publish(*letters)
    worker = rabbit_pg.start_worker("--until-empty")
    wait_for(
        lambda: rabbit_pg.queue_depth(_retry_queue(rabbit_pg)) == 10,
        timeout=120,
        what="all ten letters waiting in the retry queue",
    )
    restart_rabbitmq(down_s=9)  # longer than the retry delay
    assert worker.wait(timeout=300) == 0, rabbit_pg.log_file().read_text()[-4000:]

    _delivered_once(rabbit_pg, [x["letter_id"] for x in letters])
    assert Counter(rabbit_pg.attempts()) == {"transient": 10, "ok": 10}


def test_a_message_lost_by_the_broker_is_found_by_the_sweep_and_delivered_once(
    rabbit_pg: Stack,
) -> None:
    rabbit_pg.env.update(
        {
            "LETTERS_RETRY_DELAYS": "5s",
            "LETTERS_SWEEP_INTERVAL": "1s",
            "LETTERS_SWEEP_RETRY_GRACE": "1s",
        }
    )
    letter = sample_request("inkassovarsel-nb-plain")
    rabbit_pg.plan({letter["letter_id"]: ["transient", "ok"]})
    rabbit_pg.publish(letter)
    worker = rabbit_pg.start_worker()
    retry_queue = _retry_queue(rabbit_pg)
    wait_for(lambda: rabbit_pg.queue_depth(retry_queue) == 1, what="the letter in the retry queue")
    with Connection(rabbit_pg.settings.broker_url) as conn:
        conn.default_channel.queue_purge(retry_queue)  # behind the worker's back

    wait_for(lambda: rabbit_pg.delivered(), timeout=60, what="the recovered letter delivered")
    worker.terminate()
    assert worker.wait(timeout=60) == 0
    _delivered_once(rabbit_pg, [letter["letter_id"]])
    events = rabbit_pg.events(letter["letter_id"])
    assert events.count("recovered") == 1
    assert events[-2:] == ["recovered", "delivered"] or events[-1] == "delivered"


def test_a_letter_that_only_looks_overdue_is_not_sent_twice(rabbit_pg: Stack) -> None:
    # The fake takes eight seconds to send; the sweep calls a letter stale after one.
    rabbit_pg.env.update({"LETTERS_SWEEP_INTERVAL": "0", "LETTERS_SWEEP_STALE_AFTER": "1s"})
    letter = sample_request("betalingsoppfordring-nb-plain")
    rabbit_pg.plan({letter["letter_id"]: ["slow:8"]})
    rabbit_pg.publish(letter)
    worker = rabbit_pg.start_worker("--concurrency", "2")
    wait_for(lambda: rabbit_pg.attempts(letter["letter_id"]), what="the slow send to start")
    time.sleep(1.5)
    recovered = rabbit_pg.run("recover", "--json")
    assert recovered.returncode == 0, recovered.stderr
    assert [x["letter_id"] for x in json.loads(recovered.stdout)["recovered"]] == [
        letter["letter_id"]
    ]
    wait_for(lambda: rabbit_pg.delivered(), timeout=60, what="the slow letter delivered")
    wait_for(
        lambda: "duplicate; already finished" in rabbit_pg.log_file().read_text(),
        timeout=60,
        what="the republished copy found finished",
    )
    worker.terminate()
    assert worker.wait(timeout=60) == 0

    assert rabbit_pg.attempts(letter["letter_id"]) == ["slow:8"]  # one send call
    _delivered_once(rabbit_pg, [letter["letter_id"]])
    assert "recovered" in rabbit_pg.events(letter["letter_id"])


def test_until_empty_with_an_unrecoverable_overdue_letter_exits_non_zero(
    rabbit_pg: Stack,
) -> None:
    rabbit_pg.env.update(
        {
            "LETTERS_RETRY_DELAYS": "3s",
            "LETTERS_SWEEP_RETRY_GRACE": "1s",
            "LETTERS_SWEEP_MAX_RECOVERIES": "0",
        }
    )
    letter = sample_request("purring-en-plain")
    rabbit_pg.plan({letter["letter_id"]: ["transient", "ok"]})
    rabbit_pg.publish(letter)
    worker = rabbit_pg.start_worker()
    retry_queue = _retry_queue(rabbit_pg)
    wait_for(lambda: rabbit_pg.queue_depth(retry_queue) == 1, what="the letter in the retry queue")
    worker.terminate()
    assert worker.wait(timeout=60) == 0
    with Connection(rabbit_pg.settings.broker_url) as conn:
        conn.default_channel.queue_purge(retry_queue)

    started = time.monotonic()
    result = rabbit_pg.run("worker", "--until-empty", timeout=120)
    elapsed = time.monotonic() - started

    assert result.returncode == 1, result.stderr[-3000:]
    assert "1 letter(s) overdue that the sweep may not recover" in result.stderr
    assert letter["letter_id"] in result.stderr
    assert elapsed < 60
    record = rabbit_pg.ledger.get(letter["letter_id"])
    assert record is not None and record.status is LetterStatus.FAILED
    recover = rabbit_pg.run("recover", "--dry-run", "--json")
    assert recover.returncode == 1
    report = json.loads(recover.stdout)
    assert [x["letter_id"] for x in report["unrecoverable"]] == [letter["letter_id"]]


@pytest.mark.disruptive
def test_a_postgresql_restart_during_a_run_delivers_every_letter_once(rabbit_pg: Stack) -> None:
    letters = [sample_request("varsel_rettslig_pagang-nb-plain") for _ in range(40)]
    rabbit_pg.publish(*letters)
    worker = rabbit_pg.start_worker("--concurrency", "2", "--until-empty")
    wait_for(lambda: len(rabbit_pg.delivered()) >= 8, timeout=120, what="eight deliveries")
    restart_postgres()
    assert worker.wait(timeout=600) == 0, rabbit_pg.log_file().read_text()[-4000:]

    _delivered_once(rabbit_pg, [x["letter_id"] for x in letters])
    assert "ledger unavailable" in rabbit_pg.log_file().read_text()


@pytest.mark.disruptive
# Bounded: with a wait shorter than the outage the letter goes back to the queue (each
# time counted towards the delivery limit, so not so short that it reaches it).
@pytest.mark.parametrize("wait", ["2m", "3s"])
def test_a_worker_that_loses_the_database_waits_for_it_with_the_letter_in_hand(
    rabbit_pg: Stack, wait: str
) -> None:
    # As in a failover to a standby: the database is gone for some seconds. Handing the
    # letter back at once would cycle the queue every second, each time counted towards
    # the broker's delivery limit and the worker-stops check; waiting holds it instead.
    rabbit_pg.env["LETTERS_LEDGER_WAIT"] = wait
    letters = [sample_request("purring-nb-plain") for _ in range(20)]
    rabbit_pg.publish(*letters)
    worker = rabbit_pg.start_worker("--concurrency", "2", "--until-empty")
    wait_for(lambda: len(rabbit_pg.delivered()) >= 4, timeout=120, what="four deliveries")
    stop_postgres()
    try:
        time.sleep(8)
    finally:
        start_postgres()
    assert worker.wait(timeout=600) == 0, rabbit_pg.log_file().read_text()[-4000:]

    _delivered_once(rabbit_pg, [x["letter_id"] for x in letters])
    log = rabbit_pg.log_file().read_text().splitlines()
    events = [json.loads(line).get("event") for line in log if line.startswith("{")]
    assert "ledger unavailable; waiting" in events
    handed_back = events.count("ledger still unavailable; letter handed back")
    if wait == "2m":
        assert "ledger back" in events
        assert handed_back == 0
        # At most the letters in hand when it went, one per worker, whose lock went with it.
        assert events.count("could not record the outcome; requeued") <= 2
    else:
        assert handed_back >= 1


@pytest.mark.disruptive
def test_connections_dropped_by_the_broker_lose_nothing(rabbit_pg: Stack) -> None:
    letters = [sample_request("purring-nb-foreign_address") for _ in range(40)]
    rabbit_pg.publish(*letters)
    worker = rabbit_pg.start_worker("--concurrency", "2", "--until-empty")
    wait_for(lambda: len(rabbit_pg.delivered()) >= 8, timeout=120, what="eight deliveries")
    drop_broker_connections()
    assert worker.wait(timeout=600) == 0, rabbit_pg.log_file().read_text()[-4000:]

    _delivered_once(rabbit_pg, [x["letter_id"] for x in letters])
    assert "Connection to broker lost" in rabbit_pg.log_file().read_text()


def _declare_classic_retry_queue(stack: Stack, name: str, work_queue: str, body: bytes) -> None:
    """A retry queue as earlier releases declared it, holding one letter for an hour."""
    with Connection(stack.settings.broker_url) as conn:
        queue = Queue(
            name,
            durable=True,
            queue_arguments={
                "x-message-ttl": 3_600_000,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": work_queue,
            },
        )(conn.default_channel)
        queue.declare()
        conn.default_channel.basic_publish(
            conn.default_channel.prepare_message(
                body, content_type="application/json", properties={"delivery_mode": 2}
            ),
            exchange="",
            routing_key=name,
        )


def _queue_exists(stack: Stack, name: str) -> bool:
    with Connection(stack.settings.broker_url) as conn:
        try:
            conn.channel().queue_declare(queue=name, passive=True)
        except NotFound:
            return False
    return True


@pytest.mark.parametrize("how", ["worker start", "letters queues migrate"])
def test_classic_retry_queues_of_an_earlier_release_are_emptied_and_deleted(
    rabbit_pg: Stack, how: str
) -> None:
    rabbit_pg.run_worker()  # this release's topology
    classic = f"{rabbit_pg.env['LETTERS_QUEUE_PREFIX']}letters.retry.1h"
    letter = sample_request("inkassovarsel-en-plain")
    work = rabbit_pg.topology.work_queue.name
    _declare_classic_retry_queue(rabbit_pg, classic, work, json.dumps(letter).encode())
    assert queue_type(classic) == "classic"

    if how == "letters queues migrate":
        result = rabbit_pg.run("queues", "migrate")
        assert result.returncode == 0, result.stderr
        assert f"{classic}: 1 message(s) moved, queue deleted" in result.stdout
    rabbit_pg.run_worker()

    assert not _queue_exists(rabbit_pg, classic)
    _delivered_once(rabbit_pg, [letter["letter_id"]])
