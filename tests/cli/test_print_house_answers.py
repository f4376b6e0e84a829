"""The print house answers, end to end through the commands, on the embedded stack and on
RabbitMQ + PostgreSQL: each step runs as its own process on a day the test sets
(faketime), so the suite passes on any day of any year.

A batch goes to the print house on Monday 1 March 2027, to be posted on the 2nd.
The local print house posts it two working days late; a letter of it comes
back. The next letter of each case is then held: by the law's later
deadline for the one, by the return for the other.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.print_post.sheet_codes import letter_code
from letters.ledger import LetterStatus
from letters.ledger.dead_letters import DeadLetterStore
from letters.ledger.gauges import read_gauges
from letters.ledger.outbox import Outbox
from tests.support.posting import same_case
from tests.support.stacks import Stack, sample_request

# Times in UTC for faketime; Oslo is an hour ahead in March.
MONDAY_MORNING = "2027-03-01 09:00:00"


def _at(stack: Stack, when: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A command run as if it were ``when`` (UTC)."""
    return subprocess.run(
        ["faketime", when, *stack.command(*args)],
        env=stack.process_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr[-3000:])
    return result.stdout


def _printed(name: str) -> dict[str, Any]:
    request = sample_request(name)
    request["recipient"]["digital_consent"] = False
    return request


@pytest.fixture(params=["embedded", pytest.param("rabbit_pg", marks=pytest.mark.services)])
def stack(request: pytest.FixtureRequest) -> Stack:
    found: Stack = request.getfixturevalue(request.param)
    found.env["LETTERS_CHANNEL_PRINT"] = "print_post"
    if shutil.which("faketime") is None:
        pytest.fail("faketime is missing: ./dev test installs Debian's faketime package")
    return found


def test_receipts_and_returns_hold_the_next_letter_of_each_case(stack: Stack) -> None:
    late, back = _printed("inkassovarsel-nb-plain"), _printed("inkassovarsel-en-plain")
    stack.publish(late, back)
    _ok(_at(stack, MONDAY_MORNING, "worker", "--until-empty"))
    _ok(_at(stack, MONDAY_MORNING, "print", "cut"))
    batches = stack.ledger.batches
    [batch] = batches.batches()
    assert batch.planned_posting_day == date(2027, 3, 2)
    drop = Path(stack.settings.print.url)

    # No receipt by Friday (posting day + 2 working days): the alert's gauge counts it.
    friday = datetime(2027, 3, 5, 8, tzinfo=UTC)
    assert read_gauges(stack.ledger, friday, receipt_wait=2).batches_without_receipt == 1

    # A receipt that leaves a letter out is refused whole, with its reason beside it.
    before = stack.ledger.history(late["letter_id"])
    short = {
        "schema": "letters.print-receipt/1",
        "batch_id": batch.batch_id,
        "posted_on": "2027-03-04",
        "letters": [{"letter_id": late["letter_id"], "outcome": "posted"}],
    }
    (drop / "receipts").mkdir(parents=True, exist_ok=True)
    (drop / "receipts" / "short.json").write_text(json.dumps(short))
    refused = _at(stack, "2027-03-04 10:00:00", "print", "receipts")
    assert refused.returncode == 1
    assert "refused receipts/short.json: receipt refused: letters: 1 letter(s)" in refused.stderr
    assert sorted(p.suffix for p in (drop / "receipts" / "refused").iterdir()) == [".json", ".txt"]
    assert stack.ledger.history(late["letter_id"]) == before
    assert batches.get(batch.batch_id).status == "sent"

    # The print house posts on Thursday, two working days late.
    house = _ok(_at(stack, "2027-03-04 11:00:00", "print", "house", "--late", "2"))
    assert f"posted {batch.batch_id} on 2027-03-04" in house
    # The worker reads it between messages (LETTERS_PRINT_RECEIPTS_INTERVAL).
    _ok(_at(stack, "2027-03-04 12:00:00", "worker", "--until-empty"))
    assert "no receipt to read" in _ok(_at(stack, "2027-03-04 12:00:00", "print", "receipts"))
    posted = batches.get(batch.batch_id)
    assert posted is not None and posted.status == "posted"
    assert posted.posted_on == date(2027, 3, 4) and posted.receipt_name == f"{batch.batch_id}.json"
    listed = _ok(_at(stack, "2027-03-04 12:00:00", "print", "batches"))
    assert f"posted 2027-03-04, 2027-03-02 planned (receipt {batch.batch_id}.json)" in listed
    assert read_gauges(stack.ledger, friday, receipt_wait=2).batches_without_receipt == 0
    first = stack.ledger.get(late["letter_id"])
    assert first is not None and first.posted_on == date(2027, 3, 4)
    assert first.deadline == date(2027, 3, 16) and first.lawful_deadline == date(2027, 3, 18)
    late_event = [
        e for e in Outbox(stack.ledger).for_letter(first.letter_id) if e.kind == "posted_late"
    ]
    assert json.loads(late_event[0].body)["details"]["next_step_on"] == "2027-03-19"
    status = _ok(_at(stack, "2027-03-04 12:00:00", "status", first.letter_id))
    assert "next step not before 2027-03-19" in status

    # The print house drops the same receipt again: read, moved aside, nothing changed.
    history = stack.ledger.history(first.letter_id)
    [done] = (drop / "receipts" / "done").glob("*.json")
    shutil.copy(done, drop / "receipts" / f"{batch.batch_id}.json")
    again = _ok(_at(stack, "2027-03-04 13:00:00", "print", "receipts"))
    assert f"read before receipts/{batch.batch_id}.json: nothing changed" in again
    assert stack.ledger.history(first.letter_id) == history

    # The mailroom scans the other letter back: moved.
    returns = drop.parent / "mailroom.csv"
    returns.write_text(
        f"letter,reason,returned_on\n{letter_code(back['letter_id'])}:1/1,moved,2027-03-05\n"
    )
    recorded = _ok(_at(stack, "2027-03-05 10:00:00", "print", "returns", str(returns)))
    assert "1 returned letter(s) recorded, 0 recorded before, 0 row(s) refused" in recorded
    assert "0 returned letter(s) recorded, 1 recorded before" in _ok(
        _at(stack, "2027-03-05 10:05:00", "print", "returns", str(returns))
    )
    overview = _ok(_at(stack, "2027-03-05 10:00:00", "status"))
    assert "moved: 1 letter(s); next: get a new address from the case system" in overview
    assert back["letter_id"] in overview

    # The day the printed deadline has passed, neither case may take its next step.
    held = [
        same_case(late, "betalingsoppfordring-nb-plain"),
        same_case(back, "betalingsoppfordring-nb-plain"),
    ]
    stack.publish(*held)
    _ok(_at(stack, "2027-03-18 09:00:00", "worker", "--until-empty"))
    dead = DeadLetterStore(stack.ledger)
    [too_early] = dead.for_letter(held[0]["letter_id"])
    assert "deadline 2027-03-18" in too_early.reason and first.letter_id in too_early.reason
    [not_received] = dead.for_letter(held[1]["letter_id"])
    assert "came back as returned mail and was not received" in not_received.reason

    # The day after the law's deadline the late-posted case goes on.
    on_time = same_case(late, "betalingsoppfordring-nb-plain")
    stack.publish(on_time)
    _ok(_at(stack, "2027-03-19 09:00:00", "worker", "--until-empty"))
    record = stack.ledger.get(on_time["letter_id"])
    assert record is not None and record.status is LetterStatus.DELIVERED
