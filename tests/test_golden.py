"""Golden files: the text, facts and page images of every letter type, language and scenario.

Run ``pytest --update-golden`` to rewrite them after a deliberate change, then
read the diff. On a mismatch the actual files are written beside the expected
ones as ``*.actual.*`` (git-ignored) and the failure names them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import GOLDEN_DIR, TEST_TODAY, password_for
from pdf_inspect import facts, page_images, page_texts
from PIL import Image, ImageChops

from letters.service import LetterService

CASES = sorted(p.parent for p in GOLDEN_DIR.glob("*/*/*/request.json"))
# A pixel counts as changed when its grey level moves by more than this much.
PIXEL_THRESHOLD = 40
# The share of changed pixels tolerated per page (rasteriser noise across versions).
PIXEL_TOLERANCE = 0.0005


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


def _changed_share(expected: Image.Image, actual: Image.Image) -> float:
    if expected.size != actual.size:
        return 1.0
    diff = ImageChops.difference(expected, actual).point(
        lambda v: 255 if v > PIXEL_THRESHOLD else 0
    )
    changed = diff.histogram()[255]
    return changed / (actual.size[0] * actual.size[1])


def _actual_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.actual{path.suffix}")


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_golden(case_dir: Path, service: LetterService, update_golden: bool) -> None:
    raw = (case_dir / "request.json").read_bytes()
    letter_id = json.loads(raw)["letter_id"]
    letter = service.render_request(raw, TEST_TODAY, password_for(letter_id))

    outputs: dict[Path, bytes | Image.Image] = {
        case_dir / "facts.json": (
            json.dumps(facts(letter.pdf), indent=2, ensure_ascii=False) + "\n"
        ).encode(),
    }
    for number, text in enumerate(page_texts(letter.pdf), 1):
        outputs[case_dir / f"page-{number}.txt"] = text.encode()
    for number, image in enumerate(page_images(letter.pdf), 1):
        outputs[case_dir / f"page-{number}.png"] = image

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

    mismatches = []
    expected_pages = {p for p in case_dir.glob("page-*") if ".actual." not in p.name}
    for missing in sorted(expected_pages - outputs.keys()):
        mismatches.append(f"{missing.name}: expected, but the letter has fewer pages now")
    for path, value in outputs.items():
        if not path.exists():
            mismatches.append(f"{path.name}: no expected file (run pytest --update-golden)")
        elif isinstance(value, Image.Image):
            with Image.open(path) as expected:
                share = _changed_share(expected.convert("L"), value)
            if share > PIXEL_TOLERANCE:
                mismatches.append(f"{path.name}: {share:.2%} of pixels changed")
        elif path.read_bytes() != value:
            mismatches.append(f"{path.name}: content differs")
        else:
            continue
        actual = _actual_path(path)
        if isinstance(value, Image.Image):
            value.save(actual)
        else:
            actual.write_bytes(value)
    assert not mismatches, (
        f"golden mismatch in {case_dir.relative_to(GOLDEN_DIR.parent.parent)}:\n  "
        + "\n  ".join(mismatches)
        + "\nactual files written beside the expected ones as *.actual.*; "
        "if the change is intended, run: pytest --update-golden"
    )
