"""What changed between two versions of a letter: words and page areas.

Text: a word-by-word comparison, with removed words in ``<del>`` and inserted
words in ``<ins>``. Pages: the two page images compared pixel by pixel on a
grid; the changed cells are grouped into areas, and each area is outlined on
the new page image.
"""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw

# A cell of the comparison grid, in pixels of the comparison image.
CELL = 8
# Grey levels that differ by less than this are anti-aliasing noise.
_NOISE = 40


def text_diff_html(old: str, new: str) -> str | None:
    """The new text with changes marked; None when the words are the same."""
    before, after = old.split(), new.split()
    if before == after:
        return None
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(html.escape(" ".join(after[j1:j2])))
            continue
        if i2 > i1:
            parts.append(f"<del>{html.escape(' '.join(before[i1:i2]))}</del>")
        if j2 > j1:
            parts.append(f"<ins>{html.escape(' '.join(after[j1:j2]))}</ins>")
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Area:
    left: int
    top: int
    right: int
    bottom: int

    def scaled(self, factor: float) -> Area:
        return Area(*(round(v * factor) for v in (self.left, self.top, self.right, self.bottom)))


def changed_areas(old: Image.Image, new: Image.Image) -> list[Area]:
    """Areas of ``new`` that differ from ``old`` (both greyscale, the same size)."""
    if old.size != new.size:
        return [Area(0, 0, new.width, new.height)]
    mask = ImageChops.difference(old.convert("L"), new.convert("L")).point(
        lambda v: 255 if v >= _NOISE else 0
    )
    if mask.getbbox() is None:
        return []
    columns, rows = -(-new.width // CELL), -(-new.height // CELL)
    changed = {
        (x, y)
        for y in range(rows)
        for x in range(columns)
        if mask.crop((x * CELL, y * CELL, (x + 1) * CELL, (y + 1) * CELL)).getbbox()
    }
    areas = []
    while changed:
        # One connected group of changed cells (neighbours within two cells) per area.
        stack = [changed.pop()]
        group = set(stack)
        while stack:
            x, y = stack.pop()
            for dx in range(-2, 3):
                for dy in range(-2, 3):
                    cell = (x + dx, y + dy)
                    if cell in changed:
                        changed.remove(cell)
                        group.add(cell)
                        stack.append(cell)
        xs, ys = [c[0] for c in group], [c[1] for c in group]
        areas.append(
            Area(
                min(xs) * CELL,
                min(ys) * CELL,
                min((max(xs) + 1) * CELL, new.width),
                min((max(ys) + 1) * CELL, new.height),
            )
        )
    return sorted(areas, key=lambda a: (a.top, a.left))


def highlight(page: Image.Image, areas: list[Area]) -> Image.Image:
    """The page with each area outlined in red over a light wash."""
    marked = page.convert("RGB")
    wash = Image.new("RGB", marked.size, (255, 64, 64))
    mask = Image.new("L", marked.size, 0)
    draw_mask = ImageDraw.Draw(mask)
    for area in areas:
        draw_mask.rectangle((area.left, area.top, area.right, area.bottom), fill=60)
    marked = Image.composite(wash, marked, mask)
    draw = ImageDraw.Draw(marked)
    for area in areas:
        box = (area.left - 2, area.top - 2, area.right + 2, area.bottom + 2)
        draw.rectangle(box, outline=(220, 0, 0), width=3)
    return marked
