"""The queue consumer: one kombu consumer per process, prefetch 1, ack after the ledger.

For each message: run the pipeline; on success acknowledge; on a failure,
hand it to its disposition (``letters.worker.disposition``: retry later, or
dead-letter with the reason), which acknowledges once that is recorded. A
configuration error stops the worker with the message unacknowledged, so it
waits for a fixed deployment. Between messages: the periodic work, the due
retries of the embedded transport, the sweep, and ``--until-empty``'s test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from kombu.connection import Connection
from kombu.message import Message
from kombu.messaging import Consumer
from kombu.mixins import ConsumerMixin

from letters import metrics
from letters.clock import utcnow
from letters.config import SweepSettings
from letters.delivery.pipeline import Pipeline
from letters.delivery.rates import release_held
from letters.domain.message_body import (
    DEFAULT_LIMITS,
    BodyLimits,
    is_case_message,
    peek,
    peek_letter_id,
)
from letters.domain.text import shape
from letters.errors import ConfigurationError, PermanentError, TransientError
from letters.ledger import Ledger, LedgerUnavailableError, LetterRecord, OverdueLetter
from letters.logs import log_event
from letters.messaging.broker import Publisher
from letters.messaging.topology import (
    ATTEMPT_HEADER,
    DELIVERY_COUNT_HEADER,
    STOPS_HEADER,
    Topology,
)
from letters.worker.disposition import Disposition, as_bytes, shortened
from letters.worker.periodic import PeriodicTask
from letters.worker.recovery import forget_processed
from letters.worker.sweep import SweepReport, sweep

log = logging.getLogger("letters.worker")

ACCEPTED_CONTENT_TYPES = frozenset({"application/json", "text/plain", "application/data", ""})
# How far ahead a scheduled retry keeps ``--until-empty`` waiting.
_RETRY_HORIZON = timedelta(hours=2)


class LetterWorker(ConsumerMixin):
    def __init__(
        self,
        connection: Connection,
        topology: Topology,
        pipeline: Pipeline,
        ledger: Ledger,
        *,
        broker_retries: bool,
        until_empty: bool = False,
        idle_poll_s: float = 0.5,
        periodic: Sequence[PeriodicTask] = (),
        sweep: SweepSettings | None = None,
        sweep_periodically: bool = False,
        supervisor_gone: Callable[[], bool] = lambda: False,
        limits: BodyLimits = DEFAULT_LIMITS,
        max_worker_stops: int = 5,
        ledger_wait_s: float = 120.0,
    ) -> None:
        self.connection = connection
        self.topology = topology
        self.pipeline = pipeline
        self.ledger = ledger
        self.broker_retries = broker_retries
        self.until_empty = until_empty
        self.idle_poll_s = idle_poll_s
        self.periodic = list(periodic)
        # The ledger sweep: every sweep.interval_s in one process of a group, and whenever
        # --until-empty finds the queues empty.
        self.sweep = sweep
        self.sweep_periodically = sweep_periodically and sweep is not None and sweep.interval_s > 0
        self.supervisor_gone = supervisor_gone
        self.limits = limits
        # A message a worker died with this often is dead-lettered (below RabbitMQ's
        # delivery limit, so that it goes with a reason and a ledger row).
        self.max_worker_stops = max_worker_stops
        # With the ledger's database gone (a restart, a failover), the letter in hand waits
        # for it this long; handing it back sooner would only cycle the queue, and count
        # towards the broker's delivery limit for nothing.
        self.ledger_wait_s = ledger_wait_s
        self._sweep_due = time.monotonic()
        # Letters --until-empty found overdue that the sweep may not recover.
        self.unrecoverable: list[OverdueLetter] = []
        self.configuration_error: ConfigurationError | None = None
        self.handled = 0
        self._publisher: Publisher | None = None
        self._last_activity = time.monotonic()
        # The embedded transport's copies of fetched messages (see recovery).
        options = connection.transport_options or {}
        kept = options.get("processed_folder") if options.get("store_processed") else None
        self._kept_copies = Path(kept) if kept else None
        self.disposition = Disposition(
            topology,
            ledger,
            self._require_publisher,
            broker_retries=broker_retries,
            limits=limits,
        )

    # -- kombu hooks -------------------------------------------------------------

    def get_consumers(self, consumer_class: Any, channel: Any) -> list[Consumer]:
        # A fresh publisher on every (re)connection, made before consuming
        # starts: py-amqp may deliver a message while any later call waits for
        # the broker, and the handler needs the publisher by then.
        self._publisher = Publisher(self.topology, channel.connection.client)
        log_event(log, "consuming", queue=self.topology.work_queue.name)
        # on_message receives the raw message: kombu does not decode it (and so
        # never unpickles anything); the pipeline parses the body itself.
        return [
            consumer_class(
                queues=[self.topology.work_queue],
                on_message=self.on_message,
                prefetch_count=1,
                accept=["application/json"],
            )
        ]

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        # kombu's default acknowledges and drops the message; never lose one.
        self.disposition.dead_letter(
            message, f"body cannot be decoded: {type(exc).__name__}", 1, None, None,
            kind="undecodable",
        )  # fmt: skip

    def on_iteration(self) -> None:
        if self.supervisor_gone():
            # Nobody would restart or stop this process any more: finish, like SIGTERM.
            log_event(log, "supervisor gone; stopping", level=logging.WARNING)
            self.should_stop = True
            return
        for task in self.periodic:
            task.run_if_due()
        if self._publisher is None:
            return
        if self.sweep_periodically and time.monotonic() >= self._sweep_due:
            assert self.sweep is not None  # noqa: S101 - checked in __init__
            self._sweep_due = time.monotonic() + self.sweep.interval_s
            self._run_sweep()
        if time.monotonic() - self._last_activity < self.idle_poll_s:
            return
        if not self.broker_retries:
            self._publish_due_retries()
        if self.until_empty and self._drained():
            log_event(log, "queue drained", count=self.handled)
            self.should_stop = True
        self._last_activity = time.monotonic()

    # -- one message -------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        deadline = time.monotonic() + self.ledger_wait_s
        while True:
            try:
                self._handle(message)
                return
            except LedgerUnavailableError as err:
                if not self._await_ledger(str(err), deadline):
                    message.requeue()
                    return

    def _handle(self, message: Message) -> None:
        if self.configuration_error is not None:
            # Stopping: the broker may hand back the message just requeued before the
            # consume loop sees the flag. It must wait for a worker that is set up right.
            message.requeue()
            return
        started = time.perf_counter()
        headers = message.headers or {}
        attempt = _int(headers.get(ATTEMPT_HEADER), 1)
        stops = max(_int(headers.get(DELIVERY_COUNT_HEADER), 0), _int(headers.get(STOPS_HEADER), 0))
        content_type = (message.content_type or "").lower()
        letter_id = case_number = None
        try:
            if content_type not in ACCEPTED_CONTENT_TYPES:
                raise _UnacceptedContent(
                    f"content type must be application/json; got {shape(content_type)}"
                )
            data = peek(message.body, self.limits)
            letter_id = peek_letter_id(data)
            if stops >= self.max_worker_stops:
                raise _StoppedWorkers(
                    f"a worker stopped {stops} times with this message in hand; it is "
                    "dead-lettered so that it cannot stop another"
                )
            if is_case_message(data):
                self._release(self.pipeline.process_case(message.body).released)
                message.ack()
                self.handled += 1
                self._last_activity = time.monotonic()
                return
            outcome = self.pipeline.process(message.body)
            case_number = outcome.case_number
        except ConfigurationError as err:
            self.configuration_error = err
            self.should_stop = True
            message.requeue()
            log_event(log, "configuration error; stopping", level=logging.CRITICAL, reason=str(err))
            return
        except LedgerUnavailableError:
            raise  # on_message waits for the database with the letter in hand
        except PermanentError as err:
            reason = shortened(str(err))
            self.disposition.dead_letter(
                message, reason, attempt, letter_id, None, err.fails_the_letter,
                kind=metrics.reason_class(err),
            )  # fmt: skip
        except TransientError as err:
            self.disposition.retry(message, shortened(str(err)), attempt, letter_id,
                        kind=metrics.reason_class(err))  # fmt: skip
        except Exception as err:
            # A bug, not the letter's fault: retry, and dead-letter if it persists.
            log.exception("unexpected error", extra={"letters_fields": {"letter_id": letter_id}})
            self.disposition.retry(
                message, f"unexpected {type(err).__name__}", attempt, letter_id, bug=True,
                kind="unexpected",
            )  # fmt: skip
        else:
            message.ack()
            metrics.record_outcome(
                outcome.letter_type, outcome.language, outcome.channel, outcome.name
            )
            event = "duplicate; already finished" if outcome.already_finished else "done"
            if outcome.stopped is not None:
                event = f"{outcome.stopped} for {outcome.waiting_for}"
            log_event(
                log,
                event,
                letter_id=outcome.letter_id,
                case_number=case_number,
                duration_ms=round((time.perf_counter() - started) * 1000),
            )
        finally:
            metrics.message_seconds.observe(time.perf_counter() - started)
            self.handled += 1
            self._last_activity = time.monotonic()
            if self._kept_copies is not None and message.acknowledged:
                forget_processed(self._kept_copies, as_bytes(message.body))

    def _await_ledger(self, reason: str, deadline: float) -> bool:
        """Wait for the ledger's database until ``deadline``: True once it answers."""
        log_event(log, "ledger unavailable; waiting", level=logging.WARNING, reason=reason)
        started, pause = time.monotonic(), 0.25
        while time.monotonic() < deadline and not self.should_stop:
            # Blocked here, the consume loop sends no heartbeats: without them the broker
            # would close the connection and hand the letter to another worker.
            self._heartbeat()
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 5.0)
            try:
                self.ledger.ping()
            except LedgerUnavailableError as err:
                reason = str(err)
                continue
            waited = round((time.monotonic() - started) * 1000)
            log_event(log, "ledger back", duration_ms=waited)
            return True
        log_event(
            log,
            "ledger still unavailable; letter handed back",
            level=logging.ERROR,
            reason=reason,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return False

    def _heartbeat(self) -> None:
        if self._publisher is None or self._publisher.by_queue_name:
            return
        try:
            self._publisher.connection.heartbeat_check()
        except Exception as err:  # the broker is gone too: the letter comes back anyway
            log_event(log, "heartbeat failed", level=logging.WARNING, reason=type(err).__name__)

    def _release(self, released: Sequence[LetterRecord]) -> None:
        """Letters whose case is open again, or whose rate is approved, go back to the work
        queue. Were the broker to fail here, the sweep finds them requeued and untouched,
        and sends them."""
        for record in released:
            self._require_publisher().publish_to_work_queue(
                record.request.encode(), {ATTEMPT_HEADER: record.attempts + 1}
            )
            log_event(
                log,
                "released; requeued",
                letter_id=record.letter_id,
                case_number=record.case_number,
            )

    def _require_publisher(self) -> Publisher:
        assert self._publisher is not None  # noqa: S101 - set when consuming starts
        return self._publisher

    # -- idle work ---------------------------------------------------------------

    def _publish_due_retries(self) -> None:
        for record in self.ledger.claim_due_retries(utcnow()):
            self._require_publisher().publish_to_work_queue(
                record.request.encode(), {ATTEMPT_HEADER: record.attempts + 1}
            )
            log_event(
                log, "retry due; requeued", letter_id=record.letter_id, attempt=record.attempts + 1
            )

    def _run_sweep(self) -> SweepReport | None:
        if self.sweep is None:
            return None
        try:
            report = sweep(self.ledger, self._require_publisher(), self.sweep, utcnow())
            metrics.sweep_recoveries.inc(len(report.recovered))
            # Letters held for a rate that operations have approved since go on.
            released = release_held(self.ledger, self.pipeline.rates).released
            self._release(released)
            report.released_for_rates = len(released)
        except TransientError as err:
            log_event(log, "ledger sweep failed", level=logging.WARNING, reason=str(err))
            return None
        return report

    def _drained(self) -> bool:
        """Nothing left to do: the queues are empty, the sweep found nothing to send back,
        and no letter is in a worker's hand or waits for a retry due soon. A letter the
        sweep may not recover stops the wait (the worker then exits non-zero)."""
        publisher = self._require_publisher()
        queues = [self.topology.work_queue, *(t.queue for t in self.topology.retry_tiers)]
        if any(publisher.queue_depth(q.name) for q in queues):
            return False
        report = self._run_sweep()
        if report is not None and (report.recovered or report.released_for_rates):
            return False
        if report is not None and report.unrecoverable:
            self.unrecoverable = report.unrecoverable
            return True
        return self.ledger.in_flight(utcnow(), _RETRY_HORIZON) == 0


class _UnacceptedContent(PermanentError):
    pass


class _StoppedWorkers(PermanentError):
    """The message was in hand each time a worker died: it may be what kills them."""


def _int(value: Any, default: int) -> int:
    try:
        return max(default, int(value))
    except (TypeError, ValueError, OverflowError):
        return default
