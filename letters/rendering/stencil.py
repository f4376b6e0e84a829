"""The stencil: lay out once what every letter of a shape shares, then only what differs.

A letter's *shape* is its element tree without its words: the template's
elements and attributes, a table row for each claim, cost and payment, the
paragraphs a case turns on or off. The first letter of a template version,
language, agency profile and shape is laid out in full by WeasyPrint and kept
as the shape's stencil. A later letter of that shape is built into boxes with
the stencil's computed styles; the blocks whose text differs (the address, the
reference values, a sentence with the deadline in it) are laid out again in
the stencil's place for them; everything else is the stencil's own layout.

A letter whose text would take other lines than the stencil's (a creditor
name that wraps, a sentence one line longer, a block as wide as its text) is
laid out in full instead, and its reason is given back: the result is the same
letter either way, the stencil only saves the work. That letter is kept as
another variant of its shape's stencil, for the letters that wrap like it. The
key holds the template version, so a changed template never meets an old
stencil. The book keeps the most recently used stencils only, so memory stays
flat however many shapes a run meets.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from weasyprint import HTML
from weasyprint.formatting_structure import boxes

from letters.rendering.stencil_boxes import (
    SAME,
    KeptLayout,
    PagePaths,
    ShapeDiffers,
    WrapsDifferently,
    box_at,
    build_letter_boxes,
    changed_slots,
    document_of,
    lay_out_lines,
    pages_with,
    set_again,
)

# Enough for every type, language and common shape of a day's letters; one is 2-3 MB.
DEFAULT_CAPACITY = 64
# Stencils of one shape that wrap its texts differently (a long creditor name, a short one).
VARIANTS_PER_SHAPE = 3

Shape = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class StencilKey:
    template_version: str
    language: str
    profile: str
    shape: Shape


@dataclass(frozen=True, slots=True)
class Fitted:
    """A letter laid out on its stencil: the pages, ready to write."""

    document: Any
    changed_blocks: int


@dataclass(frozen=True, slots=True)
class FullLayout:
    """Why a letter is laid out in full rather than on a stencil."""

    reason: str


def shape_of(root: ET.Element) -> Shape:
    """The element tree without its words: tags, attributes and where text stands.

    Left out are the attributes that carry a letter's words, not its look: the
    running strings' ``data-*`` and the description ``<meta>``'s ``content``.
    """
    return tuple(
        (
            element.tag,
            tuple(
                sorted(
                    (k, v)
                    for k, v in element.attrib.items()
                    if not k.startswith("data-") and not (element.tag == "meta" and k == "content")
                )
            ),
            _text_kind(element.text),
            _text_kind(element.tail),
        )
        for element in root.iter()
    )


def _text_kind(text: str | None) -> int:
    """None or empty, white space only, or words (and whether white space leads or trails)."""
    if not text:
        return 0
    if text.isspace():
        return 1
    return 2 + (text[0].isspace()) + 2 * (text[-1].isspace())


class _StencilStyles:
    """The stencil's computed styles, looked up by the letter's elements."""

    def __init__(self, style_for: Any, counterpart: dict[ET.Element, ET.Element]) -> None:
        self._style_for = style_for
        self._counterpart = counterpart

    def __call__(self, element: Any, pseudo_type: str | None = None) -> Any:
        return self._style_for(self._counterpart.get(element, element), pseudo_type)


class Stencil:
    """One letter laid out in full, kept to lay later letters of its shape out on."""

    def __init__(self, kept: KeptLayout) -> None:
        self.kept = kept
        self.page_boxes = [page._page_box for page in kept.document.pages]
        self.paths = PagePaths.of(self.page_boxes)
        self.elements = list(kept.html.etree_element.iter())
        self.header_strings = _strings_set(kept.root_box)

    def fit(self, html: HTML) -> Fitted | FullLayout:
        """``html`` laid out on this stencil, or why it must be laid out in full."""
        counterpart = dict(zip(html.etree_element.iter(), self.elements, strict=True))
        styles = _StencilStyles(self.kept.context.style_for, counterpart)
        letter_root = build_letter_boxes(self.kept, html, styles)
        try:
            changed = changed_slots(self.kept.root_box, letter_root)
        except ShapeDiffers as err:
            return FullLayout(f"its boxes are not built like the stencil's: {err}")
        swaps: dict[tuple[int, tuple[int, ...]], Any] = {}
        for slot, fresh in changed.items():
            if slot in self.kept.sized_by_content:
                return FullLayout(f"a changed {fresh.element_tag} block is as wide as its text")
            places = self.paths.paths.get(slot, [])
            if len(places) != 1:
                where = "is not on the pages" if not places else "runs over pages or margins"
                return FullLayout(f"a changed {fresh.element_tag} block {where}")
            page, path = places[0]
            # Slots are numbered in document order, so a block comes before those inside it.
            if any(path[: len(p)] == p for (pg, p) in swaps if pg == page):
                continue  # inside a block laid out again already, new text and all
            laid = box_at(self.page_boxes[page], path)
            try:
                swaps[(page, path)] = lay_out_lines(
                    self.kept.context, self.page_boxes[page], laid, fresh
                )
            except WrapsDifferently as err:
                return FullLayout(f"its {fresh.element_tag} text wraps differently: {err}")
        # Only a letter of more than one page shows running strings (its page header).
        strings = _strings_set(letter_root) if len(self.page_boxes) > 1 else self.header_strings
        if strings != self.header_strings:
            try:
                swaps.update(self._headers(strings))
            except WrapsDifferently as err:
                return FullLayout(f"its page header differs: {err}")
        pages = pages_with(self.page_boxes, swaps)
        return Fitted(document_of(self.kept, pages, html), len(swaps))

    def _headers(self, strings: dict[str, str]) -> dict[tuple[int, tuple[int, ...]], Any]:
        """The page-margin boxes that show a running string, laid out again with the new one."""
        old, new = self.header_strings, strings
        swaps: dict[tuple[int, tuple[int, ...]], Any] = {}
        for number, page_box in enumerate(self.page_boxes):
            for index, child in enumerate(page_box.children):
                if not isinstance(child, boxes.MarginBox) or not child.children:
                    continue
                texts = [t for t in child.descendants() if isinstance(t, boxes.TextBox)]
                changed = [v for k, v in old.items() if v and new.get(k) != v]
                if not any(v in t.text for t in texts for v in changed):
                    continue
                swaps[(number, (index,))] = _header_again(self.kept, child, old, new)
        return swaps


def _header_again(
    kept: KeptLayout, margin_box: Any, old: dict[str, str], new: dict[str, str]
) -> Any:
    """A one-line page-margin box with the old running strings replaced by the new.

    The page header (``@top-right``) is as wide as its text and keeps its right
    edge where the page's margin area ends: a case reference of another width
    (kerned digits) moves its left edge, and nothing else.
    """
    if len(margin_box.children) != 1:
        raise WrapsDifferently("a page header of more than one line")
    line = margin_box.children[0]
    texts = []
    for child in line.children:
        if not isinstance(child, boxes.TextBox):
            raise WrapsDifferently("a page header that is not plain text")
        text = child.text
        for name, value in old.items():
            if value and new.get(name) != value:
                text = text.replace(value, new.get(name, ""))
        texts.append(child.copy() if text == child.text else set_again(kept.context, child, text))
    wider = sum(t.width for t in texts) - sum(t.width for t in line.children)
    if abs(wider) > SAME and margin_box.at_keyword != "@top-right":
        raise WrapsDifferently(f"a running string of another width in {margin_box.at_keyword}")
    fresh_line = line.copy()
    fresh_line.children = texts
    fresh = margin_box.copy()
    fresh.children = [fresh_line]
    if abs(wider) > SAME:
        fresh.translate(dx=-wider)
        fresh.width += wider
        fresh_line.width += wider
    return fresh


def _strings_set(root: Any) -> dict[str, str]:
    """The running strings (``string-set``) the boxes set: the page header's case reference."""
    found: dict[str, str] = {}
    for box in root.descendants():
        for name, value in getattr(box, "string_set", ()) or ():
            found[name] = value
    return found


class StencilBook:
    """The stencils of a process: for each key a few variants, the most recently used kept.

    A letter that did not fit any stencil of its shape (a creditor name on two lines
    where the stencils have it on one) is kept as another variant of that shape, so
    the letters after it that wrap the same way fit.
    """

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, variants_per_shape: int = VARIANTS_PER_SHAPE
    ) -> None:
        self.capacity = capacity
        self.variants_per_shape = variants_per_shape
        self._stencils: OrderedDict[StencilKey, list[Stencil]] = OrderedDict()
        # Laying out on a stencil reads and copies its boxes; one letter at a time.
        self.lock = threading.Lock()

    def variants(self, key: StencilKey) -> list[Stencil]:
        """The key's stencils, the most recently used first (a copy: the book may change)."""
        found = self._stencils.get(key)
        if found is None:
            return []
        self._stencils.move_to_end(key)
        return list(found)

    def used(self, key: StencilKey, stencil: Stencil) -> None:
        found = self._stencils.get(key, [])
        if stencil in found:
            found.remove(stencil)
            found.insert(0, stencil)

    def keep(self, key: StencilKey, kept: KeptLayout) -> None:
        found = self._stencils.setdefault(key, [])
        found.insert(0, Stencil(kept))
        del found[self.variants_per_shape :]
        self._stencils.move_to_end(key)
        while len(self) > self.capacity and len(self._stencils) > 1:
            self._stencils.popitem(last=False)

    def __len__(self) -> int:
        return sum(len(found) for found in self._stencils.values())
