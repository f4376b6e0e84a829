"""The ledger's stores beside its letters, built once per ``Ledger`` and handed out by it.

Nothing outside this package builds a store: it asks the ledger
(``ledger.batches``, ``ledger.outbox``, …), so each process has one of each
per ledger, and a store's construction can change in one place.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from letters.ledger.case_states import CaseStates
    from letters.ledger.dead_letters import DeadLetterStore
    from letters.ledger.delivery_events import DeliveryLog
    from letters.ledger.history_archive import HistoryArchive
    from letters.ledger.outbox import Outbox
    from letters.ledger.print_answers import PrintAnswers
    from letters.ledger.print_batches import PrintBatchStore
    from letters.ledger.privacy_requests import PrivacyRequests
    from letters.ledger.rates import RateBook
    from letters.ledger.resend_jobs import JobStore
    from letters.ledger.store import Ledger


class LedgerStores:
    """Mixed into ``Ledger``. The modules are imported on first use: each imports the
    ledger's own module, which imports this one."""

    def _ledger(self) -> Ledger:
        return cast("Ledger", self)

    @cached_property
    def batches(self) -> PrintBatchStore:
        from letters.ledger.print_batches import PrintBatchStore

        return PrintBatchStore(self._ledger())

    @cached_property
    def print_answers(self) -> PrintAnswers:
        from letters.ledger.print_answers import PrintAnswers

        return PrintAnswers(self._ledger())

    @cached_property
    def dead_letters(self) -> DeadLetterStore:
        from letters.ledger.dead_letters import DeadLetterStore

        return DeadLetterStore(self._ledger())

    @cached_property
    def deliveries(self) -> DeliveryLog:
        from letters.ledger.delivery_events import DeliveryLog

        return DeliveryLog(self._ledger())

    @cached_property
    def history_archive(self) -> HistoryArchive:
        from letters.ledger.history_archive import HistoryArchive

        return HistoryArchive(self._ledger())

    @cached_property
    def cases(self) -> CaseStates:
        from letters.ledger.case_states import CaseStates

        return CaseStates(self._ledger())

    @cached_property
    def resend_jobs(self) -> JobStore:
        from letters.ledger.resend_jobs import JobStore

        return JobStore(self._ledger())

    @cached_property
    def outbox(self) -> Outbox:
        from letters.ledger.outbox import Outbox

        return Outbox(self._ledger())

    @cached_property
    def rates(self) -> RateBook:
        from letters.ledger.rates import RateBook

        return RateBook(self._ledger())

    @cached_property
    def privacy_requests(self) -> PrivacyRequests:
        from letters.ledger.privacy_requests import PrivacyRequests

        return PrivacyRequests(self._ledger())


# The store each attribute holds, by class name: what tests/test_architecture.py looks for.
STORE_CLASSES: dict[str, str] = {
    "PrintBatchStore": "batches",
    "PrintAnswers": "print_answers",
    "DeadLetterStore": "dead_letters",
    "DeliveryLog": "deliveries",
    "HistoryArchive": "history_archive",
    "CaseStates": "cases",
    "JobStore": "resend_jobs",
    "Outbox": "outbox",
    "RateBook": "rates",
    "PrivacyRequests": "privacy_requests",
}
