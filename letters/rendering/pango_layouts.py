"""Draw each text with the Pango layout it was laid out with, instead of making it again.

WeasyPrint lays a text box out with Pango, then drops the Pango layout
(``Layout.deactivate``) and, when it draws the page, makes it again from the
box's text and style (``Layout.reactivate``): a second Pango context, font
description and shaping for every text box, about a tenth of a letter's
render. Inside :func:`kept_layouts` a dropped layout is kept, and drawing
uses it as it stands. A layout of justified text is made again as before,
because drawing adds the justification spacing to it.

The layouts live as long as the laid-out document, which the renderer drops
when the letter is written, so memory stays flat. Two threads rendering at
once (the review site) stay correct: a layout that one of them finds dropped,
or kept after the block ended, is made again as WeasyPrint would.

It changes WeasyPrint's ``weasyprint.text.line_break.Layout`` for the time
of the block only, so that the render benchmark's naive way, in the same
process, stays WeasyPrint's own. tests/rendering/test_pango_layouts.py holds
the output byte for byte equal to WeasyPrint's own way on every golden
request and review scenario, and pins the methods replaced here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from weasyprint.text.line_break import Layout

WEASYPRINT_DEACTIVATE = Layout.deactivate
WEASYPRINT_REACTIVATE = Layout.reactivate
_KEPT = "_letters_kept"


def _keep(layout: Any) -> None:
    setattr(layout, _KEPT, True)


def _reuse_or_remake(layout: Any, style: Any) -> None:
    # A layout kept stays usable as often as it is drawn: a stencil's text is drawn
    # once for every letter laid out on it.
    kept = layout.__dict__.get(_KEPT, False) and "layout" in layout.__dict__
    if kept and not layout.justification_spacing:
        return
    WEASYPRINT_REACTIVATE(layout, style)


@contextmanager
def kept_layouts() -> Iterator[None]:
    """Within the block, WeasyPrint draws text with the Pango layouts it laid it out with."""
    Layout.deactivate = _keep
    Layout.reactivate = _reuse_or_remake
    try:
        yield
    finally:
        Layout.deactivate = WEASYPRINT_DEACTIVATE
        Layout.reactivate = WEASYPRINT_REACTIVATE
