"""Print when unread, against the local Digipost double: a letter nobody opened is copied
to print after the profile's days (on a clock the test sets), with a banner that says it is
a copy, an opened one is not, and a copy still batched when its original is opened is
withdrawn from the batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from channels.digipost.channel import delivery_ids
from letters.clock import today_in_norway
from letters.config import PROJECT_ROOT, Settings
from letters.delivery.pipeline import build_pipeline
from letters.delivery.print_when_unread import JOB_ID, copy_id, print_unread
from letters.digests import sha256_hex
from letters.domain.letter_types import Language, LetterType
from letters.domain.profile import UnreadRule
from letters.ledger import LetterStatus, Resend
from letters.rendering.formatting import long_date
from letters.worker.periodic import periodic_tasks
from tests.support.digipost import DIGIPOST_USER, DoubleHarness, running_double
from tests.support.pdf import plain_text
from tests.support.stacks import Stack, sample_request, stack_env

RULE = UnreadRule(
    frozenset(
        {
            LetterType.INKASSOVARSEL,
            LetterType.BETALINGSOPPFORDRING,
            LetterType.VARSEL_RETTSLIG_PAGANG,
        }
    ),
    7,
)


@pytest.fixture
def double(tmp_path: Path) -> Iterator[DoubleHarness]:
    with running_double(tmp_path / "double") as harness:
        yield harness


@pytest.fixture
def stack(tmp_path: Path, double: DoubleHarness) -> Iterator[Stack]:
    env = stack_env(tmp_path, broker=False, database_url=None)
    env["LETTERS_CHANNEL_DIGIPOST"] = "digipost"
    env["LETTERS_CHANNEL_PRINT"] = "print_post"
    env["LETTERS_PRINT_WHEN_UNREAD"] = "true"
    stack = Stack({**env, **double.write_keys(tmp_path)})
    try:
        yield stack
    finally:
        stack.close()


def digipost_letter(name: str) -> dict[str, Any]:
    request = sample_request(name)
    request["recipient"]["digital_consent"] = True
    request["recipient"]["national_identity_number"] = DIGIPOST_USER
    return request


def opened(stack: Stack, double: DoubleHarness, letter_id: str) -> None:
    """The debtor opens the letter in Digipost, and the sync hears of it."""
    double.double.add_event(delivery_ids(letter_id)[1], "OPENED")
    synced = stack.run("digipost", "sync")
    assert synced.returncode == 0, synced.stderr


def test_an_unread_letter_is_printed_after_the_days_an_opened_one_is_not(
    stack: Stack, double: DoubleHarness
) -> None:
    unread, read, purring, resent, on_hold = (
        digipost_letter("inkassovarsel-nb-plain"),
        digipost_letter("betalingsoppfordring-nb-plain"),
        digipost_letter("purring-nb-plain"),  # not a type the rule names
        digipost_letter("inkassovarsel-en-plain"),  # operations re-sent it already
        digipost_letter("varsel_rettslig_pagang-nb-plain"),  # its case is put on hold
    )
    stack.publish(unread, read, purring, resent, on_hold)
    stack.run_worker()
    ids = [r["letter_id"] for r in (unread, read, purring, resent, on_hold)]
    assert [stack.ledger.get(i).channel for i in ids] == ["digipost"] * 5  # type: ignore[union-attr]
    held = stack.run("case", on_hold["case"]["case_number"], "--set", "on_hold")
    assert held.returncode == 0, held.stderr
    opened(stack, double, read["letter_id"])
    earlier = stack.ledger.get(resent["letter_id"])
    assert earlier is not None
    stack.ledger.create_copy(earlier, str(uuid.uuid4()), Resend(earlier.letter_id, "job-1", "copy"))
    pipeline = build_pipeline(stack.settings, stack.ledger)
    sent_on = today_in_norway()

    early = print_unread(pipeline, RULE, sent_on + timedelta(days=6))
    assert (early.copied, early.withdrawn, early.failed) == (0, 0, 0)
    assert stack.ledger.get(copy_id(unread["letter_id"])) is None

    due = print_unread(pipeline, RULE, sent_on + timedelta(days=7))
    assert (due.copied, due.withdrawn, due.failed) == (1, 0, 0)
    original = stack.ledger.get(unread["letter_id"])
    copy = stack.ledger.get(copy_id(unread["letter_id"]))
    assert original is not None and copy is not None
    assert copy.status is LetterStatus.BATCHED and copy.channel == "print"
    assert (copy.origin_letter_id, copy.resend_job_id, copy.resend_mode) == (
        unread["letter_id"],
        JOB_ID,
        "copy",
    )
    # The same letter on paper: its date, the deadline that ran from sending, its KID.
    assert (copy.letter_date, copy.deadline, copy.kid, copy.page_count) == (
        original.letter_date,
        original.deadline,
        original.kid,
        original.page_count,
    )
    # Its own PDF: the original's with the banner that says it is a copy, and from when.
    assert original.archive_key and copy.archive_key and original.posted_on
    assert copy.archive_key != original.archive_key
    assert copy.pdf_sha256 != original.pdf_sha256
    copy_pdf = pipeline.archive.get(copy.archive_key)
    assert sha256_hex(copy_pdf) == copy.pdf_sha256
    first_page = plain_text(copy_pdf).splitlines()
    assert first_page[0].startswith("KOPI. Dette brevet ble sendt til din digitale postkasse")
    day = long_date(original.posted_on, Language.NB)
    assert day in " ".join(first_page[:2])
    assert plain_text(pipeline.archive.get(original.archive_key)).splitlines()[0] != first_page[0]
    archived = [e.detail or "" for e in stack.ledger.history(copy.letter_id)]
    assert any(
        d.startswith(copy.archive_key)
        and original.archive_key in d
        and f"sent to Digipost on {original.posted_on.isoformat()}" in d
        for d in archived
    ), archived
    assert "not opened in Digipost within 7 days" in (copy.route_reason or "")
    assert original.status is LetterStatus.DELIVERED  # the original is left as it was
    for other in (read, purring, resent):
        assert stack.ledger.get(copy_id(other["letter_id"])) is None
    # The case on hold holds the copy as it holds any letter of the case; not a failure.
    waiting = stack.ledger.get(copy_id(on_hold["letter_id"]))
    assert waiting is not None and waiting.status is LetterStatus.HELD

    again = print_unread(pipeline, RULE, sent_on + timedelta(days=8))
    assert (again.copied, again.withdrawn, again.failed) == (0, 0, 0)


def test_a_copy_whose_original_is_opened_while_batched_is_withdrawn(
    stack: Stack, double: DoubleHarness
) -> None:
    first, second = (
        digipost_letter("inkassovarsel-nb-plain"),
        digipost_letter("inkassovarsel-en-plain"),
    )
    stack.publish(first, second)
    stack.run_worker()
    pipeline = build_pipeline(stack.settings, stack.ledger)
    copied = print_unread(pipeline, RULE, today_in_norway() + timedelta(days=7))
    assert copied.copied == 2
    batches = stack.ledger.batches
    batch = batches.batch_of(copy_id(first["letter_id"]))
    assert batch is not None and batch.letter_count == 2

    opened(stack, double, first["letter_id"])
    report = print_unread(pipeline, RULE, today_in_norway() + timedelta(days=8))
    assert (report.copied, report.withdrawn) == (0, 1)
    withdrawn = stack.ledger.get(copy_id(first["letter_id"]))
    assert withdrawn is not None and withdrawn.status is LetterStatus.CANCELLED
    assert batches.batch_of(copy_id(first["letter_id"])) is None
    assert [m.letter_id for m in batches.members(batch.batch_id)] == [copy_id(second["letter_id"])]
    reasons = [e.detail or "" for e in stack.ledger.history(withdrawn.letter_id)]
    assert any("the original was opened in Digipost" in r for r in reasons), reasons

    # Once the batch is cut and posted, opening the original changes nothing on paper.
    cut = stack.run("print", "cut")
    assert cut.returncode == 0, cut.stderr
    opened(stack, double, second["letter_id"])
    late = print_unread(pipeline, RULE, today_in_norway() + timedelta(days=9))
    assert late.withdrawn == 0
    posted = stack.ledger.get(copy_id(second["letter_id"]))
    assert posted is not None and posted.status is LetterStatus.SENT


def test_off_by_default_and_on_for_three_types_in_production(stack: Stack) -> None:
    assert Settings.from_env({}).print_when_unread is False
    production = (PROJECT_ROOT / "deploy" / "production.env").read_text(encoding="utf-8")
    assert "\nLETTERS_PRINT_WHEN_UNREAD=true\n" in production
    rule = build_pipeline(stack.settings, stack.ledger).service.profile.print_when_unread
    assert rule.letter_types == {
        LetterType.INKASSOVARSEL,
        LetterType.BETALINGSOPPFORDRING,
        LetterType.VARSEL_RETTSLIG_PAGANG,
    }
    pipeline = build_pipeline(stack.settings, stack.ledger)
    names = {t.name for t in periodic_tasks(stack.settings, stack.ledger, pipeline)}
    assert "print when unread" in names
    off = Settings.from_env({**stack.env, "LETTERS_PRINT_WHEN_UNREAD": "false"})
    assert "print when unread" not in {t.name for t in periodic_tasks(off, stack.ledger, pipeline)}
