"""A letter's PDF, dated for the day it leaves: checked, composed, rendered and archived.

The legal checks before composing (the order of letters, the costs it may
claim) are ``letters.domain.compose.check_before_compose``, the same the
previews use. A letter already rendered is rendered again only when leaving
later would make its deadline short; otherwise its PDF comes from the
archive, checked against the SHA-256 the ledger recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import date, datetime
from decimal import Decimal

from letters import metrics
from letters.clock import today_in_norway
from letters.delivery.dating import ledger_letters, needs_new_date
from letters.delivery.outcome import ids_of
from letters.delivery.rates import CurrentRates, unchecked_note
from letters.digests import sha256_hex
from letters.domain.compose import check_before_compose, compose
from letters.domain.letter_order import PriorLetter, reported_letters
from letters.domain.model import LetterRequest
from letters.domain.rates import RateTable
from letters.errors import PermanentError
from letters.ledger import Ledger, LetterRecord, LetterStatus, Rendering
from letters.logs import log_event
from letters.rendering.letter_service import LetterService
from letters.rendering.renderer import RenderedLetter
from letters.storage import Archive, archive_key

log = logging.getLogger("letters.pipeline")


class ArchiveMismatchError(PermanentError):
    """The archived PDF is not the one the ledger recorded."""


class LetterPdfs:
    def __init__(
        self,
        service: LetterService,
        ledger: Ledger,
        archive: Archive,
        rates: CurrentRates,
        clock: Callable[[], datetime],
    ) -> None:
        self.service = service
        self.ledger = ledger
        self.archive = archive
        self.rates = rates
        self.clock = clock

    def dated(
        self, record: LetterRecord, request: LetterRequest, leaves_on: date
    ) -> tuple[LetterRecord, bytes]:
        """The letter's PDF for leaving on ``leaves_on``: rendered (or rendered again), archived.

        Raises MissingRate when the letter needs a rate no checked row gives.
        """
        rates = self.rates.table().recording()
        if record.pdf_sha256 is None:
            check_before_compose(
                request,
                self.service.profile,
                rates,
                leaves_on=leaves_on,
                ledger_letters=self._ledger_letters(record),
            )
            return self.render(record, request, leaves_on, rates)
        if needs_new_date(record, request, leaves_on, self.service.profile):
            return self.render(record, request, leaves_on, rates, again=True)
        archived = self.archived(record)
        # Rendered, but the worker stopped before its PDF reached the archive.
        return archived or self.render(record, request, leaves_on, rates)

    def prior_letters(self, record: LetterRecord, request: LetterRequest) -> list[PriorLetter]:
        """The case's earlier letters: those the request reports and those the ledger holds."""
        return reported_letters(request, self.service.profile.name) + self._ledger_letters(record)

    def _ledger_letters(self, record: LetterRecord) -> list[PriorLetter]:
        return ledger_letters(record, self.ledger.case_letters(record.case_number))

    def archived(self, record: LetterRecord) -> tuple[LetterRecord, bytes] | None:
        """The letter's rendered PDF from the archive, recording where it is if needed."""
        if record.archive_key:
            pdf = self.archive.get(record.archive_key)
            if sha256_hex(pdf) != record.pdf_sha256:
                raise ArchiveMismatchError(
                    f"archive {record.archive_key}: the PDF differs from the one recorded"
                )
            return record, pdf
        # Rendered and perhaps archived before the worker stopped.
        assert record.letter_date is not None  # noqa: S101 - rendered
        key = archive_key(record.letter_date, record.letter_id)
        if self.archive.exists(key):
            pdf = self.archive.get(key)
            if sha256_hex(pdf) == record.pdf_sha256:
                self.ledger.record_archived(record.letter_id, key)
                return replace(record, status=LetterStatus.ARCHIVED, archive_key=key), pdf
        return None

    def render(
        self,
        record: LetterRecord,
        request: LetterRequest,
        leaves_on: date,
        rates: RateTable,
        again: bool = False,
    ) -> tuple[LetterRecord, bytes]:
        started = time.perf_counter()
        composed = compose(
            request,
            self.service.profile,
            today_in_norway(self.clock()),
            leaves_on=leaves_on,
            rates=rates,
            pepper=self.service.pepper,
            made_at=self.clock(),
        )
        rendered = self.service.renderer.render(composed)
        render_s = time.perf_counter() - started
        metrics.render_seconds.labels(record.letter_type).observe(render_s)
        metrics.render_layouts.labels(rendered.layout_way).inc()
        render_ms = round(render_s * 1000)
        rendering = rendering_of(rendered, composed.totals.due, leaves_on)
        moved = (
            f"; dated {composed.letter_date} instead of {composed.moved_from}, the day it leaves"
            if composed.moved_from
            else ""
        )
        if again:
            detail = (
                f"dated again for {leaves_on} (it leaves later than planned): new date "
                f"{composed.letter_date}, deadline {composed.deadline} and password"
            )
        else:
            detail = (
                f"{rendered.page_count} page(s), template {rendered.template_version}, "
                f"leaves {leaves_on}{moved}"
            )
        # Which way it was laid out, and why in full when it was: the stencil's misses show.
        detail += f"; laid out {rendered.layout}"
        detail += unchecked_note(rates)
        self.ledger.record_rendered(record.letter_id, rendering, detail)
        log_event(log, "rendered", render_ms=render_ms, pages=rendered.page_count, **ids_of(record))
        key = archive_key(rendered.letter_date, record.letter_id)
        self.archive.put(key, rendered.pdf)
        self.ledger.record_archived(record.letter_id, key)
        rendered_fields = {f.name: getattr(rendering, f.name) for f in fields(rendering)}
        record = replace(record, status=LetterStatus.ARCHIVED, archive_key=key, **rendered_fields)
        return record, rendered.pdf


def rendering_of(
    rendered: RenderedLetter, amount_due: Decimal, leaves_on: date | None = None
) -> Rendering:
    """What the ledger keeps of a rendered letter."""
    return Rendering(
        letter_date=rendered.letter_date,
        deadline=rendered.deadline,
        kid=rendered.kid,
        amount_due=amount_due,
        template_version=rendered.template_version,
        pdf_sha256=rendered.sha256,
        page_count=rendered.page_count,
        otp_hash=rendered.password_record.hash,
        otp_expires_on=rendered.password_record.expires_on,
        planned_posting_day=leaves_on,
    )
