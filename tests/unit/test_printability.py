"""The print rules, each with a PDF that breaks it (and a rendered letter that keeps them)."""

from __future__ import annotations

import io

import pikepdf
import pytest
from conftest import GOLDEN_DIR, TEST_TODAY

from letters.printability import (
    MM,
    PrintRules,
    UnprintablePdfError,
    check_printable,
    printability_problems,
)
from letters.service import LetterService

A4 = (210 * MM, 297 * MM)


def make_pdf(
    pages: int = 1,
    size: tuple[float, float] = A4,
    content: bytes = b"",
    font: str | None = None,
    version: str | None = None,
    encryption: pikepdf.Encryption | None = None,
) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        page = pdf.add_blank_page(page_size=size)
        page.obj.Contents = pdf.make_stream(content)
        if font:
            page.obj.Resources = pikepdf.Dictionary(
                Font=pikepdf.Dictionary(
                    F1=pikepdf.Dictionary(
                        Type=pikepdf.Name.Font,
                        Subtype=pikepdf.Name.Type1,
                        BaseFont=pikepdf.Name("/" + font),
                    )
                )
            )
    out = io.BytesIO()
    pdf.save(out, force_version=version, encryption=encryption or False)
    return out.getvalue()


def box(x_mm: float, top_mm: float, size_mm: float = 5) -> bytes:
    """A black square ``size_mm`` wide, ``x_mm`` from the left and ``top_mm`` from the top."""
    y = (297 - top_mm - size_mm) * MM
    return f"0 g {x_mm * MM:.2f} {y:.2f} {size_mm * MM:.2f} {size_mm * MM:.2f} re f".encode()


def text(font: str = "F1") -> bytes:
    return f"BT /{font} 12 Tf {30 * MM:.2f} {250 * MM:.2f} Td (Hei) Tj ET".encode()


@pytest.mark.parametrize("scenario", ["many_claims", "foreign_address", "long_names"])
def test_rendered_letters_are_printable(service: LetterService, scenario: str) -> None:
    raw = (GOLDEN_DIR / "betalingsoppfordring" / "nb" / scenario / "request.json").read_bytes()
    rendered = service.render_request(raw, TEST_TODAY)
    assert printability_problems(rendered.pdf) == []


def test_a_clean_a4_page_passes() -> None:
    assert printability_problems(make_pdf(content=box(20, 130))) == []


@pytest.mark.parametrize(
    ("pdf", "rule"),
    [
        (make_pdf(size=(612, 792)), "page 1 is 216 × 279 mm, not A4 portrait"),
        (make_pdf(size=(A4[1], A4[0])), "not A4 portrait"),
        (make_pdf(pages=21), "21 pages is more than the limit of 20"),
        (make_pdf(version="2.0"), "PDF version 2.0 is newer than 1.7"),
        (make_pdf(content=box(5, 130)), "page 1 has content in the barcode strip"),
        (make_pdf(content=box(14, 100, 2)), "content in the barcode strip"),
        (make_pdf(content=text(), font="Calibri"), "fonts not embedded: Calibri"),
        (
            make_pdf(encryption=pikepdf.Encryption(owner="o", user="u")),
            "the PDF is password-protected",
        ),
        (make_pdf(encryption=pikepdf.Encryption(owner="o", user="")), "the PDF is encrypted"),
        (b"%PDF-1.7 this is not a PDF", "the PDF cannot be read"),
    ],
    ids=[
        "letter-size",
        "landscape",
        "too-many-pages",
        "pdf-2.0",
        "barcode-strip",
        "barcode-strip-edge",
        "font-not-embedded",
        "password",
        "encrypted",
        "not-a-pdf",
    ],
)
def test_each_rule_is_named_when_broken(pdf: bytes, rule: str) -> None:
    with pytest.raises(UnprintablePdfError) as caught:
        check_printable(pdf)
    assert rule in str(caught.value)


def test_marks_just_outside_the_strip_are_fine() -> None:
    above, below, right = box(2, 88), box(2, 177), box(16, 130)
    assert printability_problems(make_pdf(content=above + b"\n" + below + b"\n" + right)) == []


def test_standard_fonts_need_not_be_embedded() -> None:
    assert printability_problems(make_pdf(content=text(), font="Helvetica")) == []


def test_the_page_limit_is_configurable() -> None:
    assert printability_problems(make_pdf(pages=3), PrintRules(max_pages=3)) == []
    assert printability_problems(make_pdf(pages=4), PrintRules(max_pages=3)) == [
        "4 pages is more than the limit of 3"
    ]
