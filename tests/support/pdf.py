"""Read the facts of a rendered PDF the way a reviewer would check them."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pdfplumber
import pikepdf
import pypdfium2
from PIL import Image

PT_TO_MM = 25.4 / 72
PNG_DPI = 72
# The envelope windows the address block must sit in (mm from the top-left corner).
WINDOW_C5 = (15.0, 44.0, 120.0, 79.0)  # left, top, right, bottom
WINDOW_E65 = (15.0, 40.0, 110.0, 70.0)
BARCODE_STRIP = (0.0, 95.0, 15.0, 175.0)


def mm(value: float) -> float:
    return round(value * PT_TO_MM, 1)


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    def inside(self, area: tuple[float, float, float, float]) -> bool:
        left, top, right, bottom = area
        return (
            self.left >= left and self.top >= top and self.right <= right and self.bottom <= bottom
        )

    def as_list(self) -> list[float]:
        return [self.left, self.top, self.right, self.bottom]


def page_texts(pdf: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        texts = []
        for page in doc.pages:
            text = page.extract_text(layout=True) or ""
            lines = [line.rstrip() for line in text.splitlines()]
            while lines and not lines[-1]:
                lines.pop()
            texts.append("\n".join(lines) + "\n")
        return texts


def plain_text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return "\n".join(page.extract_text() or "" for page in doc.pages)


def address_box(pdf: bytes) -> Box | None:
    """The box around the words in the window area of page 1 (left of 105 mm)."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        words = [
            w for w in doc.pages[0].extract_words() if mm(w["x0"]) < 105 and 35 < mm(w["top"]) < 72
        ]
    if not words:
        return None
    return Box(
        mm(min(w["x0"] for w in words)),
        mm(min(w["top"] for w in words)),
        mm(max(w["x1"] for w in words)),
        mm(max(w["bottom"] for w in words)),
    )


def objects_in(pdf: bytes, area: tuple[float, float, float, float]) -> list[str]:
    """Descriptions of any text or graphics that touch ``area`` on any page."""
    left, top, right, bottom = area
    found = []
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for number, page in enumerate(doc.pages, 1):
            for kind, objs in page.objects.items():
                for obj in objs:
                    if (
                        mm(obj["x0"]) < right
                        and mm(obj["x1"]) > left
                        and mm(obj["top"]) < bottom
                        and mm(obj["bottom"]) > top
                    ):
                        found.append(
                            f"page {number}: {kind} at x={mm(obj['x0'])} y={mm(obj['top'])}"
                        )
    return found


def fonts(pdf: bytes) -> list[dict[str, Any]]:
    seen: dict[str, bool] = {}
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            resources = page.obj.get("/Resources", {})
            for font in (resources.get("/Font") or {}).values():
                name = str(font.get("/BaseFont", "?")).lstrip("/")
                descriptor = font.get("/FontDescriptor")
                if descriptor is None and "/DescendantFonts" in font:
                    descriptor = font.DescendantFonts[0].get("/FontDescriptor")
                embedded = descriptor is not None and any(
                    key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
                )
                # Drop the subset tag ("ABCDEF+"): it is a hash of the subset.
                base = name.split("+", 1)[-1]
                seen[base] = seen.get(base, True) and embedded
    return [{"name": name, "embedded": embedded} for name, embedded in sorted(seen.items())]


def facts(pdf: bytes) -> dict[str, Any]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        info = {str(k).lstrip("/"): str(v) for k, v in doc.docinfo.items() if str(k) != "/Producer"}
        sizes = sorted(
            {
                (
                    mm(float(p.mediabox[2]) - float(p.mediabox[0])),
                    mm(float(p.mediabox[3]) - float(p.mediabox[1])),
                )
                for p in doc.pages
            }
        )
        result: dict[str, Any] = {
            "page_count": len(doc.pages),
            "page_sizes_mm": [list(s) for s in sizes],
            "pdf_version": doc.pdf_version,
            "language": str(doc.Root.get("/Lang", "")),
            "metadata": dict(sorted(info.items())),
        }
    box = address_box(pdf)
    result["fonts"] = fonts(pdf)
    result["address_block_mm"] = box.as_list() if box else None
    return result


def page_images(pdf: bytes, dpi: int = PNG_DPI) -> list[Image.Image]:
    doc = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in doc]
    finally:
        doc.close()
