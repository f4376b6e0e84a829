"""Drawing with the layouts text was laid out with gives WeasyPrint's own bytes.

``kept_layouts`` (letters/rendering/pango_layouts.py) stops WeasyPrint from
making every text's Pango layout a second time to draw it. These tests hold
the PDF byte for byte equal to WeasyPrint's own way on every golden request
and every review scenario, and pin the WeasyPrint methods it replaces: an
upgrade that renames or stops calling them fails here first.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import weasyprint
from weasyprint.text.line_break import Layout

from letters.config import Settings
from letters.domain.letter_types import Language, LetterType
from letters.rendering import pango_layouts, renderer
from letters.rendering.letter_service import LetterService
from letters.review.scenarios import PREVIEW_DATE, SCENARIOS, preview_password, scenario_request
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, golden_cases, password_for

CASES = golden_cases()


@pytest.fixture
def service() -> LetterService:
    """The full renderer: a second render of the same letter must not land on a stencil,
    which would draw with the layouts the stencil kept whatever this test replaces."""
    return LetterService(Settings.from_env({"LETTERS_STENCIL": "off"}))


def _id(path: Path) -> str:
    return "/".join(path.relative_to(GOLDEN_DIR).parts)


def _both_ways(monkeypatch: pytest.MonkeyPatch, render: Callable[[], bytes]) -> tuple[bytes, bytes]:
    ours = render()
    with monkeypatch.context() as patched:
        patched.setattr(renderer, "kept_layouts", contextlib.nullcontext)
        weasyprints = render()
    return ours, weasyprints


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_every_golden_letter_is_the_same_bytes_as_weasyprints_own_way(
    case_dir: Path, service: LetterService, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = (case_dir / "request.json").read_bytes()
    password = password_for(json.loads(raw)["letter_id"])
    ours, theirs = _both_ways(
        monkeypatch, lambda: service.render_request(raw, TEST_TODAY, password).pdf
    )
    assert ours == theirs, _id(case_dir)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_review_scenario_is_the_same_bytes_as_weasyprints_own_way(
    scenario: str, service: LetterService, monkeypatch: pytest.MonkeyPatch
) -> None:
    for letter_type in LetterType:
        for language in Language:
            request = scenario_request(letter_type, language, scenario)

            def render(request: dict[str, object] = request) -> bytes:
                return service.render_request(request, PREVIEW_DATE, preview_password(scenario)).pdf

            ours, theirs = _both_ways(monkeypatch, render)
            assert ours == theirs, f"{letter_type.value}/{language.value}/{scenario}"


def _setups_per_render(service: LetterService, monkeypatch: pytest.MonkeyPatch) -> int:
    raw = (GOLDEN_DIR / "purring" / "nb" / "plain" / "request.json").read_bytes()
    letter = service.compose_request(raw, TEST_TODAY, password_for(json.loads(raw)["letter_id"]))
    calls = 0
    setup = Layout.setup

    def counted(layout: Layout, style: object) -> None:
        nonlocal calls
        calls += 1
        setup(layout, style)

    with monkeypatch.context() as patched:
        patched.setattr(Layout, "setup", counted)
        service.renderer.render(letter)
    return calls


def test_the_weasyprint_methods_kept_layouts_replaces(
    service: LetterService, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert weasyprint.__version__ == "70.0", "check letters/rendering/pango_layouts.py"
    kept = _setups_per_render(service, monkeypatch)
    monkeypatch.setattr(renderer, "kept_layouts", contextlib.nullcontext)
    remade = _setups_per_render(service, monkeypatch)
    # WeasyPrint makes a layout once to lay a text out and once more to draw it; if
    # an upgrade stops calling reactivate to draw, the replacement does nothing.
    assert remade > kept * 1.3, (kept, remade)


def _fail_inside_the_block() -> None:
    with pango_layouts.kept_layouts():
        assert Layout.deactivate is not pango_layouts.WEASYPRINT_DEACTIVATE
        raise RuntimeError("a render failed")


def test_the_block_gives_weasyprint_its_methods_back_even_on_an_error() -> None:
    with pytest.raises(RuntimeError, match="a render failed"):
        _fail_inside_the_block()
    assert Layout.deactivate is pango_layouts.WEASYPRINT_DEACTIVATE
    assert Layout.reactivate is pango_layouts.WEASYPRINT_REACTIVATE


def test_kept_layouts_do_not_outlive_the_letter(service: LetterService) -> None:
    raw = (GOLDEN_DIR / "inkassovarsel" / "en" / "many_claims" / "request.json").read_bytes()
    letter = service.compose_request(raw, TEST_TODAY, password_for(json.loads(raw)["letter_id"]))
    service.renderer.render(letter)
    gc.collect()
    before = sum(isinstance(o, Layout) for o in gc.get_objects())
    for _ in range(3):
        service.renderer.render(letter)
    gc.collect()
    assert sum(isinstance(o, Layout) for o in gc.get_objects()) <= before
