"""The bundled fonts: what the letter's text can be printed with, and nothing else.

WeasyPrint falls back to the machine's fonts (DejaVu on Debian) for a
character the bundled ones lack, which would put another typeface in a legal
letter. So the contract refuses, naming the field, any character the faces
that print request text cannot draw (``drawable``), and the renderer refuses
a PDF that embeds any font but the bundled ones (``foreign_fonts``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError

FONTS_DIR = "fonts"
STYLESHEET = "letter.css"
_FONT_FACE = re.compile(r"@font-face\s*\{([^}]*)\}")
_FAMILY = re.compile(r"font-family:\s*\"([^\"]+)\"")
# The faces of "Letters Sans" in letter.css, which print everything a request holds.
TEXT_FACES = ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf")


@cache
def drawable(templates_dir: Path) -> frozenset[int] | None:
    """The code points every text face can draw; None if a face cannot be read (the
    render then fails, naming the missing font)."""
    covered: frozenset[int] | None = None
    for name in TEXT_FACES:
        try:
            with TTFont(templates_dir / FONTS_DIR / name, lazy=True) as font:
                points = frozenset(font.getBestCmap())
        except (OSError, TTLibError):
            return None
        covered = points if covered is None else covered & points
    return covered


@cache
def bundled_families(templates_dir: Path) -> frozenset[str]:
    """The font families the stylesheet declares with ``@font-face`` (the bundled fonts)."""
    css = (templates_dir / STYLESHEET).read_text(encoding="utf-8")
    return frozenset(_FAMILY.findall(" ".join(_FONT_FACE.findall(css))))


def foreign_fonts(font_names: Iterable[str], families: Iterable[str]) -> list[str]:
    """The fonts among ``font_names`` (PDF base font names) that are none of ``families``.

    WeasyPrint names an embedded font after its family, spaces as hyphens and the
    style after it, behind a subset tag ("/ABCDEF+Letters-Sans-Bold"); a font the
    machine lent for a missing character carries its own family's name ("DejaVuSans").
    """
    prefixes = tuple(family.replace(" ", "-") for family in families)
    found = set()
    for name in font_names:
        name = name.lstrip("/")
        plain = name.split("+", 1)[1] if len(name) > 7 and name[6] == "+" else name
        if not any(plain == p or plain.startswith(f"{p}-") for p in prefixes):
            found.add(plain)
    return sorted(found)
