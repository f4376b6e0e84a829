"""Cut print batches and hand them to the print house, safely against crashes and retries.

For each closed batch: fetch its letters from the archive (checking each
PDF's SHA-256 against the ledger), assemble the batch PDF, record its hash,
then write the PDF, the CSV manifest and last the JSON manifest to the print
drop with create-only writes, and finally mark the batch and all its letters
sent in one transaction. A crash anywhere before that transaction leaves the
batch closed: the next round assembles the same bytes, finds the files
already there (same hash: nothing written) and marks it sent. Membership is
fixed when a batch closes, so no letter ever lands in a second batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from channels.print_post.assembly import AssembledBatch, BatchLetter, assemble
from channels.print_post.fonts import FontLibrary
from channels.print_post.manifest import BatchFiles, manifest_csv, manifest_json
from channels.print_post.sheet_codes import CodeZone, sheet_code_zone
from letters.clock import OSLO, utcnow
from letters.config import Settings
from letters.config.declared import PRINT_URL
from letters.digests import sha256_hex
from letters.domain.posting import print_posting_day
from letters.errors import PermanentError, TransientError
from letters.ledger import Ledger
from letters.ledger.print_batches import PrintBatchStore
from letters.ledger.records import Batch, BatchStatus, Member
from letters.logs import log_event
from letters.storage import Archive, ObjectStore, WriteOptions, open_archive, open_store

log = logging.getLogger("letters.print")

# Long enough for a large batch; a crashed dispatcher's batch is taken over after it.
DEFAULT_LEASE = timedelta(minutes=15)


# Date a letter again if it leaves on the given day; whether it was rendered again.
Redate = Callable[[str, date], bool]


class BatchLetterMissingError(PermanentError):
    """A letter in the batch has no usable PDF in the archive."""


@dataclass(frozen=True, slots=True)
class SentBatch:
    batch_id: str
    destination: str
    letters: int
    pages: int
    sheets: int
    pdf_bytes: int
    letters_bytes: int
    location: str


@dataclass
class DispatchReport:
    closed: list[str] = field(default_factory=list)
    sent: list[SentBatch] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class PrintDispatcher:
    def __init__(
        self,
        batches: PrintBatchStore,
        archive: Archive,
        drop: ObjectStore,
        library: FontLibrary,
        envelope: str,
        *,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = utcnow,
        posting_delay: int = 1,
        redate: Redate | None = None,
        code_zone: CodeZone | None = None,
    ) -> None:
        self.batches = batches
        self.archive = archive
        self.drop = drop
        self.library = library
        self.envelope = envelope
        self.lease = lease
        self.clock = clock
        self.posting_delay = posting_delay
        # Dates a letter again for a later posting day when its deadline would be short.
        self.redate = redate
        self.code_zone = code_zone or CodeZone()

    def run(self, cut_all: bool = False) -> DispatchReport:
        """Close the batches that are due (or all open ones), then deliver every closed one.

        A batch whose delivery fails stays closed, with the reason, for the next round.
        Raises ConfigurationError when the print drop or archive is set up wrongly.
        """
        now = self.clock()
        report = DispatchReport()
        report.closed = self.batches.close_all(now) if cut_all else self.batches.close_due(now)
        for batch_id in report.closed:
            log_event(log, "print batch closed", batch_id=batch_id)
        for batch in self.batches.claim_ready(now, self.lease):
            try:
                report.sent.append(self.deliver(batch))
            except (TransientError, PermanentError) as err:
                reason = str(err)
                self.batches.record_batch_failed(batch.batch_id, reason)
                report.failed[batch.batch_id] = reason
                level = logging.WARNING if isinstance(err, TransientError) else logging.ERROR
                log_event(
                    log, "print batch failed", level=level, batch_id=batch.batch_id, reason=reason
                )
        return report

    def deliver(self, batch: Batch) -> SentBatch:
        posted_on = print_posting_day(self.clock().astimezone(OSLO).date(), self.posting_delay)
        members = self.batches.members(batch.batch_id)
        if batch.status is BatchStatus.CLOSED and self._dated_again(members, posted_on):
            members = self.batches.members(batch.batch_id)
        assembled = assemble(batch.batch_id, self._letters(members), self.library, self.code_zone)
        self.batches.record_assembled(
            batch.batch_id,
            assembled.sha256,
            len(assembled.pdf),
            assembled.page_count,
            assembled.sheet_count,
            self.clock(),
        )
        location = self._upload(batch, assembled)
        marked = self.batches.record_batch_sent(batch.batch_id, location, self.clock(), posted_on)
        log_event(
            log,
            "print batch sent",
            batch_id=batch.batch_id,
            count=marked,
            pages=assembled.page_count,
            bytes=len(assembled.pdf),
        )
        return SentBatch(
            batch_id=batch.batch_id,
            destination=batch.destination,
            letters=len(assembled.entries),
            pages=assembled.page_count,
            sheets=assembled.sheet_count,
            pdf_bytes=len(assembled.pdf),
            letters_bytes=assembled.letters_bytes,
            location=location,
        )

    def _dated_again(self, members: list[Member], posted_on: date) -> bool:
        """Letters dated for an earlier posting day are dated again before the batch goes;
        the stale PDF is never posted. Only before assembly: an assembled batch may be
        at the print house already, and is sent as it was."""
        late = [m for m in members if m.planned_posting_day and m.planned_posting_day < posted_on]
        if not late:
            return False
        if self.redate is None:
            raise TransientError(
                f"{len(late)} letter(s) of the batch were dated to be posted before "
                f"{posted_on} and nothing is set up to date them again"
            )
        changed = [m.letter_id for m in late if self.redate(m.letter_id, posted_on)]
        if changed:
            log_event(log, "print batch letters dated again", count=len(changed))
        return bool(changed)

    def _upload(self, batch: Batch, assembled: AssembledBatch) -> str:
        files = BatchFiles(batch.batch_id)
        closed_at = batch.closed_at or self.clock()
        self.drop.put(files.pdf, assembled.pdf, "application/pdf")
        self.drop.put(files.csv, manifest_csv(assembled), "text/csv; charset=utf-8")
        manifest = manifest_json(assembled, batch.destination, closed_at, self.envelope)
        self.drop.put(files.json, manifest, "application/json")
        return self.drop.location(files.json)

    def _letters(self, members: list[Member]) -> Iterator[BatchLetter]:
        # One letter at a time: a batch of thousands never sits in memory twice.
        for member in members:
            if not member.archive_key or not member.pdf_sha256:
                raise BatchLetterMissingError(
                    f"letter {member.letter_id} in the batch has no archived PDF"
                )
            pdf = self.archive.get(member.archive_key)
            if sha256_hex(pdf) != member.pdf_sha256:
                raise BatchLetterMissingError(
                    f"letter {member.letter_id}: the archived PDF differs from the one recorded"
                )
            yield BatchLetter(
                letter_id=member.letter_id,
                case_number=member.case_number,
                country=member.country,
                postage_class=member.postage_class,
                pdf=pdf,
            )


def open_print_drop(settings: Settings) -> ObjectStore:
    """Where batches go: ``LETTERS_PRINT_URL``, an s3://bucket/prefix or a directory."""
    options = WriteOptions(
        server_side_encryption=settings.print.sse, kms_key_id=settings.print.kms_key_id
    )
    return open_store(
        settings.print.url,
        settings.s3,
        setting=PRINT_URL.name,
        label="print drop",
        options=options,
    )


def open_dispatcher(
    settings: Settings, ledger: Ledger, redate: Redate | None = None
) -> PrintDispatcher:
    """The dispatcher; ``redate`` is the delivery pipeline's (``Pipeline.redate``)."""
    return PrintDispatcher(
        ledger.batches,
        open_archive(settings.archive_url, settings.s3),
        open_print_drop(settings),
        FontLibrary(settings.templates_dir / "fonts"),
        settings.print.envelope,
        posting_delay=settings.print.posting_delay,
        redate=redate,
        code_zone=sheet_code_zone(settings),
    )
