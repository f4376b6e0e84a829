"""Run a re-send job: each letter of the job once, at a steady rate, resumable.

``copy`` delivers the archived PDF again, byte for byte, as a new letter in
the ledger (its own delivery record, Digipost message and print batch place).
``renew`` renders the letter again as a new letter: today's letter date, a new
deadline by the same legal rules, a new one-time password; once the new letter
is on its way, the old letter's password stops working.

Both go through the worker's own pipeline, so routing, printability, the
ledger's history and the channels' idempotency are the same as for any letter.
The routing rule is replaced only when the job forces a channel, and even
then a debtor who has not consented never gets a letter in Digipost.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from channels.base import DIGIPOST
from letters.clock import today_in_norway
from letters.delivery.dating import renewal_request
from letters.delivery.pipeline import Pipeline
from letters.delivery.routing import Route
from letters.domain.contract import parse_request
from letters.errors import PermanentError, TransientError
from letters.ledger import Ledger, LetterRecord, LetterStatus, Resend
from letters.ledger.case_states import CLOSED_STATES, HOLDING_STATES
from letters.ledger.passwords import revoke_password
from letters.ledger.resend_jobs import TO_DO, Item, ItemStatus, Job, JobStore
from letters.logs import log_event
from letters.resend.pace import RateLimiter

log = logging.getLogger("letters.resend")

# A new letter in one of these has gone out (or waits in a print batch to go).
_ON_ITS_WAY = (LetterStatus.SENT, LetterStatus.DELIVERED, LetterStatus.BATCHED)


@dataclass(slots=True)
class RunReport:
    """What one run of a job did."""

    job_id: str
    run: int
    counts: Counter[str] = field(default_factory=Counter)
    done_before: int = 0
    stopped: bool = False
    elapsed_s: float = 0.0
    # Letters each process of a run in several processes handled (pool.py).
    by_process: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return sum(self.counts.values())


ItemDone = Callable[[Item, ItemStatus, str], None]


class Resender:
    def __init__(
        self,
        pipeline: Pipeline,
        store: JobStore,
        today: Callable[[], date] = today_in_norway,
    ) -> None:
        self.pipeline = pipeline
        self.ledger: Ledger = pipeline.ledger
        self.store = store
        self.cases = self.ledger.cases
        self.today = today

    def run(
        self,
        job: Job,
        limiter: RateLimiter,
        on_item: ItemDone = lambda *_: None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> RunReport:
        """Deal with every item still to do, in order, until done or told to stop.

        Raises ConfigurationError (stop loudly); the item in hand stays to do.
        """
        started = time.perf_counter()
        report = RunReport(job.job_id, self.store.start_run(job.job_id))
        to_do = self.store.items(job.job_id, TO_DO)
        report.done_before = job.item_count - len(to_do)
        report.stopped = self.run_items(job, to_do, report, limiter, on_item, should_stop)
        if not report.stopped and not self.store.items(job.job_id, TO_DO):
            self.store.finish(job.job_id)
        report.elapsed_s = time.perf_counter() - started
        return report

    def run_items(
        self,
        job: Job,
        items: Sequence[Item],
        report: RunReport,
        limiter: RateLimiter,
        on_item: ItemDone = lambda *_: None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Deal with ``items`` in order as part of ``report``'s run; whether told to stop.

        Each item's outcome is recorded in the job before the next one starts, so
        a run stopped at any point (or killed) leaves the rest to do.
        """
        for item in items:
            if should_stop():
                return True
            try:
                status, detail = self._handle(job, item, limiter)
            except TransientError as err:
                # Before the letter reached a channel (the ledger or the archive was
                # unavailable): the next run of the job picks it up again.
                status, detail = ItemStatus.RETRY, str(err)
            self.store.record(job.job_id, item, status, detail, report.run)
            report.counts[status] += 1
            log_event(
                log,
                "re-sent" if status is ItemStatus.SENT else f"re-send {status}",
                job_id=job.job_id,
                letter_id=item.new_letter_id,
                case_number=item.case_number,
                status=status.value,
            )
            on_item(item, status, detail)
        return False

    def _handle(self, job: Job, item: Item, limiter: RateLimiter) -> tuple[ItemStatus, str]:
        existing = self.ledger.get(item.new_letter_id)
        if existing is not None and existing.status in _ON_ITS_WAY:
            self._after_sending(job, item, existing.status)
            return ItemStatus.SENT, f"already {existing.status} in an earlier run"
        source = self.ledger.get(item.source_letter_id)
        if source is None:
            return ItemStatus.FAILED, "the original letter is no longer in the ledger"
        if existing is None:
            state = self.cases.get(item.case_number).state
            if state in HOLDING_STATES:
                return (
                    ItemStatus.SKIPPED,
                    f"case {state} since the job was created: its letters wait",
                )
            if state in CLOSED_STATES:
                return ItemStatus.SKIPPED, f"case {state} since the job was created"
            if job.forced_channel == DIGIPOST and not _consented(source):
                return ItemStatus.FAILED, (
                    "--channel digipost: the debtor has not consented to digital delivery, "
                    "and consent cannot be forced"
                )
            try:
                self._create(job, item, source)
            except PermanentError as err:
                return ItemStatus.FAILED, str(err)
        forced = (
            Route(job.forced_channel, f"forced by re-send job {job.job_id}")
            if job.forced_channel
            else None
        )
        limiter.wait()
        try:
            outcome = self.pipeline.deliver(item.new_letter_id, forced)
        except PermanentError as err:
            self._record_failed(item, f"permanent: {err}")
            return ItemStatus.FAILED, str(err)
        except TransientError as err:
            self._record_failed(item, f"transient: {err}; the job tries again when run again")
            return ItemStatus.RETRY, str(err)
        receipt = outcome.receipt
        if receipt is None:
            # Finished between this run's look and the delivery (another process).
            record = self.ledger.get(item.new_letter_id)
            assert record is not None  # noqa: S101 - the pipeline found it finished
            self._after_sending(job, item, record.status)
            return ItemStatus.SENT, f"already {record.status}"
        # A receipt is batched, sent or delivered: the letter is on its way.
        self._after_sending(job, item, LetterStatus(receipt.status.value))
        return ItemStatus.SENT, f"{receipt.channel}: {receipt.detail}".rstrip(": ")

    def _create(self, job: Job, item: Item, source: LetterRecord) -> None:
        resend = Resend(source.letter_id, job.job_id, job.mode)
        if job.mode == "copy":
            self.ledger.create_copy(source, item.new_letter_id, resend)
        else:
            self._accept_renewal(source, item.new_letter_id, resend)

    def _accept_renewal(self, source: LetterRecord, new_id: str, resend: Resend) -> None:
        data = renewal_request(json.loads(source.request), new_id, self.today())
        request = parse_request(
            data, self.pipeline.service.contract_rules, self.today()
        )  # raises InvalidRequest naming the field, as for the case system's requests
        self.ledger.accept(
            letter_id=new_id,
            case_number=request.case.case_number,
            letter_type=request.letter_type.value,
            language=request.language.value,
            request=json.dumps(data, ensure_ascii=False, sort_keys=True),
            resend=resend,
        )

    def _after_sending(self, job: Job, item: Item, status: str) -> None:
        if job.mode == "renew" and status in _ON_ITS_WAY:
            revoke_password(self.ledger, item.source_letter_id, replaced_by=item.new_letter_id)

    def _record_failed(self, item: Item, reason: str) -> None:
        record = self.ledger.get(item.new_letter_id)
        if record is not None and not record.finished:
            self.ledger.record_failed(item.new_letter_id, record.attempts + 1, reason, None)


def _consented(source: LetterRecord) -> bool:
    recipient = json.loads(source.request).get("recipient", {})
    return bool(recipient.get("digital_consent")) and bool(
        recipient.get("national_identity_number")
    )
