"""Structured logs: one JSON line per event, with letter id and case number only.

Only the fields named in ``ALLOWED_FIELDS`` may be attached to an event, so a
name, address, national identity number or password cannot slip into a log
line by way of a convenient keyword argument.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

# Every logger the service logs under, and what it covers. Operators filter on these
# names, so they stay as they are when the code moves (some keep names from before the
# packages: letters.embedded is the broker's recovery, letters.runner the supervisor).
LOGGERS = {
    "letters.worker": "the consumer: each message, retries, dead letters, the sweep, "
    "periodic work that failed, the classic retry queues' migration",
    "letters.runner": "the supervisor of the worker processes, and what periodic work did",
    "letters.pipeline": "one letter: accepted, routed, rendered, sent; case states",
    "letters.print": "print batches cut, assembled and sent; the print house's answers",
    "letters.print_when_unread": "copies of unread Digipost letters made for print",
    "letters.rates": "letters held for a rate, and released",
    "letters.resend": "re-send jobs, letter by letter",
    "letters.events": "the events relay",
    "letters.embedded": "messages the embedded broker lost and the ledger recovered",
    "letters.digipost_sync": "Digipost's confirmations and document events",
    "letters.health": "the health and metrics server",
    "letters.operations": "the operations page's server",
    "channels.digipost_double": "the local Digipost double",
}

ALLOWED_FIELDS = frozenset(
    {
        "letter_id",
        "case_number",
        "letter_type",
        "language",
        "channel",
        "status",
        "attempt",
        "reason",
        "retry_in_s",
        "dead_id",
        "duration_ms",
        "render_ms",
        "pages",
        "count",
        "queue",
        "worker",
        "broker",
        "concurrency",
        "exit_code",
        "delivery_event",
        "batch_id",
        "bytes",
        "job_id",
        # Where a service of ours listens (the metrics server): never a debtor's.
        "url",
    }
)
_FIELDS_ATTR = "letters_fields"


def log_event(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    unknown = set(fields) - ALLOWED_FIELDS
    if unknown:
        raise ValueError(f"log fields not allowed: {sorted(unknown)}")
    logger.log(level, event, extra={_FIELDS_ATTR: fields})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, _FIELDS_ATTR, {}))
        if record.exc_info and record.exc_info[0] is not None:
            # The type and where it happened, not the message: vendor messages
            # can quote the data that failed.
            exc_type = record.exc_info[0]
            line["error"] = exc_type.__name__
            line["traceback"] = _frames(record)
        return json.dumps(line, ensure_ascii=False, default=str)


def _frames(record: logging.LogRecord) -> list[str]:
    assert record.exc_info is not None  # noqa: S101 - checked by the caller
    tb = record.exc_info[2]
    return [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(tb)]


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, not when it was made: a
    command run in a process that replaces standard error later (a test) still logs."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    handler = _StandardError()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kombu logs message bodies on some errors, WeasyPrint logs every layout
    # step: warnings only from those.
    for noisy in ("kombu", "amqp", "weasyprint.progress"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
