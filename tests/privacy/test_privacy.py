"""The demo's whole pipeline and re-send jobs leave no personal data outside the sealed
ledger fields and the PDFs; a debtor's access export holds everything about them."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from letters.config import PROJECT_ROOT, Settings
from letters.digests import sha256_hex
from letters.domain.otp import ALPHABET
from letters.ledger import Ledger
from letters.ledger.personal_data import letter_ids_of_person
from letters.ledger.privacy_requests import PrivacyRequests
from letters.privacy.export import read_export
from tests.support.pdf import plain_text
from tests.support.rates import suite_rates_env

SAMPLES = sorted((PROJECT_ROOT / "samples").glob("*.json"))
_PASSWORD = re.compile(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")
# The local Digipost double's mailbox stands in for Digipost, which keeps what it is sent.
_DIGIPOST_ITSELF = "digipost-double"
KARI = "03039110015"


class Demo:
    def __init__(self, var: Path) -> None:
        self.var = var
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LETTERS_")},
            "LETTERS_VAR_DIR": str(var),
            **suite_rates_env(),
        }
        self.output: list[str] = []

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "letters.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            cwd=PROJECT_ROOT,
        )
        self.output += [result.stdout, result.stderr]
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    def ledger(self) -> Ledger:
        ledger = Ledger.for_settings(Settings.from_env(self.env))
        ledger.upgrade()
        return ledger


# A debtor whose data a careless case system sent in the wrong fields (privacy finding 1):
# refused, dead-lettered, and nowhere in the clear after it.
REFUSED_PERSON = ("Ingrid Fjellvik", "03039110015x", "Fjellviksvingen 17")


def _refused_requests(folder: Path) -> list[str]:
    name, number, street = REFUSED_PERSON
    base = json.loads(SAMPLES[0].read_text(encoding="utf-8"))
    base["recipient"] |= {"name": name, "national_identity_number": number[:-1]}
    base["recipient"]["address"]["lines"] = [street]
    wrong = [("letter_date", number), ("language", name), ("deadline", street)]
    paths = []
    for index, (field, value) in enumerate(wrong):
        request = json.loads(json.dumps(base)) | {field: value, "letter_id": str(uuid.uuid4())}
        path = folder / f"refused-{index}.json"
        path.write_text(json.dumps(request), encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo's pipeline, requests refused with personal data in the wrong fields, then a
    renew and a copy re-send job of the Digipost letters, and the operations page."""
    demo = Demo(tmp_path_factory.mktemp("privacy") / "var")
    demo.run("demo")
    demo.run("publish", *_refused_requests(tmp_path_factory.mktemp("refused")))
    demo.run("worker", "--until-empty")
    demo.run("dead", "list")
    demo.run("resend", "--sent-via", "digipost", "--mode", "renew", "--job", "renew",
             "--rate", "100/s", "--yes", "--processes", "2")  # fmt: skip
    demo.run("resend", "--sent-via", "print", "--mode", "copy", "--job", "copy",
             "--rate", "100/s", "--yes")  # fmt: skip
    demo.run("print", "cut")
    demo.run("ops", "--out", str(demo.var / "operations.html"))
    return demo


def _personal_values() -> set[str]:
    name, number, street = REFUSED_PERSON
    values = {name, number[:-1], street, "Fjellvik"}
    for path in SAMPLES:
        recipient = json.loads(path.read_text(encoding="utf-8"))["recipient"]
        values.add(recipient["name"])
        if recipient.get("national_identity_number"):
            values.add(recipient["national_identity_number"])
        values.update(line for line in recipient["address"]["lines"] if len(line) >= 6)
    return values


def _passwords(var: Path) -> set[str]:
    found = set()
    for pdf in (var / "archive").rglob("*.pdf"):
        found.update(_PASSWORD.findall(plain_text(pdf.read_bytes())))
    return found


def _readable(path: Path) -> list[bytes]:
    """The file's bytes, and any message body a kombu envelope in it holds as base64."""
    data = path.read_bytes()
    texts = [data]
    try:
        envelope = json.loads(data)
    except ValueError:
        return texts
    if isinstance(envelope, dict) and isinstance(envelope.get("body"), str):
        with contextlib.suppress(ValueError):
            texts.append(base64.b64decode(envelope["body"]))
    return texts


def _hits(demo: Demo, needles: set[str]) -> list[str]:
    hits = []
    for path in sorted(demo.var.rglob("*")):
        relative = path.relative_to(demo.var)
        if not path.is_file() or path.suffix == ".pdf" or relative.parts[0] == _DIGIPOST_ITSELF:
            continue
        for data in _readable(path):
            hits += [f"{relative}: {n!r}" for n in needles if n.encode() in data]
    for number, text in enumerate(demo.output):
        hits += [f"command output {number}: {n!r}" for n in needles if n in text]
    return hits


def test_nothing_personal_is_written_outside_the_sealed_ledger_and_the_pdfs(demo: Demo) -> None:
    passwords = _passwords(demo.var)
    assert len(passwords) >= 16, "the demo's letters and their renewals each have a password"
    needles = _personal_values() | passwords
    assert len(needles) > 20
    # The scan can fail: the double's mailbox holds what Digipost would, and the PDFs.
    mailbox = [p for p in (demo.var / _DIGIPOST_ITSELF).rglob("*") if p.is_file()]
    assert any(KARI.encode() in p.read_bytes() for p in mailbox)
    assert not _hits(demo, needles)
    # The embedded broker keeps no copy of a handled message.
    assert not list((demo.var / "broker" / "processed").glob("*.letters.work.msg"))


def test_the_ledger_s_columns_hold_no_personal_data_in_the_clear(demo: Demo) -> None:
    needles = _personal_values()
    with sqlite3.connect(demo.var / "letters.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - the schema's names
                text = " ".join(str(v) for v in row)
                assert not [n for n in needles if n in text], table


def test_files_are_readable_by_their_owner_only(demo: Demo) -> None:
    loose = [
        f"{p.relative_to(demo.var)} {oct(p.stat().st_mode & 0o777)}"
        for p in demo.var.rglob("*")
        if p.stat().st_mode & 0o077
    ]
    assert not loose, loose[:10]


def test_an_access_export_holds_every_letter_of_the_debtor_with_its_pdf(
    demo: Demo, tmp_path: Path
) -> None:
    out = tmp_path / "kari.zip"
    result = demo.run("privacy", "export", "--national-id", KARI, "-o", str(out),
                      "--requested-by", "Desk 4, Ola Hansen", "--reason",
                      "the debtor's letter of 2026-11-30")  # fmt: skip
    assert "letter(s)" in result.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    data, names = read_export(out)
    assert "README.txt" in names and "letters.json" in names
    ledger = demo.ledger()
    try:
        mine = ledger.letters_in([e["letter_id"] for e in data["letters"]])
        assert len(mine) == len(data["letters"]) >= 8
        renewed = [e for e in data["letters"] if e["resend_mode"] == "renew"]
        assert renewed and all(e["origin_letter_id"] for e in renewed)
        originals = {e["origin_letter_id"] for e in renewed}
        assert all(e["re_sent_as"] for e in data["letters"] if e["letter_id"] in originals)
        with zipfile.ZipFile(out) as bundle:
            for entry, record in zip(
                sorted(data["letters"], key=lambda e: e["letter_id"]),
                sorted(mine, key=lambda r: r.letter_id),
                strict=True,
            ):
                assert entry["request"]["recipient"]["national_identity_number"] == KARI
                assert entry["history"] and entry["history"][0]["event"] == "accepted"
                assert "otp_hash" not in entry and "nin_index" not in entry
                pdf = bundle.read(entry["pdf"])
                assert sha256_hex(pdf) == record.pdf_sha256
        audit = PrivacyRequests(ledger).all()
        assert [(a.action, a.requested_by, a.letter_count) for a in audit][-1] == (
            "access export",
            "Desk 4, Ola Hansen",
            len(mine),
        )
        assert KARI not in audit[-1].subject
    finally:
        ledger.close()


def test_an_export_without_a_reason_is_refused(demo: Demo, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "letters.cli", "privacy", "export", "--case", "2026-0045137",
         "-o", str(tmp_path / "x.zip"), "--requested-by", "Desk 4"],
        env=demo.env, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--reason" in result.stderr
    assert not (tmp_path / "x.zip").exists()


def test_a_debtor_s_letters_are_found_by_national_id_without_storing_it(demo: Demo) -> None:
    listing = demo.run("status", "--national-id", KARI).stdout
    lines = listing.splitlines()
    ledger = demo.ledger()
    try:
        ids = letter_ids_of_person(ledger, KARI)
    finally:
        ledger.close()
    assert lines[-1] == f"{len(ids)} letter(s)" and len(ids) >= 8
    assert {line.split()[0] for line in lines[:-1]} == set(ids)
    assert KARI not in listing
