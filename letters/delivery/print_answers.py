"""Acting on what the print house answers: its posting receipts and the mail that came back.

A receipt (``channels.print_post.receipts``) is checked whole against its
batch, then applied in one ledger transaction: each letter's real posting
day; for a letter posted later than the date it carries, the deadline the
law gives from that day, which the next letter of its case waits for; for a
letter that never went, a new letter in its place, dated by the day it
leaves, linked to the first and sent through the pipeline like any other.

A returned letter (``channels.print_post.returns``) gets status ``returned``;
the order of letters then no longer counts it as sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from channels.print_post.receipts import (
    MalformedReceiptError,
    Outcome,
    PostingReceipt,
    ReceiptLine,
    batch_problems,
    parse_receipt,
)
from channels.print_post.returns import ReturnLine
from letters.clock import OSLO, today_in_norway, utcnow
from letters.delivery.case_changes import CaseStateHandler
from letters.delivery.dating import lawful_deadline, ledger_letters, renewal_request
from letters.delivery.print_inbox import DroppedReceipt, ReceiptInbox
from letters.domain.contract import parse_request
from letters.domain.letter_order import check_order, reported_letters
from letters.errors import InvalidRequest, PermanentError, TransientError
from letters.ledger import LetterRecord, LetterStatus, Resend
from letters.ledger.passwords import revoke_password
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
from letters.ledger.records import BatchStatus
from letters.ledger.resend_jobs import new_letter_id
from letters.logs import log_event
from letters.storage import ObjectNotFoundError

if TYPE_CHECKING:  # the pipeline loads the renderer; reading returns needs none of it
    from letters.delivery.pipeline import Pipeline

log = logging.getLogger("letters.print")

# A letter that has not gone yet: it may still be stopped.
_NOT_GONE = frozenset(
    {
        LetterStatus.ACCEPTED,
        LetterStatus.ROUTED,
        LetterStatus.RENDERED,
        LetterStatus.ARCHIVED,
        LetterStatus.REQUEUED,
        LetterStatus.FAILED,
        LetterStatus.BATCHED,
        LetterStatus.HELD,
        LetterStatus.WITHDRAWN,
    }
)


@dataclass
class ReceiptsReport:
    applied: dict[str, AppliedReceipt] = field(default_factory=dict)
    # Read before: nothing changed.
    duplicates: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    # Left in the inbox for the next round (the batch is not marked sent yet, the ledger
    # was unavailable): nothing of it applied.
    waiting: dict[str, str] = field(default_factory=dict)
    # Letters made in place of letters not posted that could not be sent now (the sweep
    # sends them later), by letter id.
    replacements_failed: dict[str, str] = field(default_factory=dict)


def read_receipts(
    inbox: ReceiptInbox,
    pipeline: Pipeline,
    now: datetime | None = None,
    *,
    as_of: date | None = None,
) -> ReceiptsReport:
    """Read every receipt in the inbox once; raises only ConfigurationError.

    A receipt may not say a batch was posted after the day it is read (``as_of``, today
    in Norway unless the demo reads as on the day its local print house posted)."""
    report = ReceiptsReport()
    answers = pipeline.ledger.print_answers
    for name in inbox.waiting():
        try:
            dropped = inbox.read(name)
        except ObjectNotFoundError:
            continue  # moved aside by another process reading the inbox at the same time
        except TransientError as err:
            report.waiting[name] = str(err)
            continue
        try:
            moment = now or pipeline.clock()
            today = as_of or moment.astimezone(OSLO).date()
            verdict = _apply(dropped, pipeline, answers, moment, today)
        except TransientError as err:
            report.waiting[name] = str(err)
            continue
        except PermanentError as err:
            report.refused[name] = str(err)
            inbox.refuse(dropped, str(err))
            log_event(log, "print receipt refused", level=logging.ERROR, reason=str(err))
            continue
        inbox.done(dropped)
        if verdict.verdict is ReceiptVerdict.DUPLICATE:
            report.duplicates.append(name)
            continue
        report.applied[name] = verdict
        log_event(log, "print receipt applied", count=verdict.posted + verdict.not_posted)
        for letter_id in verdict.replacements:
            try:
                pipeline.deliver(letter_id)
            except (TransientError, PermanentError) as err:
                report.replacements_failed[letter_id] = str(err)
    return report


def _apply(
    dropped: DroppedReceipt,
    pipeline: Pipeline,
    answers: PrintAnswers,
    now: datetime,
    today: date,
) -> AppliedReceipt:
    receipt = parse_receipt(dropped.body)
    batches = pipeline.ledger.batches
    batch = batches.get(receipt.batch_id)
    if batch is None:
        raise ReceiptConflictError(f"batch_id: no batch {receipt.batch_id} in the ledger")
    if batch.receipt_name is not None:
        # Applied before (this receipt) or refused below by the ledger (another one).
        return answers.apply_receipt(
            batch.batch_id, receipt.posted_on, dropped.sha256, dropped.file_name, [], now
        )
    if batch.status is BatchStatus.ASSEMBLED:
        raise TransientError(
            f"batch {batch.batch_id} is being handed to the print house; its receipt waits"
        )
    if batch.status is not BatchStatus.SENT or batch.sent_at is None:
        raise ReceiptConflictError(
            f"batch_id: batch {batch.batch_id} is {batch.status}, not at the print house"
        )
    members = [m.letter_id for m in batches.members(batch.batch_id)]
    sent_on = batch.sent_at.astimezone(OSLO).date()
    problems = batch_problems(receipt, batch.batch_id, members, sent_on, today)
    if problems:
        raise MalformedReceiptError(problems)
    records = {r.letter_id: r for r in pipeline.ledger.letters_in(members)}
    postings = [
        _posting(line, receipt, records[line.letter_id], pipeline) for line in receipt.letters
    ]
    applied = answers.apply_receipt(
        batch.batch_id, receipt.posted_on, dropped.sha256, dropped.file_name, postings, now
    )
    for posting in postings:
        if posting.replacement is not None and applied.verdict is ReceiptVerdict.APPLIED:
            revoke_password(
                pipeline.ledger, posting.letter_id, replaced_by=posting.replacement.letter_id
            )
    return applied


def _posting(
    line: ReceiptLine, receipt: PostingReceipt, record: LetterRecord, pipeline: Pipeline
) -> LetterPosting:
    request_data = json.loads(record.request)
    if line.outcome is Outcome.NOT_POSTED:
        return LetterPosting(
            line.letter_id,
            line.outcome.value,
            line.reason,
            replacement=_replacement(record, request_data, receipt.batch_id, pipeline),
        )
    today = record.letter_date or today_in_norway(pipeline.clock())
    request = parse_request(request_data, pipeline.service.contract_rules, today)
    lawful = lawful_deadline(record, request, receipt.posted_on, pipeline.service.profile)
    return LetterPosting(line.letter_id, line.outcome.value, line.reason, lawful_deadline=lawful)


def _replacement(
    record: LetterRecord, original: dict[str, object], batch_id: str, pipeline: Pipeline
) -> NewLetter | None:
    """The new letter in place of one not posted; None when it cannot be made (its request
    no longer passes the contract), which the not-posted event then says."""
    job_id = f"not-posted-{batch_id}"
    new_id = new_letter_id(job_id, record.letter_id)
    today = today_in_norway(pipeline.clock())
    data = renewal_request(dict(original), new_id, today)
    try:
        request = parse_request(data, pipeline.service.contract_rules, today)
    except PermanentError as err:
        log_event(log, "not-posted letter not made again", level=logging.ERROR, reason=str(err))
        return None
    return NewLetter(
        letter_id=new_id,
        case_number=request.case.case_number,
        letter_type=request.letter_type.value,
        language=request.language.value,
        request=json.dumps(data, ensure_ascii=False, sort_keys=True),
        resend_columns=Resend(record.letter_id, job_id, "renew").columns(),
    )


# -- returned mail -------------------------------------------------------------------


@dataclass
class ReturnsReport:
    recorded: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    # By line: what was wrong with it (the rest of the file is applied).
    refused: dict[int, str] = field(default_factory=dict)
    # Letters of the same cases that rested on a returned one and were stopped, and why.
    stopped: dict[str, str] = field(default_factory=dict)


def record_returns(
    lines: Iterable[ReturnLine],
    answers: PrintAnswers,
    source: str,
    now: datetime | None = None,
    *,
    pipeline: Pipeline | None = None,
) -> ReturnsReport:
    """Record each valid line's letter as returned, once; a line naming a letter that is
    unknown or has not left is refused by its line number. With the ``pipeline``, the
    letters of the case not yet gone that may no longer leave without the returned one
    (a betalingsoppfordring in an open print batch, its inkassovarsel back) are stopped."""
    report = ReturnsReport()
    for line in lines:
        if line.problem is not None:
            report.refused[line.line] = line.problem
            continue
        letter_id = line.letter_id
        # A line without a problem has all three (channels.print_post.returns).
        if letter_id is None or line.returned_on is None or line.reason is None:
            continue
        where = f"{source} line {line.line}"
        verdict = answers.record_return(
            letter_id, line.returned_on, line.reason, where, now or utcnow()
        )
        if verdict is ReturnVerdict.RECORDED:
            report.recorded.append(letter_id)
            log_event(log, "returned mail recorded", letter_id=letter_id, reason=line.reason)
            if pipeline is not None:
                report.stopped.update(stop_what_rested_on(letter_id, pipeline))
        elif verdict is ReturnVerdict.ALREADY:
            report.already.append(letter_id)
        elif verdict is ReturnVerdict.NOT_LEFT:
            report.refused[line.line] = f"letter_id: letter {letter_id} has not been sent"
        elif verdict is ReturnVerdict.BEFORE_POSTED:
            report.refused[line.line] = (
                f"returned_on: {line.returned_on.isoformat()} is before letter {letter_id} "
                "was posted"
            )
        else:
            report.refused[line.line] = f"letter_id: no letter {letter_id} in the ledger"
    return report


def stop_what_rested_on(returned_id: str, pipeline: Pipeline) -> dict[str, str]:
    """Stop the letters of the returned letter's case that passed the order of letters
    when they were rendered and no longer do, now that it does not count; by letter id,
    why. A letter not rendered yet meets the check when it is."""
    ledger = pipeline.ledger
    returned = ledger.get(returned_id)
    if returned is None:
        return {}
    case_letters = ledger.case_letters(returned.case_number)
    today = today_in_norway(pipeline.clock())
    handler = CaseStateHandler(ledger, pipeline.locks)
    profile = pipeline.service.profile
    stopped = {}
    for other in case_letters:
        if other.status not in _NOT_GONE or other.pdf_sha256 is None:
            continue
        request = parse_request(
            json.loads(other.request), pipeline.service.contract_rules, other.letter_date or today
        )
        prior = reported_letters(request, profile.name) + ledger_letters(other, case_letters)
        leaves_on = max(today, other.planned_posting_day or today)
        try:
            check_order(request, leaves_on, prior, profile.order)
        except InvalidRequest as err:
            why = f"returned mail: letter {returned_id} came back; {err}"
            result = handler.stop(other.letter_id, why)
            stopped[other.letter_id] = (
                result.detail if result.cancelled else (f"not stopped: {result.detail}")
            )
            log_event(log, "letter stopped by returned mail", letter_id=other.letter_id)
    return stopped


def next_step(reason: str) -> str:
    """What operations do about a returned letter of ``reason``."""
    if reason == "deceased":
        return "tell the case system; the estate is reached by other means, not by a new letter"
    if reason == "print_failed":
        return "check the address the case system gave; then send a new letter"
    return "get a new address from the case system, then send a new letter"


def returned_by_reason(returned: Iterable[ReturnedLetter]) -> dict[str, list[ReturnedLetter]]:
    """Returned letters grouped by reason, the reasons with most letters first."""
    groups: dict[str, list[ReturnedLetter]] = {}
    for letter in returned:
        groups.setdefault(letter.reason, []).append(letter)
    return dict(sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])))
