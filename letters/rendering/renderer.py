"""The renderer: a composed letter in, a finished PDF and its facts out."""

from __future__ import annotations

import gc
import hashlib
import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from weasyprint import HTML, Document

from letters.domain.compose import ComposedLetter
from letters.domain.otp import PasswordRecord
from letters.domain.postal_address import window_lines
from letters.rendering.approvals import ApprovalBook
from letters.rendering.copy_banner import CopyBanner
from letters.rendering.drawn_text import drawn_once
from letters.rendering.html_tree import parse_letter_html
from letters.rendering.pango_layouts import kept_layouts
from letters.rendering.pdf import PdfEngine, PdfMetadata
from letters.rendering.stencil import (
    Fitted,
    FullLayout,
    Stencil,
    StencilBook,
    StencilKey,
    shape_of,
)
from letters.rendering.templates import TemplateSet

FIRST_OF_SHAPE = "the first letter of its shape"
# On a stencil; in full, kept as a new shape's stencil; in full, as it did not fit one.
LAYOUT_WAYS = ("stencil", "new_stencil", "fallback", "stencils_off")
# The page-margin boxes only a letter of more than one page shows (letter.css).
PAGE_NUMBER_BOXES = frozenset({"@top-right"})
# Layout makes many short-lived objects and no cycles worth collecting mid-letter:
# the collector's youngest generation runs far less often during a render.
_RENDER_GC_THRESHOLD = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    old = gc.get_threshold()
    gc.set_threshold(_RENDER_GC_THRESHOLD, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


_TITLE_RE = re.compile(r"<title>(.*?)</title>", re.S)
_SUBJECT_RE = re.compile(r'<meta name="description" content="(.*?)">', re.S)


@dataclass(frozen=True, slots=True)
class RenderedLetter:
    """A rendered letter. Holds the password only as its hash."""

    letter_id: str
    case_number: str
    letter_type: str
    language: str
    letter_date: date
    deadline: date
    kid: str
    template_version: str
    page_count: int
    pdf: bytes
    sha256: str
    password_record: PasswordRecord
    # How it was laid out: on its shape's stencil, or in full and why (the ledger's history).
    layout: str
    # The same in one word, for the metrics: one of LAYOUT_WAYS.
    layout_way: str

    def __repr__(self) -> str:
        return (
            f"RenderedLetter(letter_id={self.letter_id!r}, pages={self.page_count}, "
            f"template_version={self.template_version!r}, sha256={self.sha256[:12]!r}…)"
        )


class Renderer:
    """Turns composed letters into PDFs. Keep one per process: it caches fonts and CSS."""

    def __init__(
        self, templates_dir: Path, approvals: ApprovalBook | None = None, stencils: bool = True
    ) -> None:
        self.templates = TemplateSet(templates_dir)
        self.engine = PdfEngine(templates_dir)
        # Off (LETTERS_STENCIL=off): every letter laid out in full, as the reference renderer.
        self.stencils = StencilBook() if stencils else None
        # For paper copies of unread Digipost letters; lays nothing out until used.
        self.copy_banner = CopyBanner(self.templates, self.engine)
        # Given when only templates legal approved may be used.
        self.approvals = approvals

    def context(
        self,
        letter: ComposedLetter,
        *,
        multi_page: bool = False,
        stylesheet_href: str | None = None,
    ) -> dict[str, Any]:
        request = letter.request
        return {
            "letter": letter,
            "lang": request.language.value,
            "case": request.case,
            "agency": letter.agency,
            "totals": letter.totals,
            # Texts that depend on where the debtor lives and on what the case holds.
            "abroad": not request.recipient.address.is_domestic,
            "has_national_id": request.recipient.national_identity_number is not None,
            "privacy": letter.agency.privacy_texts[request.language],
            "window_lines": window_lines(request.recipient.name, request.recipient.address),
            "multi_page": multi_page,
            "stylesheet_href": stylesheet_href,
        }

    def html(
        self, letter: ComposedLetter, *, multi_page: bool = False, standalone: bool = False
    ) -> str:
        """The letter's HTML. ``standalone`` links the stylesheet so a browser can show it."""
        href = (self.templates.root / "letter.css").as_uri() if standalone else None
        req = letter.request
        return self.templates.render_html(
            req.letter_type,
            req.language,
            self.context(letter, multi_page=multi_page, stylesheet_href=href),
        )

    def render(self, letter: ComposedLetter) -> RenderedLetter:
        req = letter.request
        version = self.templates.version(req.letter_type, req.language)
        if self.approvals is not None:
            self.approvals.check(req.letter_type, req.language, version)
        with fewer_collections(), kept_layouts():
            markup = self.html(letter, multi_page=True)
            meta = PdfMetadata(
                title=_first(_TITLE_RE, markup),
                subject=_first(_SUBJECT_RE, markup),
                author=letter.agency.name,
                language=req.language.value,
                created=letter.made_at,
                letter_id=req.letter_id,
                template_version=version,
            )
            if self.stencils is None:
                document = self._lay_out_in_full(markup)
                pdf, pages = self.engine.write(document, meta), len(document.pages)
                way, layout = "stencils_off", "in full (stencils off)"
            else:
                pdf, pages, way, layout = self._render_on_stencil(
                    self.stencils, letter, version, markup, meta
                )
        return RenderedLetter(
            letter_id=req.letter_id,
            case_number=req.case.case_number,
            letter_type=req.letter_type.value,
            language=req.language.value,
            letter_date=letter.letter_date,
            deadline=letter.deadline,
            kid=letter.kid,
            template_version=version,
            page_count=pages,
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            password_record=letter.password_record,
            layout=layout,
            layout_way=way,
        )

    def _lay_out_in_full(self, markup: str) -> Document:
        # One layout pass: the letter is laid out as if it ran over pages, and a
        # letter that fits one page loses its page numbers afterwards. Nothing
        # else differs between the two, so this gives the same bytes as laying a
        # one-page letter out without them (tests/rendering/test_one_pass.py).
        document = self.engine.layout(markup)
        if len(document.pages) == 1:
            self.engine.drop_margin_boxes(document, PAGE_NUMBER_BOXES)
        return document

    def _render_on_stencil(
        self,
        stencils: StencilBook,
        letter: ComposedLetter,
        version: str,
        markup: str,
        meta: PdfMetadata,
    ) -> tuple[bytes, int, str, str]:
        """Lay the letter out on a stencil of its shape, or in full (then keep it as one).

        Returns the PDF, its pages, and how it was laid out (one of LAYOUT_WAYS, and
        the words for the ledger's history).
        """
        tree = parse_letter_html(markup)
        html = self.engine.html_of(tree)
        key = StencilKey(
            version,
            letter.request.language.value,
            letter.agency.organization_number,
            shape_of(tree),
        )
        with stencils.lock:
            variants = stencils.variants(key)
            reasons = []
            for stencil in variants:
                fitted = _fit(stencil, html)
                if isinstance(fitted, Fitted):
                    stencils.used(key, stencil)
                    with drawn_once():
                        pdf = self.engine.write(fitted.document, meta)
                    blocks = fitted.changed_blocks
                    note = f"on its stencil ({blocks} block(s) laid out again)"
                    return pdf, len(fitted.document.pages), "stencil", note
                reasons.append(fitted.reason)
            kept = self.engine.layout_kept(html)
            if len(kept.document.pages) == 1:
                self.engine.drop_margin_boxes(kept.document, PAGE_NUMBER_BOXES)
            with drawn_once():
                pdf = self.engine.write(kept.document, meta)
            stencils.keep(key, kept)
        pages = len(kept.document.pages)
        if not reasons:
            return pdf, pages, "new_stencil", f"in full: {FIRST_OF_SHAPE} (kept as its stencil)"
        # The reason the most recently used stencil gave; the others' are alike.
        return pdf, pages, "fallback", f"in full: {reasons[0]} (kept as another stencil)"


def _fit(stencil: Stencil, html: HTML) -> Fitted | FullLayout:
    """The letter on the stencil, or why not; a stencil that fails is a reason, not an error.

    The stencil only saves work: whatever goes wrong laying a letter out on it (an
    untried corner of WeasyPrint's internals), the letter is laid out in full, as it
    would be with stencils off.
    """
    try:
        return stencil.fit(html)
    except Exception as err:  # any failure of the shortcut falls back, by design
        return FullLayout(f"laying it out on the stencil failed ({type(err).__name__})")


def _first(pattern: re.Pattern[str], markup: str) -> str:
    match = pattern.search(markup)
    return html.unescape(match.group(1)).strip() if match else ""
