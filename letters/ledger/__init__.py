"""The ledger: the one owner of the service's tables.

Every letter, its status and its append-only history, in SQL (SQLite under
``var/`` by default, PostgreSQL in production), with the tables beside them:
dead letters, delivery events, print batches, re-send jobs and case states.
Nothing outside this package touches a table; what it offers is below.
"""

from letters.ledger.case_states import (
    CASE_STATES,
    CLOSED_STATES,
    HOLDING_STATES,
    OPEN,
    CaseChange,
    CaseState,
    CaseStateEvent,
    CaseStates,
    UnknownCaseStateError,
)
from letters.ledger.database import MIGRATIONS
from letters.ledger.dead_letters import DeadLetterStore, RefusedRequest
from letters.ledger.delivery_events import DeliveryEvent, DeliveryLog
from letters.ledger.key_checks import accept_secret, check_secret
from letters.ledger.locks import (
    HeldLock,
    LetterBusyError,
    LetterLocks,
    LockLostError,
    letter_locks,
)
from letters.ledger.outbox import EVENT_SCHEMA, KINDS, Outbox, OutboxEvent
from letters.ledger.passwords import revoke_password, verify_login
from letters.ledger.personal_data import erase_expired, letter_ids_of_person
from letters.ledger.print_answers import (
    AppliedReceipt,
    LetterPosting,
    NewLetter,
    PrintAnswers,
    ReceiptConflictError,
    ReceiptVerdict,
    ReturnedLetter,
    ReturnVerdict,
)
from letters.ledger.print_batches import (
    Batch,
    BatchStatus,
    Member,
    NewBatch,
    NewMember,
    Placement,
    PrintBatchStore,
)
from letters.ledger.privacy_requests import PrivacyRequest, PrivacyRequests
from letters.ledger.rates import (
    HOLD_KEY_SEPARATOR,
    RateBook,
    RateChange,
    RateChangeRefused,
    RateEntry,
)
from letters.ledger.records import (
    FINISHED,
    IN_HAND,
    LEFT,
    RECOVERED,
    WAITING_FOR_CASE,
    CopyPdf,
    DeadLetter,
    LetterEvent,
    LetterRecord,
    LetterStatus,
    OverdueLetter,
    Rendering,
    Resend,
)
from letters.ledger.resend_jobs import (
    TO_DO,
    ChosenLetter,
    Item,
    ItemStatus,
    Job,
    JobExistsError,
    JobStore,
    new_letter_id,
)
from letters.ledger.search import FoundLetter, LetterQuery, find_letters
from letters.ledger.store import Ledger

__all__ = [
    "CASE_STATES",
    "CLOSED_STATES",
    "EVENT_SCHEMA",
    "FINISHED",
    "HOLDING_STATES",
    "HOLD_KEY_SEPARATOR",
    "IN_HAND",
    "KINDS",
    "LEFT",
    "MIGRATIONS",
    "OPEN",
    "RECOVERED",
    "TO_DO",
    "WAITING_FOR_CASE",
    "AppliedReceipt",
    "Batch",
    "BatchStatus",
    "CaseChange",
    "CaseState",
    "CaseStateEvent",
    "CaseStates",
    "ChosenLetter",
    "CopyPdf",
    "DeadLetter",
    "DeadLetterStore",
    "DeliveryEvent",
    "DeliveryLog",
    "FoundLetter",
    "HeldLock",
    "Item",
    "ItemStatus",
    "Job",
    "JobExistsError",
    "JobStore",
    "Ledger",
    "LetterBusyError",
    "LetterEvent",
    "LetterLocks",
    "LetterPosting",
    "LetterQuery",
    "LetterRecord",
    "LetterStatus",
    "LockLostError",
    "Member",
    "NewBatch",
    "NewLetter",
    "NewMember",
    "Outbox",
    "OutboxEvent",
    "OverdueLetter",
    "Placement",
    "PrintAnswers",
    "PrintBatchStore",
    "PrivacyRequest",
    "PrivacyRequests",
    "RateBook",
    "RateChange",
    "RateChangeRefused",
    "RateEntry",
    "ReceiptConflictError",
    "ReceiptVerdict",
    "RefusedRequest",
    "Rendering",
    "Resend",
    "ReturnVerdict",
    "ReturnedLetter",
    "UnknownCaseStateError",
    "accept_secret",
    "check_secret",
    "erase_expired",
    "find_letters",
    "letter_ids_of_person",
    "letter_locks",
    "new_letter_id",
    "revoke_password",
    "verify_login",
]
