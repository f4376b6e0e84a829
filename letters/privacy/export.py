"""Everything the service holds about a person, as one zip: their right of access (GDPR art. 15).

The person is found by the blind index of their national identity number
(``letters.ledger.personal_data``), or as the one debtor a case's letters went
to. An export is for one person only: a case with letters to a co-debtor is
exported per person (``--case`` with ``--national-id``). The zip holds each
letter's PDF from the archive, checked against the SHA-256 the ledger
recorded when it was rendered, and ``letters.json``: each letter as the
ledger holds it (the request with the name, address and national identity
number, the statuses, dates, channel and receipts), its history, its delivery
events, the re-send links, and the states of its cases. A README says what
is in it, and the messages about the person that were refused or given up on
(the dead letters) as they came. Every export is recorded with who asked and why.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from letters.digests import sha256_hex
from letters.domain.contract import valid_national_identity_number
from letters.errors import PermanentError
from letters.ledger import Ledger, LetterRecord
from letters.ledger.personal_data import letter_ids_of_person
from letters.secret_files import private_file_writer
from letters.storage import Archive

# What the ledger keeps that is the service's own secret, not the person's data.
_NOT_EXPORTED = frozenset({"otp_hash", "nin_index", "request"})

README = """\
Innsyn etter personvernforordningen artikkel 15 / Access under GDPR article 15

Denne filen inneholder det inkassobyrået har registrert om deg i tjenesten som
lager og sender brevene: hvert brev (pdf/), og i letters.json opplysningene vi
fikk fra oppdragsgiveren (navn, adresse, fødselsnummer, kravene), når brevet ble
laget, sendt og levert, hendelser fra Digipost og sakens status. Engangspassordet
i brevene lagres ikke; vi lagrer bare en nøkkelbasert hash av det.

This file holds what the debt collection agency has recorded about you in the
service that makes and sends its letters: each letter (pdf/), and in
letters.json the data the creditor gave us (name, address, national identity
number, the claims), when each letter was made, sent and delivered, Digipost's
events and the case's state. The one-time password in the letters is not kept;
only a keyed hash of it is.

Subject: {subject}
Made: {made}
Letters: {count}
"""


class SubjectError(ValueError):
    """The export does not name exactly one person."""


@dataclass(frozen=True, slots=True)
class Subject:
    """The person: by national id, by a case with one debtor, or by both together."""

    national_identity_number: str | None = None
    case_number: str | None = None

    def __post_init__(self) -> None:
        if not self.national_identity_number and not self.case_number:
            raise SubjectError("give --national-id, --case, or both")
        number = self.national_identity_number
        if number is not None and not valid_national_identity_number(number):
            raise SubjectError(
                "--national-id must be a valid Norwegian national identity number or D-number "
                "(11 digits, both check digits)"
            )


@dataclass(frozen=True, slots=True)
class ExportReport:
    path: Path
    letters: int
    pdfs: int
    sha256: str
    request_id: str


def export_personal_data(
    ledger: Ledger,
    archive: Archive,
    subject: Subject,
    out: Path,
    requested_by: str,
    reason: str,
    now: datetime,
) -> ExportReport:
    """Write the zip to ``out`` (readable by its owner only) and record who asked and why."""
    if not requested_by.strip() or not reason.strip():
        raise SubjectError("--requested-by and --reason are both required")
    records = _letters_of(ledger, subject)
    described = _describe(ledger, subject, records)
    letters = [_letter(ledger, record) for record in records]
    cases = ledger.cases
    data = {
        "subject": described,
        "made_at": now.isoformat(timespec="seconds"),
        "letters": letters,
        "dead_letters": _dead_letters(ledger, subject, records),
        "cases": {
            number: {
                "state": cases.get(number).state,
                "history": [_plain(e) for e in cases.history(number)],
            }
            for number in sorted({r.case_number for r in records})
        },
    }
    readme = README.format(subject=described, made=now.date().isoformat(), count=len(records))
    with_pdf = sorted((record for record in records if _has_pdf(record)), key=lambda r: r.letter_id)
    # The PDFs go into the zip one at a time, straight to the file: an export of a
    # person with hundreds of letters holds one PDF in memory, never all of them. A PDF
    # that differs from the ledger's removes the partial file: nothing is exported.
    with (
        private_file_writer(out) as file,
        zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as bundle,
    ):
        bundle.writestr("README.txt", readme.encode())
        bundle.writestr(
            "letters.json",
            json.dumps(data, ensure_ascii=False, indent=2, default=str).encode(),
        )
        for record in with_pdf:
            bundle.writestr(_pdf_name(record), _pdf(archive, record))
    with out.open("rb") as written:
        digest = hashlib.file_digest(written, "sha256").hexdigest()
    audit = ledger.privacy_requests.record(
        "access export", described, requested_by.strip(), reason.strip(), len(records), digest
    )
    return ExportReport(out, len(records), len(with_pdf), digest, audit.request_id)


def _letters_of(ledger: Ledger, subject: Subject) -> list[LetterRecord]:
    if subject.national_identity_number:
        ids = letter_ids_of_person(ledger, subject.national_identity_number)
        found = ledger.letters_in(ids) if ids else []
        if subject.case_number:
            found = [r for r in found if r.case_number == subject.case_number]
    else:
        assert subject.case_number is not None  # noqa: S101 - checked by Subject
        found = _one_debtor(ledger.case_letters(subject.case_number), subject.case_number)
    return sorted(found, key=lambda r: (r.created_at, r.letter_id))


def _one_debtor(records: list[LetterRecord], case_number: str) -> list[LetterRecord]:
    """The case's letters, if they all went to one person; a letter whose personal data
    retention erased belongs to nobody any more, and is left out."""
    kept = [r for r in records if r.personal_data_erased_at is None]
    people = {_person(r) for r in kept}
    if len(people) > 1:
        raise SubjectError(
            f"case {case_number} has letters to {len(people)} people (a co-debtor); an export "
            "is for one person: give --national-id with --case"
        )
    return kept


def _person(record: LetterRecord) -> str:
    """Who a letter went to: the blind index of the national id, else the name."""
    if record.nin_index:
        return f"nin:{record.nin_index}"
    recipient = json.loads(record.request).get("recipient") or {}
    return f"name:{recipient.get('name', '')}"


def _describe(ledger: Ledger, subject: Subject, records: list[LetterRecord]) -> str:
    assert ledger.keys is not None  # noqa: S101 - the letters were opened, so keys exist
    index = None
    if subject.national_identity_number:
        index = ledger.keys.blind_index(subject.national_identity_number)
    elif records and records[0].nin_index:
        index = records[0].nin_index
    person = f"national id, blind index {index}" if index else "the debtor named in the letters"
    return f"{person}, case {subject.case_number}" if subject.case_number else person


def _dead_letters(
    ledger: Ledger, subject: Subject, records: list[LetterRecord]
) -> list[dict[str, Any]]:
    """The messages about the person that were refused or given up on, as they came."""
    store = ledger.dead_letters
    if subject.national_identity_number:
        found = store.of_person(subject.national_identity_number)
    else:
        indexes = {r.nin_index for r in records if r.nin_index}
        ids = {r.letter_id for r in records}
        found = [dead for index in indexes for dead in store.of_person_by_index(index)] + [
            dead for letter_id in sorted(ids) for dead in store.for_letter(letter_id)
        ]
    if subject.case_number:
        found = [d for d in found if d.case_number in (None, subject.case_number)]
    entries: dict[str, dict[str, Any]] = {}
    for dead in sorted(found, key=lambda d: (d.dead_at, d.dead_id)):
        body = store.body(dead.dead_id)
        entry = _plain(dead)
        entry["message"] = _message(body) if body is not None else None
        entries[dead.dead_id] = entry
    return list(entries.values())


def _message(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")


def _letter(ledger: Ledger, record: LetterRecord) -> dict[str, Any]:
    entry = {
        f.name: _plain(getattr(record, f.name))
        for f in fields(record)
        if f.name not in _NOT_EXPORTED
    }
    entry["request"] = json.loads(record.request)
    entry["history"] = [_plain(e) for e in ledger.history(record.letter_id)]
    entry["delivery_events"] = [_plain(e) for e in ledger.deliveries.events(record.letter_id)]
    entry["re_sent_as"] = [
        r.letter_id for r in ledger.case_letters(record.case_number)
        if r.origin_letter_id == record.letter_id
    ]  # fmt: skip
    entry["pdf"] = _pdf_name(record) if _has_pdf(record) else None
    return entry


def _has_pdf(record: LetterRecord) -> bool:
    return bool(record.archive_key and record.pdf_sha256)


def _pdf_name(record: LetterRecord) -> str:
    return f"pdf/{record.letter_id}.pdf"


def _pdf(archive: Archive, record: LetterRecord) -> bytes:
    assert record.archive_key is not None  # noqa: S101 - only letters with a PDF come here
    pdf = archive.get(record.archive_key)
    if sha256_hex(pdf) != record.pdf_sha256:
        raise PermanentError(
            f"archive {record.archive_key}: the PDF of letter {record.letter_id} differs from "
            "the one the ledger recorded; nothing was exported"
        )
    return pdf


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def read_export(path: Path) -> tuple[dict[str, Any], Sequence[str]]:
    """The ``letters.json`` of an export and the names in it (tests, and a support desk)."""
    with zipfile.ZipFile(path) as bundle:
        return json.loads(bundle.read("letters.json")), bundle.namelist()
