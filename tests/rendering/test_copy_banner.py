"""The copy banner (review N-M9): a paper copy of a Digipost letter says it is a copy,
the day the original went to Digipost and that the deadlines run from that day, and is
otherwise the original: the same words in the same places, pages, metadata and tags."""

from __future__ import annotations

import io
import json
from datetime import date
from functools import cache
from pathlib import Path

import pdfplumber
import pikepdf
import pytest

from channels.printability import PrintRules, printability_problems
from letters.config import TEMPLATES_DIR
from letters.domain.letter_types import Language
from letters.domain.postal_address import window_lines
from letters.envelopes import ENVELOPES
from letters.rendering.copy_banner import CopyBanner
from letters.rendering.letter_service import LetterService
from tests.support.pdf import mm
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, password_for, service_for

SENT_ON = date(2026, 11, 23)
# The sender block starts 20 mm from the top; the banner ends above it.
SENDER_TOP_MM = 20.0
CASES = {
    "nb": GOLDEN_DIR / "inkassovarsel" / "nb" / "plain",
    "en": GOLDEN_DIR / "varsel_rettslig_pagang" / "en" / "many_claims",  # two pages
}


@cache
def _service() -> LetterService:
    return service_for(TEMPLATES_DIR)


@cache
def _original(language: str) -> bytes:
    raw = (CASES[language] / "request.json").read_bytes()
    letter_id = json.loads(raw)["letter_id"]
    return _service().render_request(raw, TEST_TODAY, password_for(letter_id)).pdf


def _stamped(language: str, sent_on: date = SENT_ON) -> bytes:
    banner: CopyBanner = _service().renderer.copy_banner
    return banner.stamp(_original(language), Language(language), sent_on)


def _words(pdf: bytes) -> list[list[tuple[str, float, float]]]:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return [
            [(w["text"], round(w["x0"], 2), round(w["top"], 2)) for w in page.extract_words()]
            for page in doc.pages
        ]


@pytest.mark.parametrize(
    ("language", "banner"),
    [
        (
            "nb",
            "KOPI. Dette brevet ble sendt til din digitale postkasse i Digipost "
            "23. november 2026. Fristene i brevet løper fra den dagen.",
        ),
        (
            "en",
            "COPY. This letter was sent to your Digipost mailbox on 23 November 2026. "
            "The deadlines in it run from that day.",
        ),
    ],
)
def test_page_one_says_it_is_a_copy_and_the_letter_is_otherwise_unchanged(
    language: str, banner: str
) -> None:
    original, stamped = _words(_original(language)), _words(_stamped(language))
    assert len(stamped) == len(original)
    first = stamped[0]
    added = [w for w in first if w not in original[0]]
    assert " ".join(w[0] for w in added) == banner
    assert all(mm(top) < SENDER_TOP_MM - 5 for _, _, top in added)
    # Every word of the letter is where it was, on every page.
    assert [w for w in first if w not in added] == original[0]
    assert stamped[1:] == original[1:]


def test_the_stamp_is_the_same_every_time_and_names_the_day() -> None:
    assert _stamped("nb") == _stamped("nb")  # a copy made again after a crash archives the same
    later = _stamped("nb", date(2026, 11, 30))
    assert later != _stamped("nb")
    with pdfplumber.open(io.BytesIO(later)) as doc:
        assert "30. november 2026" in (doc.pages[0].extract_text() or "")


@pytest.mark.parametrize("language", sorted(CASES))
def test_the_copy_is_as_printable_as_the_original(language: str) -> None:
    service = _service()
    request = json.loads((CASES[language] / "request.json").read_bytes())
    parsed = service.compose_request(request, TEST_TODAY, password_for(request["letter_id"]))
    recipient = parsed.request.recipient
    lines = window_lines(recipient.name, recipient.address)
    assert (
        printability_problems(_stamped(language), PrintRules(envelope=ENVELOPES["E65"]), lines)
        == []
    )
    # In every envelope the copy passes or fails exactly as the original does.
    for envelope in ENVELOPES.values():
        rules = PrintRules(envelope=envelope)
        assert printability_problems(_stamped(language), rules, lines) == printability_problems(
            _original(language), rules, lines
        ), envelope.name


@pytest.mark.parametrize("language", sorted(CASES))
def test_the_copy_keeps_the_metadata_tags_and_fonts_and_the_banner_is_an_artifact(
    language: str,
) -> None:
    with (
        pikepdf.open(io.BytesIO(_original(language))) as original,
        pikepdf.open(io.BytesIO(_stamped(language))) as stamped,
    ):
        assert dict(stamped.docinfo.items()) == dict(original.docinfo.items())
        assert stamped.open_metadata()["pdfuaid:part"] == "1"
        assert len(stamped.Root.StructTreeRoot.ParentTree.Nums) == len(
            original.Root.StructTreeRoot.ParentTree.Nums
        )
        page = stamped.pages[0]
        content = page.Contents
        streams = content if isinstance(content, pikepdf.Array) else [content]
        drawn = b"".join(s.read_bytes() for s in streams)
        # The banner is drawn last, inside an artifact, after the page's own state is closed.
        assert drawn.startswith(b"q\n")
        tail = drawn[drawn.rindex(b"Q\n/Artifact") :]
        assert tail.endswith(b"/LettersCopyBanner Do Q\nEMC\n"), tail
        banner = page.Resources.XObject.LettersCopyBanner
        fonts = banner.Resources.Font
        assert len(fonts) >= 1
        for font in fonts.values():
            face = font.DescendantFonts[0] if "/DescendantFonts" in font else font
            assert "/FontFile2" in face.FontDescriptor, "the banner's font is embedded"
        for later, before in zip(stamped.pages[1:], original.pages[1:], strict=True):
            assert later.Contents.read_bytes() == before.Contents.read_bytes()


def test_a_banner_template_that_overflows_a_page_is_refused(template_copy: Path) -> None:
    banner_file = template_copy / "copy_banner.html"
    markup = banner_file.read_text(encoding="utf-8")
    banner_file.write_text(
        markup.replace("</body>", '<p>a</p><p style="break-before: page">b</p></body>'),
        encoding="utf-8",
    )
    service = service_for(template_copy)
    with pytest.raises(Exception, match="the banner must lay out on one page"):
        service.renderer.copy_banner.stamp(_original("nb"), Language.NB, SENT_ON)
