"""Lawful when posted, through real workers on the embedded default and on RabbitMQ +
PostgreSQL: letters.case/1 messages hold, withdraw, release and cancel letters; the
order of letters dead-letters a letter that comes too early; bad case messages are
dead-lettered naming the field; ``letters case``, ``letters cancel`` and ``letters
status`` show it all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from letters.digests import sha256_hex
from letters.ledger import LetterStatus
from tests.support.stacks import Stack, sample_request

STACKS = ["embedded", pytest.param("rabbit_pg", marks=pytest.mark.services)]


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> Stack:
    found: Stack = request.getfixturevalue(request.param)
    return found


def _case_message(case_number: str, state: str, **changes: Any) -> dict[str, Any]:
    return {
        "schema": "letters.case/1",
        "case_number": case_number,
        "state": state,
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        **changes,
    }


def _publish_file(stack: Stack, tmp_path: Path, *messages: dict[str, Any]) -> str:
    """``letters publish`` with files, as an operator would; its output."""
    paths = []
    for number, message in enumerate(messages):
        path = tmp_path / f"message-{number}-{sha256_hex(json.dumps(message).encode())[:8]}.json"
        path.write_text(json.dumps(message), encoding="utf-8")
        paths.append(str(path))
    result = stack.run("publish", *paths)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _status(stack: Stack, letter_id: str) -> dict[str, Any]:
    result = stack.run("status", letter_id, "--json")
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def _dead_reasons(stack: Stack) -> dict[str, str]:
    from sqlalchemy import select

    from letters.ledger.schema import dead_letters

    with stack.ledger.transaction() as conn:
        return {r.body_sha256: r.reason for r in conn.execute(select(dead_letters))}


def test_disputed_holds_a_letter_open_releases_it_and_it_is_delivered(
    stack: Stack, tmp_path: Path
) -> None:
    letter = sample_request("inkassovarsel-nb-plain")
    case_number = letter["case"]["case_number"]
    out = _publish_file(stack, tmp_path, _case_message(case_number, "disputed", reference="D-1"))
    assert "published 0 request(s) and 1 case change(s)" in out
    stack.publish(letter)
    stack.run_worker()

    held = _status(stack, letter["letter_id"])
    assert held["status"] == "held"
    assert held["status_reason"].startswith("case disputed since ")
    assert stack.delivered() == []
    text = stack.run("status", letter["letter_id"]).stdout
    assert "status held" in text and "why       case disputed since" in text

    _publish_file(stack, tmp_path, _case_message(case_number, "open"))
    stack.run_worker()
    record = stack.ledger.get(letter["letter_id"])
    assert record is not None and record.status is LetterStatus.DELIVERED
    assert [d["letter_id"] for d in stack.delivered()] == [letter["letter_id"]]
    events = stack.events(letter["letter_id"])
    assert events[:2] == ["accepted", "held"] and "requeued" in events
    assert events.count("delivered") == 1
    shown = stack.run("case", case_number)
    assert shown.returncode == 0
    assert f"case {case_number}: open" in shown.stdout
    assert "disputed  case system  D-1" in shown.stdout


def test_paid_cancels_a_held_letter(stack: Stack, tmp_path: Path) -> None:
    letter = sample_request("purring-nb-plain")
    case_number = letter["case"]["case_number"]
    stack.publish(_case_message(case_number, "on_hold"), letter)
    stack.run_worker()
    assert _status(stack, letter["letter_id"])["status"] == "held"

    stack.publish(_case_message(case_number, "paid"))
    stack.run_worker()
    shown = _status(stack, letter["letter_id"])
    assert shown["status"] == "cancelled"
    assert "case paid at" in shown["status_reason"]
    assert "the letter will not be sent" in shown["status_reason"]
    assert stack.delivered() == [] and stack.attempts() == []


def test_disputed_withdraws_a_letter_from_an_open_print_batch(stack: Stack) -> None:
    stack.env["LETTERS_CHANNEL_PRINT"] = "print_post"
    kept, withdrawn = sample_request("purring-nb-plain"), sample_request("purring-nb-plain")
    for request in (kept, withdrawn):
        request["recipient"]["digital_consent"] = False
    stack.publish(kept, withdrawn)
    stack.run_worker()
    assert _status(stack, withdrawn["letter_id"])["status"] == "batched"
    planned = _status(stack, withdrawn["letter_id"])["planned_posting_day"]
    assert planned is not None

    stack.publish(_case_message(withdrawn["case"]["case_number"], "disputed"))
    stack.run_worker()
    shown = _status(stack, withdrawn["letter_id"])
    assert shown["status"] == "withdrawn"
    assert "taken out of print batch" in shown["status_reason"]

    cut = stack.run("print", "cut", "--json")
    assert cut.returncode == 0, cut.stderr
    [batch] = json.loads(cut.stdout)["sent"]
    manifest_path = Path(stack.settings.print.url) / batch["batch_id"] / f"{batch['batch_id']}.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert [e["letter_id"] for e in manifest["letters"]] == [kept["letter_id"]]
    sent = _status(stack, kept["letter_id"])
    assert sent["status"] == "sent" and sent["posted_on"] is not None
    assert _status(stack, withdrawn["letter_id"])["status"] == "withdrawn"


def test_a_letter_too_early_for_the_order_of_letters_is_dead_lettered_naming_the_rule(
    stack: Stack,
) -> None:
    varsel = sample_request("inkassovarsel-nb-plain")
    stack.publish(varsel)
    stack.run_worker()
    demand = sample_request("betalingsoppfordring-nb-plain")
    demand["case"] = {**demand["case"], "case_number": varsel["case"]["case_number"]}
    demand["case"].pop("kid", None)
    demand["case"]["earlier_letters"] = []
    stack.publish(demand)
    stack.run_worker()

    reason = _dead_reasons(stack)[sha256_hex(json.dumps(demand).encode())]
    assert reason.startswith("letter_type: inkassoloven § 10 (1): a betalingsoppfordring")
    assert f"letter {varsel['letter_id']}" in reason and "deadline" in reason
    shown = _status(stack, demand["letter_id"])
    assert shown["status"] == "dead-lettered" and shown["status_reason"] == reason
    assert [d["letter_id"] for d in stack.delivered()] == [varsel["letter_id"]]
    # The letter is kept: the dead letter can be retried when its time comes.
    listed = stack.run("dead", "list")
    assert demand["letter_id"] in listed.stdout


BAD_CASE_MESSAGES = {
    "schema": ({"schema": "letters.case/2"}, 'schema: must be "letters.case/1"'),
    "case_number": ({"case_number": "2026 45127"}, "case_number: must be 2 to 32 digits"),
    "state": ({"state": "settled"}, "state: must be one of open, paid, closed, disputed"),
    "at": ({"at": "2026-11-24T10:15:00"}, "at: must be an ISO 8601 time with an offset"),
    "reference": ({"reference": "INN\u0007"}, "reference: "),
    "extra": ({"debtor": "Kari Nordmann"}, "debtor: is not a field of letters.case/1"),
}


def test_a_bad_case_message_in_each_field_is_dead_lettered_naming_the_field(
    stack: Stack,
) -> None:
    good_letter = sample_request("purring-nb-plain")
    bodies = {
        field: json.dumps(_case_message("2026-0045127", "paid") | change).encode()
        for field, (change, _) in BAD_CASE_MESSAGES.items()
    }
    stack.publish(*bodies.values(), good_letter)
    result = stack.run_worker()
    assert "Traceback" not in result.stderr

    reasons = _dead_reasons(stack)
    for field, (_, expected) in BAD_CASE_MESSAGES.items():
        assert reasons[sha256_hex(bodies[field])].startswith(expected), (field, reasons)
    assert len(reasons) == len(BAD_CASE_MESSAGES)
    # The worker lived: the letter queued behind them went out, its case untouched.
    assert [d["letter_id"] for d in stack.delivered()] == [good_letter["letter_id"]]
    shown = stack.run("case", "2026-0045127")
    assert "never set" in shown.stdout


def test_case_messages_out_of_order_and_repeated_resolve_by_their_time(stack: Stack) -> None:
    letter = sample_request("purring-nb-plain")
    case_number = letter["case"]["case_number"]
    earlier = _case_message(case_number, "disputed", at="2026-11-24T10:00:00+01:00")
    later = _case_message(case_number, "open", at="2026-11-25T10:00:00+01:00")
    stack.publish(later, earlier, earlier)
    stack.run_worker()
    stack.publish(letter)
    stack.run_worker()

    assert _status(stack, letter["letter_id"])["status"] == "delivered"
    shown = stack.run("case", case_number).stdout
    assert f"case {case_number}: open (2026-11-25T09:00:00+00:00)" in shown
    assert shown.count("disputed") == 1  # the repeat is not a second change


def test_letters_case_and_letters_cancel_by_hand(stack: Stack) -> None:
    held, delivered = sample_request("purring-nb-plain"), sample_request("inkassovarsel-nb-plain")
    set_by_hand = stack.run("case", held["case"]["case_number"], "--set", "on_hold",
                            "--note", "ring debtor")  # fmt: skip
    assert set_by_hand.returncode == 0, set_by_hand.stderr
    assert "on_hold" in set_by_hand.stdout and "operations  ring debtor" in set_by_hand.stdout
    stack.publish(held, delivered)
    stack.run_worker()
    assert _status(stack, held["letter_id"])["status"] == "held"

    cancelled = stack.run("cancel", held["letter_id"], "--reason", "sent in error")
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"cancelled {held['letter_id']}" in cancelled.stdout
    shown = _status(stack, held["letter_id"])
    assert shown["status"] == "cancelled"
    assert shown["status_reason"] == "cancelled by operations: sent in error"

    too_late = stack.run("cancel", delivered["letter_id"], "--reason", "sent in error")
    assert too_late.returncode == 1
    assert "not cancelled: it has left: delivered via digipost" in too_late.stderr
    unknown = stack.run("cancel", "0b8f5a4e-0000-4000-8000-000000000000", "--reason", "x")
    assert unknown.returncode == 1 and "no letter" in unknown.stderr
    bad = stack.run("case", "not a case", "--set", "paid")
    assert bad.returncode == 2 and "CASE_NUMBER: must be 2 to 32 digits" in bad.stderr
