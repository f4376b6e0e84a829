"""Start-up recovery for the embedded (filesystem) transport, which has no redelivery.

kombu's filesystem transport moves a message out of the queue when a consumer
fetches it; if that consumer dies, the message is gone. The worker keeps the
fetched copies (``processed/``) and, before it starts consuming, puts back
every one the ledger knows nothing about, then republishes every letter the
ledger accepted but did not finish. Duplicates this creates are harmless: the
ledger and the per-letter lock make a second copy a no-op.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from letters.config import Settings
from letters.digests import sha256_hex
from letters.domain.message_body import peek, peek_letter_id
from letters.ledger import Ledger
from letters.logs import log_event
from letters.messaging.broker import Publisher, embedded_folders
from letters.messaging.topology import ATTEMPT_HEADER

log = logging.getLogger("letters.embedded")


@dataclass(frozen=True, slots=True)
class Recovery:
    restored_messages: int
    resumed_letters: int


def recover(settings: Settings, ledger: Ledger, publisher: Publisher) -> Recovery:
    folders = embedded_folders(settings.broker_dir)
    restored = 0
    for path in sorted(folders["processed"].glob("*.msg")):
        body = _body_of(path)
        letter_id = peek_letter_id(peek(body)) if body is not None else None
        if body is None or (letter_id and ledger.get(letter_id)):
            path.unlink(missing_ok=True)  # the ledger carries it from here
        elif ledger.is_known_dead_body(sha256_hex(body)):
            path.unlink(missing_ok=True)  # already in the dead-letter queue
        else:
            os.replace(path, folders["data"] / path.name)
            restored += 1
    resumed = 0
    for record in ledger.unfinished():
        publisher.publish_to_work_queue(
            record.request.encode(), {ATTEMPT_HEADER: record.attempts + 1}
        )
        resumed += 1
    if restored or resumed:
        log_event(log, "recovered embedded queue", count=restored + resumed)
    return Recovery(restored, resumed)


def _body_of(path: Path) -> bytes | None:
    try:
        envelope = json.loads(path.read_bytes())
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            return base64.b64decode(body)
        return body.encode() if isinstance(body, str) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
