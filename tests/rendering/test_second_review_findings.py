"""The second legal review's findings (reference/letter-review-3.md), each kept: what every
letter says of dates, payments, costs, the stage of the case, debtors abroad and privacy.

Checked on the words each golden request renders to (the HTML's text, cheap), and on
requests changed from the goldens where a finding needs a case the goldens lack.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from letters.config import TEMPLATES_DIR, Settings
from letters.domain.compose import ComposedLetter
from letters.rendering.letter_service import LetterService
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, golden_cases, password_for, service_for

CASES = golden_cases()
BEFORE_COLLECTION = [c for c in CASES if c.parts[-3] in ("purring", "inkassovarsel")]


def _id(path: Path) -> str:
    return "/".join(path.relative_to(GOLDEN_DIR).parts)


@cache
def _service() -> LetterService:
    return service_for(TEMPLATES_DIR)


def _request(case_dir: Path) -> dict[str, Any]:
    return copy.deepcopy(json.loads((case_dir / "request.json").read_text(encoding="utf-8")))


def _compose(data: dict[str, Any], service: LetterService | None = None) -> ComposedLetter:
    service = service or _service()
    return service.compose_request(data, TEST_TODAY, password_for(data["letter_id"]))


def _words(letter: ComposedLetter, service: LetterService | None = None) -> str:
    """The letter's text as a reader gets it: tags gone, no-break spaces as spaces."""
    markup = (service or _service()).renderer.html(letter).split("<body", 1)[1]
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup)).replace("\xa0", " ")
    return " ".join(text.split())


@cache
def _golden_words(case_dir: Path) -> str:
    return _words(_compose(_request(case_dir)))


def _golden(letter_type: str, language: str, scenario: str = "plain") -> Path:
    return GOLDEN_DIR / letter_type / language / scenario


# N-M1: when the figures were taken, apart from when the letter leaves.
@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("nb", "Saldo per 21. november 2026; betalinger etter denne datoen er ikke med."),
        ("en", "Balance as at 21 November 2026; later payments are not included."),
    ],
)
def test_the_balance_date_is_printed_apart_from_the_letter_date(
    language: str, sentence: str
) -> None:
    letter = _compose(_request(_golden("purring", language)))
    assert (letter.balance_date, letter.letter_date) == (TEST_TODAY, date(2026, 11, 23))
    assert sentence in _words(letter)


# N-M2: one date for the earliest request for utlegg.
def test_the_varsel_gives_one_earliest_request_date() -> None:
    data = _request(_golden("varsel_rettslig_pagang", "nb"))
    letter = _compose(data)
    assert letter.enforcement_from == max(
        letter.letter_date + timedelta(days=14), letter.deadline + timedelta(days=1)
    )
    words = _words(letter)
    assert re.findall(r"tidligst ([0-9]+\. \w+ [0-9]{4})", words) == ["8. desember 2026"]
    # A later deadline the case system asked for moves the date to the day after it.
    data["deadline"] = "2026-12-15"
    later = _compose(data)
    assert later.deadline == date(2026, 12, 15)
    assert later.enforcement_from == date(2026, 12, 16)
    assert "tidligst 16. desember 2026" in _words(later)


# N-M2: the PDF says when it was made, not the day the figures were taken.
def test_the_pdf_creation_date_is_when_it_was_made() -> None:
    letter = _compose(_request(_golden("purring", "nb")))
    made = datetime(2026, 11, 23, 14, 5, 6, tzinfo=UTC)
    pdf = _service().renderer.render(dataclasses.replace(letter, made_at=made)).pdf
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert str(document.docinfo["/CreationDate"]) == "D:20261123140506Z"
        assert document.open_metadata()["xmp:CreateDate"].startswith("2026-11-23T14:05:06")


# N-M4: the stage of the case in words, never both sides of the hand-over.
@pytest.mark.parametrize("case_dir", BEFORE_COLLECTION, ids=_id)
def test_a_letter_before_collection_says_what_comes_and_not_that_it_has_come(
    case_dir: Path,
) -> None:
    words = _golden_words(case_dir)
    if case_dir.parts[-2] == "nb":
        assert "Hvis du ikke betaler:" in words
        handed_over = "har overlatt kravet til"
        comes = ("sendt til inkasso", "overlates det til", "inkassovarsel")
    else:
        assert "If you do not pay:" in words
        handed_over = "has passed the claim to"
        comes = ("passed to debt collection", "debt collection notice")
    assert handed_over not in words
    assert any(c in words for c in comes)


# N-M6: what a Norwegian utlegg reaches, and help offered only where it applies.
@pytest.mark.parametrize(
    ("language", "abroad", "home", "help_line"),
    [
        (
            "nb",
            "pant i det du eier i Norge eller trekk i lønn fra en arbeidsgiver i Norge",
            "pant i eiendelene dine eller trekk i lønnen din",
            "Gratis hjelp med økonomi og gjeld gir NAV på +47 55 55 33 39",
        ),
        (
            "en",
            "security in what you own in Norway or a deduction from wages paid by an employer "
            "in Norway",
            "security in your belongings or a deduction from your wages",
            "+47 55 55 33 39",
        ),
    ],
)
def test_a_debtor_abroad_is_told_what_applies_abroad(
    language: str, abroad: str, home: str, help_line: str
) -> None:
    foreign = _golden_words(_golden("varsel_rettslig_pagang", language, "foreign_address"))
    domestic = _golden_words(_golden("varsel_rettslig_pagang", language))
    assert abroad in foreign and home not in foreign
    assert home in domestic and abroad not in domestic
    assert help_line in domestic and help_line not in foreign


def test_a_debtor_abroad_gets_the_longer_deadline_of_the_profile() -> None:
    data = _request(_golden("betalingsoppfordring", "nb", "foreign_address"))
    data["letter_date"] = "2026-11-02"  # clear of the Christmas weeks
    abroad = _compose(data)
    data["recipient"] = _request(_golden("betalingsoppfordring", "nb"))["recipient"]
    home = _compose(data)
    assert home.deadline == date(2026, 11, 16)
    assert abroad.deadline == date(2026, 11, 23)  # 14 + 7 days
    assert "Betalingsfrist 23.11.2026" in _words(abroad)


# N-G4: phone numbers a debtor abroad can dial.
@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_every_phone_number_is_written_with_plus_47(case_dir: Path) -> None:
    words = _golden_words(case_dir)
    numbers = re.findall(r"(\S*) ([0-9]{2} [0-9]{2} [0-9]{2} [0-9]{2})\b", words)
    assert numbers, "the letter gives a phone number"
    assert all(prefix == "+47" for prefix, _ in numbers), numbers


# N-M6 and B4: the full art. 14 notice, listing only the data held.
@pytest.mark.parametrize(
    ("language", "parts"),
    [
        (
            "nb",
            [
                "er behandlingsansvarlig",
                "personvernforordningen art. 6 nr. 1 c og f",
                "namsmannen",
                "forliksrådet",
                "Digipost",
                "trykkeriet",
                "oppdragsgiveren",
                "fem år",
                "innsyn, retting, sletting eller begrenset behandling",
                "protestere mot behandlingen",
                "klage til Datatilsynet",
                "Personvernombud",
            ],
        ),
        (
            "en",
            [
                "is the controller",
                "GDPR Article 6(1)(c) and (f)",
                "enforcement officer (namsmannen)",
                "conciliation board (forliksrådet)",
                "Digipost",
                "print house",
                "creditor",
                "five years",
                "ask to see, correct, erase or restrict the data",
                "object to its use",
                "complain to Datatilsynet",
                "Data protection officer",
            ],
        ),
    ],
)
def test_the_privacy_notice_has_every_part_art_14_asks_for(language: str, parts: list[str]) -> None:
    words = _golden_words(_golden("inkassovarsel", language))
    missing = [part for part in parts if part not in words]
    assert not missing, missing


@pytest.mark.parametrize(("language", "word"), [("nb", "fødselsnummer"), ("en", "identity number")])
def test_the_privacy_notice_claims_an_identity_number_only_when_one_was_given(
    language: str, word: str
) -> None:
    data = _request(_golden("inkassovarsel", language))
    assert data["recipient"]["national_identity_number"]
    assert word in _words(_compose(data))
    del data["recipient"]["national_identity_number"]
    data["recipient"]["digital_consent"] = False
    assert word not in _words(_compose(data))


# N-G2: each cost names the rule it rests on.
@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_each_cost_line_names_its_basis(case_dir: Path) -> None:
    letter = _compose(_request(case_dir))
    markup = _service().renderer.html(letter)
    summary = markup.split('class="claims summary"', 1)[1].split("</table>", 1)[0]
    rows = [
        html.unescape(re.sub(r"<[^>]+>", "", row)).replace("\xa0", " ")
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", summary, re.S)
    ]
    not_costs = (
        *("Hovedkrav", "Forsinkelsesrente", "Innbetalt", "Gjenstår", "Å betale"),
        *("Main claim", "Late-payment interest", "Paid ", "Principal left", "Interest left"),
        *("Costs left", "To pay"),
    )
    costs = [row for row in rows if not row.startswith(not_costs)]
    assert len(costs) == len(letter.request.case.costs)
    for row in costs:
        assert re.search(r"\((inkassoforskriften|section|regulation|innenfor).*[0-9]-[0-9]", row), (
            row
        )


# N-G3: the cost of preparing the utlegg request, when the profile claims it.
def test_the_varsel_names_the_request_cost_only_when_the_profile_claims_it() -> None:
    data = _request(_golden("varsel_rettslig_pagang", "nb"))
    claimed = "og vår kostnad med å sette opp begjæringen, inntil ett rettsgebyr (1 314 kr)"
    assert claimed in _words(_compose(data))
    service = _service()
    settings = Settings.from_env({"LETTERS_TEMPLATES_DIR": str(TEMPLATES_DIR)})
    profile = dataclasses.replace(service.profile, claims_request_cost=False)
    without = LetterService(settings, profile)
    words = _words(_compose(data, without), without)
    assert "vår kostnad" not in words
    assert "gebyret er ikke med i beløpet ovenfor" in words


# N-M8: the English of the letters.
def test_the_english_says_one_time_password_and_if_we_cannot_agree() -> None:
    words = _golden_words(_golden("betalingsoppfordring", "en"))
    assert "One-time password" in words
    assert "If we cannot agree" in words


# N-L1 and N-L5: one page for one claim, and the Subject is the letter's own heading.
@pytest.mark.parametrize("case_dir", CASES, ids=_id)
def test_one_claim_is_one_page_and_the_subject_starts_with_the_heading(case_dir: Path) -> None:
    facts = json.loads((case_dir / "facts.json").read_text(encoding="utf-8"))
    meta = facts["metadata"]
    assert meta["Subject"].startswith(meta["Title"] + ":"), meta
    if len(_request(case_dir)["case"]["claims"]) == 1:
        assert facts["page_count"] == 1
