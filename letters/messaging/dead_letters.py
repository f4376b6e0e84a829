"""Inspect the dead-letter queue and send chosen letters back to work after a fix."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from kombu.message import Message

from letters.config import Settings
from letters.domain.message_body import peek
from letters.ledger import DeadLetterStore, Ledger
from letters.messaging.broker import Publisher
from letters.messaging.topology import (
    ATTEMPT_HEADER,
    DEAD_ID_HEADER,
    LETTER_ID_HEADER,
    REASON_HEADER,
)


@dataclass(frozen=True, slots=True)
class DeadMessage:
    dead_id: str | None
    letter_id: str | None
    case_number: str | None
    reason: str
    attempts: int
    body: bytes = field(repr=False)
    headers: dict[str, Any] = field(repr=False)

    def matches(self, wanted: Collection[str]) -> bool:
        return bool({self.dead_id, self.letter_id} & set(wanted))


def list_dead(settings: Settings) -> list[DeadMessage]:
    """Every message in the dead-letter queue; all stay there."""
    with Publisher.open(settings) as publisher:
        held = _take_all(publisher)
        # Closing without acknowledging puts every message back.
        return [dead for dead, _ in held]


def retry_dead(
    settings: Settings, ledger: Ledger, wanted: Collection[str] | None
) -> list[DeadMessage]:
    """Requeue the dead letters whose letter id or dead id is in ``wanted`` (all if None)."""
    retried = []
    with Publisher.open(settings) as publisher:
        for dead, message in _take_all(publisher):
            if wanted is not None and not dead.matches(wanted):
                continue
            headers = {
                k: v
                for k, v in dead.headers.items()
                if k not in {REASON_HEADER, DEAD_ID_HEADER, "x-death"}
                and not k.startswith("x-first-death")
                and not k.startswith("x-last-death")
            }
            publisher.publish_to_work_queue(dead.body, headers | {ATTEMPT_HEADER: 1})
            DeadLetterStore(ledger).record_requeued(dead.dead_id, dead.letter_id)
            message.ack()
            retried.append(dead)
    return retried


def _take_all(publisher: Publisher) -> list[tuple[DeadMessage, Message]]:
    queue = publisher.topology.dead_queue(publisher.connection.default_channel)
    held = []
    while (message := queue.get(no_ack=False)) is not None:
        held.append((_describe(message), message))
    return held


def _describe(message: Message) -> DeadMessage:
    headers = dict(message.headers or {})
    body = message.body if isinstance(message.body, bytes) else message.body.encode()
    data = peek(body)
    case = data.get("case")
    case = case if isinstance(case, dict) else {}
    reason = headers.get(REASON_HEADER)
    if reason is None:
        # Dead-lettered by the broker itself, e.g. past the delivery limit.
        reason = f"broker: {headers.get('x-first-death-reason', 'unknown reason')}"
    letter_id = headers.get(LETTER_ID_HEADER) or data.get("letter_id")
    return DeadMessage(
        dead_id=headers.get(DEAD_ID_HEADER),
        letter_id=letter_id if isinstance(letter_id, str) else None,
        case_number=case.get("case_number") if isinstance(case.get("case_number"), str) else None,
        reason=str(reason),
        attempts=int(headers.get(ATTEMPT_HEADER, 0) or 0),
        body=body,
        headers=headers,
    )
