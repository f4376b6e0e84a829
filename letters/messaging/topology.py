"""The broker topology: ``queue/topology.toml`` as kombu exchanges and queues."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amqp.exceptions import ChannelError
from kombu.entity import Exchange, Queue, binding

from letters.config import DEFAULT_RETRY_DELAYS, PROJECT_ROOT, delay_label, parse_delays
from letters.errors import ConfigurationError

TOPOLOGY_FILE = PROJECT_ROOT / "queue" / "topology.toml"
_PACKAGED_TOPOLOGY = Path(__file__).resolve().parents[1] / "_data" / "topology.toml"

# How many nodes of a cluster hold a quorum queue's replicas, from its creation on.
QUORUM_GROUP_SIZE = "x-quorum-initial-group-size"
# A quorum queue keeps a message it dead-letters until the target has confirmed it.
_AT_LEAST_ONCE = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
# The classic retry queues of earlier releases are looked for under these delays and
# the configured ones (LETTERS_RETRY_DELAYS); `letters queues migrate --delays` adds more.
_DEFAULT_DELAYS = parse_delays(DEFAULT_RETRY_DELAYS, "the default retry delays")

# Headers the service puts on the messages it republishes.
ATTEMPT_HEADER = "x-letters-attempt"
REASON_HEADER = "x-letters-reason"
DEAD_ID_HEADER = "x-letters-dead-id"
LETTER_ID_HEADER = "x-letters-letter-id"
# How often a worker stopped (died) with this message in hand; RabbitMQ's quorum queues
# count the same in DELIVERY_COUNT_HEADER, start-up recovery on the embedded broker here.
STOPS_HEADER = "x-letters-worker-stops"
DELIVERY_COUNT_HEADER = "x-delivery-count"
# On every letters.event/1 message: its event id (also the message id), and on a replay.
EVENT_ID_HEADER = "x-letters-event-id"
REPLAY_HEADER = "x-letters-replay"


@dataclass(frozen=True, slots=True)
class RetryTier:
    delay_seconds: float
    queue: Queue


@dataclass(frozen=True, slots=True)
class Topology:
    requests_exchange: Exchange
    work_queue: Queue
    retry_exchange: Exchange
    retry_tiers: tuple[RetryTier, ...]
    dead_exchange: Exchange
    dead_queue: Queue
    binding_prefix: str
    # letters.event/1 events for the case system; the queue is the case system's.
    events_exchange: Exchange
    events_queue: Queue
    case_binding_prefix: str = "case"
    # The classic retry queues of earlier releases, by name, with the delay each held.
    classic_retry_queues: tuple[tuple[str, float], ...] = ()

    @property
    def queues(self) -> tuple[Queue, ...]:
        return (
            self.work_queue,
            *(t.queue for t in self.retry_tiers),
            self.dead_queue,
            self.events_queue,
        )

    def declare(self, channel: Any) -> None:
        """Declare every exchange, queue and binding (idempotent on the broker).

        A replicated queue that exists already is bound, not declared again: RabbitMQ
        refuses a declaration whose group size differs from the one the queue was made
        with (an earlier release named none), and its members are the operators' to
        change (``rabbitmq-queues grow``), not a declaration's.
        """
        for queue in self.queues:
            bound = queue.bind(channel)
            arguments = queue.queue_arguments or {}  # type: ignore[attr-defined]
            if QUORUM_GROUP_SIZE in arguments and _exists(channel, queue.name):
                bound.queue_declare(passive=True)
                if bound.exchange is not None and bound.exchange.name:
                    bound.exchange.declare()
                    bound.queue_bind()
                for extra in bound.bindings:
                    extra.declare(channel)
                    extra.bind(bound, channel=channel)
            else:
                bound.declare()

    def delete(self, channel: Any) -> None:
        """Delete every queue and exchange (test and benchmark clean-up); messages are lost."""
        for queue in self.queues:
            channel.queue_delete(queue.name)
        for exchange in (
            self.requests_exchange,
            self.retry_exchange,
            self.dead_exchange,
            self.events_exchange,
        ):
            channel.exchange_delete(exchange.name)

    def request_routing_key(self, letter_type: str | None) -> str:
        return f"{self.binding_prefix}.{letter_type or 'unknown'}"

    def case_routing_key(self, state: str | None) -> str:
        return f"{self.case_binding_prefix}.{state or 'unknown'}"

    def retry_tier(self, failed_attempt: int) -> RetryTier | None:
        """The tier that holds a letter after its ``failed_attempt``-th try (1-based)."""
        if 1 <= failed_attempt <= len(self.retry_tiers):
            return self.retry_tiers[failed_attempt - 1]
        return None

    @property
    def max_attempts(self) -> int:
        return len(self.retry_tiers) + 1


def _exists(channel: Any, queue_name: str) -> bool:
    """Whether the broker has this queue; asked on a channel of its own, which the broker
    closes when it has none (the embedded transport has no such queues to ask about)."""
    if not hasattr(channel.connection, "channel"):
        return False
    probe = channel.connection.channel()
    try:
        probe.queue_declare(queue=queue_name, passive=True)
        return True
    except ChannelError:
        return False
    finally:
        if probe.is_open:
            probe.close()


def load_topology(
    retry_delays: Sequence[float] | None = None,
    prefix: str = "",
    path: Path | None = None,
) -> Topology:
    """Read the topology file into kombu objects.

    ``retry_delays`` (seconds) replaces the file's delays; ``prefix`` goes in
    front of every exchange and queue name.
    """
    path = path or (TOPOLOGY_FILE if TOPOLOGY_FILE.is_file() else _PACKAGED_TOPOLOGY)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        requests, work, retry, dead, events = (
            data[k] for k in ("requests", "work", "retry", "dead", "events")
        )
        if retry_delays is None:
            retry_delays = parse_delays(",".join(retry["delays"]), f"{path}: retry.delays")
        return _build(requests, work, retry, dead, events, tuple(retry_delays), prefix)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as err:
        raise ConfigurationError(f"broker topology {path}: {err!r}") from err


def _build(
    requests: dict[str, Any],
    work: dict[str, Any],
    retry: dict[str, Any],
    dead: dict[str, Any],
    events: dict[str, Any],
    delays: tuple[float, ...],
    prefix: str,
) -> Topology:
    def name(text: str) -> str:
        return f"{prefix}{text}"

    requests_exchange = Exchange(name(requests["exchange"]), requests["exchange_type"])
    dead_exchange = Exchange(name(dead["exchange"]), dead["exchange_type"])
    work_name = name(work["queue"])
    work_arguments: dict[str, Any] = {"x-dead-letter-exchange": dead_exchange.name}
    quorum = bool(work.get("quorum", False))
    replicated = (
        {"x-queue-type": "quorum", QUORUM_GROUP_SIZE: int(work["quorum_initial_group_size"])}
        if quorum
        else {}
    )
    if quorum:
        work_arguments |= {
            **replicated,
            "x-delivery-limit": int(work["delivery_limit"]),
            # At-least-once dead-lettering: the broker keeps a poison message
            # until the dead-letter queue confirms it.
            **_AT_LEAST_ONCE,
        }
    binding_key: str = requests["binding_key"]
    case_binding_key: str = requests.get("case_binding_key", "case.#")
    work_queue = Queue(
        work_name,
        bindings=[
            binding(requests_exchange, routing_key=binding_key),
            binding(requests_exchange, routing_key=case_binding_key),
        ],
        durable=True,
        queue_arguments=work_arguments,
    )
    retry_exchange = Exchange(name(retry["exchange"]), retry["exchange_type"])
    tiers = []
    for seconds in delays:
        queue_name = name(retry["queue_prefix"] + delay_label(seconds))
        tiers.append(
            RetryTier(
                delay_seconds=seconds,
                queue=Queue(
                    queue_name,
                    retry_exchange,
                    routing_key=queue_name,
                    durable=True,
                    queue_arguments={
                        "x-message-ttl": max(1, round(seconds * 1000)),
                        # Back to the work queue through the default exchange,
                        # so no other binding sees a retry.
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": work_name,
                        **({**replicated, **_AT_LEAST_ONCE} if quorum else {}),
                    },
                ),
            )
        )
    dead_queue = Queue(
        name(dead["queue"]),
        dead_exchange,
        routing_key=name(dead["queue"]),
        durable=True,
        queue_arguments=replicated or None,
    )
    events_exchange = Exchange(name(events["exchange"]), events["exchange_type"])
    events_queue = Queue(
        name(events["queue"]),
        events_exchange,
        routing_key=events["binding_key"],
        durable=True,
        queue_arguments=replicated or None,
    )
    classic_prefix = retry.get("queue_prefix_classic") if quorum else None
    classic = tuple(
        (name(f"{classic_prefix}{delay_label(seconds)}"), seconds)
        for seconds in sorted({*delays, *_DEFAULT_DELAYS})
        if classic_prefix
    )
    return Topology(
        requests_exchange=requests_exchange,
        work_queue=work_queue,
        retry_exchange=retry_exchange,
        retry_tiers=tuple(tiers),
        dead_exchange=dead_exchange,
        dead_queue=dead_queue,
        binding_prefix=binding_key.split(".", 1)[0],
        events_exchange=events_exchange,
        events_queue=events_queue,
        case_binding_prefix=case_binding_key.split(".", 1)[0],
        classic_retry_queues=classic,
    )
