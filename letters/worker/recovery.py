"""Start-up recovery for the embedded (filesystem) transport, which has no redelivery.

kombu's filesystem transport moves a message out of the queue when a consumer
fetches it; if that consumer dies, the message is gone. The worker keeps the
fetched copies (``processed/``) while it handles them (``forget_processed``
removes each once handled) and, before it starts consuming, puts back
every one whose letter the ledger has not finished, counting in its headers
how often a worker stopped with it in hand, then republishes every other
letter the ledger accepted but did not finish. A message that stopped workers
too often is dead-lettered by the worker with that reason, so it cannot stop
them forever. Duplicates this creates are harmless: the ledger and the
per-letter lock make a second copy a no-op.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letters.config import Settings
from letters.digests import sha256_hex
from letters.domain.message_body import BodyLimits, peek, peek_letter_id
from letters.ledger import Ledger
from letters.logs import log_event
from letters.messaging.broker import Publisher, embedded_folders
from letters.messaging.dead_letter_queue import is_reference
from letters.messaging.topology import ATTEMPT_HEADER, STOPS_HEADER

log = logging.getLogger("letters.embedded")


@dataclass(frozen=True, slots=True)
class Recovery:
    restored_messages: int
    resumed_letters: int


def recover(settings: Settings, ledger: Ledger, publisher: Publisher) -> Recovery:
    folders = embedded_folders(settings.broker_dir)
    limits = BodyLimits(settings.max_body_bytes, settings.max_nesting)
    restored = 0
    put_back: set[str] = set()
    for path in sorted(folders["processed"].glob("*.msg")):
        envelope = _envelope(path)
        body = _body_of(envelope) if envelope is not None else None
        letter_id = peek_letter_id(peek(body, limits)) if body is not None else None
        record = ledger.get(letter_id) if letter_id else None
        if envelope is None or body is None or (record is not None and record.finished):
            path.unlink(missing_ok=True)  # nothing to do, or the ledger has it done
        elif ledger.dead_letters.is_known_body(sha256_hex(body)) or is_reference(body):
            # Already dead-lettered; or a reference `letters dead` looked at, which went
            # back to the dead queue when it closed (the ledger keeps the dead letter).
            path.unlink(missing_ok=True)
        else:
            # A worker stopped with this message in hand: back it goes, counted, so that
            # one that stops every worker is dead-lettered instead of stopping them forever.
            _restore(path, envelope, folders["data"])
            restored += 1
            if letter_id:
                put_back.add(letter_id)
    resumed = 0
    for record in ledger.unfinished():
        if record.letter_id in put_back:
            continue
        publisher.publish_to_work_queue(
            record.request.encode(), {ATTEMPT_HEADER: record.attempts + 1, STOPS_HEADER: 1}
        )
        resumed += 1
    if restored or resumed:
        log_event(log, "recovered embedded queue", count=restored + resumed)
    return Recovery(restored, resumed)


def forget_processed(folder: Path, body: bytes) -> int:
    """Remove the kept copies of a message the worker has finished with; how many.

    The copy is only for a worker that dies with the message in hand; once the
    message is acknowledged, dead-lettered or back in the queue, the ledger (or
    the queue) has it, and the copy would only keep a debtor's personal data.
    """
    removed = 0
    for path in folder.glob("*.msg"):
        envelope = _envelope(path)
        if envelope is not None and _body_of(envelope) == body:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _envelope(path: Path) -> dict[str, Any] | None:
    try:
        envelope = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return envelope if isinstance(envelope, dict) else None


def _body_of(envelope: dict[str, Any]) -> bytes | None:
    try:
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            return base64.b64decode(body)
        return body.encode() if isinstance(body, str) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _restore(path: Path, envelope: dict[str, Any], data: Path) -> None:
    headers = envelope.get("headers")
    headers = headers if isinstance(headers, dict) else {}
    stops = headers.get(STOPS_HEADER)
    headers[STOPS_HEADER] = (stops if isinstance(stops, int) else 0) + 1
    envelope["headers"] = headers
    # Written beside the queue's files under a name it does not read, then renamed in.
    incoming = data / f".{path.name}.incoming"
    incoming.write_text(json.dumps(envelope), encoding="utf-8")
    os.replace(incoming, data / path.name)
    path.unlink(missing_ok=True)
