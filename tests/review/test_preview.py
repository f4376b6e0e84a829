"""The template preview site, approvals and the worker's approval gate (without a browser)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from letters.cli import main
from letters.config import PROJECT_ROOT, Settings
from letters.domain.letter_types import Language, LetterType
from letters.rendering.approvals import ApprovalBook, TemplateNotApprovedError
from letters.rendering.letter_service import LetterService
from letters.review.build import approve, parse_template_key
from letters.review.scenarios import SCENARIOS
from letters.review.site import build_site
from tests.support.review import NB_PURRING_NEW, NB_PURRING_OLD, edit, settings_for, template_folder
from tests.support.stacks import Stack

TEMPLATE_KEYS = [f"{lang.value}/{t.value}" for t in LetterType for lang in Language]


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: Any, settings: Settings, *args: str) -> Any:
    for name in [n for n in os.environ if n.startswith("LETTERS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LETTERS_TEMPLATES_DIR", str(settings.templates_dir))
    monkeypatch.setenv("LETTERS_VAR_DIR", str(settings.var_dir))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_site_lists_every_template_with_pdf_and_pages_for_every_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    settings = settings_for(PROJECT_ROOT / "templates", tmp_path)
    out = tmp_path / "site"
    code, stdout, stderr = _cli(monkeypatch, capsys, settings, "preview", "--out", str(out))
    assert code == 0, stderr
    assert f"preview written to {out / 'index.html'}" in stdout
    index = (out / "index.html").read_text(encoding="utf-8")
    for key in TEMPLATE_KEYS:
        assert f'data-template="{key}"' in index
    versions = LetterService(settings).renderer.templates
    assert versions.version(LetterType.PURRING, Language.NB) in index
    for letter_type in LetterType:
        page = (out / f"{letter_type.value}.html").read_text(encoding="utf-8")
        assert 'data-column="nb"' in page and 'data-column="en"' in page
        for language in Language:
            folder = out / "files" / language.value / letter_type.value
            for scenario in SCENARIOS:
                pdf = (folder / f"{scenario}.pdf").read_bytes()
                assert pdf.startswith(b"%PDF-")
                with Image.open(folder / f"{scenario}-p1.png") as image:
                    assert image.width > 800
    # Many claims run over two pages, shown page by page.
    assert (out / "files" / "nb" / "purring" / "many_claims-p2.png").exists()


def test_a_template_that_does_not_render_shows_why_and_the_command_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    templates = template_folder(tmp_path)
    edit(templates / "nb" / "purring.html", "{% block body %}", "{% block body %}{% if %}")
    edit(templates / "en" / "inkassovarsel.html", "{% block body %}",
         "{% block body %}{{ no_such_name }}")  # fmt: skip
    settings = settings_for(templates, tmp_path)
    out = tmp_path / "site"
    code, _, stderr = _cli(monkeypatch, capsys, settings, "preview", "--out", str(out))
    assert code == 1
    assert "template failed: nb/purring: nb/purring.html:4:" in stderr
    assert "template failed: en/inkassovarsel: en/inkassovarsel.html:4: 'no_such_name'" in stderr
    assert stderr.count("template failed") == 2
    purring = (out / "purring.html").read_text(encoding="utf-8")
    assert "This template does not render." in purring
    assert "Template: nb/purring.html, line 4" in purring
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'data-template="nb/purring" data-state="error"' in index
    assert 'data-template="en/purring" data-state="not approved"' in index
    # The rest of the site is there.
    assert (out / "files" / "en" / "purring" / "plain.pdf").exists()


def test_approving_records_the_version_and_a_change_shows_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    templates = template_folder(tmp_path)
    settings = settings_for(templates, tmp_path)
    code, stdout, _ = _cli(monkeypatch, capsys, settings, "approve", "nb/purring", "--by",
                           "Kari Jurist")  # fmt: skip
    assert code == 0
    book = ApprovalBook(templates)
    approval = book.current("nb/purring")
    assert approval is not None and approval.approved_by == "Kari Jurist"
    version = LetterService(settings).renderer.templates.version(LetterType.PURRING, Language.NB)
    assert approval.version == version
    assert f"approved nb/purring version {version} by Kari Jurist" in stdout
    recorded = json.loads((templates / "approved.json").read_text(encoding="utf-8"))
    assert recorded["templates"]["nb/purring"]["version"] == version

    # The purring templates only: the test of the whole site builds all of them.
    purring = {(LetterType.PURRING, Language.NB), (LetterType.PURRING, Language.EN)}
    before = build_site(settings, tmp_path / "before", only=purring)
    states = {p.key: p.state for p in before.previews}
    assert states["nb/purring"] == "approved" and states["en/purring"] == "not approved"

    edit(templates / "nb" / "purring.html", NB_PURRING_OLD, NB_PURRING_NEW)
    out = tmp_path / "after"
    report = build_site(settings, out, only={(LetterType.PURRING, Language.NB)}, earlier=before)
    [changed] = [p for p in report.previews if p.key == "nb/purring"]
    assert changed.state == "changed" and changed.changed_scenarios == len(SCENARIOS)
    plain = next(s for s in changed.scenarios if s.scenario == "plain")
    assert plain.text_diff is not None
    assert "<del>denne påminnelsen.</del> <ins>dette brevet.</ins>" in plain.text_diff
    [page] = plain.pages
    assert page.status == "changed" and page.changes
    # The outlined area is where the lead paragraph is, near the top, not the whole page.
    with Image.open(out / page.changes) as marked:
        red = [
            (x, y)
            for x in range(0, marked.width, 4)
            for y in range(0, marked.height, 4)
            if marked.getpixel((x, y)) == (220, 0, 0)
        ]
        assert red and max(y for _, y in red) < marked.height * 0.4
    page_html = (out / "purring.html").read_text(encoding="utf-8")
    assert "What changed since the approved version" in page_html
    assert 'data-language="nb"\n data-state="changed"' in page_html

    code, _, stderr = _cli(monkeypatch, capsys, settings, "approve", "nb/reminder", "--by", "X")
    assert code == 2 and "'nb/reminder' is not a template (nb/purring, en/purring" in stderr


def test_template_names_are_read_either_way_round() -> None:
    assert parse_template_key("nb/purring") == (LetterType.PURRING, Language.NB)
    assert parse_template_key("purring/en") == (LetterType.PURRING, Language.EN)
    assert parse_template_key("templates/nb/inkassovarsel.html") == (
        LetterType.INKASSOVARSEL,
        Language.NB,
    )


def test_the_gate_refuses_a_template_legal_has_not_approved(tmp_path: Path) -> None:
    templates = template_folder(tmp_path)
    settings = settings_for(templates, tmp_path, LETTERS_REQUIRE_APPROVED_TEMPLATES="true")
    request = json.loads((PROJECT_ROOT / "samples" / "purring-nb-plain.json").read_bytes())
    with pytest.raises(
        TemplateNotApprovedError, match=r"template nb/purring \(version sha256:\w+\) has never been"
    ):
        LetterService(settings).render_request(request)

    approve(settings, "nb/purring", "Kari Jurist")
    assert LetterService(settings).render_request(request).pdf.startswith(b"%PDF-")

    edit(templates / "nb" / "purring.html", NB_PURRING_OLD, NB_PURRING_NEW)
    with pytest.raises(TemplateNotApprovedError, match="but legal approved sha256:"):
        LetterService(settings).render_request(request)
    # Off (the embedded default), the same template renders.
    assert LetterService(settings_for(templates, tmp_path)).render_request(request).page_count


def test_the_production_configuration_turns_the_gate_on() -> None:
    lines = (PROJECT_ROOT / "deploy" / "production.env").read_text(encoding="utf-8").splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert Settings.from_env(env).require_approved_templates is True
    assert Settings.from_env({}).require_approved_templates is False
    with pytest.raises(Exception, match="LETTERS_REQUIRE_APPROVED_TEMPLATES: 'maybe'"):
        Settings.from_env({"LETTERS_REQUIRE_APPROVED_TEMPLATES": "maybe"})


def test_the_worker_stops_on_an_unapproved_template_and_keeps_the_letter(
    embedded: Stack, tmp_path: Path
) -> None:
    templates = template_folder(tmp_path)
    embedded.env["LETTERS_TEMPLATES_DIR"] = str(templates)
    embedded.env["LETTERS_REQUIRE_APPROVED_TEMPLATES"] = "true"
    request = json.loads((PROJECT_ROOT / "samples" / "purring-nb-plain.json").read_bytes())
    embedded.publish(request)

    stopped = embedded.run("worker", "--until-empty")
    # The worker process stops with 78 (configuration); the command exits 1.
    assert stopped.returncode == 1, stopped.stderr[-2000:]
    assert '"exit_code": 78' in stopped.stderr
    assert "template nb/purring" in stopped.stderr and "has never been approved" in stopped.stderr
    record = embedded.ledger.get(request["letter_id"])
    assert (
        record is not None and record.status == "routed"
    )  # not dead-lettered, not lost: routed, not rendered

    approve(embedded.settings, "nb/purring", "Kari Jurist")
    embedded.run_worker()
    assert [r["letter_id"] for r in embedded.delivered()] == [request["letter_id"]]
