"""The dead-letter queue: references to sealed messages, listed and sent back to work.

A worker that gives up on a message keeps the message in the ledger, sealed
(``letters.ledger.DeadLetterStore``), and puts only a reference on the dead
queue: the dead id, the letter id and the reason, as ``letters.dead/1``. So
neither RabbitMQ's queue nor the embedded broker's files hold a refused
request, with whatever personal data it carried, in the clear.

A message the broker dead-letters itself (past its delivery limit), or one a
worker of an earlier version dead-lettered whole, is taken into the ledger and
replaced by a reference (``seal_dead_queue``) when the worker group starts and
whenever ``letters dead`` looks at the queue.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from kombu.message import Message

from letters.config import Settings
from letters.digests import sha256_hex
from letters.domain.message_body import peek, peek_letter_id
from letters.ledger import Ledger
from letters.ledger.dead_letters import DeadLetterStore
from letters.messaging.broker import JSON, Publisher
from letters.messaging.topology import (
    ATTEMPT_HEADER,
    DEAD_ID_HEADER,
    LETTER_ID_HEADER,
    REASON_HEADER,
)

DEAD_SCHEMA = "letters.dead/1"


def reference_body(dead_id: str, letter_id: str | None, reason: str, attempts: int) -> bytes:
    """What the dead queue carries of a dead letter: never the message itself."""
    return json.dumps(
        {
            "schema": DEAD_SCHEMA,
            "dead_id": dead_id,
            "letter_id": letter_id,
            "reason": reason,
            "attempts": attempts,
        },
        sort_keys=True,
    ).encode()


def reference_headers(
    dead_id: str, letter_id: str | None, reason: str, attempts: int
) -> dict[str, Any]:
    return {
        REASON_HEADER: reason,
        ATTEMPT_HEADER: attempts,
        DEAD_ID_HEADER: dead_id,
        LETTER_ID_HEADER: letter_id or "",
    }


@dataclass(frozen=True, slots=True)
class DeadMessage:
    dead_id: str
    letter_id: str | None
    case_number: str | None
    reason: str
    attempts: int
    # Found whole on the queue (dead-lettered by the broker, or by an earlier version)
    # and sealed into the ledger on this look.
    was_whole: bool = False

    def matches(self, wanted: Collection[str]) -> bool:
        return bool({self.dead_id, self.letter_id} & set(wanted))


@dataclass(frozen=True, slots=True)
class Retried:
    requeued: list[DeadMessage]
    # Dead letters whose message the ledger no longer holds (erased by retention, or
    # kept by a version before bodies were sealed): they stay on the dead queue.
    without_body: list[DeadMessage]


def list_dead(settings: Settings, ledger: Ledger) -> list[DeadMessage]:
    """Every dead letter on the queue; all stay there."""
    with Publisher.open(settings) as publisher:
        held = _take_all(publisher, ledger)
        # Closing without acknowledging puts every message back.
        return [dead for dead, _ in held]


def retry_dead(settings: Settings, ledger: Ledger, wanted: Collection[str] | None) -> Retried:
    """Requeue the dead letters whose letter id or dead id is in ``wanted`` (all if None),
    each with the message the ledger kept sealed."""
    store = ledger.dead_letters
    retried = Retried([], [])
    with Publisher.open(settings) as publisher:
        for dead, message in _take_all(publisher, ledger):
            if wanted is not None and not dead.matches(wanted):
                continue
            body = store.body(dead.dead_id)
            if body is None:
                retried.without_body.append(dead)
                continue
            headers: dict[str, Any] = {ATTEMPT_HEADER: 1}
            if dead.letter_id:
                headers[LETTER_ID_HEADER] = dead.letter_id
            publisher.publish_to_work_queue(body, headers)
            store.record_requeued(dead.dead_id, dead.letter_id)
            message.ack()
            retried.requeued.append(dead)
    return retried


def seal_dead_queue(publisher: Publisher, ledger: Ledger) -> int:
    """Take every whole message on the dead queue into the ledger, sealed, and put a
    reference in its place; how many. The references stay unacknowledged until the
    connection closes (``letters dead``) or are put back here."""
    held = _take_all(publisher, ledger)
    for _, message in held:
        message.requeue()
    return sum(1 for dead, _ in held if dead.was_whole)


def _take_all(publisher: Publisher, ledger: Ledger) -> list[tuple[DeadMessage, Message]]:
    """Every reference on the dead queue, unacknowledged; a whole message is sealed and
    replaced by a reference on the way, which comes round again later in the same pass."""
    queue = publisher.topology.dead_queue(publisher.connection.default_channel)
    store = ledger.dead_letters
    held = []
    sealed: set[str] = set()
    while (message := queue.get(no_ack=False)) is not None:
        reference = _reference(message)
        if reference is None:
            sealed.add(_seal_whole(publisher, store, ledger, message))
            message.ack()
            continue
        recorded = store.get(reference["dead_id"])
        dead = DeadMessage(
            dead_id=reference["dead_id"],
            letter_id=_text(reference.get("letter_id")),
            case_number=recorded.case_number if recorded else None,
            reason=str(reference.get("reason", "")),
            attempts=_whole_number(reference.get("attempts")),
            was_whole=reference["dead_id"] in sealed,
        )
        held.append((dead, message))
    return held


def _seal_whole(
    publisher: Publisher, store: DeadLetterStore, ledger: Ledger, message: Message
) -> str:
    """Keep a whole dead message in the ledger and publish its reference; its dead id."""
    headers = dict(message.headers or {})
    body = _as_bytes(message.body)
    dead_id = _text(headers.get(DEAD_ID_HEADER))
    reason = _text(headers.get(REASON_HEADER)) or (
        f"broker: {_text(headers.get('x-first-death-reason')) or 'unknown reason'}"
    )
    attempts = _whole_number(headers.get(ATTEMPT_HEADER))
    letter_id = _text(headers.get(LETTER_ID_HEADER)) or peek_letter_id(_peeked(body))
    if dead_id and store.get(dead_id) is not None:
        # Dead-lettered whole by a worker of an earlier version, which recorded it.
        store.keep_body(dead_id, body)
    else:
        dead_id = dead_id or str(uuid.uuid4())
        store.record(
            dead_id=dead_id,
            letter_id=letter_id,
            case_number=_case_number(body),
            reason=reason,
            attempts=attempts,
            body=body,
            body_sha256=sha256_hex(body),
            known_letter=letter_id is not None and ledger.get(letter_id) is not None,
        )
    publisher.publish_dead(
        reference_body(dead_id, letter_id, reason, attempts),
        reference_headers(dead_id, letter_id, reason, attempts),
        content_type=JSON,
        content_encoding="utf-8",
    )
    return dead_id


def is_reference(body: bytes) -> bool:
    """Whether a message body is a dead letter's reference (``letters.dead/1``)."""
    return _reference_in(body) is not None


def _reference(message: Message) -> Mapping[str, Any] | None:
    return _reference_in(_as_bytes(message.body))


def _reference_in(body: bytes) -> Mapping[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("schema") != DEAD_SCHEMA:
        return None
    return data if isinstance(data.get("dead_id"), str) else None


def _peeked(body: bytes) -> dict[str, Any]:
    try:
        return peek(body)
    except Exception:
        return {}


def _case_number(body: bytes) -> str | None:
    case = _peeked(body).get("case")
    number = case.get("case_number") if isinstance(case, dict) else None
    return number if isinstance(number, str) and len(number) <= 32 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _whole_number(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def _as_bytes(body: bytes | str) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8")
