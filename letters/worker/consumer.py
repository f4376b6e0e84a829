"""The queue consumer: one kombu consumer per process, prefetch 1, ack after the ledger.

For each message: run the pipeline; on success acknowledge; on a transient
failure publish the message to the retry queue of its attempt (RabbitMQ) or
schedule the retry in the ledger (embedded transport, which has no TTL
queues), then acknowledge; on a permanent failure, or when the retries are
used up, publish it to the dead-letter queue with the reason and attempt
count, record that, then acknowledge. A configuration error stops the worker
with the message unacknowledged, so it waits for a fixed deployment.
"""

from __future__ import annotations

import logging
import time
import uuid
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
from letters.digests import sha256_hex
from letters.domain.letter_types import Language, LetterType
from letters.domain.message_body import (
    DEFAULT_LIMITS,
    BodyLimits,
    is_case_message,
    peek,
    peek_letter_id,
)
from letters.domain.request_shape import case_number_problem
from letters.domain.text import shape
from letters.errors import ConfigurationError, PermanentError, TransientError
from letters.ledger import Ledger, LetterRecord, OverdueLetter, RefusedRequest
from letters.logs import log_event
from letters.messaging.broker import JSON, Publisher
from letters.messaging.dead_letter_queue import reference_body, reference_headers
from letters.messaging.topology import (
    ATTEMPT_HEADER,
    DELIVERY_COUNT_HEADER,
    REASON_HEADER,
    STOPS_HEADER,
    Topology,
)
from letters.worker.periodic import PeriodicTask
from letters.worker.recovery import forget_processed
from letters.worker.sweep import SweepReport, sweep

log = logging.getLogger("letters.worker")

ACCEPTED_CONTENT_TYPES = frozenset({"application/json", "text/plain", "application/data", ""})
# How far ahead a scheduled retry keeps ``--until-empty`` waiting.
_RETRY_HORIZON = timedelta(hours=2)
# After a failure we could not record, wait before the message comes back.
_REQUEUE_PAUSE_S = 1.0


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
    ) -> None:
        self.connection = connection
        self.topology = topology
        self.pipeline = pipeline
        self.ledger = ledger
        self.broker_retries = broker_retries
        self.until_empty = until_empty
        self.idle_poll_s = idle_poll_s
        self.periodic = list(periodic)
        # The ledger sweep: every sweep.interval in one process of a group, and whenever
        # --until-empty finds the queues empty.
        self.sweep = sweep
        self.sweep_periodically = sweep_periodically and sweep is not None and sweep.interval > 0
        self.supervisor_gone = supervisor_gone
        self.limits = limits
        # A message a worker died with this often is dead-lettered (below RabbitMQ's
        # delivery limit, so that it goes with a reason and a ledger row).
        self.max_worker_stops = max_worker_stops
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
        self._dead_letter(
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
            self._sweep_due = time.monotonic() + self.sweep.interval
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
        except PermanentError as err:
            reason = shortened(str(err))
            self._dead_letter(
                message, reason, attempt, letter_id, None, err.fails_the_letter,
                kind=metrics.reason_class(err),
            )  # fmt: skip
        except TransientError as err:
            self._retry(message, shortened(str(err)), attempt, letter_id,
                        kind=metrics.reason_class(err))  # fmt: skip
        except Exception as err:
            # A bug, not the letter's fault: retry, and dead-letter if it persists.
            log.exception("unexpected error", extra={"letters_fields": {"letter_id": letter_id}})
            self._retry(
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
                forget_processed(self._kept_copies, _as_bytes(message.body))

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

    def _retry(
        self,
        message: Message,
        reason: str,
        attempt: int,
        letter_id: str | None,
        *,
        kind: str,
        bug: bool = False,
    ) -> None:
        tier = self.topology.retry_tier(attempt)
        if tier is None:
            self._dead_letter(
                message, f"gave up after {attempt} attempts: {reason}", attempt, letter_id, None,
                kind="retries_exhausted",
            )  # fmt: skip
            return
        retry_at = utcnow() + timedelta(seconds=tier.delay_seconds)
        try:
            known = letter_id is not None and self._known(letter_id)
            if not self.broker_retries and not known and bug:
                # No TTL queues and no ledger row to wait in, and the message itself sets
                # off the bug: back to the work queue with its attempt counted, so it is
                # dead-lettered once the attempts are used up instead of looping.
                self._require_publisher().publish_to_work_queue(
                    _as_bytes(message.body), _carry(message, {ATTEMPT_HEADER: attempt + 1})
                )
                message.ack()
                metrics.retries.labels(kind).inc()
                log_event(
                    log, "failed; will retry", level=logging.WARNING, attempt=attempt, reason=reason
                )
                return
            if not self.broker_retries and not known:
                # Without TTL queues or a ledger row there is nowhere to wait (the ledger
                # or the lock is unavailable): the message waits in the work queue.
                self._requeue_later(message, reason)
                return
            # The ledger first: with the ledger down, the message goes back to the work
            # queue and no copy waits in a retry queue beside it.
            if known and letter_id:
                self.ledger.record_failed(letter_id, attempt, reason, retry_at)
            if self.broker_retries:
                self._require_publisher().publish(
                    message.body,
                    self.topology.retry_exchange,
                    tier.queue.name,
                    headers=_carry(message, {ATTEMPT_HEADER: attempt + 1, REASON_HEADER: reason}),
                )
        except TransientError as err:
            self._requeue_later(message, f"{reason}; then {err}")
            return
        message.ack()
        metrics.retries.labels(kind).inc()
        log_event(
            log,
            "failed; will retry",
            level=logging.WARNING,
            letter_id=letter_id,
            attempt=attempt,
            reason=reason,
            retry_in_s=tier.delay_seconds,
        )

    def _dead_letter(
        self,
        message: Message,
        reason: str,
        attempts: int,
        letter_id: str | None,
        case_number: str | None,
        fails_the_letter: bool = True,
        *,
        kind: str,
    ) -> None:
        dead_id = str(uuid.uuid4())
        body = _as_bytes(message.body)
        try:
            # The dead queue carries a reference; the message is kept sealed in the ledger.
            self._require_publisher().publish_dead(
                reference_body(dead_id, letter_id, reason, attempts),
                reference_headers(dead_id, letter_id, reason, attempts),
                content_type=JSON,
                content_encoding="utf-8",
            )
            record = self.ledger.get(letter_id) if letter_id else None
            known_letter = record is not None and fails_the_letter
            self.ledger.dead_letters.record(
                dead_id=dead_id,
                letter_id=letter_id,
                case_number=record.case_number if record else case_number,
                reason=reason,
                attempts=attempts,
                body=body,
                body_sha256=sha256_hex(body),
                known_letter=known_letter,
                refused=None if known_letter else self._refused_request(message),
            )
        except TransientError as err:
            self._requeue_later(message, f"{reason}; then {err}")
            return
        message.ack()
        metrics.dead_letters.labels(kind).inc()
        if known_letter and record is not None:
            metrics.record_outcome(
                record.letter_type, record.language, record.channel or "", "dead_lettered"
            )
        log_event(
            log,
            "dead-lettered",
            level=logging.WARNING,
            letter_id=letter_id,
            dead_id=dead_id,
            attempt=attempts,
            reason=reason,
        )

    def _refused_request(self, message: Message) -> RefusedRequest | None:
        """What the case system can be told of a letter request refused before the ledger
        took it; None for a case message or a body that is no request at all."""
        try:
            return refused_request(peek(_as_bytes(message.body), self.limits))
        except Exception as err:  # a report must never stop a dead-lettering
            log_event(log, "refused body not described", level=logging.ERROR, error=repr(err)[:80])
            return None

    def _requeue_later(self, message: Message, reason: str) -> None:
        log_event(log, "could not record the outcome; requeued", level=logging.ERROR, reason=reason)
        time.sleep(_REQUEUE_PAUSE_S)
        message.requeue()

    def _known(self, letter_id: str) -> bool:
        return self.ledger.get(letter_id) is not None

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


# A reason travels in a header, a log line and the ledger: never more than this.
REASON_CHARS = 500


def shortened(reason: str) -> str:
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"


def _carry(message: Message, extra: dict[str, Any]) -> dict[str, Any]:
    headers = {k: v for k, v in (message.headers or {}).items() if k != "x-death"}
    return headers | extra


def _int(value: Any, default: int) -> int:
    try:
        return max(default, int(value))
    except (TypeError, ValueError, OverflowError):
        return default


def _as_bytes(body: bytes | str) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8")


def refused_request(data: dict[str, Any] | None) -> RefusedRequest | None:
    """What the case system can be told of a refused body: only values that are what they
    claim to be (a body's fields may hold any JSON at all)."""
    if not data or is_case_message(data):
        return None
    case = data.get("case")
    case_number = case.get("case_number") if isinstance(case, dict) else None
    letter_type, language = data.get("letter_type"), data.get("language")
    return RefusedRequest(
        case_number=case_number
        if isinstance(case_number, str) and not case_number_problem("", case_number)
        else None,
        letter_type=letter_type
        if isinstance(letter_type, str) and letter_type in {t.value for t in LetterType}
        else None,
        language=language
        if isinstance(language, str) and language in {lang.value for lang in Language}
        else None,
    )
