"""The static preview site: an index of the templates and a page per letter type.

The index lists every template (letter type × language) with its version and
approval state. A letter type's page shows what changed since the last
approval (marked words, pages with the changed areas outlined) and then
Bokmål and English side by side, scenario by scenario, page by page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jinja2

from letters.config import Settings
from letters.domain.letter_types import Language, LetterType
from letters.errors import TemplateError
from letters.rendering.approvals import ApprovalBook, all_template_keys
from letters.review.build import TemplatePreview, preview_service, preview_template
from letters.review.scenarios import PREVIEW_DATE, SCENARIOS

LANGUAGE_NAMES = {Language.NB: "Bokmål", Language.EN: "English"}
PAGES_DIR = Path(__file__).resolve().parent / "pages"


@dataclass(frozen=True, slots=True)
class SiteReport:
    previews: tuple[TemplatePreview, ...]

    @property
    def failed(self) -> list[TemplatePreview]:
        return [p for p in self.previews if p.error is not None]


def build_site(
    settings: Settings,
    out: Path,
    live: bool = False,
    build_number: int = 1,
    only: set[tuple[LetterType, Language]] | None = None,
    earlier: SiteReport | None = None,
) -> SiteReport:
    """Render every template (or ``only`` these, keeping ``earlier`` for the rest) and write."""
    out.mkdir(parents=True, exist_ok=True)
    service = preview_service(settings)
    book = ApprovalBook(settings.templates_dir)
    kept = {(p.letter_type, p.language): p for p in earlier.previews} if earlier else {}
    previews = []
    for key in all_template_keys():
        if only is not None and key not in only and key in kept:
            previews.append(kept[key])
        else:
            previews.append(preview_template(service, book, *key, out))
    report = SiteReport(tuple(previews))
    _write_pages(report, out, live)
    (out / "build.json").write_text(json.dumps({"build": build_number}), encoding="utf-8")
    return report


def _write_pages(report: SiteReport, out: Path, live: bool) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PAGES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    common = {"live": live, "names": LANGUAGE_NAMES}
    index = env.get_template("index.html").render(
        previews=report.previews,
        failed=len(report.failed),
        unapproved=sum(p.state != "approved" for p in report.previews),
        date=PREVIEW_DATE.isoformat(),
        **common,
    )
    (out / "index.html").write_text(index, encoding="utf-8")
    page = env.get_template("letter_type.html")
    for letter_type in LetterType:
        pair = [p for p in report.previews if p.letter_type is letter_type]
        html = page.render(
            letter_type=letter_type.value, pair=pair, scenarios=list(SCENARIOS), **common
        )
        (out / f"{letter_type.value}.html").write_text(html, encoding="utf-8")


def failure_lines(report: SiteReport) -> list[str]:
    lines = []
    for p in report.failed:
        err = p.error
        where = (
            f"{err.template}{f':{err.line}' if err.line else ''}: {err.message}"
            if isinstance(err, TemplateError)
            else str(err)
        )
        lines.append(f"{p.key}: {where}")
    return lines
