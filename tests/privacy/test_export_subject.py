"""An access export is for one person: a co-debtor's letters never appear in it, and the
dead letters about the person do (privacy finding 4 and the low findings on exports)."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from letters.clock import utcnow
from letters.digests import sha256_hex
from letters.ledger import Ledger, Rendering
from letters.ledger.dead_letters import DeadLetterStore
from letters.ledger.erasure_keys import ErasureKeys
from letters.privacy.export import Subject, SubjectError, export_personal_data, read_export
from letters.storage import open_archive
from tests.support.stacks import Stack, ledger_keys, sample_request

KARI = "03039110015"
OLA = "01017000027"  # the co-debtor


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    ledger = Ledger(
        f"sqlite:///{tmp_path / 'ledger.db'}",
        ledger_keys(),
        ErasureKeys(f"sqlite:///{tmp_path / 'erasure-keys.db'}"),
    )
    ledger.upgrade()
    yield ledger
    ledger.close()


def _letter_to(ledger: Ledger, number: str, name: str, case_number: str) -> dict[str, Any]:
    request = sample_request()
    request["case"]["case_number"] = case_number
    request["recipient"]["national_identity_number"] = number
    request["recipient"]["name"] = name
    ledger.accept(
        letter_id=request["letter_id"],
        case_number=case_number,
        letter_type=request["letter_type"],
        language=request["language"],
        request=json.dumps(request, sort_keys=True),
    )
    return request


def _export(ledger: Ledger, tmp_path: Path, subject: Subject) -> dict[str, Any]:
    out = tmp_path / "export.zip"
    archive = open_archive(str(tmp_path / "archive"))
    export_personal_data(ledger, archive, subject, out, "Desk 4", "a letter", utcnow())
    data, _ = read_export(out)
    return data


@pytest.fixture
def shared_case(ledger: Ledger) -> None:
    _letter_to(ledger, KARI, "Kari Nordmann", "2026-0099001")
    _letter_to(ledger, OLA, "Ola Nordmann", "2026-0099001")
    refused = _letter_to(ledger, KARI, "Kari Nordmann", "2026-0099001") | {"letter_type": "x"}
    DeadLetterStore(ledger).record(
        dead_id="5b7c7f8e-0000-4000-8000-000000000001",
        letter_id=None,
        case_number="2026-0099001",
        reason="letter_type: must be one of …",
        attempts=1,
        body=json.dumps(refused).encode(),
        body_sha256="cd" * 32,
        known_letter=False,
    )


def test_a_case_with_a_co_debtor_is_exported_per_person(
    ledger: Ledger, tmp_path: Path, shared_case: None
) -> None:
    with pytest.raises(SubjectError, match=r"2 people \(a co-debtor\)"):
        _export(ledger, tmp_path, Subject(case_number="2026-0099001"))
    data = _export(ledger, tmp_path, Subject(KARI, "2026-0099001"))
    names = {e["request"]["recipient"]["name"] for e in data["letters"]}
    assert names == {"Kari Nordmann"} and len(data["letters"]) == 2
    assert "Ola" not in json.dumps(data)
    assert data["subject"].endswith("case 2026-0099001")


def test_the_dead_letters_about_the_person_are_in_the_export_and_no_one_else_s(
    ledger: Ledger, tmp_path: Path, shared_case: None
) -> None:
    kari = _export(ledger, tmp_path, Subject(KARI))
    [dead] = kari["dead_letters"]
    assert dead["message"]["recipient"]["national_identity_number"] == KARI
    assert dead["reason"].startswith("letter_type:")
    ola = _export(ledger, tmp_path, Subject(OLA))
    assert ola["dead_letters"] == [] and len(ola["letters"]) == 1
    assert "Kari" not in json.dumps(ola)


def test_a_national_id_with_a_typo_is_refused_not_searched(embedded: Stack) -> None:
    result = embedded.run("status", "--national-id", KARI[:-1] + "6")
    assert result.returncode == 2, result.stderr
    assert "--national-id must be a valid Norwegian national identity number" in result.stderr
    with pytest.raises(SubjectError, match="--national-id must be a valid"):
        Subject(national_identity_number="0303911001")


def test_pdfs_are_written_one_by_one_and_a_tampered_one_leaves_no_file(
    ledger: Ledger, tmp_path: Path
) -> None:
    """The zip is written to disk a PDF at a time; a PDF that is not the one the ledger
    recorded stops the export, and neither the zip nor a partial file is left behind."""
    archive = open_archive(str(tmp_path / "archive"))
    pdfs = {}
    for number in range(3):
        request = _letter_to(ledger, KARI, "Kari Nordmann", f"2026-00990{number}")
        letter_id = request["letter_id"]
        pdf = b"%PDF-1.7 letter " + letter_id.encode()
        today = utcnow().date()
        rendering = Rendering(
            letter_date=today, deadline=today + timedelta(days=14), kid="0000000001",
            amount_due=Decimal("100.00"), template_version="t-1", pdf_sha256=sha256_hex(pdf),
            page_count=1, otp_hash="scrypt$x", otp_expires_on=today + timedelta(days=60),
            planned_posting_day=today,
        )  # fmt: skip
        ledger.record_routed(letter_id, "digipost", "test")
        ledger.record_rendered(letter_id, rendering, "1 page")
        ledger.record_archived(letter_id, f"{letter_id}.pdf")
        archive.put(f"{letter_id}.pdf", pdf)
        pdfs[letter_id] = pdf

    data = _export(ledger, tmp_path, Subject(national_identity_number=KARI))
    assert sorted(entry["pdf"] for entry in data["letters"]) == sorted(
        f"pdf/{letter_id}.pdf" for letter_id in pdfs
    )
    with zipfile.ZipFile(tmp_path / "export.zip") as bundle:
        assert bundle.namelist()[:2] == ["README.txt", "letters.json"]
        for letter_id, pdf in pdfs.items():
            assert bundle.read(f"pdf/{letter_id}.pdf") == pdf

    tampered = next(iter(pdfs))
    (tmp_path / "archive" / f"{tampered}.pdf").write_bytes(b"%PDF-1.7 something else")
    out = tmp_path / "second.zip"
    before = len(ledger.privacy_requests.all())
    with pytest.raises(Exception, match="differs from the one the ledger recorded"):
        export_personal_data(
            ledger, archive, Subject(national_identity_number=KARI), out, "Desk 4", "again",
            utcnow(),
        )  # fmt: skip
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".second")] == []
    assert len(ledger.privacy_requests.all()) == before
