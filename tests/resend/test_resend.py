"""Bulk re-send jobs: selection and dry run, copy and renew, resuming, the rate, the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from channels.base import ChannelSet, OutgoingLetter, Receipt
from channels.digipost.channel import delivery_ids
from channels.digipost.double.store import DoubleStore
from letters.cli import main
from letters.config import PROJECT_ROOT, Rate
from letters.digests import sha256_hex
from letters.domain.deadline import payment_deadline
from letters.domain.letter_types import LetterType
from letters.ledger import LetterStatus
from letters.ledger.passwords import verify_login
from letters.ledger.resend_jobs import ItemStatus, new_letter_id
from letters.resend.pace import RateLimiter
from letters.resend.resender import renewal_request
from letters.resend.selection import Selection, SelectionError
from tests.support.pdf import plain_text
from tests.support.rendering import GOLDEN_DIR
from tests.support.resend import DIGIPOST_SAMPLES, PRINT_SAMPLES, ResendHarness, password_in, sample
from tests.support.stacks import Stack, wait_for

ALL = [*DIGIPOST_SAMPLES, *PRINT_SAMPLES]


@pytest.fixture
def harness(tmp_path: Path) -> Any:
    h = ResendHarness(tmp_path)
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def cli(harness: ResendHarness, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    """Run ``letters …`` in this process on the harness's settings; (code, stdout, stderr)."""
    for name in [n for n in __import__("os").environ if n.startswith("LETTERS_")]:
        monkeypatch.delenv(name)
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


# -- selection and the dry run -------------------------------------------------------------


def test_dry_run_counts_match_the_selection(harness: ResendHarness, cli: Any) -> None:
    ids = harness.send(*(sample(name) for name in ALL + ALL))
    records = [harness.record(i) for i in ids]
    attempts_before = len(DoubleStore(harness.settings.digipost.double_dir).documents())
    rows_before = _rows(harness)

    code, out, _ = cli("resend", "--dry-run", "--json", "--type", "purring", "--type",
                       "inkassovarsel")  # fmt: skip
    assert code == 0
    shown = json.loads(out)
    matching = [r for r in records if r.letter_type in ("purring", "inkassovarsel")]
    # Print letters wait in an open batch: still on their way, so left out.
    wanted = [r for r in matching if r.status is not LetterStatus.BATCHED]
    assert shown["letters"] == len(wanted) == 4
    assert shown["left_out"] == {"still on its way (batched)": len(matching) - len(wanted)}
    assert len(matching) == 6
    assert shown["by_type"] == dict(Counter(r.letter_type for r in wanted))
    assert shown["by_channel"] == dict(Counter(r.channel for r in wanted))
    assert shown["by_status"] == dict(Counter(r.status.value for r in wanted))
    assert {s["letter_id"] for s in shown["sample"]} == {r.letter_id for r in wanted}

    code, out, _ = cli("resend", "--dry-run", "--json", "--sent-via", "print")
    shown = json.loads(out)
    assert shown["letters"] == 0
    assert shown["left_out"] == {"still on its way (batched)": 4}

    # Nothing was created or sent by a dry run: no job, no item, no letter, no delivery.
    assert _rows(harness) == rows_before == {"resend_jobs": 0, "resend_items": 0, "letters": 10}
    assert len(DoubleStore(harness.settings.digipost.double_dir).documents()) == attempts_before


def test_a_selection_is_counted_and_streamed_not_held(harness: ResendHarness) -> None:
    """The result keeps counts and a sample, never the letters; the job is written from a
    stream, in the order of the letters' dates, and all or nothing."""
    ids = harness.send(*(sample(name) for name in DIGIPOST_SAMPLES + DIGIPOST_SAMPLES))
    selection = Selection(channels=("digipost",))
    result = selection.select(harness.ledger, "copy", sample_size=2)
    assert result.count == len(ids) and len(result.sample) == 2
    assert not hasattr(result, "letters")

    chosen = selection.chosen(harness.ledger, "copy")
    assert not isinstance(chosen, list | tuple)  # a generator: nothing is read before it is asked
    streamed = list(chosen)
    assert sorted(s.letter_id for s in streamed) == sorted(ids)
    keys = [(s.letter_date, s.case_number, s.letter_id) for s in streamed]
    assert keys == sorted(keys)

    def failing_half_way() -> Any:
        for number, letter in enumerate(selection.chosen(harness.ledger, "copy")):
            if number == len(ids) // 2:
                raise RuntimeError("the selection broke off")
            yield letter

    with pytest.raises(RuntimeError):
        harness.store.create("job-half", "copy", None, selection.to_json(), failing_half_way())
    assert harness.store.get("job-half") is None
    assert _rows(harness)["resend_items"] == 0

    job = harness.store.create("job-whole", "copy", None, selection.to_json(), iter(streamed))
    assert job.item_count == len(ids)


def _rows(harness: ResendHarness) -> dict[str, int]:
    """How many jobs, job items and letters the ledger holds."""
    from sqlalchemy import func, select

    from letters.ledger.schema import letters, resend_items, resend_jobs

    with harness.ledger.transaction() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (resend_jobs, resend_items, letters)
        }


def test_a_selection_that_matches_nothing_says_so_and_exits_0(
    harness: ResendHarness, cli: Any
) -> None:
    harness.send(sample("purring-nb-plain"))
    rows_before = _rows(harness)
    code, _, err = cli("resend", "--mode", "copy", "--yes", "--from", "2020-01-01",
                         "--to", "2020-01-31")  # fmt: skip
    assert code == 0
    assert "0 letter(s) selected" in err
    assert "no letters match the selection; nothing to do" in err
    assert _rows(harness) == rows_before  # no job was made


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "purr"], "--type: 'purr' is not a letter type (purring, inkassovarsel"),
        (["--from", "2026-12-01", "--to", "2026-11-01"], "--from 2026-12-01 is after --to"),
        (["--from", "2026-13-01"], "not a date (YYYY-MM-DD): '2026-13-01'"),
        (["--sent-via", "fax"], "--sent-via: 'fax' is not a channel (digipost, print)"),
        (["--status", "lost"], "--status: 'lost' is not a letter status"),
        (["--type", "purring", "--rate", "fast"], "not a rate like 20/s"),
        ([], "no selection: give --letters, --cases"),
        (["--letters", "missing.txt"], "--letters missing.txt: cannot be read"),
        (["--letters", "{ids}"], "line 2: is not a letter id (a UUID)"),
        (["--cases", "{cases}"], "line 1: is not a case number"),
        (["--type", "purring", "--mode", "resend"], "invalid choice: 'resend'"),
    ],
)
def test_a_bad_filter_is_a_clear_error(
    harness: ResendHarness, cli: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61\nKari Nordmann\n", encoding="utf-8")
    cases = tmp_path / "cases.txt"
    cases.write_text("case one\n", encoding="utf-8")
    args = [a.format(ids=ids, cases=cases) for a in args]
    code, _, err = cli("resend", "--dry-run", *args)
    assert code == 2
    assert message in err
    assert "Kari" not in err  # a bad line is named by its number, not its text


def test_closed_and_paid_cases_are_left_out_until_opened_again(
    harness: ResendHarness, cli: Any
) -> None:
    ids = harness.send(*(sample(name) for name in DIGIPOST_SAMPLES))
    paid = harness.record(ids[0]).case_number
    assert cli("case", paid, "--set", "paid", "--note", "paid in full")[0] == 0

    _, out, _ = cli("resend", "--dry-run", "--json", "--sent-via", "digipost")
    shown = json.loads(out)
    assert shown["letters"] == 2
    assert shown["left_out"] == {"case paid": 1}
    # The case's state is the law here: to re-send, the case is opened again first.
    assert cli("case", paid, "--set", "open", "--note", "payment reversed")[0] == 0
    _, out, _ = cli("resend", "--dry-run", "--json", "--sent-via", "digipost")
    assert json.loads(out)["letters"] == 3

    # A case closed after the job was made is skipped when its turn comes.
    job = harness.create_job(Selection(channels=("digipost",)), "copy")
    closed = harness.record(ids[1]).case_number
    cli("case", closed, "--set", "closed")
    report = harness.run(job)
    # The case opened again above is in the job now.
    assert report.counts == Counter({ItemStatus.SENT: 2, ItemStatus.SKIPPED: 1})
    skipped = harness.store.items(job.job_id, (ItemStatus.SKIPPED,))
    assert [(i.source_letter_id, i.detail) for i in skipped] == [
        (ids[1], "case closed since the job was created")
    ]
    assert harness.ledger.get(skipped[0].new_letter_id) is None


# -- copy and renew ------------------------------------------------------------------------


def test_copy_resends_the_identical_pdf_bytes(harness: ResendHarness) -> None:
    ids = harness.send(*(sample(name) for name in DIGIPOST_SAMPLES))
    job = harness.create_job(Selection(letter_ids=tuple(ids)), "copy")
    report = harness.run(job)
    assert report.counts == Counter({ItemStatus.SENT: 3})

    double = DoubleStore(harness.settings.digipost.double_dir)
    for source_id in ids:
        copy_id = new_letter_id(job.job_id, source_id)
        source, copy = harness.record(source_id), harness.record(copy_id)
        original_pdf = harness.pdf(source_id)
        # What reached Digipost for the copy is the archived PDF, byte for byte.
        _, original_doc = delivery_ids(source_id)
        _, copy_doc = delivery_ids(copy_id)
        assert double.pdf(copy_doc) == original_pdf == double.pdf(original_doc)
        assert copy_doc != original_doc
        assert copy.archive_key == source.archive_key
        assert copy.pdf_sha256 == source.pdf_sha256 == sha256_hex(original_pdf)
        assert (copy.origin_letter_id, copy.resend_job_id, copy.resend_mode) == (
            source_id,
            job.job_id,
            "copy",
        )
        assert copy.status is LetterStatus.DELIVERED
        assert copy.otp_hash is None  # the password in the PDF is the original's
        # The original's own record is untouched.
        assert harness.record(source_id).provider_ref == source.provider_ref


def test_copy_to_print_joins_a_new_batch_with_the_archived_pdf(harness: ResendHarness) -> None:
    from letters.delivery.print_dispatch import open_dispatcher

    ids = harness.send(*(sample(name) for name in PRINT_SAMPLES))
    first = open_dispatcher(harness.settings, harness.ledger).run(cut_all=True)
    assert [s.letters for s in first.sent] == [2]
    job = harness.create_job(Selection(batch_ids=(first.sent[0].batch_id,)), "copy")
    assert job.item_count == 2
    assert harness.run(job).counts == Counter({ItemStatus.SENT: 2})
    copies = [harness.record(new_letter_id(job.job_id, i)) for i in ids]
    assert {c.status for c in copies} == {LetterStatus.BATCHED}
    assert {c.provider_ref for c in copies} != {first.sent[0].batch_id}
    second = open_dispatcher(harness.settings, harness.ledger).run(cut_all=True)
    assert [s.letters for s in second.sent] == [2]
    manifest = json.loads(Path(second.sent[0].location).read_text(encoding="utf-8"))
    assert sorted(m["letter_id"] for m in manifest["letters"]) == sorted(
        c.letter_id for c in copies
    )


def test_renew_gives_a_new_deadline_and_password_and_the_old_one_stops_working(
    harness: ResendHarness,
) -> None:
    # Both letters dated where the rate table has every half-year they reach, whatever
    # day the suite runs (a letter dated past the table's end is stopped, on purpose).
    harness.pipeline.clock = lambda: datetime(2026, 11, 2, 9, tzinfo=UTC)
    [source_id] = harness.send(sample("inkassovarsel-en-plain"))
    source = harness.record(source_id)
    assert source.letter_date == date(2026, 11, 2)
    old_password = password_in(plain_text(harness.pdf(source_id)))
    assert source.letter_date is not None and source.deadline is not None
    peppers = [harness.pipeline.service.pepper]
    assert verify_login(
        harness.ledger, source.case_number, old_password, source.letter_date, peppers
    )

    later = source.letter_date + timedelta(days=30)
    job = harness.create_job(Selection(letter_ids=(source_id,)), "renew")
    assert harness.run(job, today=later).counts == Counter({ItemStatus.SENT: 1})

    renewed = harness.record(new_letter_id(job.job_id, source_id))
    assert renewed.origin_letter_id == source_id and renewed.resend_mode == "renew"
    assert renewed.letter_date == later
    # The deadline follows the legal rule from the new letter date, never shorter.
    expected = payment_deadline(
        LetterType.INKASSOVARSEL, later, harness.pipeline.service.profile.deadline_days, None
    )
    assert renewed.deadline == expected >= later + timedelta(days=14)
    assert renewed.deadline > source.deadline
    text = plain_text(harness.pdf(renewed.letter_id))
    new_password = password_in(text)
    assert new_password != old_password
    assert renewed.pdf_sha256 != source.pdf_sha256
    assert renewed.kid == source.kid and renewed.case_number == source.case_number

    assert verify_login(harness.ledger, source.case_number, new_password, later, peppers) == (
        renewed.letter_id
    )
    assert (
        verify_login(harness.ledger, source.case_number, old_password, source.letter_date, peppers)
        is None
    )
    assert harness.record(source_id).otp_revoked_at is not None
    assert "password-revoked" in [e.event for e in harness.ledger.history(source_id)]


def test_a_renewal_keeps_an_asked_deadline_only_while_it_is_later() -> None:
    original = json.loads(
        (GOLDEN_DIR / "inkassovarsel" / "nb" / "plain" / "request.json").read_bytes()
    )
    today = date(2027, 1, 4)
    asked_past = renewal_request({**original, "deadline": "2026-12-01"}, "new-id", today)
    assert "deadline" not in asked_past
    assert asked_past["letter_date"] == "2027-01-04" and asked_past["letter_id"] == "new-id"
    asked_later = renewal_request({**original, "deadline": "2027-03-01"}, "new-id", today)
    assert asked_later["deadline"] == "2027-03-01"
    # Either way the deadline is never under the legal minimum from the new date.
    shortest = payment_deadline(LetterType.INKASSOVARSEL, today, {}, None)
    assert payment_deadline(LetterType.INKASSOVARSEL, today, {}, date(2027, 1, 10)) == shortest
    assert shortest >= today + timedelta(days=14)


def test_forcing_print_overrides_routing_and_digipost_never_overrides_consent(
    harness: ResendHarness,
) -> None:
    digital = harness.send(sample("purring-nb-plain"))
    printed = harness.send(sample("purring-en-foreign_address"))
    from letters.delivery.print_dispatch import open_dispatcher

    open_dispatcher(harness.settings, harness.ledger).run(cut_all=True)

    routed = harness.create_job(Selection(letter_ids=tuple(digital)), "copy", "routed")
    harness.run(routed)
    assert harness.record(new_letter_id("routed", digital[0])).channel == "digipost"

    forced = harness.create_job(Selection(letter_ids=tuple(digital)), "copy", "forced", "print")
    harness.run(forced)
    copy = harness.record(new_letter_id("forced", digital[0]))
    assert (copy.channel, copy.status) == ("print", LetterStatus.BATCHED)
    assert copy.route_reason == "forced by re-send job forced"

    no_consent = harness.create_job(Selection(letter_ids=tuple(printed)), "copy", "dp", "digipost")
    assert harness.run(no_consent).counts == Counter({ItemStatus.FAILED: 1})
    [item] = harness.store.items("dp")
    assert item.detail is not None and "has not consented" in item.detail
    assert harness.ledger.get(item.new_letter_id) is None


def test_failures_are_reported_with_reasons_as_text_and_json(
    harness: ResendHarness, cli: Any, tmp_path: Path
) -> None:
    ids = harness.send(*(sample(name) for name in DIGIPOST_SAMPLES))
    # Someone changed one archived PDF: the copy must not go out.
    tampered = Path(harness.settings.archive_url) / str(harness.record(ids[1]).archive_key)
    tampered.write_bytes(tampered.read_bytes() + b"%tampered\n")
    listing = tmp_path / "ids.txt"
    listing.write_text("\n".join(ids) + "\n", encoding="utf-8")
    report_file = tmp_path / "report.json"

    code, out, _ = cli("resend", "--letters", str(listing), "--mode", "copy", "--job", "t1",
                       "--report", str(report_file))  # fmt: skip
    assert code == 1
    assert "job t1 (copy, 3 letters): 2 sent, 0 skipped, 1 failed" in out
    assert f"failed   {ids[1]}" in out and "the PDF differs from the one recorded" in out
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert (report["sent"], report["failed"], report["pending"]) == (2, 1, 0)
    [failed] = report["failed_letters"]
    assert failed["letter_id"] == ids[1]
    assert "differs from the one recorded" in failed["reason"]
    assert report["this_run"]["handled"] == 3


def test_a_large_job_asks_first(harness: ResendHarness, cli: Any, monkeypatch: Any) -> None:
    harness.send(*(sample(name) for name in DIGIPOST_SAMPLES))
    monkeypatch.setenv("LETTERS_RESEND_CONFIRM_OVER", "2")
    code, _, err = cli("resend", "--sent-via", "digipost", "--mode", "copy", "--job", "big")
    assert code == 2
    assert "3 letters is over LETTERS_RESEND_CONFIRM_OVER (2): add --yes" in err
    assert harness.store.get("big") is None
    code, _, _ = cli("resend", "--sent-via", "digipost", "--mode", "copy", "--job", "big", "--yes")
    assert code == 0
    assert harness.store.counts("big") == Counter({"sent": 3})


def test_a_job_continued_with_other_options_is_refused(harness: ResendHarness, cli: Any) -> None:
    harness.send(*(sample(name) for name in DIGIPOST_SAMPLES))
    assert cli("resend", "--sent-via", "digipost", "--mode", "copy", "--job", "j")[0] == 0
    code, _, err = cli("resend", "--job", "j", "--mode", "renew")
    assert code == 2
    assert "--job j exists with --mode copy" in err
    code, _, err = cli("resend", "--job", "j", "--type", "purring")
    assert code == 2 and "its selection" in err
    code, out, _ = cli("resend", "--job", "j")
    assert code == 0 and "3 done in earlier runs" in out


# -- the rate --------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _Timed:
    """A channel that notes the (fake) time of every letter that reaches it."""

    def __init__(self, inner: Any, clock: _Clock, times: list[float]) -> None:
        self.inner, self.clock, self.times = inner, clock, times
        self.name = inner.name

    def send(self, letter: OutgoingLetter) -> Receipt:
        self.times.append(self.clock())
        return self.inner.send(letter)  # type: ignore[no-any-return]

    def sending_day(self, now: Any) -> date:
        return self.inner.sending_day(now)  # type: ignore[no-any-return]


def test_the_rate_limit_holds(harness: ResendHarness) -> None:
    ids = harness.send(*(sample(name) for name in DIGIPOST_SAMPLES * 4))
    clock, times = _Clock(), []
    channels = harness.pipeline.channels
    harness.pipeline.channels = ChannelSet(
        {name: _Timed(ch, clock, times) for name, ch in channels.channels.items()},
        channels.directory,
    )
    job = harness.create_job(Selection(letter_ids=tuple(ids)), "copy")
    harness.run(job, RateLimiter(Rate.parse("4/s"), clock=clock, sleep=clock.sleep))

    assert len(times) == 12
    # Count the letters in every one-second window that starts at a send: never over 4.
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest == 4
    assert times[-1] - times[0] == pytest.approx(11 / 4)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("20/s", 20), ("600/min", 10), ("1800/h", 0.5), ("2.5", 2.5), ("3 / s", 3)],
)
def test_rates_are_read_per_second_minute_or_hour(text: str, per_second: float) -> None:
    assert Rate.parse(text).per_second == per_second


@pytest.mark.parametrize("text", ["", "fast", "0/s", "-1/s", "5/day"])
def test_a_bad_rate_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a rate like 20/s"):
        Rate.parse(text)


def test_an_empty_selection_is_refused() -> None:
    with pytest.raises(SelectionError, match="no selection"):
        Selection()


# -- stopping and resuming, in real processes ------------------------------------------------


def _sent_stack(embedded: Stack, names: list[str]) -> list[str]:
    requests = [sample(name) for name in names]
    embedded.publish(*requests)
    embedded.run_worker()
    return [r["letter_id"] for r in requests]


def _resend(embedded: Stack, *args: str) -> subprocess.Popen[bytes]:
    """``letters resend`` in the background; what it prints goes to ``resend.log``."""
    with open(_log(embedded), "ab") as log:
        return subprocess.Popen(
            embedded.command("resend", *args),
            env=embedded.process_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )


def _log(embedded: Stack) -> Path:
    return Path(embedded.env["LETTERS_VAR_DIR"]) / "resend.log"


def test_a_job_killed_half_way_and_resumed_sends_each_letter_once(embedded: Stack) -> None:
    sent = _sent_stack(embedded, DIGIPOST_SAMPLES * 3)
    # The job's order: by letter date, case number and letter id.
    records = embedded.ledger.letters_in(sent)
    ids = [r.letter_id for r in sorted(records, key=lambda r: (r.case_number, r.letter_id))]
    job_id = "killed"
    copies = [new_letter_id(job_id, i) for i in ids]
    # The fifth letter is delivered, then the job hangs before the ledger hears of it.
    embedded.plan({copies[4]: ["deliver-then-hang", "ok"]})
    listing = Path(embedded.env["LETTERS_VAR_DIR"]) / "ids.txt"
    listing.write_text("\n".join(ids), encoding="utf-8")

    args = ("--letters", str(listing), "--mode", "copy", "--job", job_id, "--rate", "50/s")
    first = _resend(embedded, *args)
    try:
        wait_for(lambda: (embedded.outbox / "digipost" / f"{copies[4]}.json").exists(),
                 what="the fifth copy to be delivered")  # fmt: skip
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    counts = embedded_counts(embedded, job_id)
    assert counts["sent"] == 4 and counts["pending"] == 5

    second = embedded.run("resend", "--job", job_id)
    assert second.returncode == 0, second.stderr
    assert "job killed (copy, 9 letters): 9 sent" in second.stdout
    assert "4 done in earlier runs" in second.stdout

    delivered = [r["letter_id"] for r in embedded.delivered("digipost")]
    assert sorted(set(delivered) - set(ids)) == sorted(copies)
    assert len(delivered) == len(set(delivered))
    # Every copy reached the channel once, but the one in hand when the job died: twice, the
    # second time answered as a duplicate.
    tries = Counter(a["letter_id"] for a in _attempts(embedded) if a["letter_id"] in copies)
    assert tries == Counter({**{c: 1 for c in copies}, copies[4]: 2})
    for copy in copies:
        events = embedded.events(copy)
        assert events.count("delivered") == 1, (copy, events)


def test_ctrl_c_finishes_the_letter_in_hand_and_the_job_continues(embedded: Stack) -> None:
    ids = _sent_stack(embedded, DIGIPOST_SAMPLES * 2)
    listing = Path(embedded.env["LETTERS_VAR_DIR"]) / "ids.txt"
    listing.write_text("\n".join(ids), encoding="utf-8")
    first = _resend(embedded, "--letters", str(listing), "--mode", "copy", "--job", "ctrl-c",
                    "--rate", "2/s")  # fmt: skip
    try:
        wait_for(lambda: embedded_counts(embedded, "ctrl-c")["sent"] >= 2, what="two copies")
        first.send_signal(signal.SIGINT)
        first.wait(timeout=60)
    finally:
        first.kill()
    err = _log(embedded).read_text(encoding="utf-8")
    assert first.returncode == 130, err
    assert "stopped; run `letters resend --job ctrl-c` to continue" in err
    counts = embedded_counts(embedded, "ctrl-c")
    assert 2 <= counts["sent"] < 6 and counts["sent"] + counts["pending"] == 6

    second = embedded.run("resend", "--job", "ctrl-c", "--json")
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert (report["sent"], report["pending"]) == (6, 0)
    assert report["this_run"]["done_in_earlier_runs"] == counts["sent"]
    delivered = [r["letter_id"] for r in embedded.delivered("digipost")]
    assert len(delivered) == len(set(delivered)) == 12


@pytest.mark.services
def test_a_copy_job_on_rabbitmq_and_postgresql(rabbit_pg: Stack) -> None:
    ids = _sent_stack(rabbit_pg, ALL)
    result = rabbit_pg.run("resend", "--sent-via", "digipost", "--mode", "copy", "--job", "pg",
                           "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["letters"], report["sent"]) == (3, 3)
    copies = {new_letter_id("pg", i) for i in ids[: len(DIGIPOST_SAMPLES)]}
    assert copies <= {r["letter_id"] for r in rabbit_pg.delivered("digipost")}
    for copy in copies:
        assert rabbit_pg.events(copy).count("delivered") == 1


def embedded_counts(stack: Stack, job_id: str) -> Counter[str]:
    from letters.ledger.resend_jobs import JobStore

    return JobStore(stack.ledger).counts(job_id)


def _attempts(stack: Stack) -> list[dict[str, Any]]:
    from channels.fake import read_attempts

    return read_attempts(stack.outbox)
