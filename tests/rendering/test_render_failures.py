"""A broken template or a render that reaches outside gives a specific error and no PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from letters.cli import main
from letters.config import TEMPLATES_DIR
from letters.domain.letter_types import Language, LetterType
from letters.errors import RenderError, TemplateError
from letters.rendering.templates import TemplateSet
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, service_for

REQUEST = GOLDEN_DIR / "purring/nb/plain/request.json"


@pytest.fixture
def templates(template_copy: Path) -> Path:
    return template_copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_syntax_error_names_template_and_line(templates: Path) -> None:
    _edit(templates / "nb/purring.html", "{% block body %}", "{% block body %}\n{% if %}")
    with pytest.raises(TemplateError) as err:
        service_for(templates).render_request(REQUEST.read_bytes(), TEST_TODAY)
    assert err.value.template == "nb/purring.html"
    assert err.value.line == 5
    assert "nb/purring.html:5" in str(err.value)


def test_undefined_variable_names_template_and_line(templates: Path) -> None:
    _edit(
        templates / "nb/purring.html", '<p class="lead">', '<p class="lead">{{ debtor_nickname }}'
    )
    with pytest.raises(TemplateError) as err:
        service_for(templates).render_request(REQUEST.read_bytes(), TEST_TODAY)
    assert "debtor_nickname" in str(err.value)
    assert err.value.template == "nb/purring.html"
    assert err.value.line == 5


def test_undefined_attribute_in_a_shared_part(templates: Path) -> None:
    _edit(templates / "nb/_parts.html", "{{ agency.debt_help_phone|nowrap }}", "{{ agency.fax }}")
    with pytest.raises(TemplateError, match="fax") as err:
        service_for(templates).render_request(REQUEST.read_bytes(), TEST_TODAY)
    assert err.value.template == "nb/_parts.html"
    assert err.value.line is not None


@pytest.mark.parametrize(
    "reference",
    [
        '<img src="https://example.com/logo.png">',
        '<img src="http://127.0.0.1:9/pixel.gif">',
        '<link rel="stylesheet" href="ftp://example.com/x.css">',
        '<img src="file:///etc/hostname">',
        '<img src="../../outside.png">',
    ],
)
def test_any_reference_outside_the_template_folder_fails_the_render(
    templates: Path, reference: str
) -> None:
    _edit(templates / "layout.html", "<main>", reference + "\n<main>")
    with pytest.raises(RenderError, match=r"refused to fetch|outside the template folder"):
        service_for(templates).render_request(REQUEST.read_bytes(), TEST_TODAY)


def test_a_missing_font_fails_the_render(templates: Path) -> None:
    (templates / "fonts/LiberationSans-Bold.ttf").unlink()
    with pytest.raises(RenderError, match=r"cannot read .*LiberationSans-Bold\.ttf"):
        service_for(templates).render_request(REQUEST.read_bytes(), TEST_TODAY)


def test_data_urls_are_allowed(templates: Path) -> None:
    pixel = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
        "2mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    _edit(templates / "layout.html", "<main>", f'<img src="{pixel}" alt="a dot">\n<main>')
    letter = service_for(templates).render_request(REQUEST.read_bytes(), TEST_TODAY)
    assert letter.pdf.startswith(b"%PDF-1.7")


def test_cli_leaves_no_partial_pdf_when_the_render_fails(
    templates: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _edit(templates / "layout.html", "<main>", '<img src="https://example.com/x.png">\n<main>')
    monkeypatch.setenv("LETTERS_TEMPLATES_DIR", str(templates))
    out = tmp_path / "out.pdf"
    assert main(["render", str(REQUEST), "-o", str(out)]) == 1
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))
    assert "refused to fetch https://example.com/x.png" in capsys.readouterr().err


def test_template_version_changes_with_any_file_it_uses(templates: Path) -> None:
    versions = TemplateSet(templates)
    before = {(t, lang): versions.version(t, lang) for t in LetterType for lang in Language}
    assert len(set(before.values())) == 8
    _edit(templates / "nb/_parts.html", "Krav", "Kravet")
    after = {
        (t, lang): TemplateSet(templates).version(t, lang) for t in LetterType for lang in Language
    }
    for key, version in after.items():
        assert (version != before[key]) == (key[1] is Language.NB), key


def test_template_version_is_stable_for_unchanged_files(templates: Path) -> None:
    assert TemplateSet(templates).version(LetterType.PURRING, Language.EN) == TemplateSet(
        TEMPLATES_DIR
    ).version(LetterType.PURRING, Language.EN)
