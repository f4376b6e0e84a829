"""Reading ``letters.event/1`` events off the broker, as the case system does.

On the embedded broker the events wait in the events queue, and reading them
takes them (the reader is the case system there). On RabbitMQ a reader gets a
queue of its own, bound to every event and gone when it disconnects, so it
sees what is published while it runs and takes nothing from the case
system's queue; ``queue`` names a queue to read (and take from) instead.
"""

from __future__ import annotations

import json
import queue as stdlib_queue
import time
from collections.abc import Iterator
from typing import Any

from kombu.entity import Queue
from kombu.simple import SimpleQueue

from letters.config import Settings
from letters.errors import TransientError
from letters.messaging.broker import connect, reach, topology_for
from letters.messaging.event_relay import BROKER_ERRORS


def read_events(
    settings: Settings,
    *,
    follow: bool = False,
    idle_s: float = 2.0,
    queue_name: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Events as they come, until none has come for ``idle_s`` (never, with ``follow``).
    Raises TransientError when the broker cannot be reached."""
    topology = topology_for(settings)
    connection = connect(settings)
    try:
        reach(connection, cycles=3)
        if settings.embedded_broker:
            source = topology.events_queue
        elif queue_name:
            source = Queue(queue_name, no_declare=True)
        else:
            source = Queue(
                "",
                topology.events_exchange,
                routing_key="event.#",
                exclusive=True,
                auto_delete=True,
            )
        reader = SimpleQueue(connection.channel(), source)
        waited_since = time.monotonic()
        while True:
            try:
                message = reader.get(block=True, timeout=0.2)
            except stdlib_queue.Empty:
                if not follow and time.monotonic() - waited_since > idle_s:
                    return
                continue
            waited_since = time.monotonic()
            body = message.body
            message.ack()
            yield json.loads(body if isinstance(body, str | bytes) else json.dumps(body))
    except BROKER_ERRORS as err:
        raise TransientError(f"events: broker unavailable: {type(err).__name__}") from err
    finally:
        connection.release()
