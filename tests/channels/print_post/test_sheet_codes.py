"""The code on every printed sheet (issue: the print house answers): it scans back to its
letter, sheet and sheet count off a 300 dpi image, on every golden letter; it sits in the
print profile's zone and nowhere else; a zone no scanner could read stops the service."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from channels.print_post.assembly import BatchLetter, assemble
from channels.print_post.fonts import FontLibrary
from channels.print_post.sheet_codes import (
    CodeZone,
    SheetCode,
    letter_code,
    sheet_code_zone,
)
from letters.config import TEMPLATES_DIR, Settings
from letters.errors import ConfigurationError
from letters.rendering.letter_service import LetterService
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, golden_cases, password_for, service_for
from tests.support.sheet_codes import pixels_outside, scan_page

CASES = golden_cases()
LETTER_ID = "96be500b-773e-5ce2-b58b-88b346a06e80"


def _id(path: Path) -> str:
    return "/".join(path.relative_to(GOLDEN_DIR).parts)


@cache
def _service() -> LetterService:
    return service_for(TEMPLATES_DIR)


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_each_sheet_of_a_golden_letter_scans_back_to_it(case_dir: Path) -> None:
    raw = json.loads((case_dir / "request.json").read_text(encoding="utf-8"))
    letter = _service().render_request(raw, TEST_TODAY, password_for(raw["letter_id"]))
    one = BatchLetter(raw["letter_id"], "case", "NO", "domestic", letter.pdf)
    batch = assemble("B-SCAN", [one], FontLibrary(TEMPLATES_DIR / "fonts"))
    sheets = (letter.page_count + 1) // 2
    for sheet in range(1, sheets + 1):
        [text] = scan_page(batch.pdf, 2 * (sheet - 1))
        assert SheetCode.parse(text) == SheetCode(raw["letter_id"], sheet, sheets)
        # Nothing else of the letter moved: the page outside the zone is the letter's.
        assert pixels_outside(batch.pdf, 2 * (sheet - 1), CodeZone()) == pixels_outside(
            letter.pdf, 2 * (sheet - 1), CodeZone()
        )
    assert batch.entries[0].code == letter_code(raw["letter_id"])


def test_a_code_reads_back_and_anything_else_is_refused() -> None:
    code = SheetCode(LETTER_ID, 2, 3)
    assert code.text == "LTR1:96BE500B773E5CE2B58B88B346A06E80:2/3"
    assert SheetCode.parse(code.text) == code
    for wrong in (
        "LTR1:96BE500B773E5CE2B58B88B346A06E80:4/3",  # no fourth sheet of three
        "LTR1:96BE500B773E5CE2B58B88B346A06E8:1/1",  # a digit short
        "LTR2:96BE500B773E5CE2B58B88B346A06E80:1/1",  # another format
        LETTER_ID,
    ):
        with pytest.raises(ValueError, match="sheet"):
            SheetCode.parse(wrong)


def test_the_default_zone_is_scannable_and_inside_the_kept_free_strip() -> None:
    zone = CodeZone()
    assert zone.problems() == []
    assert zone.module_mm >= 0.25  # three dots at 300 dpi
    left, top, right, bottom = zone.box
    assert left >= 0 and right <= 15 and top >= 95 and bottom <= 175  # the barcode strip


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("2,100,9", "a code of 9 mm has modules of 0.243 mm; a 300 dpi scanner needs 0.25 mm"),
        ("205,100,12", "is not on an A4 sheet"),
        ("2,nan,12", "left, top and size must be numbers of millimetres"),
        ("2;100;12", "must be left,top,size in millimetres, such as 2,100,12"),
    ],
)
def test_a_zone_no_scanner_could_read_stops_the_service(setting: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        sheet_code_zone(Settings.from_env({"LETTERS_PRINT_CODE_ZONE": setting}))
    assert str(err.value).startswith("LETTERS_PRINT_CODE_ZONE")
    assert message in str(err.value)


def test_a_zone_elsewhere_moves_the_code_there() -> None:
    raw = json.loads((GOLDEN_DIR / "purring/nb/plain/request.json").read_text(encoding="utf-8"))
    letter = _service().render_request(raw, TEST_TODAY, password_for(raw["letter_id"]))
    zone = sheet_code_zone(Settings.from_env({"LETTERS_PRINT_CODE_ZONE": "2,150,14"}))
    one = BatchLetter(raw["letter_id"], "case", "NO", "domestic", letter.pdf)
    batch = assemble("B-ZONE", [one], FontLibrary(None), zone)
    assert scan_page(batch.pdf, 0) == [SheetCode(raw["letter_id"], 1, 1).text]
    assert pixels_outside(batch.pdf, 0, zone) == pixels_outside(letter.pdf, 0, zone)
    assert pixels_outside(batch.pdf, 0, CodeZone()) != pixels_outside(letter.pdf, 0, CodeZone())
