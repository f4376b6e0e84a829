"""Golden files: the text, facts and page images of every letter type, language and scenario.

Run ``pytest --update-golden`` to rewrite them after a deliberate change, then
read the diff. On a mismatch the actual files are written beside the expected
ones as ``*.actual.*`` (git-ignored) and the failure names them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from letters.config import TEMPLATES_DIR
from letters.rendering.letter_service import LetterService
from tests.support.golden_files import PIXEL_TOLERANCE, changed_share, outputs_of
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, golden_cases, password_for, service_for

CASES = golden_cases()


def _id(path: Path) -> str:
    return "/".join(path.relative_to(GOLDEN_DIR).parts)


def test_every_type_language_and_scenario_has_a_golden_case() -> None:
    found = {_id(p) for p in CASES}
    for letter_type in (
        "purring",
        "inkassovarsel",
        "betalingsoppfordring",
        "varsel_rettslig_pagang",
    ):
        for language in ("nb", "en"):
            for scenario in (
                "plain",
                "foreign_address",
                "many_claims",
                "long_names",
                "no_interest_no_costs",
            ):
                assert f"{letter_type}/{language}/{scenario}" in found


def _actual_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.actual{path.suffix}")


def golden_outputs(case_dir: Path, service: LetterService) -> dict[Path, bytes | Image.Image]:
    """Render the case's request and return what each golden file should hold."""
    raw = (case_dir / "request.json").read_bytes()
    letter_id = json.loads(raw)["letter_id"]
    letter = service.render_request(raw, TEST_TODAY, password_for(letter_id))
    return outputs_of(case_dir, letter.pdf)


def mismatches_of(case_dir: Path, outputs: dict[Path, bytes | Image.Image]) -> dict[Path, str]:
    """Each golden file that the outputs do not match, with what is wrong."""
    found: dict[Path, str] = {}
    expected_pages = {p for p in case_dir.glob("page-*") if ".actual." not in p.name}
    for missing in sorted(expected_pages - outputs.keys()):
        found[missing] = "expected, but the letter has fewer pages now"
    for path, value in outputs.items():
        if not path.exists():
            found[path] = "no expected file (run pytest --update-golden)"
        elif isinstance(value, Image.Image):
            with Image.open(path) as expected:
                share = changed_share(expected.convert("L"), value)
            if share > PIXEL_TOLERANCE:
                found[path] = f"{share:.2%} of pixels changed"
        elif path.read_bytes() != value:
            found[path] = "content differs"
    return found


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_golden(case_dir: Path, service: LetterService, update_golden: bool) -> None:
    outputs = golden_outputs(case_dir, service)
    for stale in case_dir.glob("*.actual.*"):
        stale.unlink()
    if update_golden:
        for old in [*case_dir.glob("page-*.txt"), *case_dir.glob("page-*.png")]:
            if old not in outputs:
                old.unlink()
        for path, value in outputs.items():
            if isinstance(value, Image.Image):
                value.save(path, optimize=True)
            else:
                path.write_bytes(value)
        return

    mismatches = mismatches_of(case_dir, outputs)
    for path in mismatches:
        value = outputs.get(path)
        if isinstance(value, Image.Image):
            value.save(_actual_path(path))
        elif value is not None:
            _actual_path(path).write_bytes(value)
    assert not mismatches, (
        f"golden mismatch in {case_dir.relative_to(GOLDEN_DIR.parent.parent)}:\n  "
        + "\n  ".join(f"{path.name}: {why}" for path, why in mismatches.items())
        + "\nactual files written beside the expected ones as *.actual.*; "
        "if the change is intended, run: pytest --update-golden"
    )


@pytest.mark.parametrize(
    ("file", "old", "new", "case", "must_differ"),
    [
        (
            "nb/inkassovarsel.html",
            "forfalt krav",
            "forfalt beløp",
            "inkassovarsel/nb/plain",
            {"page-1.txt", "facts.json"},
        ),
        (
            "letter.css",
            "top: 26mm;",
            "top: 30mm;",
            "purring/en/plain",
            {"page-1.png", "facts.json"},
        ),
    ],
    ids=["changed word", "moved address block"],
)
def test_goldens_catch_a_template_change(
    template_copy: Path,
    update_golden: bool,
    file: str,
    old: str,
    new: str,
    case: str,
    must_differ: set[str],
) -> None:
    if update_golden:
        pytest.skip("compares against the golden files, which are being rewritten")
    path = template_copy / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    case_dir = GOLDEN_DIR / case
    found = mismatches_of(case_dir, golden_outputs(case_dir, service_for(template_copy)))
    assert {p.name for p in found} >= must_differ, found


def test_goldens_pass_for_the_unchanged_templates(update_golden: bool) -> None:
    if update_golden:
        pytest.skip("compares against the golden files, which are being rewritten")
    case_dir = GOLDEN_DIR / "purring/en/plain"
    assert mismatches_of(case_dir, golden_outputs(case_dir, service_for(TEMPLATES_DIR))) == {}
