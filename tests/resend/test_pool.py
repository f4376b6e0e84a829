"""A re-send job in several processes: each letter once, each case whole, resumable."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from datetime import datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from channels.fake import CRASH_EXIT_CODE
from letters.config import PROJECT_ROOT
from letters.ledger.resend_jobs import Item, ItemStatus, JobStore, new_letter_id
from letters.resend.pool import case_groups
from tests.support.resend import DIGIPOST_SAMPLES, PRINT_SAMPLES, sample
from tests.support.stacks import Stack, wait_for

_ITEMS = st.lists(st.sampled_from([f"2026-{n:05d}" for n in range(12)]), max_size=40)


@given(cases=_ITEMS)
def test_every_letter_is_in_one_group_and_each_case_stays_whole_in_order(
    cases: list[str],
) -> None:
    items = [
        Item(f"source-{n}", f"new-{n}", case, n, ItemStatus.PENDING, None, 0, None)
        for n, case in enumerate(cases)
    ]
    groups = case_groups(items)
    assert sorted(i.position for group in groups for i in group) == list(range(len(items)))
    for group in groups:
        assert len({i.case_number for i in group}) == 1
        assert [i.position for i in group] == sorted(i.position for i in group)
    assert len(groups) == len(set(cases))
    # The cases come in the order of their first letter in the job.
    assert [g[0].position for g in groups] == sorted(g[0].position for g in groups)


def _sent(stack: Stack, names: list[str]) -> list[str]:
    requests = [sample(name) for name in names]
    stack.publish(*requests)
    stack.run_worker()
    return [r["letter_id"] for r in requests]


def _renew(stack: Stack, ids: list[str], job_id: str) -> subprocess.CompletedProcess[str]:
    listing = Path(stack.env["LETTERS_VAR_DIR"]) / f"{job_id}.txt"
    listing.write_text("\n".join(ids), encoding="utf-8")
    return stack.run("resend", "--letters", str(listing), "--mode", "renew", "--job", job_id,
                     "--processes", "2", "--rate", "100/s", "--json")  # fmt: skip


def test_a_renew_job_in_two_processes_sends_each_renewal_once(embedded: Stack) -> None:
    ids = _sent(embedded, (DIGIPOST_SAMPLES + PRINT_SAMPLES) * 2)
    result = _renew(embedded, ids, "pool")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["letters"], report["sent"], report["pending"]) == (10, 10, 0)
    assert report["this_run"]["handled"] == 10
    # Both processes took cases: one did not do the job while the other stood idle.
    shares = report["this_run"]["handled_by_process"]
    assert len(shares) == 2 and sum(shares) == 10 and min(shares) > 0, shares

    renewals = {new_letter_id("pool", i) for i in ids}
    delivered = [r["letter_id"] for r in embedded.delivered()]
    assert sorted(set(delivered) & renewals) == sorted(renewals)
    assert len(delivered) == len(set(delivered))
    for renewal in renewals:
        record = embedded.ledger.get(renewal)
        assert record is not None and record.status in ("delivered", "batched"), record
        assert record.letter_date is not None
        # Rendered again, in the process that took it: its own PDF, dated today or later.
        assert record.pdf_sha256 and record.resend_mode == "renew"
        assert record.letter_date >= datetime.now().date()


def test_a_process_killed_mid_letter_leaves_its_letters_to_do_and_the_rerun_sends_each_once(
    embedded: Stack,
) -> None:
    ids = _sent(embedded, DIGIPOST_SAMPLES * 3)
    renewals = [new_letter_id("crash", i) for i in ids]
    # One renewal ends its process at once, as a fatal bug or the OOM killer would.
    embedded.plan({renewals[0]: ["crash", "ok"]})

    first = _renew(embedded, ids, "crash")
    assert first.returncode == 1, first.stderr
    assert f"(exit code {CRASH_EXIT_CODE}); the letters it had not recorded stay to do" in (
        first.stderr
    )
    counts = JobStore(embedded.ledger).counts("crash")
    assert counts["sent"] < 9 and counts["sent"] + counts["pending"] == 9

    second = _renew(embedded, ids, "crash")
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert (report["sent"], report["pending"]) == (9, 0)
    assert report["this_run"]["done_in_earlier_runs"] == counts["sent"]

    delivered = [r["letter_id"] for r in embedded.delivered("digipost")]
    assert sorted(set(delivered) & set(renewals)) == sorted(renewals)
    assert len(delivered) == len(set(delivered))
    tries = Counter(a for a in embedded.attempts(renewals[0]))
    assert tries == Counter({"crash": 1, "ok": 1})
    for renewal in renewals:
        assert embedded.events(renewal).count("delivered") == 1


def test_a_job_whose_command_is_killed_stops_its_processes_and_resumes_once(
    embedded: Stack,
) -> None:
    ids = _sent(embedded, DIGIPOST_SAMPLES * 2)
    listing = Path(embedded.env["LETTERS_VAR_DIR"]) / "killed.txt"
    listing.write_text("\n".join(ids), encoding="utf-8")
    args = ("resend", "--letters", str(listing), "--mode", "renew", "--job", "killed-parent",
            "--processes", "2", "--rate", "1/s")  # fmt: skip
    command = subprocess.Popen(
        embedded.command(*args), env=embedded.process_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT,
    )  # fmt: skip
    try:
        wait_for(lambda: JobStore(embedded.ledger).counts("killed-parent")["sent"] >= 1,
                 what="a first renewal")  # fmt: skip
        assert _running("killed-parent")  # the look below can see them
        command.send_signal(signal.SIGKILL)
        command.wait(timeout=30)
    finally:
        command.kill()
    # Its processes notice, finish the letter in hand and stop.
    wait_for(lambda: not _running("killed-parent"), timeout=60, what="the processes to stop")
    counts = JobStore(embedded.ledger).counts("killed-parent")
    assert counts["sent"] < 6 and counts["sent"] + counts["pending"] == 6

    again = _renew(embedded, ids, "killed-parent")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["sent"] == 6
    renewals = [new_letter_id("killed-parent", i) for i in ids]
    delivered = [r["letter_id"] for r in embedded.delivered("digipost")]
    assert sorted(set(delivered) & set(renewals)) == sorted(renewals)
    assert len(delivered) == len(set(delivered))


def _running(job_id: str) -> bool:
    pattern = f"resend .*job {job_id}"
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, check=False)
    return found.returncode == 0
