"""Print and post: batches cut by size and time, assembled, dropped in S3 (moto over HTTP)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2
import pytest

from channels.base import ReceiptStatus
from channels.print_post.assembly import BatchLetter, assemble
from channels.print_post.fonts import FontLibrary
from channels.print_post.sheet_codes import CodeZone
from channels.printability import UnprintablePdfError
from letters.cli import main
from letters.domain.posting import next_cutoff
from letters.errors import ConfigurationError
from letters.ledger import LetterStatus
from letters.ledger.records import BatchStatus
from letters.rendering.letter_service import LetterService
from tests.support.print_post import PrintHarness, Sample, render_samples
from tests.support.s3 import CREDENTIALS, client, new_bucket, s3_endpoint
from tests.support.sheet_codes import pixels_outside, scan_page
from tests.support.stacks import Stack, sample_request

ZONE = CodeZone()  # the print profile's default


@pytest.fixture(scope="session")
def domestic(service: LetterService) -> list[Sample]:
    return render_samples(service, 100)


@pytest.fixture(scope="session")
def foreign(service: LetterService) -> list[Sample]:
    return render_samples(service, 3, country="SE")


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[PrintHarness]:
    h = PrintHarness(tmp_path, {"LETTERS_PRINT_BATCH_SIZE": "5"})
    yield h
    h.close()


@pytest.fixture
def s3_harness(tmp_path: Path) -> Iterator[PrintHarness]:
    bucket = new_bucket()
    h = PrintHarness(
        tmp_path,
        {
            "LETTERS_PRINT_URL": f"s3://{bucket}/print-house/in",
            "LETTERS_S3_ENDPOINT_URL": s3_endpoint(),
            "LETTERS_PRINT_BATCH_SIZE": "4",
        },
    )
    yield h
    h.close()


def objects(bucket: str, prefix: str = "") -> dict[str, Any]:
    listing = client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o for o in listing.get("Contents", [])}


def bucket_of(h: PrintHarness) -> str:
    return h.settings.print.url.removeprefix("s3://").split("/", 1)[0]


def read_drop(h: PrintHarness, batch_id: str) -> tuple[bytes, dict[str, Any], list[dict[str, str]]]:
    drop = h.dispatcher.drop
    pdf = drop.get(f"{batch_id}/{batch_id}.pdf")
    manifest = json.loads(drop.get(f"{batch_id}/{batch_id}.json"))
    rows = list(csv.DictReader(io.StringIO(drop.get(f"{batch_id}/{batch_id}.csv").decode())))
    return pdf, manifest, rows


def page_text(pdf: bytes, index: int) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        textpage = document[index].get_textpage()
        return str(textpage.get_text_range())
    finally:
        document.close()


def page_pixels(pdf: bytes, index: int) -> bytes:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return bytes(document[index].render(scale=1).to_pil().tobytes())
    finally:
        document.close()


# -- assembly -----------------------------------------------------------------------


def batch_letters(samples: list[Sample]) -> list[BatchLetter]:
    return [
        BatchLetter(
            letter_id=s.raw["letter_id"],
            case_number=s.request.case.case_number,
            country=s.request.recipient.address.country_code,
            postage_class="domestic",
            pdf=s.pdf,
        )
        for s in samples
    ]


def test_assembly_keeps_order_pads_odd_letters_and_the_manifest_pages_match(
    domestic: list[Sample],
) -> None:
    samples = domestic[:8]
    page_counts = [s.rendering.page_count for s in samples]
    assert 1 in page_counts and 2 in page_counts, "the sample needs one- and two-page letters"
    batch = assemble("B-1", batch_letters(samples), FontLibrary(Path("templates/fonts")))
    with pikepdf.open(io.BytesIO(batch.pdf)) as pdf:
        assert len(pdf.pages) == batch.page_count == sum(n + n % 2 for n in page_counts)
        assert str(pdf.pdf_version) <= "1.7"
        assert pdf.check_pdf_syntax() == []  # qpdf finds nothing wrong in its structure
    assert batch.sheet_count == batch.page_count // 2
    for entry, sample in zip(batch.entries, samples, strict=True):
        assert entry.letter_id == sample.raw["letter_id"]
        assert entry.page_count == sample.rendering.page_count
        assert entry.sheets == (entry.page_count + 1) // 2
        # The letter's first page in the batch is its own first page, pixel for pixel
        # (the shared fonts draw the same glyphs), and starts a new sheet.
        assert entry.first_page % 2 == 1
        first = entry.first_page - 1
        assert pixels_outside(batch.pdf, first, ZONE) == pixels_outside(sample.pdf, 0, ZONE)
        assert entry.case_number in page_text(batch.pdf, first)
        # Each sheet's front carries its code, in the zone; the backs carry none.
        assert entry.code == "LTR1:" + uuid.UUID(entry.letter_id).hex.upper()
        for sheet in range(1, entry.sheets + 1):
            front = first + 2 * (sheet - 1)
            assert scan_page(batch.pdf, front) == [f"{entry.code}:{sheet}/{entry.sheets}"]
            assert scan_page(batch.pdf, front + 1) == []
        if entry.page_count % 2:
            blank = entry.first_page - 1 + entry.page_count
            assert page_text(batch.pdf, blank).strip() == ""
            assert set(page_pixels(batch.pdf, blank)) == {255}
    assert batch.fonts.letter_fonts_kept == 0 and batch.fonts.shared_typefaces == 3


def test_a_100_letter_batch_is_far_smaller_than_its_letters(domestic: list[Sample]) -> None:
    batch = assemble("B-100", batch_letters(domestic), FontLibrary(Path("templates/fonts")))
    total = sum(len(s.pdf) for s in domestic)
    print(f"100 letters: {total / 1e6:.2f} MB apart, {len(batch.pdf) / 1e6:.2f} MB as one batch")
    assert batch.letters_bytes == total
    # Each letter carries its own font subsets (about half its size); the batch one set.
    assert len(batch.pdf) < 0.6 * total
    assert batch.fonts.shared_typefaces == 3 and batch.fonts.letter_fonts_kept == 0
    assert [e.sequence for e in batch.entries] == list(range(1, 101))
    for entry, sample in list(zip(batch.entries, domestic, strict=True))[::17]:
        first = entry.first_page - 1
        assert pixels_outside(batch.pdf, first, ZONE) == pixels_outside(sample.pdf, 0, ZONE)


def test_assembly_is_repeatable_byte_for_byte(domestic: list[Sample]) -> None:
    library = FontLibrary(Path("templates/fonts"))
    first = assemble("B-2", batch_letters(domestic[:6]), library)
    again = assemble("B-2", batch_letters(domestic[:6]), library)
    assert first.sha256 == again.sha256 == hashlib.sha256(first.pdf).hexdigest()


def test_without_the_template_fonts_each_letter_keeps_its_own(domestic: list[Sample]) -> None:
    batch = assemble("B-3", batch_letters(domestic[:4]), FontLibrary(None))
    assert batch.fonts.shared_typefaces == 0 and batch.fonts.letter_fonts_kept == 12
    entry = batch.entries[1]
    first = entry.first_page - 1
    assert pixels_outside(batch.pdf, first, ZONE) == pixels_outside(domestic[1].pdf, 0, ZONE)


# -- batches: size, cut-off, destinations ----------------------------------------------


def test_batches_are_cut_at_the_configured_size(
    harness: PrintHarness, domestic: list[Sample]
) -> None:
    receipts = [harness.send(sample) for sample in domestic[:12]]
    assert all(r.status is ReceiptStatus.BATCHED for r in receipts)
    batch_ids = list(dict.fromkeys(r.provider_ref or "" for r in receipts))
    assert len(batch_ids) == 3
    statuses = [harness.batches.get(b).status for b in batch_ids]  # type: ignore[union-attr]
    assert statuses == [BatchStatus.CLOSED, BatchStatus.CLOSED, BatchStatus.OPEN]
    report = harness.dispatcher.run()
    assert [s.batch_id for s in report.sent] == batch_ids[:2] and not report.failed
    assert [s.letters for s in report.sent] == [5, 5]
    records = harness.ledger.letters_in([r.letter_id for r in receipts])
    by_status = sorted(r.status for r in records)
    assert by_status == [LetterStatus.BATCHED] * 2 + [LetterStatus.SENT] * 10
    sent = next(r for r in records if r.status is LetterStatus.SENT)
    assert sent.channel == "print" and sent.provider_ref in batch_ids[:2]
    assert sent.delivery_method == "PRINT"
    history = [e.event for e in harness.ledger.history(sent.letter_id)]
    assert history[-2:] == ["batched", "sent"]


def test_batches_are_cut_at_the_daily_cut_off(
    harness: PrintHarness, domestic: list[Sample]
) -> None:
    harness.now = datetime(2026, 11, 23, 14, 59, tzinfo=UTC)  # 15:59 in Oslo
    first = [harness.send(s) for s in domestic[:2]]
    assert harness.dispatcher.run().closed == []
    harness.now += timedelta(minutes=1)  # 16:00 in Oslo
    report = harness.dispatcher.run()
    assert report.closed == [first[0].provider_ref] and report.sent[0].letters == 2
    # The next letter starts the next day's batch, cut tomorrow at 16:00.
    later = harness.send(domestic[2])
    assert later.provider_ref != first[0].provider_ref
    batch = harness.batches.get(later.provider_ref or "")
    assert batch is not None and batch.cutoff_at == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_a_letter_for_an_open_batch_past_its_cut_off_starts_a_new_one(
    harness: PrintHarness, domestic: list[Sample]
) -> None:
    old = harness.send(domestic[0])
    harness.now = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # past 16:00; no dispatcher ran
    new = harness.send(domestic[1])
    assert new.provider_ref != old.provider_ref
    closed = harness.batches.get(old.provider_ref or "")
    assert closed is not None and closed.status is BatchStatus.CLOSED
    assert closed.close_reason == "cut-off"


def test_next_cut_off_is_local_time_in_norway() -> None:
    cutoff = time(16, 0)
    winter = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert next_cutoff(winter, cutoff) == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    summer = datetime(2026, 6, 1, 14, 30, tzinfo=UTC)  # 16:30 in Oslo: tomorrow's
    assert next_cutoff(summer, cutoff) == datetime(2026, 6, 2, 14, 0, tzinfo=UTC)


def test_domestic_and_foreign_letters_go_in_separate_batches(
    harness: PrintHarness, domestic: list[Sample], foreign: list[Sample]
) -> None:
    home = harness.send(domestic[0])
    abroad = [harness.send(s) for s in foreign[:2]]
    assert {r.provider_ref for r in abroad} != {home.provider_ref}
    assert len({r.provider_ref for r in abroad}) == 1
    report = harness.dispatcher.run(cut_all=True)
    assert sorted(s.destination for s in report.sent) == ["domestic", "foreign"]
    foreign_batch = next(s for s in report.sent if s.destination == "foreign")
    _, manifest, rows = read_drop(harness, foreign_batch.batch_id)
    assert {row["country"] for row in rows} == {"SE"}
    assert {row["postage_class"] for row in rows} == {"international-priority"}
    assert manifest["destination"] == "foreign"


def test_sending_a_letter_again_names_its_batch_and_never_adds_it_twice(
    harness: PrintHarness, domestic: list[Sample]
) -> None:
    letter = harness.store(domestic[0])
    first = harness.hand_over(letter)
    again = harness.hand_over(letter)
    assert (again.provider_ref, again.duplicate) == (first.provider_ref, True)
    harness.dispatcher.run(cut_all=True)
    after_sending = harness.hand_over(letter)
    assert after_sending.status is ReceiptStatus.SENT and after_sending.duplicate
    batch = harness.batches.get(first.provider_ref or "")
    assert batch is not None and batch.letter_count == 1


def test_an_unprintable_letter_is_refused_and_joins_no_batch(
    harness: PrintHarness, domestic: list[Sample]
) -> None:
    letter = harness.store(domestic[0])
    # Blank page 1 of the PDF: the address is not in the envelope window any more.
    with pikepdf.open(io.BytesIO(letter.pdf)) as pdf:
        pdf.pages[0].Contents = pdf.make_stream(b"")
        blank = io.BytesIO()
        pdf.save(blank)
    with pytest.raises(UnprintablePdfError, match="address line 1 of 3 is not on page 1"):
        harness.channel.send(replace(letter, pdf=blank.getvalue()))
    assert harness.batches.batches() == []


# -- delivery to the print house ------------------------------------------------------------


def test_a_batch_is_uploaded_create_only_with_checksums_then_marked_sent(
    s3_harness: PrintHarness, domestic: list[Sample]
) -> None:
    h = s3_harness
    receipts = [h.send(s) for s in domestic[:3]]
    report = h.dispatcher.run(cut_all=True)
    [sent] = report.sent
    bucket = bucket_of(h)
    keys = sorted(objects(bucket, "print-house/in/"))
    b = sent.batch_id
    assert keys == sorted(f"print-house/in/{b}/{b}.{ext}" for ext in ("csv", "json", "pdf"))
    pdf, manifest, rows = read_drop(h, b)
    digest = hashlib.sha256(pdf).hexdigest()
    assert manifest["pdf"]["sha256"] == digest
    head = client().head_object(
        Bucket=bucket, Key=f"print-house/in/{b}/{b}.pdf", ChecksumMode="ENABLED"
    )
    assert head["Metadata"]["sha256"] == digest
    assert [row["letter_id"] for row in rows] == [r.letter_id for r in receipts]
    assert [e["first_page"] for e in manifest["letters"]] == [int(r["first_page"]) for r in rows]
    # Only what the print house needs: no names, addresses or national ids anywhere.
    text = json.dumps(manifest) + "".join(json.dumps(r) for r in rows)
    for sample in domestic[:3]:
        recipient = sample.request.recipient
        for secret in [
            recipient.name,
            *recipient.address.lines,
            recipient.national_identity_number,
        ]:
            assert not secret or secret not in text
    assert set(manifest["letters"][0]) == {
        "sequence", "letter_id", "case_number", "first_page", "page_count", "sheets",
        "country", "postage_class", "code",
    }  # fmt: skip
    assert [e["code"] for e in manifest["letters"]] == [r["code"] for r in rows]
    record = h.ledger.get(receipts[0].letter_id)
    assert record is not None and record.status is LetterStatus.SENT
    batch = h.batches.get(b)
    assert batch is not None and batch.location == f"s3://{bucket}/print-house/in/{b}/{b}.json"


class Crash(BaseException):
    """The process dies here: nothing after this line runs."""


def test_a_crash_after_the_upload_does_not_make_a_second_batch(
    s3_harness: PrintHarness, domestic: list[Sample], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = s3_harness
    receipts = [h.send(s) for s in domestic[:3]]

    def die(*_: object) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(h.batches, "record_batch_sent", die)
        with pytest.raises(Crash):
            h.dispatcher.run(cut_all=True)
    bucket = bucket_of(h)
    uploaded = objects(bucket)
    assert len(uploaded) == 3
    [batch] = h.batches.batches()
    assert batch.status is BatchStatus.ASSEMBLED
    # A restart, after the crashed process's claim on the batch ran out.
    h.now += timedelta(minutes=20)
    restarted = h.new_dispatcher()
    report = restarted.run()
    assert [s.batch_id for s in report.sent] == [batch.batch_id]
    again = objects(bucket)
    assert again.keys() == uploaded.keys()
    assert {k: o["ETag"] for k, o in again.items()} == {k: o["ETag"] for k, o in uploaded.items()}
    assert [b.batch_id for b in h.batches.batches()] == [batch.batch_id]
    for receipt in receipts:
        events = [e.event for e in h.ledger.history(receipt.letter_id)]
        assert events.count("sent") == 1
    assert restarted.run().sent == []


def test_a_failed_upload_is_retried_at_the_next_round(
    s3_harness: PrintHarness, domestic: list[Sample]
) -> None:
    h = s3_harness
    receipts = [h.send(s) for s in domestic[:2]]
    # The print bucket's endpoint is down (nothing listens on port 9).
    down = h.new_dispatcher(
        type(h.settings).from_env({**h.env, "LETTERS_S3_ENDPOINT_URL": "http://127.0.0.1:9"})
    )
    report = down.run(cut_all=True)
    [(batch_id, reason)] = report.failed.items()
    assert "print drop" in reason
    batch = h.batches.get(batch_id)
    assert batch is not None and batch.attempts == 1 and batch.status is not BatchStatus.SENT
    assert all(
        r.status is LetterStatus.BATCHED
        for r in h.ledger.letters_in([r.letter_id for r in receipts])
    )
    report = h.dispatcher.run()
    assert [s.batch_id for s in report.sent] == [batch_id]
    assert all(
        r.status is LetterStatus.SENT for r in h.ledger.letters_in([r.letter_id for r in receipts])
    )


def test_a_missing_print_bucket_stops_loudly(tmp_path: Path, domestic: list[Sample]) -> None:
    h = PrintHarness(
        tmp_path,
        {
            "LETTERS_PRINT_URL": "s3://no-such-print-bucket/in",
            "LETTERS_S3_ENDPOINT_URL": s3_endpoint(),
        },
    )
    try:
        h.send(domestic[0])
        with pytest.raises(ConfigurationError, match=r"LETTERS_PRINT_URL.*NoSuchBucket"):
            h.dispatcher.run(cut_all=True)
    finally:
        h.close()


# -- the command line -------------------------------------------------------------------


def test_print_batches_and_cut_from_the_command_line(
    harness: PrintHarness,
    domestic: list[Sample],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    for sample in domestic[:7]:
        harness.send(sample)
    assert main(["print", "batches"]) == 0
    listing = capsys.readouterr().out
    statuses = sorted(line.split()[1] for line in listing.splitlines()[1:])
    assert statuses == ["closed", "open"]
    assert main(["print", "cut", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(s["letters"] for s in report["sent"]) == [2, 5]
    assert main(["print", "batches", "--json", "--status", "sent"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 2 and all(b["location"].endswith(".json") for b in listed)
    assert main(["print", "cut"]) == 0
    assert "no batch to deliver" in capsys.readouterr().out


def test_the_manifest_date_is_the_cut_not_the_upload(
    harness: PrintHarness, domestic: list[Sample]
) -> None:
    harness.send(domestic[0])
    cut_at = harness.now
    [batch_id] = harness.batches.close_all(cut_at)
    harness.now += timedelta(hours=1)  # delivered, or delivered again, later
    report = harness.dispatcher.run()
    assert [s.batch_id for s in report.sent] == [batch_id]
    _, manifest, _ = read_drop(harness, batch_id)
    assert manifest["closed_at"] == cut_at.isoformat(timespec="seconds")
    sent = harness.batches.get(batch_id)
    assert sent is not None and sent.sent_at == harness.now


# -- through worker processes ----------------------------------------------------------


@pytest.mark.services
def test_workers_batch_non_consenting_debtors_and_print_cut_delivers_them(
    rabbit_pg: Stack,
) -> None:
    stack = rabbit_pg
    bucket = new_bucket()
    stack.env.update(
        {
            "LETTERS_CHANNEL_PRINT": "print_post",
            "LETTERS_PRINT_URL": f"s3://{bucket}/print",
            "LETTERS_ARCHIVE_URL": f"s3://{bucket}/archive",
            "LETTERS_S3_ENDPOINT_URL": s3_endpoint(),
            "LETTERS_PRINT_BATCH_SIZE": "2",
            **CREDENTIALS,
        }
    )
    requests = []
    for name in ("purring-nb-plain", "inkassovarsel-en-plain", "betalingsoppfordring-nb-plain"):
        request = sample_request(name)
        request["recipient"]["digital_consent"] = False
        requests.append(request)
    stack.publish(*requests)
    stack.run_worker("--concurrency", "2")
    ids = [r["letter_id"] for r in requests]
    assert {r.status for r in stack.ledger.letters_in(ids)} <= {
        LetterStatus.BATCHED,
        LetterStatus.SENT,
    }
    result = stack.run("print", "cut", "--json")
    assert result.returncode == 0, result.stderr
    records = stack.ledger.letters_in(ids)
    assert {r.status for r in records} == {LetterStatus.SENT}
    batch_ids = {r.provider_ref for r in records}
    assert len(batch_ids) == 2  # cut at two letters, and the rest by hand
    keys = objects(bucket, "print/")
    assert len(keys) == 6
    letters_in_manifests = []
    for batch_id in batch_ids:
        manifest = json.loads(
            client()
            .get_object(Bucket=bucket, Key=f"print/{batch_id}/{batch_id}.json")["Body"]
            .read()
        )
        letters_in_manifests += [entry["letter_id"] for entry in manifest["letters"]]
    assert sorted(letters_in_manifests) == sorted(ids)
    status = stack.run("status", ids[0])
    assert "batched" in status.stdout and "sent" in status.stdout
    log = stack.log_file().read_text() if stack.log_file().exists() else ""
    for request in requests:
        assert request["recipient"]["name"] not in log + result.stdout + result.stderr
