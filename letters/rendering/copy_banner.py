"""The banner on a paper copy of a Digipost letter: "Copy; sent to your Digipost on …".

A letter printed because nobody opened it in Digipost is the same letter:
its date and deadlines ran from the day it reached the mailbox. Without a
word on the page, a debtor holding the paper would count the deadline from
the day it came through the door (good practice, letter-review-3 N-M9).

The banner is laid out by WeasyPrint from ``<language>/copy_banner.html``
(the text, in the frame of ``copy_banner.html``), alone on an A4 page, and
that page is laid over page 1 of the archived PDF with pikepdf, in the top
margin above the sender block. Nothing else in the PDF changes: its text,
metadata and tags are the original's. The banner is marked as an artifact,
so the tagged structure stays valid PDF/UA; a screen reader never meets it,
and only paper carries it.

The stamp is deterministic: the same PDF, language and day give the same
bytes, so a copy made again after a crash archives the same file.
"""

from __future__ import annotations

import io
from datetime import date

import pikepdf

from letters.domain.letter_types import Language
from letters.errors import RenderError
from letters.rendering.pdf import PdfEngine
from letters.rendering.pdf_overlay import draw_over
from letters.rendering.templates import TemplateSet

BANNER_TEMPLATE = "{language}/copy_banner.html"
BANNER_NAME = "LettersCopyBanner"


class CopyBanner:
    """Stamps copy banners; keep one per process (it keeps the fonts, as the renderer does)."""

    def __init__(self, templates: TemplateSet, engine: PdfEngine) -> None:
        self.templates = templates
        self.engine = engine
        self._banners: dict[tuple[Language, date], bytes] = {}

    def banner_page(self, language: Language, sent_on: date) -> bytes:
        """A one-page PDF holding only the banner, where it goes on page 1."""
        key = (language, sent_on)
        if key not in self._banners:
            template = self.templates.env.get_template(
                BANNER_TEMPLATE.format(language=language.value)
            )
            markup = template.render(lang=language.value, sent_on=sent_on)
            document = self.engine.layout(markup)
            if len(document.pages) != 1:
                raise RenderError(f"{template.name}: the banner must lay out on one page")
            self._banners[key] = document.write_pdf()
        return self._banners[key]

    def stamp(self, pdf: bytes, language: Language, sent_on: date) -> bytes:
        """``pdf`` with the copy banner on page 1."""
        banner = self.banner_page(language, sent_on)
        return stamp_first_page(pdf, banner)


def stamp_first_page(pdf: bytes, overlay: bytes) -> bytes:
    """``pdf`` with page 1 of ``overlay`` drawn over its page 1, as an artifact."""
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf)) as document, pikepdf.open(io.BytesIO(overlay)) as over:
        draw_over(document, document.pages[0], over.pages[0], BANNER_NAME)
        document.save(out, deterministic_id=True, compress_streams=True)
    return out.getvalue()
