"""queue/topology.toml as kombu objects."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from amqp.exceptions import PreconditionFailed
from kombu import Connection

from letters.config import delay_label, parse_delays
from letters.errors import ConfigurationError
from letters.messaging.topology import load_topology
from tests.support.stacks import RABBITMQ_URL


def test_the_topology_file_declares_the_work_retry_and_dead_letter_queues() -> None:
    topology = load_topology()
    assert topology.requests_exchange.name == "letters.requests"
    assert topology.requests_exchange.type == "topic"
    work = topology.work_queue
    assert work.name == "letters.work"
    # Requests and case messages share the work queue, so one worker sees both in order.
    assert sorted(b.routing_key for b in work.bindings) == ["case.#", "request.#"]
    assert work.queue_arguments == {
        "x-dead-letter-exchange": "letters.dead",
        "x-queue-type": "quorum",
        # Replicas on three nodes of a cluster (one on a single node).
        "x-quorum-initial-group-size": 3,
        "x-delivery-limit": 10,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    assert [t.queue.name for t in topology.retry_tiers] == [
        "letters.retry.quorum.10s",
        "letters.retry.quorum.1m",
        "letters.retry.quorum.10m",
        "letters.retry.quorum.1h",
    ]
    ttl = [t.queue.queue_arguments["x-message-ttl"] for t in topology.retry_tiers]
    assert ttl == [10_000, 60_000, 600_000, 3_600_000]
    for tier in topology.retry_tiers:
        assert tier.queue.queue_arguments == {
            "x-message-ttl": tier.queue.queue_arguments["x-message-ttl"],
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "letters.work",
            "x-queue-type": "quorum",
            "x-quorum-initial-group-size": 3,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    for queue in (topology.dead_queue, topology.events_queue):
        assert queue.queue_arguments == {"x-queue-type": "quorum", "x-quorum-initial-group-size": 3}
    # The classic retry queues of earlier releases, looked for to be emptied and deleted.
    assert topology.classic_retry_queues == (
        ("letters.retry.10s", 10),
        ("letters.retry.1m", 60),
        ("letters.retry.10m", 600),
        ("letters.retry.1h", 3600),
    )
    assert topology.dead_queue.name == "letters.dead"
    assert topology.max_attempts == 5
    assert topology.request_routing_key("purring") == "request.purring"
    assert topology.case_routing_key("disputed") == "case.disputed"


@pytest.mark.services
def test_a_replicated_queue_is_made_with_its_group_size_and_one_made_without_is_kept() -> None:
    prefix = f"topology-{uuid.uuid4().hex[:8]}."
    topology = load_topology(retry_delays=(1.0,), prefix=prefix)
    work = topology.work_queue.name
    with Connection(RABBITMQ_URL, connect_timeout=10) as conn:
        try:
            # An earlier release made the events queue without a group size.
            conn.default_channel.queue_declare(
                topology.events_queue.name,
                durable=True,
                auto_delete=False,
                arguments={"x-queue-type": "quorum"},
            )
            topology.declare(conn.default_channel)
            topology.declare(conn.default_channel)  # and again, as every worker start does
            # Bound as before: an event published to the exchange reaches it.
            producer = conn.Producer()
            producer.publish(b"{}", exchange=topology.events_exchange, routing_key="event.sent")
            assert _ready(conn, topology.events_queue.name) == 1
            # The new queue was made with the group size: declaring it without is refused.
            without = dict(topology.work_queue.queue_arguments or {})
            del without["x-quorum-initial-group-size"]
            with pytest.raises(PreconditionFailed, match="x-quorum-initial-group-size"):
                conn.channel().queue_declare(
                    work, durable=True, auto_delete=False, arguments=without
                )
        finally:
            topology.delete(conn.channel())


def _ready(conn: Connection, queue: str) -> int:
    for _ in range(50):
        _, count, _ = conn.channel().queue_declare(queue, passive=True)
        if count:
            return int(count)
        time.sleep(0.1)
    return 0


def test_delays_and_prefix_come_from_settings() -> None:
    topology = load_topology(retry_delays=(0.5, 90), prefix="ci-7.")
    assert [t.queue.name for t in topology.retry_tiers] == [
        "ci-7.letters.retry.quorum.500ms",
        "ci-7.letters.retry.quorum.90s",
    ]
    # Old queues of the configured delays and of the defaults are both looked for.
    assert [name for name, _ in topology.classic_retry_queues] == [
        "ci-7.letters.retry.500ms",
        "ci-7.letters.retry.10s",
        "ci-7.letters.retry.1m",
        "ci-7.letters.retry.90s",
        "ci-7.letters.retry.10m",
        "ci-7.letters.retry.1h",
    ]
    assert topology.work_queue.name == "ci-7.letters.work"
    assert topology.retry_tier(1).delay_seconds == 0.5  # type: ignore[union-attr]
    assert topology.retry_tier(2).delay_seconds == 90  # type: ignore[union-attr]
    assert topology.retry_tier(3) is None
    assert load_topology(retry_delays=()).max_attempts == 1


def test_a_broken_topology_file_is_a_configuration_error(tmp_path: Path) -> None:
    broken = tmp_path / "topology.toml"
    broken.write_text("[requests]\nexchange = 'x'\n")
    with pytest.raises(ConfigurationError, match="topology"):
        load_topology(path=broken)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s,1m,10m,1h", (10, 60, 600, 3600)), ("500ms, 2", (0.5, 2)), ("", ())],
)
def test_retry_delays_parse(text: str, seconds: tuple[float, ...]) -> None:
    assert parse_delays(text, "LETTERS_RETRY_DELAYS") == seconds


@pytest.mark.parametrize("text", ["10x", "0s", "-1s", "soon"])
def test_bad_retry_delays_name_the_setting(text: str) -> None:
    with pytest.raises(ConfigurationError, match="LETTERS_RETRY_DELAYS"):
        parse_delays(text, "LETTERS_RETRY_DELAYS")


def test_delay_labels() -> None:
    assert [delay_label(s) for s in (0.25, 10, 60, 90, 600, 3600, 7200)] == [
        "250ms",
        "10s",
        "1m",
        "90s",
        "10m",
        "1h",
        "2h",
    ]
