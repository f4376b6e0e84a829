"""One font program per typeface in a print batch, instead of one per letter.

Each rendered letter carries its own subsets of the template fonts, about
half its bytes. WeasyPrint subsets with the glyph ids of the original font
kept (HarfBuzz ``RETAIN_GIDS``) and maps character codes to glyph ids one to
one (``/CIDToGIDMap /Identity``), so every letter's text still draws the same
glyphs from a single subset of the original font that holds the union of the
glyphs all letters use. That subset is made here with fontTools from the
template's own font file, once per batch, and every letter's font descriptor
is pointed at it (``FontSharing``: decided letter by letter, the programs made
at the end). Only the font *program* is shared: each letter keeps its
own widths and ToUnicode map, so its text extracts as before.

A letter font is shared only when the template folder has a font with the
same PostScript name, version and units per em; anything else (an older
font, a font from elsewhere) keeps its own program.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
from fontTools import subset
from fontTools.ttLib import TTFont, TTLibError

# Tables WeasyPrint drops from its subsets; shaping is done, so layout tables are dead weight.
_DROPPED_TABLES = [
    "BASE", "DSIG", "EBDT", "EBLC", "EBSC", "GPOS", "GSUB", "JSTF", "LTSH", "PCLT", "SVG ",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class FontIdentity:
    postscript_name: str
    revision: float
    units_per_em: int


@dataclass
class _Typeface:
    path: Path
    glyph_ids: set[int] = field(default_factory=set)


class FontLibrary:
    """The full fonts a batch's letters were subset from (the template folder's fonts)."""

    def __init__(self, folder: Path | None) -> None:
        self.fonts: dict[FontIdentity, tuple[Path, int]] = {}
        if folder is None or not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in (".ttf", ".otf"):
                continue
            try:
                with TTFont(path, lazy=True) as font:
                    self.fonts[_identity(font)] = (path, int(font["maxp"].numGlyphs))
            except (TTLibError, KeyError):
                continue


@dataclass(frozen=True, slots=True)
class SharingReport:
    shared_typefaces: int
    letter_fonts_shared: int
    letter_fonts_kept: int


class FontSharing:
    """Letter by letter, which font descriptors can draw from one program per typeface;
    at the end, those programs. A descriptor is shared only when the library has its
    typeface and the letter maps character codes to glyph ids one to one."""

    def __init__(self, library: FontLibrary) -> None:
        self.library = library
        self._typefaces: dict[FontIdentity, _Typeface] = {}
        self._shared = 0
        self._kept = 0

    def claim(self, letter: pikepdf.Pdf) -> dict[tuple[int, int], FontIdentity]:
        """The letter's descriptors that will point at a shared program (by object id),
        with their typeface; their glyphs are added to it."""
        claimed: dict[tuple[int, int], FontIdentity] = {}
        seen: set[tuple[int, int]] = set()
        for cid_font in cid_fonts(letter):
            descriptor = cid_font.get("/FontDescriptor")
            if descriptor is None or descriptor.objgen in seen:
                continue
            seen.add(descriptor.objgen)
            program = descriptor.get("/FontFile2")
            identity = _program_identity(program) if program is not None else None
            known = self.library.fonts.get(identity) if identity else None
            glyph_ids = _glyph_ids(cid_font)
            if (
                identity is None
                or known is None
                or cid_font.get("/CIDToGIDMap") != pikepdf.Name.Identity
                or glyph_ids is None
                or (glyph_ids and max(glyph_ids) >= known[1])
            ):
                self._kept += 1
                continue
            typeface = self._typefaces.setdefault(identity, _Typeface(known[0]))
            typeface.glyph_ids |= glyph_ids
            claimed[descriptor.objgen] = identity
            self._shared += 1
        return claimed

    def programs(self) -> Iterator[tuple[FontIdentity, bytes]]:
        """Each claimed typeface's program: a subset of the library's font with the glyphs
        of every letter that claimed it, at their original glyph ids."""
        for identity, typeface in self._typefaces.items():
            yield identity, _subset(typeface.path, typeface.glyph_ids)

    def report(self) -> SharingReport:
        return SharingReport(len(self._typefaces), self._shared, self._kept)


def cid_fonts(document: pikepdf.Pdf) -> Iterator[Any]:
    for page in document.pages:
        resources = page.obj.get("/Resources")
        fonts = resources.get("/Font") if resources is not None else None
        if fonts is None:
            continue
        for font in fonts.values():
            if font.get("/Subtype") != pikepdf.Name.Type0:
                continue
            for descendant in font.get("/DescendantFonts", []):
                if descendant.get("/Subtype") == pikepdf.Name.CIDFontType2:
                    yield descendant


def _program_identity(program: Any) -> FontIdentity | None:
    try:
        with TTFont(io.BytesIO(program.read_bytes()), lazy=True) as font:
            return _identity(font)
    except (TTLibError, KeyError, pikepdf.PdfError, AssertionError):
        return None


def _identity(font: TTFont) -> FontIdentity:
    return FontIdentity(
        postscript_name=str(font["name"].getDebugName(6)),
        revision=round(float(font["head"].fontRevision), 4),
        units_per_em=int(font["head"].unitsPerEm),
    )


def _glyph_ids(cid_font: Any) -> set[int] | None:
    """The glyphs a letter uses, from its widths array (WeasyPrint lists exactly those)."""
    widths = cid_font.get("/W")
    if widths is None:
        return None
    items = list(widths)
    used: set[int] = set()
    index = 0
    try:
        while index < len(items):
            first = int(items[index])
            if isinstance(items[index + 1], pikepdf.Array):
                used.update(range(first, first + len(items[index + 1])))
                index += 2
            else:
                used.update(range(first, int(items[index + 1]) + 1))
                index += 3
    except (IndexError, TypeError, ValueError):
        return None
    return used


def _subset(path: Path, glyph_ids: set[int]) -> bytes:
    options = subset.Options(
        retain_gids=True,
        hinting=False,
        notdef_outline=True,
        ignore_missing_glyphs=True,
        passthrough_tables=True,
        desubroutinize=True,
    )
    options.drop_tables += _DROPPED_TABLES
    # No timestamp in the font, so that the same letters give the same batch bytes.
    with TTFont(path, recalcTimestamp=False) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(gids=sorted(glyph_ids | {0}))
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
    return out.getvalue()
