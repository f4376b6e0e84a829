"""HTML to PDF: WeasyPrint with a locked-down URL fetcher, metadata set before it writes.

One ``PdfEngine`` lives as long as its process: it keeps one FontConfiguration
and the parsed stylesheet, which is what makes many renders cheap and keeps
memory flat (a fresh FontConfiguration per letter grows memory and copies the
fonts to a new temporary folder every time).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import url2pathname

import pydyf
from weasyprint import CSS, HTML, Document
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from letters.errors import RenderError
from letters.rendering.fonts import bundled_families, foreign_fonts
from letters.rendering.html_tree import html_of_tree, weasyprint_html
from letters.rendering.pdf_metadata import PdfMetadata, apply_metadata
from letters.rendering.stencil_boxes import KeptLayout, lay_out_keeping_boxes

__all__ = ["PdfEngine", "PdfMetadata"]

PDF_VERSION = "1.7"
# Tagged, with a structure tree in reading order, for screen readers (the Digipost app).
PDF_VARIANT = "pdf/ua-1"
STYLESHEET = "letter.css"
# pydyf deflates every stream at level 9: two and a half times the time of
# level 6 (5.2 against 2.1 ms a letter) for files 2 % smaller.
DEFLATE_LEVEL = 6


class ForbiddenResourceError(FatalURLFetchingError):  # type: ignore[misc]  # untyped base
    """A template referred to something outside the template folder."""


class TemplateFolderFetcher(URLFetcher):  # type: ignore[misc]  # untyped base
    """Serves ``file:`` URLs inside the template folder and ``data:`` URLs; nothing else.

    WeasyPrint swallows ordinary fetch errors and renders without the resource;
    a FatalURLFetchingError is the one kind that stops the render, which is what
    we want for a network URL or a missing font.
    """

    def __init__(self, root: Path) -> None:
        super().__init__(allowed_protocols={"file", "data"}, fail_on_errors=True)
        self.root = root.resolve()
        self._files: dict[Path, bytes] = {}

    def fetch(self, url: str, headers: Any = None) -> Any:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if not url.startswith("file:"):
            raise ForbiddenResourceError(
                f"refused to fetch {url}: only the template folder and data: URLs may be used"
            )
        path = Path(_file_url_path(url)).resolve()
        if not path.is_relative_to(self.root):
            raise ForbiddenResourceError(f"refused to fetch {url}: outside the template folder")
        body = self._files.get(path)
        if body is None:
            try:
                body = path.read_bytes()
            except OSError as err:
                raise ForbiddenResourceError(f"cannot read {url}: {err.strerror}") from err
            self._files[path] = body
        return URLFetcherResponse(path.as_uri(), body)


def _file_url_path(url: str) -> str:
    return url2pathname(url.split("?")[0].split("#")[0].removeprefix("file:"))


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _weasyprint_problems() -> Iterator[_LogCollector]:
    """WeasyPrint reports a lost font or a bad CSS rule only as a log line; collect them."""
    collector = _LogCollector()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collector)
    try:
        yield collector
    finally:
        logger.removeHandler(collector)


class PdfEngine:
    """Turns letter HTML into PDF bytes; reuse one per process."""

    def __init__(self, templates_dir: Path) -> None:
        self.root = templates_dir.resolve()
        self.base_url = self.root.as_uri() + "/"
        self.fetcher = TemplateFolderFetcher(self.root)
        self.font_config = FontConfiguration()
        self._stylesheet: tuple[int, CSS] | None = None
        self._image_cache: dict[str, Any] = {}

    def _css(self) -> CSS:
        path = self.root / STYLESHEET
        stamp = path.stat().st_mtime_ns
        if self._stylesheet is None or self._stylesheet[0] != stamp:
            with _weasyprint_problems() as problems:
                css = CSS(
                    filename=str(path), url_fetcher=self.fetcher, font_config=self.font_config
                )
            if problems.messages:
                raise RenderError(f"{STYLESHEET}: {problems.messages[0]}")
            self._stylesheet = (stamp, css)
        return self._stylesheet[1]

    def layout(self, html: str) -> Document:
        """Lay the HTML out into pages, failing on any fetch or font problem."""
        with self._problems_as_errors():
            return weasyprint_html(html, self.base_url, self.fetcher).render(
                stylesheets=[self._css()], font_config=self.font_config, cache=self._image_cache
            )

    def html_of(self, tree: ET.Element) -> HTML:
        """The WeasyPrint document of a parsed letter (``html_tree.parse_letter_html``)."""
        return html_of_tree(tree, self.base_url, self.fetcher)

    def layout_kept(self, html: HTML) -> KeptLayout:
        """:meth:`layout`, keeping what a stencil needs: the box tree and the layout context."""
        with self._problems_as_errors():
            options = {"stylesheets": [self._css()], "cache": self._image_cache}
            return lay_out_keeping_boxes(html, options, self.font_config)

    @contextmanager
    def _problems_as_errors(self) -> Iterator[None]:
        try:
            with _weasyprint_problems() as problems:
                yield
        except ForbiddenResourceError as err:
            raise RenderError(str(err)) from None
        except FatalURLFetchingError as err:
            raise RenderError(f"could not fetch a resource: {err}") from None
        if problems.messages:
            raise RenderError(f"WeasyPrint: {problems.messages[0]}")

    @staticmethod
    def drop_margin_boxes(document: Document, at_keywords: frozenset[str]) -> None:
        """Take page-margin boxes (``@top-right``…) off every page of a laid-out document.

        Relies on WeasyPrint's ``Page._page_box.children`` holding the margin
        boxes with their ``at_keyword``; tests/rendering/test_one_pass.py
        fails if an upgrade changes that.
        """
        for page in document.pages:
            box = page._page_box  # private: pinned by a test, see above
            box.children = [
                child
                for child in box.children
                if getattr(child, "at_keyword", None) not in at_keywords
            ]

    def write(self, document: Document, meta: PdfMetadata) -> bytes:
        """The finished PDF: tagged, with the letter's metadata, embedding only bundled fonts."""
        families = bundled_families(self.root)

        def finish(document: Document, pdf: pydyf.PDF) -> None:
            # Refuses a PDF that embeds a font outside the bundled ones: WeasyPrint
            # fell back to a font of the machine for a character they cannot draw.
            used = (font.name.decode("latin-1") for font in document.fonts.values())
            if foreign := foreign_fonts(used, families):
                raise RenderError(
                    f"the letter would use fonts that are not bundled: {', '.join(foreign)} "
                    "(a character the bundled fonts cannot draw)"
                )
            apply_metadata(pdf, meta)
            deflate_streams(pdf)

        with _weasyprint_problems() as problems:
            pdf = document.write_pdf(
                pdf_variant=PDF_VARIANT, pdf_version=PDF_VERSION, finisher=finish
            )
        if problems.messages:
            raise RenderError(f"WeasyPrint: {problems.messages[0]}")
        return pdf  # type: ignore[no-any-return]  # untyped library


def deflate_streams(pdf: pydyf.PDF, level: int = DEFLATE_LEVEL) -> None:
    """Compress every stream pydyf would compress, at ``level`` instead of its 9.

    Uses the ``stream``, ``extra`` and ``compress`` attributes of ``pydyf.Stream``
    and its ``_to_bytes``, which joins a stream's parts as pydyf would;
    tests/rendering/test_pdf_metadata.py pins them.
    """
    for obj in pdf.objects:
        if isinstance(obj, pydyf.Stream) and obj.compress:
            raw = b"\n".join(pydyf._to_bytes(item) for item in obj.stream)
            obj.stream = [zlib.compress(raw, level)]
            obj.extra["Filter"] = "/FlateDecode"
            obj.compress = False
