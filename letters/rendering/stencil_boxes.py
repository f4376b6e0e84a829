"""The WeasyPrint internals the stencil stands on: boxes kept, lines laid out again, pages copied.

A stencil is one letter laid out in full, kept with its box tree before and
after layout. Every block that holds lines of text (a paragraph, a table cell,
a ``dd``, a line of the address) is a *slot*, numbered in document order
before layout; WeasyPrint copies a box's attributes when it lays it out, so
the laid-out box carries the same number.

For a later letter of the same shape, WeasyPrint builds the letter's box tree
with the stencil's computed styles (the elements match one for one), the two
trees are walked side by side, and only the slots whose text differs are laid
out again, with WeasyPrint's own line layout (``iter_line_boxes``), in the
stencil's laid-out block. The letter's pages are the stencil's pages with
those blocks swapped in, copied along the path to each one, so the stencil
itself never changes.

Used here, all from WeasyPrint 70 (pinned in pyproject.toml):
``Document._build_layout_context``, ``build_formatting_structure``,
``layout_document``, ``Page``, ``DocumentMetadata``, ``get_html_metadata``,
``iter_line_boxes``, ``LayoutContext.create_block_formatting_context`` and
``finish_block_formatting_context``, ``AbsolutePlaceholder`` and the box
classes' ``copy``. tests/rendering/test_stencil.py pins their signatures and
holds every stencil page equal to the full renderer's.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from weasyprint import DEFAULT_OPTIONS, HTML
from weasyprint.css.counters import CounterStyle
from weasyprint.css.targets import TargetCollector
from weasyprint.document import Document, DocumentMetadata, Page
from weasyprint.formatting_structure import boxes
from weasyprint.formatting_structure.build import build_formatting_structure
from weasyprint.html import get_html_metadata
from weasyprint.layout import LayoutContext, layout_document
from weasyprint.layout.absolute import AbsolutePlaceholder
from weasyprint.layout.background import layout_box_backgrounds
from weasyprint.layout.inline import iter_line_boxes, split_text_box

# The slot number WeasyPrint's box copies carry from the box tree to the laid-out pages.
_SLOT = "_letters_slot"
# Two laid-out lengths that differ by less than this (CSS px, 1/96 in) are the same.
SAME = 1e-6

# The signatures the code below calls; the pin test compares them with the installed ones.
PINNED_SIGNATURES = {
    "iter_line_boxes": "(context, box, position_y, bottom_space, skip_stack, containing_block, "
    "absolute_boxes, fixed_boxes, first_letter_style, first_line_style)",
    "build_formatting_structure": "(element_tree, style_for, get_image_from_uri, base_url, "
    "target_collector, counter_style, footnotes)",
    "layout_document": "(html, root_box, context, max_loops=8)",
    "Document._build_layout_context": "(html, font_config, counter_style, color_profiles, options)",
    "Document.__init__": "(self, pages, metadata, url_fetcher, font_config, color_profiles, "
    "output_intent)",
    "LayoutContext.create_block_formatting_context": "(self, root_box=None, new_list=None)",
    "LayoutContext.finish_block_formatting_context": "(self, root_box=None)",
    "layout_box_backgrounds": "(page, box, get_image_from_uri, layout_children=True, style=None)",
    "split_text_box": "(context, box, available_width, skip, is_line_start=True)",
}


def installed_signatures() -> dict[str, str]:
    """The installed WeasyPrint's signatures of what :data:`PINNED_SIGNATURES` names."""
    found = {
        "iter_line_boxes": iter_line_boxes,
        "build_formatting_structure": build_formatting_structure,
        "layout_document": layout_document,
        "Document._build_layout_context": Document._build_layout_context,
        "Document.__init__": Document.__init__,
        "LayoutContext.create_block_formatting_context": (
            LayoutContext.create_block_formatting_context
        ),
        "LayoutContext.finish_block_formatting_context": (
            LayoutContext.finish_block_formatting_context
        ),
        "layout_box_backgrounds": layout_box_backgrounds,
        "split_text_box": split_text_box,
    }
    return {name: str(inspect.signature(f)) for name, f in found.items()}


@dataclass
class KeptLayout:
    """A letter laid out in full, with what a stencil needs of it besides the pages."""

    document: Document
    html: HTML
    root_box: Any  # the box tree before layout, slots numbered
    context: LayoutContext
    counter_style: CounterStyle
    # Slots whose width follows their text (an inline block of auto width, a cell of an
    # auto-layout table): new text there may move more than its own lines.
    sized_by_content: frozenset[int]


def lay_out_keeping_boxes(html: HTML, options: dict[str, Any], font_config: Any) -> KeptLayout:
    """What ``HTML.render`` does (``Document._render``), keeping the box tree and the context."""
    rendering = dict(DEFAULT_OPTIONS)
    rendering.update(options)
    counter_style = CounterStyle()
    context = Document._build_layout_context(html, font_config, counter_style, {}, rendering)
    root_box = build_formatting_structure(
        html.etree_element,
        context.style_for,
        context.get_image_from_uri,
        html.base_url,
        context.target_collector,
        counter_style,
        context.footnotes,
    )
    sized_by_content = _number_slots(root_box)
    page_boxes = layout_document(html, root_box, context)
    document = _document(page_boxes, html, font_config, rendering)
    return KeptLayout(document, html, root_box, context, counter_style, sized_by_content)


def _document(page_boxes: list[Any], html: HTML, font_config: Any, options: dict[str, Any]) -> Any:
    document = Document(
        [Page(page_box) for page_box in page_boxes],
        DocumentMetadata(**get_html_metadata(html)),
        html.url_fetcher,
        font_config,
        {},
        options["output_intent"],
    )
    document._html = html
    return document


def is_slot(box: Any) -> bool:
    """A block whose content is lines of text (WeasyPrint wraps them in one LineBox)."""
    return (
        isinstance(box, boxes.BlockContainerBox)
        and len(box.children) == 1
        and isinstance(box.children[0], boxes.LineBox)
    )


def _number_slots(root: Any) -> frozenset[int]:
    """Number the slots in document order; the numbers of those sized by their content."""
    sized: set[int] = set()
    count = 0

    def walk(box: Any, auto_table: bool, in_shrinking: bool) -> None:
        nonlocal count
        if isinstance(box, boxes.TableBox):
            auto_table = box.style["table_layout"] != "fixed"
        # A box inside one whose width follows its content follows its content too.
        in_shrinking = in_shrinking or _sized_by_content(box, auto_table)
        if is_slot(box):
            setattr(box, _SLOT, count)
            if in_shrinking:
                sized.add(count)
            count += 1
        for child in getattr(box, "children", ()):
            if isinstance(child, boxes.Box):
                walk(child, auto_table, in_shrinking)

    walk(root, False, False)
    return frozenset(sized)


def _sized_by_content(box: Any, auto_table: bool) -> bool:
    if isinstance(box, boxes.TableCellBox):
        return auto_table
    if not isinstance(box, boxes.BlockContainerBox):
        return False
    shrinks = (
        isinstance(box, boxes.InlineBlockBox)
        or box.style["float"] != "none"
        or box.style["position"] in ("absolute", "fixed")
    )
    return shrinks and box.style["width"] == "auto"


def slot_of(box: Any) -> int | None:
    return getattr(box, _SLOT, None)


def slot_texts(slot: Any) -> tuple[str, ...]:
    """The texts of a slot's own lines: not those of a slot inside it (an inline block)."""
    return tuple(_own_texts(slot.children[0]))


def _own_texts(box: Any) -> Iterator[str]:
    for child in box.children:
        if isinstance(child, boxes.TextBox):
            yield child.text
        elif isinstance(child, boxes.InlineBox):
            yield "<"
            yield from _own_texts(child)
            yield ">"
        else:
            yield f"[{type(child).__name__}]"


class ShapeDiffers(Exception):
    """The letter's box tree is not built like the stencil's."""


def changed_slots(stencil_root: Any, letter_root: Any) -> dict[int, Any]:
    """The letter's slots whose text differs from the stencil's, by slot number.

    Raises ShapeDiffers where the two trees are not built alike.
    """
    changed: dict[int, Any] = {}
    stencil_boxes = stencil_root.descendants()
    count = 0
    for box in letter_root.descendants():
        old = next(stencil_boxes, None)
        if old is None or type(old) is not type(box) or old.element_tag != box.element_tag:
            raise ShapeDiffers(f"a {box.element_tag} box where the stencil has another")
        if isinstance(box, boxes.ParentBox) and len(old.children) != len(box.children):
            raise ShapeDiffers(f"a {box.element_tag} box holds another number of parts")
        if is_slot(box):
            if slot_texts(old) != slot_texts(box):
                changed[count] = box
            count += 1
    return changed


@dataclass
class PagePaths:
    """Where each slot's laid-out block is on the pages: page number and child indices."""

    paths: dict[int, list[tuple[int, tuple[int, ...]]]] = field(default_factory=dict)

    @classmethod
    def of(cls, page_boxes: list[Any]) -> PagePaths:
        found = cls()
        for number, page_box in enumerate(page_boxes):
            found._walk(page_box, number, ())
        return found

    def _walk(self, box: Any, page: int, path: tuple[int, ...]) -> None:
        if isinstance(box, AbsolutePlaceholder):
            box = box._box
        slot = slot_of(box)
        if slot is not None:
            self.paths.setdefault(slot, []).append((page, path))
        for index, child in enumerate(getattr(box, "children", ())):
            if isinstance(child, (boxes.Box, AbsolutePlaceholder)):
                self._walk(child, page, (*path, index))


def box_at(page_box: Any, path: tuple[int, ...]) -> Any:
    box = page_box
    for index in path:
        box = _unwrap(box).children[index]
    return _unwrap(box)


def _unwrap(box: Any) -> Any:
    return box._box if isinstance(box, AbsolutePlaceholder) else box


class WrapsDifferently(Exception):
    """A slot's new text takes other lines than the stencil's."""


def lay_out_lines(context: LayoutContext, page_box: Any, laid: Any, fresh: Any) -> Any:
    """``laid`` (the stencil's laid-out block) holding ``fresh``'s text, laid out in its place.

    Raises WrapsDifferently unless the new lines take exactly the place of the old.
    """
    old_lines = laid.children
    line_box = fresh.children[0]
    context.create_block_formatting_context()
    try:
        laid_out = list(
            iter_line_boxes(
                context,
                line_box,
                old_lines[0].position_y if old_lines else laid.content_box_y(),
                -math.inf,
                None,
                laid,
                [],
                [],
                None,
                None,
            )
        )
    finally:
        context.finish_block_formatting_context()
    lines = []
    for line, resume_at in laid_out:
        line.resume_at = resume_at
        # What page layout does for every box once the page is laid out.
        layout_box_backgrounds(page_box, line, context.get_image_from_uri)
        lines.append(line)
    if len(lines) != len(old_lines):
        raise WrapsDifferently(f"{len(lines)} line(s) where the stencil has {len(old_lines)}")
    for new, old in zip(lines, old_lines, strict=True):
        if abs(new.position_y - old.position_y) > SAME or abs(new.height - old.height) > SAME:
            raise WrapsDifferently("a line of another height")
        # An inline block sits on its last line's baseline: that must not move either.
        if abs(new.baseline - old.baseline) > SAME:
            raise WrapsDifferently("a line with its baseline elsewhere")
    block = laid.copy()
    block.children = lines
    return block


def set_again(context: LayoutContext, textbox: Any, text: str) -> Any:
    """A laid-out text box holding ``text`` where it was, on one line (its width may differ)."""
    new, resume_at, _ = split_text_box(context, textbox.copy_with_text(text), None, 0)
    if new is None or resume_at is not None:
        raise WrapsDifferently("a text that does not stay on one line")
    return new


def pages_with(page_boxes: list[Any], swaps: dict[tuple[int, tuple[int, ...]], Any]) -> list[Any]:
    """Copies of ``page_boxes`` with the block at each (page, path) replaced, the rest shared."""
    by_page: dict[int, dict[tuple[int, ...], Any]] = {}
    for (page, path), box in swaps.items():
        by_page.setdefault(page, {})[path] = box
    return [
        _swapped(page_box, by_page[number], ()) if number in by_page else page_box
        for number, page_box in enumerate(page_boxes)
    ]


def _swapped(node: Any, swaps: dict[tuple[int, ...], Any], path: tuple[int, ...]) -> Any:
    if path in swaps:
        new = swaps[path]
        return _placeholder_of(new) if isinstance(node, AbsolutePlaceholder) else new
    depth = len(path)
    below = {p[depth] for p in swaps if p[:depth] == path}
    box = _unwrap(node)
    copy = box.copy()
    copy.children = [
        _swapped(child, swaps, (*path, index)) if index in below else child
        for index, child in enumerate(box.children)
    ]
    return _placeholder_of(copy) if isinstance(node, AbsolutePlaceholder) else copy


def _placeholder_of(box: Any) -> AbsolutePlaceholder:
    placeholder = AbsolutePlaceholder.__new__(AbsolutePlaceholder)
    object.__setattr__(placeholder, "_box", box)
    object.__setattr__(placeholder, "_layout_done", True)
    return placeholder


def build_letter_boxes(kept: KeptLayout, html: HTML, style_for: Any) -> Any:
    """The letter's box tree, built by WeasyPrint with ``style_for`` (the stencil's styles)."""
    return build_formatting_structure(
        html.etree_element,
        style_for,
        kept.context.get_image_from_uri,
        html.base_url,
        TargetCollector(),
        kept.counter_style,
        [],
    )


def document_of(kept: KeptLayout, page_boxes: list[Any], html: HTML) -> Any:
    """A Document of laid-out pages, as ``Document._render`` makes it."""
    return _document(page_boxes, html, kept.document.font_config, {"output_intent": None})
