"""One layout pass per letter: the same bytes as the two-pass renderer it replaced.

The two-pass way laid a letter out without page numbers and, only if it ran
over a page, again with them. The renderer now lays it out once with them and
takes the page-number boxes off a one-page letter. These tests hold that to
the byte on every golden request, and pin the WeasyPrint internals it uses.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
import weasyprint
from weasyprint.formatting_structure.boxes import MarginBox

from letters.domain.compose import ComposedLetter
from letters.rendering.letter_service import LetterService
from letters.rendering.pdf import PdfMetadata
from letters.rendering.renderer import PAGE_NUMBER_BOXES
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, golden_cases, password_for

CASES = golden_cases()


def _id(path: Path) -> str:
    return "/".join(path.relative_to(GOLDEN_DIR).parts)


def _composed(service: LetterService, case_dir: Path) -> ComposedLetter:
    raw = (case_dir / "request.json").read_bytes()
    return service.compose_request(raw, TEST_TODAY, password_for(json.loads(raw)["letter_id"]))


def _two_pass(service: LetterService, letter: ComposedLetter, version: str) -> bytes:
    renderer = service.renderer
    markup = renderer.html(letter)
    document = renderer.engine.layout(markup)
    if len(document.pages) > 1:
        markup = renderer.html(letter, multi_page=True)
        document = renderer.engine.layout(markup)
    title = re.search(r"<title>(.*?)</title>", markup, re.S)
    subject = re.search(r'<meta name="description" content="(.*?)">', markup, re.S)
    assert title and subject
    meta = PdfMetadata(
        title=html.unescape(title.group(1)).strip(),
        subject=html.unescape(subject.group(1)).strip(),
        author=letter.agency.name,
        language=letter.request.language.value,
        created=letter.made_at,
        letter_id=letter.request.letter_id,
        template_version=version,
    )
    return renderer.engine.write(document, meta)


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_one_pass_gives_the_bytes_of_the_two_pass_renderer(
    case_dir: Path, service: LetterService
) -> None:
    letter = _composed(service, case_dir)
    rendered = service.renderer.render(letter)
    expected = _two_pass(service, letter, rendered.template_version)
    assert rendered.pdf == expected, _id(case_dir)


def test_the_weasyprint_internals_the_renderer_relies_on(service: LetterService) -> None:
    # drop_margin_boxes edits Page._page_box.children, whose margin boxes carry
    # their at-keyword. A WeasyPrint upgrade that changes either fails here first.
    assert weasyprint.__version__ == "70.0", "check PdfEngine.drop_margin_boxes on this version"
    letter = _composed(service, GOLDEN_DIR / "purring" / "nb" / "plain")
    document = service.renderer.engine.layout(service.renderer.html(letter, multi_page=True))
    margin = [c for c in document.pages[0]._page_box.children if isinstance(c, MarginBox)]
    assert {c.at_keyword for c in margin} >= PAGE_NUMBER_BOXES | {"@bottom-left"}
    service.renderer.engine.drop_margin_boxes(document, PAGE_NUMBER_BOXES)
    left = {c.at_keyword for c in document.pages[0]._page_box.children if isinstance(c, MarginBox)}
    assert left == {"@bottom-left"}  # the contact lines stay
