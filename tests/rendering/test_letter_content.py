"""What every rendered letter must hold and where, checked on the golden requests."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
import pytest

from letters.domain.letter_types import Language
from letters.domain.otp import verify
from letters.rendering import formatting
from letters.rendering.letter_service import LetterService
from letters.rendering.renderer import RenderedLetter
from tests.support.pdf import (
    BARCODE_STRIP,
    WINDOW_C5,
    WINDOW_E65,
    address_box,
    facts,
    objects_in,
    plain_text,
)
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, golden_cases, password_for

CASES = golden_cases()


def _id(path: Path) -> str:
    return "/".join(path.relative_to(GOLDEN_DIR).parts)


@pytest.fixture(scope="module", params=CASES, ids=_id)
def rendered(
    request: pytest.FixtureRequest, service: LetterService
) -> tuple[dict, RenderedLetter, str]:
    raw = (request.param / "request.json").read_bytes()
    data = json.loads(raw)
    password = password_for(data["letter_id"])
    letter = service.render_request(raw, TEST_TODAY, password)
    return data, letter, password.grouped()


def test_text_holds_case_kid_password_deadline_and_total(rendered, service) -> None:
    data, letter, password = rendered
    # Text extraction turns no-break spaces into plain spaces.
    text = plain_text(letter.pdf).replace("\xa0", " ")
    language = Language(data["language"])
    composed = service.compose_request(json.dumps(data), TEST_TODAY)
    assert data["case"]["case_number"] in text
    assert letter.kid in text
    assert data["case"].get("kid", letter.kid) == letter.kid
    assert password in text
    assert formatting.long_date(letter.deadline, language).replace("\xa0", " ") in text
    assert formatting.money(composed.totals.due, language).replace("\xa0", " ") in text


def test_password_in_pdf_verifies_against_the_stored_hash(rendered, service) -> None:
    _, letter, password = rendered
    assert verify(password, letter.password_record, letter.letter_date, [service.pepper])
    assert password.replace("-", "") not in repr(letter)


def test_address_sits_in_the_window_of_both_envelopes(rendered) -> None:
    _, letter, _ = rendered
    box = address_box(letter.pdf)
    assert box is not None
    assert box.inside(WINDOW_C5), box
    assert box.inside(WINDOW_E65), box


def test_nothing_is_printed_in_the_barcode_strip(rendered) -> None:
    _, letter, _ = rendered
    assert objects_in(letter.pdf, BARCODE_STRIP) == []


def test_a4_fonts_embedded_and_only_bundled_fonts(rendered) -> None:
    _, letter, _ = rendered
    found = facts(letter.pdf)
    assert found["page_sizes_mm"] == [[210.0, 297.0]]
    assert found["pdf_version"] == "1.7"
    assert found["fonts"], "no fonts found"
    for font in found["fonts"]:
        assert font["embedded"], font
        assert font["name"].startswith("Letters-"), f"a system font slipped in: {font}"


def test_metadata_names_the_letter_and_never_the_password(rendered) -> None:
    data, letter, password = rendered
    with pikepdf.open(io.BytesIO(letter.pdf)) as pdf:
        info = {str(k): str(v) for k, v in pdf.docinfo.items()}
        xmp = str(pdf.open_metadata())
        assert str(pdf.Root.Lang) == data["language"]
    assert info["/LetterId"] == data["letter_id"]
    assert info["/TemplateVersion"] == letter.template_version
    # When the letter was made (the suite renders on TEST_TODAY), not the date it carries.
    assert info["/CreationDate"] == "D:" + TEST_TODAY.strftime("%Y%m%d") + "000000Z"
    assert letter.letter_date != TEST_TODAY
    assert info["/Title"] and info["/Subject"] and info["/Author"]
    for secret in (password, password.replace("-", "")):
        assert secret not in xmp
        assert secret not in json.dumps(info)
        assert (
            secret.encode() not in letter.pdf
        )  # page content is compressed; raw bytes never hold it


def test_page_numbers_and_running_reference_only_on_letters_over_a_page(rendered) -> None:
    data, letter, _ = rendered
    text = plain_text(letter.pdf)
    word, of = ("Side", "av") if data["language"] == "nb" else ("Page", "of")
    if letter.page_count == 1:
        assert f"{word} 1 {of}" not in text
    else:
        for page in range(1, letter.page_count + 1):
            assert f"{word} {page} {of} {letter.page_count}" in text
        ref = "Saksnummer" if data["language"] == "nb" else "Case number"
        assert text.count(f"{ref} {data['case']['case_number']}") >= letter.page_count


def test_many_claims_overflow_to_a_second_page(service: LetterService) -> None:
    for case_dir in GOLDEN_DIR.glob("*/*/many_claims"):
        letter = service.render_request((case_dir / "request.json").read_bytes(), TEST_TODAY)
        assert letter.page_count >= 2, case_dir


def test_same_request_and_password_give_identical_bytes(service: LetterService) -> None:
    raw = (GOLDEN_DIR / "inkassovarsel/nb/plain/request.json").read_bytes()
    letter_id = json.loads(raw)["letter_id"]
    first = service.render_request(raw, TEST_TODAY, password_for(letter_id))
    second = service.render_request(raw, TEST_TODAY, password_for(letter_id))
    assert first.pdf == second.pdf


def test_each_letter_gets_its_own_password(service: LetterService) -> None:
    raw = (GOLDEN_DIR / "purring/en/plain/request.json").read_bytes()
    a = service.compose_request(raw, TEST_TODAY)
    b = service.compose_request(raw, TEST_TODAY)
    assert a.password.reveal() != b.password.reveal()
    assert a.password_record.hash != b.password_record.hash
