"""The code on every printed sheet: which letter, which sheet of how many.

The print house's inserter reads it to put each letter's sheets, and only
those, in one envelope; the mailroom scans it off returned mail to find the
letter. It is a QR code (made by segno), drawn on the front of each sheet of a
letter as it goes into a print batch, in the print profile's code zone: by
default in the strip at the left edge that the printability rules keep free
(``channels.printability``), so nothing of the letter moves. Digipost letters
never get one, and the archived letter is as it was rendered: the code is
the batch's, like the blank page that starts each letter on a new sheet.

What it holds: ``LTR1:<letter id, 32 hex digits>:<sheet>/<sheets>``, in QR's
alphanumeric mode at version 3 (29 × 29 modules) with error correction M.
Every code has that one size, whatever the letter, so the zone is checked
once: each module must be at least 0.25 mm, three dots of a 300 dpi scanner.
"""

from __future__ import annotations

import io
import math
import re
import uuid
from dataclasses import dataclass

import pikepdf
import segno

from letters.config import Settings
from letters.config.declared import PRINT_CODE_ZONE
from letters.envelopes import Window
from letters.errors import ConfigurationError
from letters.rendering.pdf_overlay import MM, draw_over

CODE_PREFIX = "LTR1"
QR_VERSION = 3
QR_MODULES = 17 + 4 * QR_VERSION
# The light margin around a QR code that a scanner needs, in modules (ISO/IEC 18004).
QUIET_MODULES = 4
# Three dots at 300 dpi (0.0847 mm each).
MIN_MODULE_MM = 0.25
RESOURCE_NAME = "LettersSheetCode"
_CODE_RE = re.compile(rf"{CODE_PREFIX}:([0-9A-F]{{32}}):([0-9]{{1,3}})/([0-9]{{1,3}})")


@dataclass(frozen=True, slots=True)
class CodeZone:
    """A square for the code, in millimetres from the sheet's left and top edges."""

    left: float = 2.0
    top: float = 100.0
    size: float = 12.0

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) in millimetres from the top-left corner."""
        return (self.left, self.top, self.left + self.size, self.top + self.size)

    @property
    def module_mm(self) -> float:
        return self.size / (QR_MODULES + 2 * QUIET_MODULES)

    def problems(self, page_mm: tuple[float, float] = (210.0, 297.0)) -> list[str]:
        """Why this zone cannot carry a readable code on an A4 sheet; [] when it can."""
        if not all(math.isfinite(v) for v in self.box):
            return ["left, top and size must be numbers of millimetres"]
        found = []
        if self.module_mm < MIN_MODULE_MM:
            smallest = MIN_MODULE_MM * (QR_MODULES + 2 * QUIET_MODULES)
            found.append(
                f"a code of {self.size:g} mm has modules of {self.module_mm:.3f} mm; a 300 dpi "
                f"scanner needs {MIN_MODULE_MM} mm, so at least {smallest:g} mm"
            )
        left, top, right, bottom = self.box
        if left < 0 or top < 0 or right > page_mm[0] or bottom > page_mm[1]:
            found.append(f"the zone ({self.window.describe()}) is not on an A4 sheet")
        return found

    @property
    def window(self) -> Window:
        return Window(*self.box)


@dataclass(frozen=True, slots=True)
class SheetCode:
    letter_id: str
    sheet: int
    sheets: int

    @property
    def text(self) -> str:
        return f"{letter_code(self.letter_id)}:{self.sheet}/{self.sheets}"

    @classmethod
    def parse(cls, text: str) -> SheetCode:
        """The code read off a sheet; ValueError if it is not one of ours."""
        match = _CODE_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a sheet code ({CODE_PREFIX}:<32 hex digits>:<sheet>/<sheets>)")
        hex_id, sheet, sheets = match.groups()
        if not 1 <= int(sheet) <= int(sheets):
            raise ValueError(f"sheet {sheet} of {sheets} is not a sheet of the letter")
        return cls(str(uuid.UUID(hex=hex_id)), int(sheet), int(sheets))


def sheet_code_zone(settings: Settings) -> CodeZone:
    """The print profile's zone for each sheet's code; a zone no scanner reads stops loudly."""
    zone = CodeZone(*settings.print.code_zone)
    if problems := zone.problems():
        raise ConfigurationError(f"{PRINT_CODE_ZONE}: " + "; ".join(problems))
    return zone


def letter_code(letter_id: str) -> str:
    """The part of every sheet's code that names the letter: what the manifest lists."""
    return f"{CODE_PREFIX}:{uuid.UUID(letter_id).hex.upper()}"


def sheet_count(page_count: int) -> int:
    """Sheets of paper for a letter printed on both sides."""
    return (page_count + 1) // 2


def stamp_sheet_codes(document: pikepdf.Pdf, letter_id: str, zone: CodeZone) -> list[str]:
    """Draw each sheet's code on the front of the sheet (pages 1, 3, …), in place.

    Returns the codes, sheet by sheet.
    """
    pages = list(document.pages)
    sheets = sheet_count(len(pages))
    codes = []
    for sheet in range(1, sheets + 1):
        code = SheetCode(letter_id, sheet, sheets)
        page = pages[2 * (sheet - 1)]
        with pikepdf.open(io.BytesIO(_qr_pdf(code.text))) as qr:
            drawn = qr.pages[0]
            width = float(drawn.mediabox[2]) - float(drawn.mediabox[0])
            scale = zone.size * MM / width
            height = float(page.mediabox[3]) - float(page.mediabox[1])
            x = float(page.mediabox[0]) + zone.left * MM
            y = float(page.mediabox[1]) + height - (zone.top + zone.size) * MM
            draw_over(document, page, drawn, RESOURCE_NAME, (scale, 0, 0, scale, x, y))
        codes.append(code.text)
    return codes


def _qr_pdf(text: str) -> bytes:
    """The code as a one-page PDF, one point per module, with its quiet zone."""
    qr = segno.make_qr(text, error="m", version=QR_VERSION, mode="alphanumeric", boost_error=False)
    out = io.BytesIO()
    qr.save(out, kind="pdf", scale=1, border=QUIET_MODULES)
    return out.getvalue()
