"""Moving what the classic retry queues of earlier releases hold, then deleting them.

Earlier releases declared the retry queues as classic queues, which
dead-letter at most once: a letter whose TTL ran out while the work queue
could not take it was dropped. The quorum retry queues have new names (a
queue cannot be re-declared with other arguments), so the old ones are
emptied into them here, one message at a time (published with confirms,
then acknowledged), and deleted once empty. A message whose delay has no
quorum retry queue any more goes straight to the work queue. Workers of an
earlier release must be stopped first: they still publish to the old names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from amqp.exceptions import NotFound, PreconditionFailed
from kombu.entity import Queue

from letters.config import delay_label
from letters.logs import log_event
from letters.messaging.broker import DEFAULT_EXCHANGE, Publisher
from letters.messaging.topology import Topology

log = logging.getLogger("letters.worker")


@dataclass
class MigrationReport:
    # old queue -> messages moved out of it
    moved: dict[str, int] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    # old queues that still hold messages (another consumer took some meanwhile)
    kept: list[str] = field(default_factory=list)


def classic_retry_queues(
    topology: Topology, extra_delays: Iterable[float] = ()
) -> list[tuple[str, float]]:
    """The old queue names to look for, with the delay each held."""
    known = dict(topology.classic_retry_queues)
    if topology.classic_retry_queues:
        template = topology.classic_retry_queues[0]
        prefix = template[0].removesuffix(delay_label(template[1]))
        for seconds in extra_delays:
            known.setdefault(prefix + delay_label(seconds), seconds)
    return sorted(known.items(), key=lambda item: item[1])


def migrate_classic_retry_queues(
    publisher: Publisher, extra_delays: Iterable[float] = ()
) -> MigrationReport:
    """Empty every old classic retry queue on the broker into its quorum successor."""
    report = MigrationReport()
    if publisher.by_queue_name:
        return report  # the embedded transport never had them
    topology = publisher.topology
    for name, seconds in classic_retry_queues(topology, extra_delays):
        channel = publisher.connection.channel()
        try:
            channel.queue_declare(queue=name, passive=True)
        except NotFound:
            continue  # not there: nothing to move (the channel is closed by the broker)
        try:
            moved = _move_all(publisher, channel, name, seconds)
            report.moved[name] = moved
            channel.queue_delete(queue=name, if_empty=True)
            report.deleted.append(name)
        except PreconditionFailed:
            # Something published to it while it was emptied: an old worker still runs.
            report.kept.append(name)
        finally:
            if channel.is_open:
                channel.close()
        log_event(log, "classic retry queue migrated", queue=name, count=moved)
    return report


def _move_all(publisher: Publisher, channel: Any, name: str, seconds: float) -> int:
    old = Queue(name, no_declare=True)(channel)
    tier = next((t for t in publisher.topology.retry_tiers if t.delay_seconds == seconds), None)
    moved = 0
    while (message := old.get(no_ack=False)) is not None:
        headers = {k: v for k, v in (message.headers or {}).items() if k != "x-death"}
        body = message.body if isinstance(message.body, bytes) else message.body.encode()
        content_type = message.content_type or "application/json"
        encoding = message.content_encoding or "utf-8"
        if tier is not None:
            exchange, routing_key = publisher.topology.retry_exchange, tier.queue.name
        else:
            exchange, routing_key = DEFAULT_EXCHANGE, publisher.topology.work_queue.name
        publisher.publish(body, exchange, routing_key, headers, content_type, encoding)
        message.ack()
        moved += 1
    return moved
