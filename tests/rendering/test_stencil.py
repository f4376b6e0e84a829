"""The stencil renderer prints the letter the full renderer prints, or lays it out in full.

Every golden request and every review scenario is rendered on a stencil made
from a sibling letter (another case number, KID, letter id and password), and
held equal to the full renderer's PDF (tests/support/stencil_compare.py) and
to the golden files. ``./dev stencil-check`` does the same for 10,000
generated letters.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import weasyprint

from channels.printability import PrintRules, printability_problems
from letters.config import Settings
from letters.domain.letter_types import Language, LetterType
from letters.domain.otp import OneTimePassword, generate
from letters.envelopes import ENVELOPES
from letters.rendering import drawn_text, stencil_boxes
from letters.rendering.letter_service import LetterService
from letters.rendering.renderer import RenderedLetter
from letters.rendering.stencil import StencilBook
from letters.review.scenarios import PREVIEW_DATE, SCENARIOS, preview_password, scenario_request
from tests.rendering.test_golden import mismatches_of
from tests.support.golden_files import outputs_of
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, golden_cases, password_for
from tests.support.stencil_compare import differences

ON_STENCIL = "on its stencil"


@pytest.fixture(scope="module")
def full() -> LetterService:
    return LetterService(Settings.from_env({"LETTERS_STENCIL": "off"}))


@pytest.fixture
def stencil() -> LetterService:
    return LetterService(Settings.from_env({}))


def sibling(request: dict[str, Any], number: int = 1) -> dict[str, Any]:
    """The same letter for another case: case number, KID and letter id of its own."""
    other = copy.deepcopy(request)
    case_number = other["case"]["case_number"]
    digits = "".join(str((int(c) + number) % 10) if c.isdigit() else c for c in case_number)
    other["case"]["case_number"] = digits
    other["case"].pop("kid", None)
    other["letter_id"] = other["letter_id"][:-6] + f"{number:06d}"
    return other


def other_password(number: int) -> OneTimePassword:
    return generate(lambda n: (n * 7 + number) % n if n > 1 else 0)


def render_both(
    full: LetterService,
    stencil: LetterService,
    request: dict[str, Any],
    today: Any,
    password: OneTimePassword,
) -> tuple[RenderedLetter, RenderedLetter]:
    """The letter in full, and on a stencil made from a sibling letter."""
    made = stencil.render_request(json.dumps(sibling(request)), today, other_password(3))
    assert made.layout.startswith("in full: the first letter of its shape"), made.layout
    on_stencil = stencil.render_request(json.dumps(request), today, password)
    return full.render_request(json.dumps(request), today, password), on_stencil


def _id(path: Path) -> str:
    return "/".join(path.relative_to(GOLDEN_DIR).parts)


@pytest.mark.parametrize("case_dir", golden_cases(), ids=_id)
def test_every_golden_on_a_stencil_is_the_full_renderers_letter(
    full: LetterService, stencil: LetterService, case_dir: Path
) -> None:
    request = json.loads((case_dir / "request.json").read_bytes())
    expected, made = render_both(
        full, stencil, request, TEST_TODAY, password_for(request["letter_id"])
    )
    assert made.layout.startswith(ON_STENCIL), f"{_id(case_dir)}: {made.layout}"
    assert differences(expected.pdf, made.pdf) == [], _id(case_dir)
    # Held to the golden files themselves, which the full renderer made.
    assert mismatches_of(case_dir, outputs_of(case_dir, made.pdf)) == {}, _id(case_dir)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("letter_type", list(LetterType))
@pytest.mark.parametrize("language", list(Language))
def test_every_review_scenario_on_a_stencil_is_the_full_renderers_letter(
    language: Language, letter_type: LetterType, scenario: str, tmp_path: Path
) -> None:
    settings = Settings.from_env({"LETTERS_ALLOW_UNCHECKED_RATES": "on"})
    full = LetterService(Settings.from_env({"LETTERS_STENCIL": "off"}))
    stencil = LetterService(settings)
    request = scenario_request(letter_type, language, scenario)
    name = f"{letter_type.value}/{language.value}/{scenario}"
    expected, made = render_both(full, stencil, request, PREVIEW_DATE, preview_password(scenario))
    assert made.layout.startswith(ON_STENCIL), f"{name}: {made.layout}"
    assert differences(expected.pdf, made.pdf) == [], name


def test_stencil_letters_pass_the_print_checks(full: LetterService, stencil: LetterService) -> None:
    """A4, fonts embedded, the address in the window of every envelope, a clear barcode strip."""
    for scenario in ("plain", "foreign_address", "long_names", "many_claims"):
        case_dir = GOLDEN_DIR / "betalingsoppfordring" / "nb" / scenario
        request = json.loads((case_dir / "request.json").read_bytes())
        _, made = render_both(full, stencil, request, TEST_TODAY, password_for("x"))
        assert made.layout.startswith(ON_STENCIL), made.layout
        parsed = stencil.compose_request(json.dumps(request), TEST_TODAY).request
        from letters.domain.postal_address import window_lines

        lines = window_lines(parsed.recipient.name, parsed.recipient.address)
        for envelope in ("E65", "C6/5"):
            rules = PrintRules(max_pages=10, envelope=ENVELOPES[envelope])
            assert printability_problems(made.pdf, rules, lines) == [], (scenario, envelope)


def test_a_value_that_wraps_otherwise_is_laid_out_in_full_and_says_why(
    full: LetterService, stencil: LetterService
) -> None:
    request = json.loads((GOLDEN_DIR / "inkassovarsel/nb/plain/request.json").read_bytes())
    stencil.render_request(json.dumps(sibling(request)), TEST_TODAY, other_password(1))
    longer = copy.deepcopy(request)
    longer["case"]["creditor"]["name"] = "Fjellkraft Nettselskap Vestlandet og Nordland AS"
    made = stencil.render_request(json.dumps(longer), TEST_TODAY, other_password(2))
    assert made.layout.startswith("in full: its "), made.layout
    assert "wraps differently" in made.layout and "(kept as another stencil)" in made.layout
    expected = full.render_request(json.dumps(longer), TEST_TODAY, other_password(2))
    assert differences(expected.pdf, made.pdf) == []
    # The letter that did not fit is kept as another stencil of the shape: the next
    # letter whose creditor wraps the same way fits it, and a short one still fits the first.
    assert len(stencil.renderer.stencils or ()) == 2
    for name, number in (("Fjellkraft Nettselskap Vestlandet og Nordland ASA", 3), (None, 4)):
        letter = sibling(longer if name else request, number)
        if name:
            letter["case"]["creditor"]["name"] = name
        made = stencil.render_request(json.dumps(letter), TEST_TODAY, other_password(number))
        assert made.layout.startswith(ON_STENCIL), (name, made.layout)
        expected = full.render_request(json.dumps(letter), TEST_TODAY, other_password(number))
        assert differences(expected.pdf, made.pdf) == [], name


def test_a_longer_claims_table_is_another_shape(stencil: LetterService) -> None:
    request = json.loads((GOLDEN_DIR / "inkassovarsel/nb/plain/request.json").read_bytes())
    stencil.render_request(json.dumps(request), TEST_TODAY, other_password(1))
    more = sibling(request)
    more["case"]["claims"].append({**more["case"]["claims"][0], "invoice_number": "88124"})
    made = stencil.render_request(json.dumps(more), TEST_TODAY, other_password(2))
    assert made.layout.startswith("in full: the first letter of its shape"), made.layout


def test_a_changed_template_never_meets_an_old_stencil(template_copy: Path) -> None:
    service = LetterService(Settings.from_env({"LETTERS_TEMPLATES_DIR": str(template_copy)}))
    request = json.loads((GOLDEN_DIR / "purring/nb/plain/request.json").read_bytes())
    first = service.render_request(json.dumps(request), TEST_TODAY, other_password(1))
    again = service.render_request(json.dumps(sibling(request)), TEST_TODAY, other_password(2))
    assert again.layout.startswith(ON_STENCIL)
    path = template_copy / "nb" / "purring.html"
    path.write_text(
        path.read_text(encoding="utf-8").replace("kan du se bort", "kan du gjerne se bort"),
        encoding="utf-8",
    )
    changed = service.render_request(json.dumps(sibling(request, 2)), TEST_TODAY, other_password(3))
    assert changed.template_version != first.template_version
    assert changed.layout.startswith("in full: the first letter of its shape"), changed.layout
    assert "gjerne" in " ".join(_texts(changed.pdf))


def _texts(pdf: bytes) -> list[str]:
    from tests.support.pdf import page_texts

    return page_texts(pdf)


def test_the_setting_turns_the_stencil_off() -> None:
    service = LetterService(Settings.from_env({"LETTERS_STENCIL": "off"}))
    assert service.renderer.stencils is None
    request = json.loads((GOLDEN_DIR / "purring/nb/plain/request.json").read_bytes())
    for number in (1, 2):
        letter = service.render_request(
            json.dumps(sibling(request, number)), TEST_TODAY, other_password(number)
        )
        assert letter.layout == "in full (stencils off)"


def test_the_book_keeps_only_the_most_recently_used_stencils(stencil: LetterService) -> None:
    stencil.renderer.stencils = StencilBook(capacity=2, variants_per_shape=1)
    for path in sorted(GOLDEN_DIR.glob("purring/*/plain/request.json")) + sorted(
        GOLDEN_DIR.glob("inkassovarsel/nb/plain/request.json")
    ):
        stencil.render_request(path.read_bytes(), TEST_TODAY, other_password(1))
    assert len(stencil.renderer.stencils) == 2


def test_a_stencil_that_put_a_line_elsewhere_is_caught(
    full: LetterService, stencil: LetterService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Breaks the stencil on purpose: every block laid out again lands 1 mm lower."""
    real = stencil_boxes.lay_out_lines

    def one_mm_lower(*args: Any) -> Any:
        block = real(*args)
        block.translate(dy=96 / 25.4)
        return block

    monkeypatch.setattr("letters.rendering.stencil.lay_out_lines", one_mm_lower)
    request = json.loads((GOLDEN_DIR / "purring/nb/plain/request.json").read_bytes())
    expected, made = render_both(full, stencil, request, TEST_TODAY, password_for("y"))
    assert made.layout.startswith(ON_STENCIL)
    found = differences(expected.pdf, made.pdf)
    assert any("mm, not (" in line for line in found), found
    assert any("pixels differ" in line for line in found), found


def test_the_weasyprint_internals_the_stencil_uses_are_as_pinned() -> None:
    assert weasyprint.__version__ == "70.0", "check letters/rendering/stencil_boxes.py"
    assert stencil_boxes.installed_signatures() == stencil_boxes.PINNED_SIGNATURES
    import inspect

    assert str(inspect.signature(drawn_text.WEASYPRINT_DRAW_FIRST_LINE)) == (
        drawn_text.PINNED_SIGNATURE
    )
    with drawn_text.drawn_once():
        import weasyprint.draw.text as weasyprint_text

        assert weasyprint_text.draw_first_line is not drawn_text.WEASYPRINT_DRAW_FIRST_LINE
    assert weasyprint_text.draw_first_line is drawn_text.WEASYPRINT_DRAW_FIRST_LINE


@pytest.mark.parametrize(
    ("rule", "without_width"),
    [
        # The value's own inline block.
        ("width: 42mm; margin: 0; text-align: right;", "margin: 0; text-align: right;"),
        # The absolutely placed reference block around it.
        ("top: 24mm; width: 70mm;", "top: 24mm;"),
    ],
    ids=["inline block", "absolute block around it"],
)
def test_a_block_as_wide_as_its_text_is_never_laid_out_alone(
    template_copy: Path, rule: str, without_width: str
) -> None:
    """A block of auto width grows with its text: new text in it is laid out in full."""
    css = template_copy / "letter.css"
    assert rule in css.read_text(encoding="utf-8")
    css.write_text(css.read_text(encoding="utf-8").replace(rule, without_width), encoding="utf-8")
    env = {"LETTERS_TEMPLATES_DIR": str(template_copy)}
    service = LetterService(Settings.from_env(env))
    full = LetterService(Settings.from_env({**env, "LETTERS_STENCIL": "off"}))
    request = json.loads((GOLDEN_DIR / "purring/nb/plain/request.json").read_bytes())
    service.render_request(json.dumps(sibling(request)), TEST_TODAY, other_password(1))
    # Shorter: laid out alone in the stencil's wider box, it would sit 2 mm too far left.
    request["case"]["creditor"]["name"] = "Fjellkraft A"
    made = service.render_request(json.dumps(request), TEST_TODAY, other_password(2))
    assert made.layout.startswith("in full: a changed dd block is as wide as its text")
    expected = full.render_request(json.dumps(request), TEST_TODAY, other_password(2))
    assert differences(expected.pdf, made.pdf) == []


def test_a_stencil_that_fails_lays_the_letter_out_in_full(
    full: LetterService, stencil: LetterService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Breaks the stencil on purpose: an error inside it costs the shortcut, not the letter."""

    def broken(*args: Any) -> Any:
        raise AssertionError("an untried corner of WeasyPrint's internals")

    request = json.loads((GOLDEN_DIR / "purring/en/plain/request.json").read_bytes())
    stencil.render_request(json.dumps(sibling(request)), TEST_TODAY, other_password(1))
    monkeypatch.setattr("letters.rendering.stencil.lay_out_lines", broken)
    made = stencil.render_request(json.dumps(request), TEST_TODAY, other_password(2))
    assert made.layout == (
        "in full: laying it out on the stencil failed (AssertionError) (kept as another stencil)"
    )
    assert made.layout_way == "fallback"
    expected = full.render_request(json.dumps(request), TEST_TODAY, other_password(2))
    assert differences(expected.pdf, made.pdf) == []
