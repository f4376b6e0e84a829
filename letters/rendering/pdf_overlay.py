"""Drawing something over a finished page: a copy's banner, a printed sheet's code.

What is drawn is the page of another PDF, taken as a Form XObject and placed
with a transformation matrix. It goes over the page's own content after that
content's drawing state is closed (``q … Q``), so nothing the page left set, a
clip or a transform, can move or hide it. It is marked as an artifact, so a
tagged (PDF/UA) page stays valid: it is not part of the letter's text, and a
screen reader passes it by.
"""

from __future__ import annotations

import pikepdf

MM = 72 / 25.4  # PDF points per millimetre
# The placement that leaves the other page where it was: same size, same corner.
IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def draw_over(
    document: pikepdf.Pdf,
    page: pikepdf.Page,
    source: pikepdf.Page,
    name: str,
    matrix: tuple[float, float, float, float, float, float] = IDENTITY,
) -> None:
    """Draw ``source`` (a page of another PDF) over ``page`` of ``document``, in place.

    ``name`` is the XObject's resource name: fixed, so the result is the same
    every time (pikepdf's generated names are random).
    """
    form = document.copy_foreign(source.as_form_xobject())
    resource = page.add_resource(
        form, pikepdf.Name.XObject, pikepdf.Name(f"/{name}"), replace_existing=False
    )
    placed = " ".join(_number(v) for v in matrix)
    page.contents_add(document.make_stream(b"q\n"), prepend=True)
    drawing = (
        f"Q\n/Artifact <</Type /Pagination>> BDC\nq {placed} cm {resource} Do Q\nEMC\n"
    ).encode()
    page.contents_add(document.make_stream(drawing))


def _number(value: float) -> str:
    """A PDF number: no exponent, no needless digits."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
