"""What happens to one letter request, step by step, each step recorded in the ledger.

accept → route → date and render → archive → send. The letter is routed
first because the day it leaves, which its date and deadline count from,
depends on the channel (``letters.delivery.dating``); its case's state is
looked at before anything is done and again just before sending (a held or
cancelled letter is not sent). A letter picks up at the step after the last
one the ledger holds, so a redelivered or resumed request never repeats
finished work: it is rendered again only when it would leave later than it
was dated for, and sent again only through the channel's own idempotency on
letter id (a crash between sending and recording).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from channels import build_channels
from channels.base import (
    DIGIPOST,
    PRINT,
    ChannelSet,
    NotAMailboxError,
    OutgoingLetter,
    Receipt,
    ReceiptStatus,
)
from letters import metrics
from letters.clock import today_in_norway, utcnow
from letters.config import Settings
from letters.delivery.case_changes import CaseOutcome, CaseStateHandler
from letters.delivery.dating import needs_new_date
from letters.delivery.letter_pdf import ArchiveMismatchError, LetterPdfs
from letters.delivery.outcome import Outcome, ids_of, outcome_of
from letters.delivery.print_batches import PrintBatches, open_batches, placed_receipt
from letters.delivery.rates import (
    CurrentRates,
    hold_keys,
    hold_reason,
    missing_rates,
)
from letters.delivery.routing import Route, route
from letters.digests import sha256_hex
from letters.domain.case_message import parse_case_message
from letters.domain.contract import parse_request
from letters.domain.message_body import peek_letter_id, request_object
from letters.domain.model import LetterRequest
from letters.domain.pepper import SETTING as PEPPER_SETTING
from letters.domain.posting import letter_date_for
from letters.domain.profile import AgencyProfile
from letters.domain.rates import MissingRate
from letters.errors import FieldProblem, InvalidRequest, PermanentError
from letters.ledger import HeldLock, Ledger, LetterLocks, LetterRecord, LetterStatus, letter_locks
from letters.ledger.key_checks import check_secret
from letters.logs import log_event
from letters.rendering.letter_service import LetterService
from letters.storage import Archive, open_archive

log = logging.getLogger("letters.pipeline")


class LetterIdConflictError(PermanentError):
    """A different request came with the letter id of a letter already accepted."""

    fails_the_letter = False


class Pipeline:
    def __init__(
        self,
        service: LetterService,
        ledger: Ledger,
        archive: Archive,
        channels: ChannelSet,
        locks: LetterLocks,
        print_batches: PrintBatches,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.service = service
        self.ledger = ledger
        self.archive = archive
        self.channels = channels
        self.locks = locks
        # Where a letter the print channel took waits for the print house.
        self.print_batches = print_batches
        self.clock = clock
        self.cases = ledger.cases
        self.case_changes = CaseStateHandler(ledger, locks)
        # The packaged rates with those operations approved in the ledger.
        self.rates = CurrentRates(service.contract_rules.rates, ledger.rates)
        self.pdfs = LetterPdfs(service, ledger, archive, self.rates, lambda: self.clock())

    def process_case(self, body: bytes | str) -> CaseOutcome:
        """A ``letters.case/1`` message: record the change and apply it to the case's letters.

        Raises InvalidRequest naming each field at fault (dead-letter it), or a
        TransientError when the ledger or a letter's lock is unavailable.
        """
        change = parse_case_message(body, self.service.contract_rules.limits)
        return self.case_changes.apply(change)

    def process(self, body: bytes | str) -> Outcome:
        """Take one request as far as it goes.

        Raises:
            PermanentError: dead-letter it. TransientError: retry later.
            ConfigurationError: stop the worker.
        """
        data = request_object(body, self.service.contract_rules.limits)
        letter_id = peek_letter_id(data)
        if letter_id is None:
            self._parse(data, today_in_norway(self.clock()))  # raises with every problem named
            raise InvalidRequest([FieldProblem("letter_id", "is required")])
        # One spelling of the idempotency key, in the lock, the ledger and the request kept.
        data["letter_id"] = letter_id
        kept = json.dumps(data, ensure_ascii=False, sort_keys=True)
        with self.locks.hold(letter_id) as lock:
            record = self.ledger.get(letter_id)
            request = None
            if record is None:
                request = self._parse(data, today_in_norway(self.clock()))
                record, _ = self.ledger.accept(
                    letter_id=letter_id,
                    case_number=request.case.case_number,
                    letter_type=request.letter_type.value,
                    language=request.language.value,
                    request=kept,
                )
                log_event(log, "accepted", **ids_of(record))
            if record.request_sha256 != sha256_hex(kept.encode()):
                accepted = record.created_at.isoformat(timespec="seconds")
                raise LetterIdConflictError(
                    f"letter_id: a different request with this letter id was accepted at "
                    f"{accepted}; this one is refused and that letter is left as it is"
                )
            if record.finished or record.waiting_for_case:
                return outcome_of(record, None, already_finished=True)
            return self._advance(record, request, lock)

    def deliver(self, letter_id: str, forced: Route | None = None) -> Outcome:
        """Take a letter the ledger already holds as far as it goes (re-send jobs).

        ``forced`` replaces the routing rule for a letter not routed yet; the
        caller decides when that is allowed. Raises as ``process`` does.
        """
        with self.locks.hold(letter_id) as lock:
            record = self.ledger.get(letter_id)
            if record is None:
                raise PermanentError(f"letter {letter_id} is not in the ledger")
            if record.finished or record.waiting_for_case:
                return outcome_of(record, None, already_finished=True)
            return self._advance(record, None, lock, forced)

    def redate(self, letter_id: str, leaves_on: date) -> bool:
        """Date a rendered letter again if leaving on ``leaves_on`` would make its deadline
        short (a print batch that leaves late); whether it was rendered again."""
        with self.locks.hold(letter_id):
            record = self.ledger.get(letter_id)
            if record is None or record.pdf_sha256 is None:
                return False
            request = self._stored_request(record)
            if not needs_new_date(record, request, leaves_on, self.service.profile):
                return False
            # A rate the new date needs and nobody has checked: MissingRate, a
            # TransientError, so the batch waits for it rather than print a guess.
            self.pdfs.render(record, request, leaves_on, self.rates.table().recording(), again=True)
            return True

    def _advance(
        self,
        record: LetterRecord,
        request: LetterRequest | None,
        lock: HeldLock,
        forced: Route | None = None,
    ) -> Outcome:
        """From the step after the last recorded one to the receipt.

        accept → route → date and render → archive → send, the case's state
        looked at first and again just before sending. ``request`` is the parsed
        request when this call accepted it; a resumed letter parses the one the
        ledger kept. The record is kept current here rather than read back.
        """
        request = request or self._stored_request(record)
        if stopped := self._stopped_by_case(record):
            return stopped
        if record.channel is None:
            decision = forced or route(request.recipient, self.channels.directory)
            self.ledger.record_routed(record.letter_id, decision.channel, decision.reason)
            log_event(log, "routed", channel=decision.channel, **ids_of(record))
            record = replace(
                record,
                status=LetterStatus.ROUTED,
                channel=decision.channel,
                route_reason=decision.reason,
            )
        channel: str = record.channel or PRINT  # routed above
        try:
            record, pdf = self.pdfs.dated(record, request, self._leaves_on(channel))
        except MissingRate as missing:
            return self._held_for_rates(record, request, channel, missing)
        if stopped := self._stopped_by_case(record):
            return stopped
        # A database restart ends the lock's session: then another worker may have the
        # letter, so this one does not send it.
        lock.check()
        try:
            receipt = self._send(channel, _outgoing(record, request, pdf, self.service.profile))
        except NotAMailboxError as err:
            if channel != DIGIPOST:
                raise
            # Digipost itself says there is no mailbox (a closed account since
            # identify): a confirmed non-user, so print and post is right, dated
            # again if the batch leaves later than the day it was dated for.
            reason = f"Digipost found no mailbox when sending ({err})"
            self.ledger.record_routed(record.letter_id, PRINT, reason)
            log_event(log, "routed", channel=PRINT, **ids_of(record))
            try:
                record, pdf = self.pdfs.dated(
                    replace(record, channel=PRINT), request, self._leaves_on(PRINT)
                )
            except MissingRate as missing:
                return self._held_for_rates(record, request, PRINT, missing)
            receipt = self._send(PRINT, _outgoing(record, request, pdf, self.service.profile))
        receipt = self._record_receipt(record, receipt, request.recipient.address.country_code)
        return outcome_of(record, receipt)

    def _send(self, channel: str, letter: OutgoingLetter) -> Receipt:
        started = time.perf_counter()
        try:
            return self.channels.get(channel).send(letter)
        finally:
            metrics.send_seconds.labels(channel).observe(time.perf_counter() - started)

    def _record_receipt(self, record: LetterRecord, receipt: Receipt, country: str) -> Receipt:
        """Record what the channel did; the receipt as recorded (a letter handed over for
        print gets its place in a batch here)."""
        if receipt.status is ReceiptStatus.BATCHED:
            receipt = self._place_in_batch(record, receipt, country)
            if receipt.status is ReceiptStatus.BATCHED:
                log_event(log, "batched", channel=receipt.channel, **ids_of(record))
                return receipt
        detail = f"{receipt.channel}: {receipt.detail}".rstrip(": ")
        status = (
            LetterStatus.DELIVERED
            if receipt.status is ReceiptStatus.DELIVERED
            else LetterStatus.SENT
        )
        self.ledger.record_sent(
            record.letter_id,
            status,
            receipt.provider_ref,
            detail,
            delivery_method=receipt.delivery_method,
            delivered_at=receipt.delivered_at,
            posted_on=self._leaves_on(receipt.channel),
        )
        log_event(log, status.value, channel=receipt.channel, **ids_of(record))
        return receipt

    def _place_in_batch(self, record: LetterRecord, receipt: Receipt, country: str) -> Receipt:
        """The letter joins its print batch, marked ``batched`` in the same transaction."""
        assert record.page_count is not None  # noqa: S101 - rendered before it is sent
        placement = self.print_batches.place(
            record.letter_id,
            record.case_number,
            record.page_count,
            country,
            self.clock(),
            receipt.channel,
        )
        return placed_receipt(receipt, placement)

    def _stopped_by_case(self, record: LetterRecord) -> Outcome | None:
        """Hold or cancel the letter if its case says so."""
        case = self.cases.get(record.case_number)
        if not (case.holds_letters or case.ends_letters):
            return None
        since = case.changed_at.isoformat(timespec="seconds") if case.changed_at else "now"
        if case.holds_letters:
            status = LetterStatus.HELD
            self.ledger.record_held(
                record.letter_id, status, f"case {case.state} since {since}: the letter waits"
            )
        else:
            status = LetterStatus.CANCELLED
            self.ledger.record_cancelled(
                record.letter_id, f"case {case.state} since {since}: the letter will not be sent"
            )
        log_event(log, status.value, reason=f"case {case.state}", **ids_of(record))
        return outcome_of(record, None, stopped=status)

    def _held_for_rates(
        self, record: LetterRecord, request: LetterRequest, channel: str, first: MissingRate
    ) -> Outcome:
        """Hold the letter for every rate it needs that no checked row gives (not only the
        first one found), so that operations see all of them at once."""
        leaves_on = self._leaves_on(channel)
        missing = missing_rates(
            self.service,
            self.rates.table().probing(),
            request,
            letter_date_for(request.letter_date, leaves_on),
            self.pdfs.prior_letters(record, request),
            today_in_norway(self.clock()),
            leaves_on,
        ) or [first]
        self.ledger.record_held(
            record.letter_id, LetterStatus.HELD, hold_reason(missing), hold_keys(missing)
        )
        log_event(log, "held", reason=hold_keys(missing), **ids_of(record))
        return outcome_of(record, None, stopped=LetterStatus.HELD, waiting_for="a rate")

    def _leaves_on(self, channel: str) -> date:
        """The day a letter handed to ``channel`` now leaves: every deadline counts from it."""
        return self.channels.get(channel).sending_day(self.clock())

    def _stored_request(self, record: LetterRecord) -> LetterRequest:
        today = record.letter_date or today_in_norway(self.clock())
        return self._parse(json.loads(record.request), today)

    def _parse(self, data: dict[str, Any], today: date) -> LetterRequest:
        return parse_request(data, self.service.contract_rules, today)


def _outgoing(
    record: LetterRecord, request: LetterRequest, pdf: bytes, profile: AgencyProfile
) -> OutgoingLetter:
    rendering = (record.letter_date, record.deadline, record.kid, record.amount_due)
    if any(v is None for v in rendering) or record.page_count is None or not record.pdf_sha256:
        raise ArchiveMismatchError("ledger holds no rendering for an archived letter")
    assert record.letter_date is not None  # noqa: S101 - checked above
    assert record.deadline is not None  # noqa: S101
    assert record.kid is not None  # noqa: S101
    assert record.amount_due is not None  # noqa: S101
    assert record.page_count is not None  # noqa: S101
    return OutgoingLetter(
        letter_id=record.letter_id,
        case_number=record.case_number,
        letter_type=record.letter_type,
        language=record.language,
        letter_date=record.letter_date,
        deadline=record.deadline,
        kid=record.kid,
        amount_due=record.amount_due,
        account_number=profile.account_number,
        page_count=record.page_count,
        pdf_sha256=record.pdf_sha256,
        pdf=pdf,
        recipient=request.recipient,
        portal_url=profile.portal_url,
    )


def build_pipeline(settings: Settings, ledger: Ledger) -> Pipeline:
    service = LetterService(settings)
    # Passwords hashed with another pepper than the ledger's would not log in.
    check_secret(ledger, PEPPER_SETTING, service.pepper.secret)
    return Pipeline(
        service=service,
        ledger=ledger,
        archive=open_archive(settings.archive_url, settings.s3),
        channels=build_channels(settings),
        locks=letter_locks(ledger.engine, settings.var_dir),
        print_batches=open_batches(settings, ledger),
    )
