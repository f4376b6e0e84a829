"""Would Digipost or a print house accept this PDF? Checked before a letter leaves.

The rules are Digipost's print requirements (``reference/digipost-api.md``
§4.3 and §5.2): A4 portrait, PDF 1.7 or older, not encrypted, fonts embedded
unless one of the standard 14, a page count within the limit, and nothing at
all in the strip at the left edge kept for the print house's barcode
(0–15 mm from the left, 95–175 mm from the top). The strip is rendered and
looked at, so a line or an image there counts as much as text.

For paper, the address must also show in the envelope's window: every line
of it on page 1, inside the window, and nothing else in the window, so that
no heading such as INKASSOVARSEL shows through it (good debt collection
practice, ``reference/norwegian-rules.md`` §1). Problems name the address
line by number, never by its text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pikepdf
import pypdfium2

from letters.envelopes import Envelope, Window
from letters.errors import PermanentError

MM = 72 / 25.4  # PDF points per millimetre
A4_MM = (210.0, 297.0)
# Digipost's validator accepts pages down to 10 mm smaller than A4 (negative bleed).
SIZE_TOLERANCE_MM = 10.0
BARCODE_STRIP_MM = (0.0, 95.0, 15.0, 175.0)  # left, top, right, bottom from the top-left
MAX_PDF_VERSION = (1, 7)
DEFAULT_MAX_PAGES = 20
# Near-white is paper: anti-aliasing of content just outside the strip may tint a pixel.
_INK_THRESHOLD = 0xF0
_STANDARD_FONTS = (
    "Times",
    "Courier",
    "Helvetica",
    "Symbol",
    "ZapfDingbats",
    "Arial",  # Digipost's validator accepts it without embedding, too.
)


class UnprintablePdfError(PermanentError):
    """The PDF breaks a print rule; the message names each rule broken."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("PDF not printable: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class PrintRules:
    max_pages: int = DEFAULT_MAX_PAGES
    # The envelope whose window the address must show in; None: no window (digital mail).
    envelope: Envelope | None = None
    # Where the print batch puts each sheet's code (channels.print_post.sheet_codes);
    # the letter must leave it blank. None: no code (digital mail).
    code_zone: Window | None = None


def check_printable(
    pdf: bytes, rules: PrintRules = PrintRules(), address_lines: Sequence[str] = ()
) -> None:
    """Raise UnprintablePdfError naming every rule ``pdf`` breaks."""
    problems = printability_problems(pdf, rules, address_lines)
    if problems:
        raise UnprintablePdfError(problems)


def printability_problems(
    pdf: bytes, rules: PrintRules = PrintRules(), address_lines: Sequence[str] = ()
) -> list[str]:
    """Every rule ``pdf`` breaks; the window is checked when ``rules`` has one."""
    try:
        document = pikepdf.open(io.BytesIO(pdf))
    except pikepdf.PasswordError:
        return ["the PDF is password-protected"]
    except pikepdf.PdfError as err:
        return [f"the PDF cannot be read ({type(err).__name__})"]
    with document:
        problems = _structure_problems(document, rules)
    if problems:
        return problems
    rendered = pypdfium2.PdfDocument(pdf)
    try:
        left, top, right, bottom = BARCODE_STRIP_MM
        problems = _blank_zone_problems(
            rendered,
            Window(left, top, right, bottom),
            "the barcode strip (0–15 mm from the left edge, 95–175 mm from the top)",
        )
        if rules.code_zone is not None:
            problems += _blank_zone_problems(
                rendered, rules.code_zone, f"the sheet-code zone ({rules.code_zone.describe()})"
            )
        if rules.envelope is not None:
            problems += _window_problems(rendered[0], rules.envelope, address_lines)
    finally:
        rendered.close()
    return problems


def _structure_problems(document: pikepdf.Pdf, rules: PrintRules) -> list[str]:
    problems = []
    if document.is_encrypted:
        problems.append("the PDF is encrypted")
    version = tuple(int(part) for part in str(document.pdf_version).split(".")[:2])
    if version > MAX_PDF_VERSION:
        problems.append(f"PDF version {document.pdf_version} is newer than 1.7")
    count = len(document.pages)
    if count == 0:
        problems.append("the PDF has no pages")
    elif count > rules.max_pages:
        problems.append(f"{count} pages is more than the limit of {rules.max_pages}")
    for number, page in enumerate(document.pages, start=1):
        width, height = _page_size_mm(page)
        if not _is_a4_portrait(width, height):
            problems.append(f"page {number} is {width:.0f} × {height:.0f} mm, not A4 portrait")
    unembedded = sorted(_unembedded_fonts(document))
    if unembedded:
        problems.append("fonts not embedded: " + ", ".join(unembedded))
    return problems


def _page_size_mm(page: pikepdf.Page) -> tuple[float, float]:
    box = [float(v) for v in page.obj.get("/CropBox", page.mediabox)]
    width, height = abs(box[2] - box[0]) / MM, abs(box[3] - box[1]) / MM
    if int(page.obj.get("/Rotate", 0)) % 180:
        width, height = height, width
    return width, height


def _is_a4_portrait(width: float, height: float) -> bool:
    return all(
        size - SIZE_TOLERANCE_MM - 0.5 <= actual <= size + 0.5
        for actual, size in zip((width, height), A4_MM, strict=True)
    )


def _unembedded_fonts(document: pikepdf.Pdf) -> set[str]:
    missing = set()
    for page in document.pages:
        resources: Any = page.obj.get("/Resources", {})
        for font in resources.get("/Font", {}).values():
            for face in [font, *font.get("/DescendantFonts", [])]:
                descriptor = face.get("/FontDescriptor")
                if descriptor is None and face.get("/Subtype") == "/Type0":
                    continue  # the descendant carries the descriptor
                embedded = descriptor is not None and any(
                    key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
                )
                name = str(face.get("/BaseFont", "/unnamed")).lstrip("/").split("+")[-1]
                if not embedded and not name.startswith(_STANDARD_FONTS):
                    missing.add(name)
    return missing


def _blank_zone_problems(document: pypdfium2.PdfDocument, zone: Window, label: str) -> list[str]:
    """A problem for each page with anything drawn in ``zone`` (looked at, not parsed)."""
    problems = []
    for index in range(len(document)):
        page = document[index]
        width, height = page.get_size()
        crop = (zone.left * MM, height - zone.bottom * MM, width - zone.right * MM, zone.top * MM)
        bitmap = page.render(scale=2, crop=crop, grayscale=True)
        pixels = bytes(bitmap.buffer)
        if any(value < _INK_THRESHOLD for value in pixels):
            problems.append(f"page {index + 1} has content in {label}")
    return problems


@dataclass(frozen=True, slots=True)
class _Glyph:
    text: str
    # Millimetres from the page's left and top edges.
    left: float
    top: float
    right: float
    bottom: float

    def inside(self, window: Window) -> bool:
        return (
            self.left >= window.left
            and self.right <= window.right
            and self.top >= window.top
            and self.bottom <= window.bottom
        )

    def overlaps(self, window: Window) -> bool:
        return (
            self.left < window.right
            and self.right > window.left
            and self.top < window.bottom
            and self.bottom > window.top
        )


def _window_problems(
    page: pypdfium2.PdfPage, envelope: Envelope, address_lines: Sequence[str]
) -> list[str]:
    if not address_lines:
        return ["no address to check against the envelope window"]
    window = envelope.window
    where = f"the {envelope.name} envelope window ({window.describe()})"
    glyphs = _page_glyphs(page)
    # Matched without white space: a wrapped line or a lost space is still the line.
    text = "".join(glyph.text for glyph in glyphs)
    problems: list[str] = []
    address_glyphs: set[int] = set()
    total = len(address_lines)
    for number, line in enumerate(address_lines, start=1):
        wanted = "".join(line.split())
        if not wanted:
            continue
        starts = _occurrences(text, wanted)
        if not starts:
            problems.append(f"address line {number} of {total} is not on page 1")
            continue
        shown = [
            start
            for start in starts
            if all(glyphs[i].inside(window) for i in range(start, start + len(wanted)))
        ]
        if not shown:
            problems.append(f"address line {number} of {total} is not inside {where}")
            continue
        address_glyphs.update(range(shown[0], shown[0] + len(wanted)))
    strangers = [
        i for i, glyph in enumerate(glyphs) if i not in address_glyphs and glyph.overlaps(window)
    ]
    if strangers and not problems:
        problems.append(f"text other than the address shows in {where}")
    return problems


def _page_glyphs(page: pypdfium2.PdfPage) -> list[_Glyph]:
    _, height = page.get_size()
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count)
        glyphs = []
        for index, character in enumerate(text[:count]):
            if character.isspace():
                continue
            left, bottom, right, top = textpage.get_charbox(index)
            glyphs.append(
                _Glyph(
                    character, left / MM, (height - top) / MM, right / MM, (height - bottom) / MM
                )
            )
        return glyphs
    finally:
        textpage.close()


def _occurrences(text: str, wanted: str) -> list[int]:
    found, start = [], text.find(wanted)
    while start != -1:
        found.append(start)
        start = text.find(wanted, start + 1)
    return found
