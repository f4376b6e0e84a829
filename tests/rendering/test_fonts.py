"""Only the bundled fonts: the contract refuses what they cannot draw, the renderer never falls back."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from letters.config import TEMPLATES_DIR
from letters.domain.compose import compose
from letters.domain.contract import parse_request
from letters.errors import InvalidRequest, RenderError
from letters.rendering.fonts import TEXT_FACES, bundled_families, drawable
from letters.rendering.letter_service import LetterService
from tests.support.rendering import TEST_TODAY, golden_cases
from tests.support.stacks import sample_request


def test_the_text_faces_are_the_stylesheets_letters_sans() -> None:
    css = (TEMPLATES_DIR / "letter.css").read_text(encoding="utf-8")
    sans = re.findall(r'font-family: "Letters Sans";[^}]*src: url\(fonts/([^)]+)\)', css)
    assert sorted(sans) == sorted(TEXT_FACES)
    assert bundled_families(TEMPLATES_DIR.resolve()) == {"Letters Sans", "Letters Mono"}


def test_the_fonts_draw_norwegian_and_sami_but_not_emoji_or_arabic() -> None:
    points = drawable(TEMPLATES_DIR.resolve())
    assert points is not None
    for char in "ÆØÅæøå áčđŋšŧž ÁČĐŊŠŦŽ é ü ß":
        assert ord(char) in points, char
    for char in "😀مح\u2011":
        assert ord(char) not in points, char


def test_every_golden_request_keeps_to_the_fonts(service: LetterService) -> None:
    for case in golden_cases():
        parse_request((case / "request.json").read_bytes(), service.contract_rules, TEST_TODAY)


@pytest.mark.parametrize("name", ["Kari 😀 Nordmann", "مرحبا Kari", "Kari\u2011Nordmann"])
def test_the_contract_refuses_what_the_fonts_cannot_draw(service: LetterService, name: str) -> None:
    request = sample_request("purring-nb-plain")
    request["recipient"]["name"] = name
    with pytest.raises(
        InvalidRequest, match=r"recipient\.name: holds characters the letter's fonts"
    ):
        service.compose_request(json.dumps(request), TEST_TODAY)


def test_the_renderer_never_embeds_a_system_font(service: LetterService) -> None:
    # Past the contract (as a bug might let it): the renderer refuses, not the debtor's eyes.
    request = parse_request(
        json.dumps(sample_request("purring-nb-plain")), service.profile.contract_rules, TEST_TODAY
    )
    odd = dataclasses.replace(
        request, recipient=dataclasses.replace(request.recipient, name="Kari 😀 مرحبا")
    )
    with pytest.raises(RenderError, match="fonts that are not bundled: DejaVu"):
        service.renderer.render(compose(odd, service.profile, TEST_TODAY, pepper=service.pepper))
