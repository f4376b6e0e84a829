"""Template previews for legal review: every letter type × language × scenario, and what changed.

``build`` renders each template's preview scenarios to PDF and page images,
compares them with the snapshot of the last approved version, and writes the
static site (``letters.review.site``). A template that fails to render shows
its error (template, line, message) on its page instead of failing the site.
``approve`` records a template's version in ``templates/approved.json`` and
keeps its snapshot for the next comparison.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from letters.config import Settings
from letters.domain.letter_types import Language, LetterType
from letters.errors import InvalidRequest, TemplateError
from letters.rendering.approvals import Approval, ApprovalBook, all_template_keys, template_key
from letters.rendering.letter_service import LetterService
from letters.review.diff import changed_areas, highlight, text_diff_html
from letters.review.scenarios import PREVIEW_DATE, SCENARIOS, preview_password, scenario_request

# Page images shown in the site, and the smaller ones kept and compared on approval.
VIEW_DPI = 100
SNAPSHOT_DPI = 50


@dataclass(frozen=True, slots=True)
class PagePreview:
    number: int
    image: str  # path relative to the site
    # "same", "changed" (with the areas outlined in ``changes``), "new" or "removed"
    status: str
    changes: str | None = None
    areas: int = 0


@dataclass(frozen=True, slots=True)
class ScenarioPreview:
    scenario: str
    pdf: str
    pages: tuple[PagePreview, ...]
    text_diff: str | None  # the text with <del>/<ins> marks, when it changed


@dataclass(frozen=True, slots=True)
class TemplatePreview:
    letter_type: LetterType
    language: Language
    version: str | None
    state: str  # approved, changed, not approved, or error
    approval: Approval | None
    scenarios: tuple[ScenarioPreview, ...] = ()
    error: TemplateError | InvalidRequest | None = None

    @property
    def key(self) -> str:
        return template_key(self.letter_type, self.language)

    @property
    def changed_scenarios(self) -> int:
        return sum(
            1 for s in self.scenarios if s.text_diff or any(p.status != "same" for p in s.pages)
        )


@dataclass(slots=True)
class Rendered:
    """One scenario rendered: its PDF, page images at both resolutions, and text."""

    pdf: bytes
    views: list[Image.Image] = field(default_factory=list)
    snapshots: list[Image.Image] = field(default_factory=list)
    text: str = ""


def preview_service(settings: Settings) -> LetterService:
    """A renderer for previews: unapproved templates are exactly what legal must see, and
    the packaged rates nobody has checked may fill in the figures (a preview is never
    sent; the scenarios are dated, and their rates are listed by ``letters rates list``)."""
    return LetterService(
        dataclasses.replace(settings, require_approved_templates=False, allow_unchecked_rates=True)
    )


def render_scenario(
    service: LetterService, letter_type: LetterType, language: Language, scenario: str
) -> Rendered:
    request = scenario_request(letter_type, language, scenario)
    letter = service.render_request(request, PREVIEW_DATE, preview_password(scenario))
    rendered = Rendered(letter.pdf)
    document = pdfium.PdfDocument(letter.pdf)
    try:
        texts = []
        for page in document:
            rendered.views.append(page.render(scale=VIEW_DPI / 72).to_pil().convert("RGB"))
            rendered.snapshots.append(page.render(scale=SNAPSHOT_DPI / 72).to_pil().convert("L"))
            # pdfium marks a hyphen where a line breaks with \x02.
            texts.append(page.get_textpage().get_text_range().replace("\x02", "-"))
        rendered.text = "\n".join(texts)
    finally:
        document.close()
    return rendered


def preview_template(
    service: LetterService,
    book: ApprovalBook,
    letter_type: LetterType,
    language: Language,
    out: Path,
) -> TemplatePreview:
    key = template_key(letter_type, language)
    approval = book.current(key)
    try:
        version = service.renderer.templates.version(letter_type, language)
        rendered = {s: render_scenario(service, letter_type, language, s) for s in SCENARIOS}
    except (TemplateError, InvalidRequest) as err:
        return TemplatePreview(letter_type, language, None, "error", approval, error=err)
    state = book.state(key, version)
    folder = out / "files" / language.value / letter_type.value
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    approved = book.snapshot_dir(letter_type, language)
    compare = approval is not None and state != "approved"
    scenarios = []
    for scenario, result in rendered.items():
        (folder / f"{scenario}.pdf").write_bytes(result.pdf)
        scenarios.append(
            ScenarioPreview(
                scenario=scenario,
                pdf=_relative(folder / f"{scenario}.pdf", out),
                pages=tuple(_pages(result, folder, out, scenario, approved if compare else None)),
                text_diff=_text_diff(approved / f"{scenario}.txt", result.text)
                if compare
                else None,
            )
        )
    return TemplatePreview(letter_type, language, version, state, approval, tuple(scenarios))


def _pages(
    result: Rendered, folder: Path, out: Path, scenario: str, approved: Path | None
) -> list[PagePreview]:
    pages = []
    for number, (view, small) in enumerate(zip(result.views, result.snapshots, strict=True), 1):
        image = folder / f"{scenario}-p{number}.png"
        view.save(image, optimize=True)
        status, changes, count = "same", None, 0
        if approved is not None:
            old_path = approved / f"{scenario}-p{number}.png"
            if not old_path.exists():
                status = "new"
            else:
                with Image.open(old_path) as old:
                    areas = changed_areas(old, small)
                if areas:
                    status, count = "changed", len(areas)
                    marked = folder / f"{scenario}-p{number}-changes.png"
                    scale = VIEW_DPI / SNAPSHOT_DPI
                    highlight(view, [a.scaled(scale) for a in areas]).save(marked, optimize=True)
                    changes = _relative(marked, out)
        pages.append(PagePreview(number, _relative(image, out), status, changes, count))
    if approved is not None:
        extra = len(result.views) + 1
        while (approved / f"{scenario}-p{extra}.png").exists():
            pages.append(PagePreview(extra, "", "removed"))
            extra += 1
    return pages


def _text_diff(approved_text: Path, text: str) -> str | None:
    try:
        old = approved_text.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    return text_diff_html(old, text)


def _relative(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def approve(settings: Settings, key: str, by: str) -> Approval:
    """Record ``key``'s current version as approved by ``by``, with its snapshot.

    Raises TemplateError or InvalidRequest when the template does not render:
    a template that fails cannot be approved.
    """
    letter_type, language = parse_template_key(key)
    service = preview_service(settings)
    book = ApprovalBook(settings.templates_dir)
    version = service.renderer.templates.version(letter_type, language)
    rendered = {s: render_scenario(service, letter_type, language, s) for s in SCENARIOS}
    folder = book.snapshot_dir(letter_type, language)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for scenario, result in rendered.items():
        (folder / f"{scenario}.txt").write_text(result.text, encoding="utf-8")
        for number, small in enumerate(result.snapshots, 1):
            small.save(folder / f"{scenario}-p{number}.png", optimize=True)
    return book.record(template_key(letter_type, language), version, by)


def parse_template_key(text: str) -> tuple[LetterType, Language]:
    """``nb/purring``, ``purring/nb`` or ``templates/nb/purring.html``."""
    parts = [p for p in text.replace("\\", "/").removesuffix(".html").split("/") if p]
    parts = [p for p in parts if p != "templates"]
    for first, second in ((0, 1), (1, 0)):
        if len(parts) == 2:
            try:
                return LetterType(parts[second]), Language(parts[first])
            except ValueError:
                continue
    names = ", ".join(template_key(t, lang) for t, lang in all_template_keys())
    raise ValueError(f"TEMPLATE: {text!r} is not a template ({names})")
