"""The relay: the outbox's pending ``letters.event/1`` events to the broker, in order.

One relay at a time (a lock in the ledger's database), so events leave in the
order they were written and a letter's events in the order of its sequence.
Each chunk is published with publisher confirms and only then marked
published: a relay killed in between publishes the chunk again, with the
same event ids, and consumers drop what they have. The first worker process
relays every ``LETTERS_EVENTS_RELAY_INTERVAL``; ``letters events relay`` does
it on demand; ``letters worker --until-empty`` relays everything before it
exits. Published events are kept ``LETTERS_EVENTS_KEEP`` for the replay.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError

from letters.clock import utcnow
from letters.config import Settings
from letters.errors import TransientError
from letters.ledger import Ledger, LetterBusyError, LetterLocks, letter_locks
from letters.ledger.outbox import Outbox, OutboxEvent
from letters.logs import log_event
from letters.messaging.broker import Publisher

log = logging.getLogger("letters.events")

# Events per round trip to the ledger; a crash republishes at most this many.
CHUNK = 100
_RELAY_LOCK = "letters.events.relay"
_PRUNE_EVERY_S = 3600.0
# What a broker that is down, restarting or refusing raises through kombu.
BROKER_ERRORS = (KombuError, AMQPError, OSError)


class EventRelay:
    def __init__(
        self,
        outbox: Outbox,
        open_publisher: Callable[[], Publisher],
        lock: LetterLocks,
        keep_s: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.outbox = outbox
        self.open_publisher = open_publisher
        self.lock = lock
        self.keep = timedelta(seconds=keep_s)
        self.clock = clock
        self._publisher: Publisher | None = None
        self._pruned_at = 0.0

    def relay(self, limit: int | None = None) -> int:
        """Publish pending events, oldest first, until none are left (or ``limit``);
        how many. Another relay at work: 0 (it keeps the order). Raises TransientError
        when the broker or the ledger is unavailable; what is published stays so."""
        try:
            with self.lock.hold(_RELAY_LOCK):
                published = self._relay(limit)
        except LetterBusyError:
            return 0
        self._prune_if_due()
        return published

    def replay(self, events: Sequence[OutboxEvent]) -> int:
        """Publish these events again, marked as replays; how many."""
        publisher = self._open()
        try:
            for event in events:
                body = event.replayed().encode()
                publisher.publish_event(body, event.routing_key, event.event_id, replay=True)
        except BROKER_ERRORS as err:
            self.close()
            raise TransientError(f"events: broker unavailable: {type(err).__name__}") from err
        return len(events)

    def close(self) -> None:
        if self._publisher is not None:
            with contextlib.suppress(*BROKER_ERRORS):  # already gone
                self._publisher.close()
            self._publisher = None

    def _relay(self, limit: int | None) -> int:
        published = 0
        while limit is None or published < limit:
            chunk = self.outbox.pending(CHUNK if limit is None else min(CHUNK, limit - published))
            if not chunk:
                break
            publisher = self._open()
            try:
                for event in chunk:
                    publisher.publish_event(event.body.encode(), event.routing_key, event.event_id)
            except BROKER_ERRORS as err:
                self.close()
                raise TransientError(f"events: broker unavailable: {type(err).__name__}") from err
            self.outbox.mark_published([e.event_id for e in chunk], self.clock())
            published += len(chunk)
        if published:
            log_event(log, "events published", count=published)
        return published

    def _open(self) -> Publisher:
        if self._publisher is None:
            try:
                self._publisher = self.open_publisher()
            except BROKER_ERRORS as err:
                raise TransientError(f"events: broker unavailable: {type(err).__name__}") from err
        return self._publisher

    def _prune_if_due(self) -> None:
        if time.monotonic() - self._pruned_at < _PRUNE_EVERY_S:
            return
        self._pruned_at = time.monotonic()
        pruned = self.outbox.prune(self.clock() - self.keep)
        if pruned:
            log_event(log, "published events pruned", count=pruned)


def open_relay(settings: Settings, ledger: Ledger) -> EventRelay:
    return EventRelay(
        ledger.outbox,
        lambda: Publisher.open(settings),
        letter_locks(ledger.engine, settings.var_dir, folder="relay-lock", wait_s=0),
        settings.events.keep_s,
    )


def relay_until_empty(
    settings: Settings, ledger: Ledger, timeout_s: float = 300.0, pause_s: float = 1.0
) -> int:
    """Relay until the outbox has nothing pending, waiting out a broker that is down for
    up to ``timeout_s``; how many were published. TransientError if it stays down."""
    relay = open_relay(settings, ledger)
    deadline = time.monotonic() + timeout_s
    published = 0
    try:
        while True:
            try:
                published += relay.relay()
                if relay.outbox.pending_count() == 0:
                    return published
            except TransientError as err:
                if time.monotonic() > deadline:
                    raise
                log_event(log, "events relay waits", level=logging.WARNING, reason=str(err))
            time.sleep(pause_s)
    finally:
        relay.close()
