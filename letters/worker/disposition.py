"""What becomes of a message the pipeline did not finish: retried, dead-lettered, or
put back.

A transient failure goes to the retry queue of its attempt (RabbitMQ), or
waits in the ledger (the embedded transport, which has no TTL queues); a
permanent one, or one whose retries are used up, goes to the dead-letter
queue as a reference, with the message kept sealed in the ledger and the
reason recorded. Were even that impossible (the ledger or the broker down),
the message goes back to the work queue, unacknowledged, and nothing is lost.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from letters import metrics
from letters.clock import utcnow
from letters.digests import sha256_hex
from letters.domain.letter_types import Language, LetterType
from letters.domain.message_body import BodyLimits, is_case_message, peek
from letters.domain.request_shape import case_number_problem
from letters.errors import TransientError
from letters.ledger import Ledger
from letters.ledger.dead_letters import RefusedRequest
from letters.logs import log_event
from letters.messaging.broker import JSON, Publisher
from letters.messaging.dead_letter_queue import reference_body, reference_headers
from letters.messaging.topology import ATTEMPT_HEADER, REASON_HEADER, Topology

if TYPE_CHECKING:  # kombu's message type, for annotations: kombu stays in the consumer
    from kombu.message import Message

# The consumer's logger: a disposition is the end of the consumer's handling of a message.
log = logging.getLogger("letters.worker")

# After a failure we could not record, wait before the message comes back.
_REQUEUE_PAUSE_S = 1.0


class Disposition:
    def __init__(
        self,
        topology: Topology,
        ledger: Ledger,
        publisher: Callable[[], Publisher],
        *,
        broker_retries: bool,
        limits: BodyLimits,
    ) -> None:
        self.topology = topology
        self.ledger = ledger
        # The consumer's publisher of the moment: a new one on every reconnection.
        self.publisher = publisher
        self.broker_retries = broker_retries
        self.limits = limits

    def retry(
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
            self.dead_letter(
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
                self.publisher().publish_to_work_queue(
                    as_bytes(message.body), carry(message, {ATTEMPT_HEADER: attempt + 1})
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
                self.requeue_later(message, reason)
                return
            # The ledger first: with the ledger down, the message goes back to the work
            # queue and no copy waits in a retry queue beside it.
            if known and letter_id:
                self.ledger.record_failed(letter_id, attempt, reason, retry_at)
            if self.broker_retries:
                self.publisher().publish(
                    message.body,
                    self.topology.retry_exchange,
                    tier.queue.name,
                    headers=carry(message, {ATTEMPT_HEADER: attempt + 1, REASON_HEADER: reason}),
                )
        except TransientError as err:
            self.requeue_later(message, f"{reason}; then {err}")
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

    def dead_letter(
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
        body = as_bytes(message.body)
        try:
            # The dead queue carries a reference; the message is kept sealed in the ledger.
            self.publisher().publish_dead(
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
            self.requeue_later(message, f"{reason}; then {err}")
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
            return refused_request(peek(as_bytes(message.body), self.limits))
        except Exception as err:  # a report must never stop a dead-lettering
            log_event(log, "refused body not described", level=logging.ERROR, error=repr(err)[:80])
            return None

    def requeue_later(self, message: Message, reason: str) -> None:
        log_event(log, "could not record the outcome; requeued", level=logging.ERROR, reason=reason)
        time.sleep(_REQUEUE_PAUSE_S)
        message.requeue()

    def _known(self, letter_id: str) -> bool:
        return self.ledger.get(letter_id) is not None


# A reason travels in a header, a log line and the ledger: never more than this.
REASON_CHARS = 500


def shortened(reason: str) -> str:
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"


def carry(message: Message, extra: dict[str, Any]) -> dict[str, Any]:
    headers = {k: v for k, v in (message.headers or {}).items() if k != "x-death"}
    return headers | extra


def as_bytes(body: bytes | str) -> bytes:
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
