"""The ledger: the one owner of the service's tables.

Every letter, its status and its append-only history, in SQL (SQLite under
``var/`` by default, PostgreSQL in production), with the tables beside them:
dead letters, delivery events, print batches, re-send jobs and case states.
Nothing outside this package touches a table.

The door is ``Ledger``: its verbs change a letter (through the state machine,
``ALLOWED_FROM``), and its attributes are the stores beside the letters,
built once (``ledger.batches``, ``ledger.outbox``, ``ledger.dead_letters``, …).
This face hands out the ledger, a letter's record and statuses, the locks and
the errors; a store's own value types are imported from its module
(``letters.ledger.print_batches.Batch``).
"""

from letters.ledger.database import LedgerUnavailableError
from letters.ledger.locks import HeldLock, LetterBusyError, LetterLocks, letter_locks
from letters.ledger.records import (
    ALLOWED_FROM,
    FINISHED,
    IN_HAND,
    LEFT,
    WAITING_FOR_CASE,
    CopyPdf,
    ForbiddenTransitionError,
    LetterEvent,
    LetterRecord,
    LetterStatus,
    OverdueLetter,
    Rendering,
    Resend,
)
from letters.ledger.store import Ledger

__all__ = [
    "ALLOWED_FROM",
    "FINISHED",
    "IN_HAND",
    "LEFT",
    "WAITING_FOR_CASE",
    "CopyPdf",
    "ForbiddenTransitionError",
    "HeldLock",
    "Ledger",
    "LedgerUnavailableError",
    "LetterBusyError",
    "LetterEvent",
    "LetterLocks",
    "LetterRecord",
    "LetterStatus",
    "OverdueLetter",
    "Rendering",
    "Resend",
    "letter_locks",
]
