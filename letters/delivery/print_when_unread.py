"""Print when unread: a Digipost letter nobody opened goes out on paper as well.

For the letter types the agency profile names (``[rules.print_when_unread]``),
a letter delivered to Digipost and not opened within the profile's days
(Digipost's ``OPENED`` event, recorded by the Digipost sync) is printed and
posted as a copy: a new letter in the ledger linked to the original
(``origin_letter_id``, job ``print-when-unread``), with the reason in its
history. The copy changes nothing about the letter: its date and deadline ran
from the day it was sent. Its PDF is the original's with a banner on page 1
that says so ("Copy: sent to your Digipost on …; the deadlines run from that
day", letters.rendering.copy_banner), archived under the copy's own key; the
copy's history names both files and the day the original went to Digipost,
and its posting day is its own.

A copy still in an open print batch when the original is opened is taken out
of the batch and cancelled. Copies are made only while the letter's deadline
has not passed (a copy after it would tell the debtor nothing they can act
on), never for a letter Digipost itself printed, and never for a letter that
a re-send job has copied or renewed already.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from channels.base import DIGIPOST, PRINT
from letters.delivery.letter_pdf import ArchiveMismatchError
from letters.delivery.pipeline import Pipeline
from letters.delivery.routing import Route
from letters.digests import sha256_hex
from letters.domain.letter_types import Language
from letters.domain.profile import UnreadRule
from letters.errors import PermanentError, TransientError
from letters.ledger import CopyPdf, LetterRecord, LetterStatus, Resend
from letters.ledger.delivery_events import DeliveryLog
from letters.logs import log_event
from letters.storage import archive_key

log = logging.getLogger("letters.print_when_unread")

# The re-send job id every copy of this kind is recorded under.
JOB_ID = "print-when-unread"
_COPY_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "letters:print-when-unread")


def copy_id(original_letter_id: str) -> str:
    """The copy's letter id, the same however often it is made: one copy per letter."""
    return str(uuid.uuid5(_COPY_IDS, original_letter_id))


@dataclass(frozen=True, slots=True)
class UnreadReport:
    copied: int  # copies handed to print (batched or sent)
    withdrawn: int  # copies taken out of their batch because the original was opened
    failed: int  # copies that could not be made or sent this time (tried again next run)


def print_unread(pipeline: Pipeline, rule: UnreadRule, today: date) -> UnreadReport:
    """One pass: withdraw copies whose original was opened, then copy what is unread.

    Raises ConfigurationError (stop loudly); a letter that fails otherwise is
    logged and left for the next pass.
    """
    deliveries = pipeline.ledger.deliveries
    withdrawn = _withdraw_opened(pipeline, deliveries)
    copied = failed = 0
    if not rule.letter_types:
        return UnreadReport(copied, withdrawn, failed)
    unopened = deliveries.unopened(
        DIGIPOST,
        [t.value for t in rule.letter_types],
        posted_by=today - timedelta(days=rule.days),
        deadline_from=today,
    )
    route = Route(PRINT, f"not opened in Digipost within {rule.days} days: printed as well")
    for original in unopened:
        resend = Resend(original.letter_id, JOB_ID, "copy")
        try:
            pdf = _copy_pdf(pipeline, original)
            pipeline.ledger.create_copy(original, copy_id(original.letter_id), resend, pdf)
        except (PermanentError, TransientError) as err:  # no PDF to copy, or no archive now
            failed += 1
            _log_failure(original.letter_id, err)
    # Every copy not yet handed to print: the new ones, and any a stopped process left.
    for record in deliveries.unfinished_copies(JOB_ID):
        went = _deliver(pipeline, record.letter_id, route)
        copied += went is True
        failed += went is False
    return UnreadReport(copied, withdrawn, failed)


def _copy_pdf(pipeline: Pipeline, original: LetterRecord) -> CopyPdf:
    """The original's archived PDF with the copy banner, archived under the copy's key.

    A copy archived by a run that stopped before the ledger heard of it is used as
    it is: the archive is create-only, and that file may be the one on its way out.
    """
    if not original.archive_key or not original.letter_date or not original.posted_on:
        raise PermanentError(f"letter {original.letter_id} has no archived PDF to copy")
    sent_on = original.posted_on
    key = archive_key(original.letter_date, copy_id(original.letter_id))
    if pipeline.archive.exists(key):
        pdf = pipeline.archive.get(key)
    else:
        source = pipeline.archive.get(original.archive_key)
        if sha256_hex(source) != original.pdf_sha256:
            raise ArchiveMismatchError(
                f"archive {original.archive_key}: the PDF differs from the one recorded"
            )
        banner = pipeline.service.renderer.copy_banner
        pdf = banner.stamp(source, Language(original.language), sent_on)
        pipeline.archive.put(key, pdf)
    detail = (
        f"the PDF of {original.archive_key} with a copy banner: "
        f"sent to Digipost on {sent_on.isoformat()}, the deadlines run from that day"
    )
    return CopyPdf(key, sha256_hex(pdf), detail)


def _deliver(pipeline: Pipeline, letter_id: str, route: Route) -> bool | None:
    """True if the copy went to print now, False if it failed, None if its case stopped it
    (held or cancelled, as any letter of the case). A permanent failure cancels the copy
    (its history says why); a transient one leaves it for the next pass."""
    try:
        outcome = pipeline.deliver(letter_id, route)
    except PermanentError as err:
        pipeline.ledger.record_cancelled(letter_id, f"print-when-unread copy not sent: {err}")
        _log_failure(letter_id, err)
        return False
    except TransientError as err:
        _log_failure(letter_id, err)
        return False
    if outcome.receipt is None:
        return None
    log_event(log, "unread letter copied to print", letter_id=letter_id, status=outcome.name)
    return True


def _log_failure(letter_id: str, err: Exception) -> None:
    log_event(
        log, "print-when-unread copy failed", level=logging.WARNING, letter_id=letter_id,
        reason=str(err),
    )  # fmt: skip


def _withdraw_opened(pipeline: Pipeline, deliveries: DeliveryLog) -> int:
    batches = pipeline.ledger.batches
    withdrawn = 0
    for letter_id, opened_at in deliveries.copies_of_opened(JOB_ID, LetterStatus.BATCHED):
        reason = f"the original was opened in Digipost at {opened_at.isoformat(timespec='seconds')}"
        if batches.withdraw(letter_id, LetterStatus.CANCELLED, reason) is not None:
            withdrawn += 1
            log_event(log, "print copy withdrawn: original opened", letter_id=letter_id)
    return withdrawn
