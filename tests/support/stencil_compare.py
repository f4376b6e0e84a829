"""Is a stencil letter the letter the full renderer makes? Every way the issue names, checked.

The two PDFs are first compared byte for byte: equal bytes settle every other
question. When they differ, each check is made and every difference named, so
that a failure says what moved: the words and their places (within 0.2 mm),
the pages, the fonts, the tagged structure, the metadata, and the page images.
"""

from __future__ import annotations

import io
from typing import Any

import pdfplumber
import pikepdf

from tests.support.golden_files import PIXEL_TOLERANCE, changed_share
from tests.support.pdf import facts, fonts, mm, page_images

# How far a word may sit from where the full renderer put it.
WORD_TOLERANCE_MM = 0.2


def differences(full: bytes, stencil: bytes) -> list[str]:
    """What differs between the full renderer's PDF and the stencil's; empty when the same."""
    if full == stencil:
        return []
    found: list[str] = []
    found += _compare("facts (pages, sizes, metadata, fonts, address)", facts(full), facts(stencil))
    found += _compare("fonts", fonts(full), fonts(stencil))
    found += _compare("tagged structure", structure(full), structure(stencil))
    found += _compare("XMP metadata", xmp(full), xmp(stencil))
    found += word_differences(full, stencil)
    found += image_differences(full, stencil)
    return found or ["the bytes differ, but nothing checked does"]


def _compare(what: str, full: Any, stencil: Any) -> list[str]:
    return [] if full == stencil else [f"{what}: {full!r} against {stencil!r}"]


def words(pdf: bytes) -> list[list[tuple[str, float, float]]]:
    """Each page's words, with the top-left corner of each in millimetres."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return [
            [(w["text"], mm(w["x0"]), mm(w["top"])) for w in page.extract_words()]
            for page in doc.pages
        ]


def word_differences(full: bytes, stencil: bytes) -> list[str]:
    found = []
    for number, (a, b) in enumerate(zip(words(full), words(stencil), strict=False), 1):
        if [w[0] for w in a] != [w[0] for w in b]:
            found.append(f"page {number}: the words differ")
            continue
        for (text, x0, y0), (_, x1, y1) in zip(a, b, strict=True):
            if abs(x0 - x1) > WORD_TOLERANCE_MM or abs(y0 - y1) > WORD_TOLERANCE_MM:
                found.append(
                    f"page {number}: {text!r} at ({x1:.2f}, {y1:.2f}) mm, "
                    f"not ({x0:.2f}, {y0:.2f}) mm"
                )
    return found


def image_differences(full: bytes, stencil: bytes) -> list[str]:
    found = []
    for number, (a, b) in enumerate(zip(page_images(full), page_images(stencil), strict=False), 1):
        share = changed_share(a, b)
        if share > PIXEL_TOLERANCE:
            found.append(f"page {number}: {share:.3%} of pixels differ")
    return found


def structure(pdf: bytes) -> list[str]:
    """The tagged structure tree (PDF/UA) as the sequence of its element types, depth first."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        root = doc.Root.get("/StructTreeRoot")
        if root is None:
            return []
        found: list[str] = []
        _walk_structure(root.get("/K"), 0, found)
        return found


def _walk_structure(node: Any, depth: int, found: list[str]) -> None:
    if isinstance(node, pikepdf.Array):
        for kid in node:
            _walk_structure(kid, depth, found)
    elif isinstance(node, pikepdf.Dictionary) and "/S" in node:
        found.append(f"{depth}:{node.S}")
        _walk_structure(node.get("/K"), depth + 1, found)
    elif isinstance(node, int):
        found.append(f"{depth}:mcid")


def xmp(pdf: bytes) -> str:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        metadata = doc.Root.get("/Metadata")
        return bytes(metadata.read_bytes()).decode() if metadata is not None else ""
