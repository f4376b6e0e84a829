"""The legal and content review's findings, each kept: what every letter says and how it is set.

Checked on the golden requests: the HTML each renders (cheap, every case) and,
for the words on the page, the golden page texts the golden test keeps equal
to fresh renders.
"""

from __future__ import annotations

import io
import json
import re
from functools import cache
from pathlib import Path

import pdfplumber
import pikepdf
import pytest

from letters.config import TEMPLATES_DIR
from letters.rendering.letter_service import LetterService
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, golden_cases, password_for, service_for

CASES = golden_cases()
PLAIN = [p for p in CASES if p.name == "plain"]


def _id(path: Path) -> str:
    return "/".join(path.relative_to(GOLDEN_DIR).parts)


@cache
def _service() -> LetterService:
    return service_for(TEMPLATES_DIR)


@cache
def _html(case_dir: Path) -> str:
    raw = (case_dir / "request.json").read_bytes()
    service = _service()
    composed = service.compose_request(raw, TEST_TODAY, password_for(json.loads(raw)["letter_id"]))
    return service.renderer.html(composed).replace("&nbsp;", "\xa0")


@cache
def _pdf(case_dir: Path) -> bytes:
    raw = (case_dir / "request.json").read_bytes()
    letter = _service().render_request(raw, TEST_TODAY, password_for(json.loads(raw)["letter_id"]))
    return letter.pdf


def _page_texts(case_dir: Path) -> list[str]:
    return [p.read_text() for p in sorted(case_dir.glob("page-*.txt"))]


def _text(case_dir: Path) -> str:
    return " ".join(" ".join(_page_texts(case_dir)).split())


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_every_letter_carries_the_notices_a_debtor_needs(case_dir: Path) -> None:
    agency = _service().profile
    text = _text(case_dir)
    nb = case_dir.parent.name == "nb"
    expected = [
        agency.privacy_officer_email,  # GDPR art. 14: the data protection officer
        agency.privacy_policy_url,
        "Digipost",  # letters may come in Digipost
        "BankID",  # the portal login
        "1–3",  # payments take 1–3 working days to register
        "meldingsfeltet" if nb else "message field",  # paying from abroad
        "på vegne av" if nb else "on behalf of",
        "behandlingsansvarlig" if nb else "controller",
        "forliksrådet",
    ]
    request = json.loads((case_dir / "request.json").read_text())
    if request["recipient"]["address"]["country_code"] == "NO":
        expected.append(agency.debt_help_phone)  # NAV's debt advice, for those who live here
    else:
        assert agency.debt_help_phone not in text and "NAV" not in text, _id(case_dir)
    for phrase in expected:
        assert phrase in text, (phrase, _id(case_dir))


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_interest_says_up_to_which_day_and_that_it_keeps_running(case_dir: Path) -> None:
    request = json.loads((case_dir / "request.json").read_text())
    text = _text(case_dir)
    if "interest" not in request["case"]:
        assert ("ikke beregnet forsinkelsesrente" in text) or ("No late-payment interest" in text)
        return
    nb = case_dir.parent.name == "nb"
    assert ("Renter er beregnet til og med" if nb else "Interest is calculated to") in text
    assert ("løper videre" if nb else "keeps running") in text
    assert re.search(r"12[,.]00\s?% (p\.a\.|a year)", text), _id(case_dir)


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_no_break_after_a_section_sign_or_inside_an_amount(case_dir: Path) -> None:
    html = _html(case_dir)
    assert re.search(r"§ ", html) is None, "a § must be followed by a no-break space"
    assert re.search(r"section \d", html) is None, "'section' must be followed by a no-break space"
    for amount in re.findall(r"(?:kr|NOK)[\s\xa0][\d\s\xa0.,]+\d", html):
        assert " " not in amount, amount


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_english_dates_are_written_out_and_brackets_never_nest(case_dir: Path) -> None:
    text = _text(case_dir)
    if case_dir.parent.name == "en":
        assert re.search(r"\b\d{2}/\d{2}/\d{4}\b", text) is None
    # The words in reading order (the page text runs the two info columns together).
    words = re.sub(r"<[^>]+>", " ", _html(case_dir).split("<main>", 1)[1])
    depth = 0
    for char in words:
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth <= 1, f"nested brackets in {_id(case_dir)}"


@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_the_summary_rows_stay_on_one_page(case_dir: Path) -> None:
    nb = case_dir.parent.name == "nb"
    first, last = ("Hovedkrav (hovedstol)", "Å betale") if nb else ("Main claim", "To pay")
    pages = [t for t in _page_texts(case_dir) if first in t]
    assert len(pages) == 1 and last in pages[0], _id(case_dir)


@pytest.mark.parametrize("language", ["nb", "en"])
def test_a_betalingsoppfordring_with_one_claim_is_one_page(language: str) -> None:
    for case_dir in (GOLDEN_DIR / "betalingsoppfordring" / language).iterdir():
        request = json.loads((case_dir / "request.json").read_text())
        if len(request["case"]["claims"]) == 1:
            facts = json.loads((case_dir / "facts.json").read_text())
            assert facts["page_count"] == 1, _id(case_dir)


@pytest.mark.parametrize("case_dir", PLAIN, ids=_id)
def test_web_and_mail_addresses_never_break_over_a_line(case_dir: Path) -> None:
    agency = _service().profile
    with pdfplumber.open(io.BytesIO(_pdf(case_dir))) as doc:
        words = {w["text"] for page in doc.pages for w in page.extract_words()}
    for address in (agency.portal_url, agency.email, agency.privacy_officer_email):
        bare = address.removeprefix("https://")
        assert any(bare in word for word in words), (address, _id(case_dir))


@pytest.mark.parametrize(
    "letter_type", ["purring", "inkassovarsel", "betalingsoppfordring", "varsel_rettslig_pagang"]
)
def test_the_english_letter_cites_what_the_bokmal_one_cites(letter_type: str) -> None:
    nb = _html(GOLDEN_DIR / letter_type / "nb" / "plain")
    en = _html(GOLDEN_DIR / letter_type / "en" / "plain")
    cited = sorted(set(re.findall(r"(\w+loven|\w+forskriften) §\xa0([\d-]+)", nb)))
    assert cited
    for act, section in cited:
        assert f"section\xa0{section} of {act}" in en, (act, section)
    for term in ("utlegg", "namsmannen"):
        assert (term in nb) == (term in en), term


def test_a_varsel_names_the_attachment_fee_as_a_future_cost_from_the_table() -> None:
    text = _text(GOLDEN_DIR / "varsel_rettslig_pagang" / "nb" / "plain")
    # 1.21 × 1 314 kr = 1 589,94 kr: a fee reckoned in rettsgebyr is whole kroner, rounded down.
    assert "1,21 ganger rettsgebyret" in text and "(1 589 kr med" in text
    assert "1 589,94" not in text
    assert "ingen av delene er med i beløpet" in text
    assert "Rettsgebyr og kostnader" not in text


@pytest.mark.parametrize("case_dir", PLAIN, ids=_id)
def test_the_pdf_is_tagged_for_screen_readers(case_dir: Path) -> None:
    with pikepdf.open(io.BytesIO(_pdf(case_dir))) as pdf:
        root = pdf.Root
        assert root.MarkInfo.Marked is True
        assert str(root.Lang) == case_dir.parent.name
        assert root.ViewerPreferences.DisplayDocTitle is True
        with pdf.open_metadata() as xmp:
            assert xmp["dc:title"]
            assert xmp["pdfuaid:part"] == "1"
        kids = root.StructTreeRoot.K
        document = kids[0] if isinstance(kids, pikepdf.Array) else kids
        assert document.S == "/Document"
        for page in pdf.pages:
            content = b"".join(
                s.read_bytes()
                for s in (
                    page.Contents if isinstance(page.Contents, pikepdf.Array) else [page.Contents]
                )
            )
            assert b"BDC" in content, "every page has marked content"
            assert "/StructParents" in page
