"""Hostile bodies through real workers, on the embedded transport and on RabbitMQ + PostgreSQL.

Each body is dead-lettered once, with a short reason naming the field or the
body's fault; the worker lives; the good letter queued behind it is delivered.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from letters.digests import sha256_hex
from letters.ledger import LetterStatus
from letters.ledger.dead_letters import DeadLetterStore
from tests.support.stacks import Stack, sample_request

STACKS = ["embedded", pytest.param("rabbit_pg", marks=pytest.mark.services)]


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> Stack:
    found: Stack = request.getfixturevalue(request.param)
    return found


def _raw(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=True).encode()


def _dead_reasons(stack: Stack) -> dict[str, str]:
    """Dead letters recorded in the ledger: body SHA-256 -> reason."""
    from sqlalchemy import select

    from letters.ledger.schema import dead_letters

    with stack.ledger.transaction() as conn:
        return {r.body_sha256: r.reason for r in conn.execute(select(dead_letters))}


def _run(stack: Stack) -> subprocess.CompletedProcess[str]:
    result = stack.run_worker()
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def test_1_a_lone_surrogate_letter_id_is_dead_lettered_and_the_worker_goes_on(stack: Stack) -> None:
    good = sample_request("purring-nb-plain")
    bad = _raw(sample_request("purring-nb-plain")).replace(
        b'"letter_id": "', b'"letter_id": "\\udc00', 1
    )
    stack.publish(bad, good)
    _run(stack)
    _run(stack)  # and again: start-up recovery has nothing to choke on

    reasons = _dead_reasons(stack)
    assert (
        reasons[sha256_hex(bad)]
        == "letter_id: holds a lone surrogate (\\ud800-\\udfff): not Unicode text"
    )
    assert len(reasons) == 1
    assert [d["letter_id"] for d in stack.delivered()] == [good["letter_id"]]


def test_2_deep_nesting_is_dead_lettered_once(stack: Stack) -> None:
    good = sample_request("purring-nb-plain")
    bad = b'{"schema": "letters.request/1", "case": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    stack.publish(bad, good)
    _run(stack)
    _run(stack)

    reasons = _dead_reasons(stack)
    assert reasons == {
        sha256_hex(bad): "body is nested 3001 levels deep, more than the limit of 16"
    }
    assert [d["letter_id"] for d in stack.delivered()] == [good["letter_id"]]


def test_3_a_kid_of_superscript_digits_is_dead_lettered_naming_the_field(stack: Stack) -> None:
    bad = sample_request("inkassovarsel-nb-plain")
    bad["case"]["kid"] = "²²²²²"
    stack.publish(bad)
    _run(stack)
    [reason] = _dead_reasons(stack).values()
    assert reason == "case.kid: must be digits, with a check digit (or '-' for MOD11) last"
    record = stack.ledger.get(bad["letter_id"])
    assert record is None  # never accepted; the dead letter carries its letter id
    assert [d.reason for d in DeadLetterStore(stack.ledger).for_letter(bad["letter_id"])] == [
        reason
    ]


def test_4_a_huge_value_is_described_short_everywhere(stack: Stack) -> None:
    bad = sample_request("purring-nb-plain", letter_date="2026-" + "x" * 200_000)
    stack.publish(bad)
    result = _run(stack)
    [reason] = _dead_reasons(stack).values()
    assert reason.startswith("letter_date: must be an ISO 8601 date (YYYY-MM-DD); got 200005 ")
    assert len(reason) < 120
    assert max(len(line) for line in result.stderr.splitlines()) < 1000


def test_5_one_letter_id_in_any_spelling_is_one_letter(stack: Stack) -> None:
    request = sample_request("inkassovarsel-nb-plain")
    lower = request["letter_id"]
    spellings = [lower, lower.upper(), lower.replace("-", ""), "{" + lower + "}"]
    stack.publish(*({**request, "letter_id": s} for s in spellings))
    _run(stack)

    assert [d["letter_id"] for d in stack.delivered()] == [lower]
    assert stack.ledger.status_counts() == {"delivered": 1}
    assert _dead_reasons(stack) == {}


def test_6_the_same_letter_id_with_another_body_is_a_conflict(stack: Stack) -> None:
    first = sample_request("purring-nb-plain")
    second = json.loads(json.dumps(first))
    second["case"]["case_number"] = "2026-0099999"
    stack.publish(first)
    _run(stack)
    stack.publish(second)
    _run(stack)

    [delivery] = stack.delivered()
    assert delivery["case_number"] == first["case"]["case_number"]
    record = stack.ledger.get(first["letter_id"])
    assert record is not None and record.status is LetterStatus.DELIVERED
    [reason] = _dead_reasons(stack).values()
    assert reason.startswith("letter_id: a different request with this letter id was accepted at")
    status = stack.run("status", first["letter_id"])
    assert "status delivered" in status.stdout and "dead letter" in status.stdout
    assert json.loads(stack.run("status", first["letter_id"], "--json").stdout)["dead_letters"]


def test_6_a_conflict_while_the_first_waits_for_a_retry_sends_only_the_first(stack: Stack) -> None:
    first = sample_request("purring-nb-plain")
    second = json.loads(json.dumps(first))
    second["case"]["case_number"] = "2026-0099999"
    stack.plan({first["letter_id"]: ["transient", "ok"]})
    stack.publish(first, second)
    _run(stack)

    [delivery] = stack.delivered()
    assert delivery["case_number"] == first["case"]["case_number"]
    assert stack.attempts(first["letter_id"]) == ["transient", "ok"]
    [reason] = _dead_reasons(stack).values()
    assert reason.startswith("letter_id: a different request with this letter id")


def test_a_message_that_kills_every_worker_is_dead_lettered_with_a_reason(stack: Stack) -> None:
    stack.env["LETTERS_MAX_WORKER_STOPS"] = "3"
    killer = sample_request("betalingsoppfordring-nb-plain")
    good = sample_request("purring-nb-plain")
    stack.plan({killer["letter_id"]: ["crash"]})
    stack.publish(killer, good)
    if stack.env.get("LETTERS_BROKER_URL"):
        result = stack.run("worker", "--concurrency", "2", "--until-empty")
    else:
        # One process: each crash ends the command; start-up recovery counts the stops.
        for _ in range(4):
            result = stack.run("worker", "--until-empty")
            if result.returncode == 0:
                break
    assert result.returncode == 0, result.stderr[-3000:]

    dead = DeadLetterStore(stack.ledger).for_letter(killer["letter_id"])
    assert [d.reason for d in dead] == [
        "a worker stopped 3 times with this message in hand; it is dead-lettered so that it "
        "cannot stop another"
    ]
    record = stack.ledger.get(killer["letter_id"])
    assert record is not None and record.status is LetterStatus.DEAD_LETTERED
    assert [d["letter_id"] for d in stack.delivered()] == [good["letter_id"]]
