"""Connections and publishing: RabbitMQ by URL, or kombu's filesystem transport under ``var/``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange
from kombu.messaging import Producer

from letters.config import Settings
from letters.domain.message_body import is_case_message, peek
from letters.messaging.topology import (
    EVENT_ID_HEADER,
    REPLAY_HEADER,
    Topology,
    load_topology,
)

JSON = "application/json"
# Publishing waits for the broker: a restart or a full disk stalls, never drops.
PUBLISH_RETRY_POLICY = {
    "interval_start": 0,
    "interval_step": 1,
    "interval_max": 5,
    "max_retries": 60,
}
CONFIRM_TIMEOUT_S = 30
# Routes by queue name; retries and resumes go straight to the work queue.
DEFAULT_EXCHANGE = Exchange("")


def topology_for(settings: Settings) -> Topology:
    return load_topology(settings.retry_delays_s, settings.queue_prefix)


def connect(settings: Settings) -> Connection:
    """A kombu connection for the configured broker (not yet connected)."""
    if settings.embedded_broker:
        folders = embedded_folders(settings.broker_dir)
        for folder in (settings.broker_dir, *folders.values()):
            # The messages hold debtors' data; kombu writes them with the process's umask,
            # so the folders themselves keep everyone else out, however a caller was started.
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)
        return Connection(
            "filesystem://localhost/",
            transport_options={
                "data_folder_in": str(folders["data"]),
                "data_folder_out": str(folders["data"]),
                "control_folder": str(folders["control"]),
                # Fetched messages are moved, not deleted, into processed/ on the
                # same file system (an atomic rename), where start-up recovery
                # finds any whose consumer died before the ledger accepted it.
                "store_processed": True,
                "processed_folder": str(folders["processed"]),
                "polling_interval": 0.05,
            },
        )
    return Connection(
        settings.broker_url,
        heartbeat=settings.heartbeat_s,
        connect_timeout=10,
        transport_options={"confirm_publish": True},
    )


def reach(connection: Connection, cycles: int = 1) -> None:
    """Connect, trying every node of a failover URL in turn (``cycles`` times over) before
    giving up; kombu's OperationalError if none answers."""
    nodes = max(1, len(connection.alt or ()))
    connection.ensure_connection(max_retries=nodes * cycles, interval_start=0, interval_step=1)


def embedded_folders(broker_dir: Path) -> dict[str, Path]:
    return {name: broker_dir / name for name in ("data", "control", "processed")}


class Publisher:
    """Publishes with persistent delivery, publisher confirms and retries."""

    def __init__(
        self, topology: Topology, connection: Connection, *, owns_connection: bool = False
    ) -> None:
        self.topology = topology
        self.connection = connection
        self._owns_connection = owns_connection
        # kombu's filesystem transport keeps exchange bindings in process-global
        # state and skips writing a binding it has seen, even for another
        # folder, so a message routed through an exchange can be dropped.
        # On the embedded broker everything goes to queues by name instead.
        self.by_queue_name = connection.transport.driver_type == "filesystem"
        # The filesystem transport orders messages by the millisecond it names each file
        # after (and by chance within one): one message per millisecond keeps the order.
        self._last_ms = 0
        topology.declare(connection.default_channel)
        self.producer = Producer(connection.channel())

    @classmethod
    def open(cls, settings: Settings) -> Publisher:
        """A publisher with a connection of its own, declared topology included."""
        connection = connect(settings)
        reach(connection, cycles=3)
        return cls(topology_for(settings), connection, owns_connection=True)

    def close(self) -> None:
        if self._owns_connection:
            self.connection.release()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def publish_request(self, body: bytes, headers: Mapping[str, Any] | None = None) -> None:
        """Publish one raw ``letters.request/1`` or ``letters.case/1`` body to the requests
        exchange, routed by its letter type or its case state."""
        if self.by_queue_name:
            self.publish_to_work_queue(body, headers or {})
            return
        data = peek(body)
        if is_case_message(data):
            state = data.get("state")
            key = self.topology.case_routing_key(state if _word(state) else None)
        else:
            letter_type = data.get("letter_type")
            key = self.topology.request_routing_key(letter_type if _word(letter_type) else None)
        self.publish(body, self.topology.requests_exchange, key, headers)

    def publish_event(
        self, body: bytes, routing_key: str, event_id: str, *, replay: bool = False
    ) -> None:
        """One ``letters.event/1`` event to the events exchange (the embedded broker: the
        events queue), its id as the message id and in ``x-letters-event-id``."""
        headers = {EVENT_ID_HEADER: event_id, **({REPLAY_HEADER: True} if replay else {})}
        if self.by_queue_name:
            queue = self.topology.events_queue.name
            self.publish(body, DEFAULT_EXCHANGE, queue, headers, message_id=event_id)
            return
        exchange = self.topology.events_exchange
        self.publish(body, exchange, routing_key, headers, message_id=event_id)

    def publish_to_work_queue(self, body: bytes, headers: Mapping[str, Any]) -> None:
        """Straight to the work queue, past the exchange (retries and resumes)."""
        self.publish(body, DEFAULT_EXCHANGE, self.topology.work_queue.name, headers)

    def publish_dead(
        self, body: bytes, headers: Mapping[str, Any], content_type: str, content_encoding: str
    ) -> None:
        """To the dead-letter queue, with the reason in the headers."""
        dead = self.topology.dead_queue.name
        exchange = DEFAULT_EXCHANGE if self.by_queue_name else self.topology.dead_exchange
        self.publish(body, exchange, dead, headers, content_type, content_encoding)

    def publish(
        self,
        body: bytes,
        exchange: Exchange,
        routing_key: str,
        headers: Mapping[str, Any] | None = None,
        content_type: str = JSON,
        content_encoding: str = "utf-8",
        message_id: str | None = None,
    ) -> None:
        properties = {"message_id": message_id} if message_id else {}
        if self.by_queue_name:
            while _millisecond() <= self._last_ms:
                time.sleep(0.0002)
        self.producer.publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            headers=dict(headers or {}),
            content_type=content_type,
            content_encoding=content_encoding,
            delivery_mode=2,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
            confirm_timeout=CONFIRM_TIMEOUT_S,
            **properties,
        )
        if self.by_queue_name:
            self._last_ms = _millisecond()

    def queue_depth(self, queue_name: str) -> int:
        """Messages ready in a queue (not those held unacknowledged by consumers)."""
        channel = self.connection.default_channel
        _, count, _ = channel.queue_declare(queue=queue_name, passive=True)
        return int(count)


def _millisecond() -> int:
    """The time as kombu's filesystem transport stamps a message with it."""
    return round(time.monotonic() * 1000)


def _word(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isidentifier()
