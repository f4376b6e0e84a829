"""The print rules, each with a PDF that breaks it (and a rendered letter that keeps them)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
import pytest

from channels.printability import (
    MM,
    PrintRules,
    UnprintablePdfError,
    check_printable,
    printability_problems,
)
from letters.config import Settings
from letters.domain.contract import parse_request
from letters.domain.postal_address import window_lines
from letters.envelopes import ENVELOPES, Window
from letters.rendering.letter_service import LetterService
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, service_for

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


# -- the envelope window (print and post) ---------------------------------------


def _request(scenario: str = "plain", **recipient: object) -> dict[str, object]:
    raw = json.loads((GOLDEN_DIR / "inkassovarsel" / "nb" / scenario / "request.json").read_bytes())
    raw["recipient"].update(recipient)
    return raw


def _window_lines(raw: dict[str, object]) -> list[str]:
    request = parse_request(
        raw, LetterService(Settings.from_env({})).profile.contract_rules, TEST_TODAY
    )
    return window_lines(request.recipient.name, request.recipient.address)


def _rules(envelope: str = "E65") -> PrintRules:
    return PrintRules(max_pages=10, envelope=ENVELOPES[envelope])


@pytest.mark.parametrize("scenario", ["plain", "foreign_address", "long_names", "many_claims"])
@pytest.mark.parametrize("envelope", ["E65", "C6/5"])
def test_rendered_addresses_sit_in_the_window(
    service: LetterService, scenario: str, envelope: str
) -> None:
    raw = _request(scenario)
    pdf = service.render_request(raw, TEST_TODAY).pdf
    assert printability_problems(pdf, _rules(envelope), _window_lines(raw)) == []


def test_a_name_with_ligature_letters_is_found_in_the_window(service: LetterService) -> None:
    raw = _request(name="Fiffi Flåfjell-Affleck")
    pdf = service.render_request(raw, TEST_TODAY).pdf
    assert printability_problems(pdf, _rules(), _window_lines(raw)) == []


def test_an_address_below_the_window_breaks_the_rule(template_copy: Path) -> None:
    css = template_copy / "letter.css"
    css.write_text(css.read_text().replace("  top: 26mm;", "  top: 40mm;", 1))
    raw = _request()
    pdf = service_for(template_copy).render_request(raw, TEST_TODAY).pdf
    problems = printability_problems(pdf, _rules(), _window_lines(raw))
    assert "address line 3 of 3 is not inside the E65 envelope window" in problems[0]
    # The message names lines by number: nothing of the address itself.
    assert not any(line in " ".join(problems) for line in _window_lines(raw))


def test_a_heading_showing_through_the_window_breaks_the_rule(service: LetterService) -> None:
    # The C5 window reaches 79 mm from the top, where the heading INKASSOVARSEL starts.
    raw = _request()
    pdf = service.render_request(raw, TEST_TODAY).pdf
    with pytest.raises(UnprintablePdfError, match="text other than the address shows in the C5"):
        check_printable(pdf, _rules("C5"), _window_lines(raw))


def test_an_address_that_is_not_on_the_first_page_is_named(service: LetterService) -> None:
    raw = _request()
    pdf = service.render_request(raw, TEST_TODAY).pdf
    lines = _window_lines(raw)
    problems = printability_problems(pdf, _rules(), [lines[0], "Postboks 999 Ukjent", *lines[1:]])
    assert problems == ["address line 2 of 4 is not on page 1"]


def test_without_a_window_no_address_is_needed() -> None:
    assert printability_problems(make_pdf(content=box(20, 130)), PrintRules()) == []
    problems = printability_problems(make_pdf(content=box(20, 130)), _rules())
    assert problems == ["no address to check against the envelope window"]


def test_the_sheet_code_zone_of_the_print_profile_must_be_blank() -> None:
    # A zone outside the barcode strip, so that only the zone's own rule can catch it.
    zone = Window(180, 270, 192, 282)
    rules = PrintRules(code_zone=zone)
    assert printability_problems(make_pdf(content=box(150, 270)), rules) == []
    assert printability_problems(make_pdf(pages=2, content=box(185, 275)), rules) == [
        "page 1 has content in the sheet-code zone "
        "(180–192 mm from the left, 270–282 mm from the top)",
        "page 2 has content in the sheet-code zone "
        "(180–192 mm from the left, 270–282 mm from the top)",
    ]
    # Without a code zone (digital mail) nothing is asked of that place.
    assert printability_problems(make_pdf(content=box(185, 275)), PrintRules()) == []
