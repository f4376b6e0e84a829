"""The worker against the real RabbitMQ and PostgreSQL on this machine."""

from __future__ import annotations

import json
import signal

import pytest

from letters.digests import sha256_hex
from letters.ledger import LetterStatus
from letters.storage import LocalArchive
from tests.support.services import restart_rabbitmq
from tests.support.stacks import Stack, sample_request, wait_for

pytestmark = pytest.mark.services

HAPPY_HISTORY = ["accepted", "routed", "rendered", "archived", "delivered"]


@pytest.mark.parametrize("stack_name", ["rabbit_pg", "rabbit_sqlite"])
def test_a_request_flows_through_to_the_channel_and_leaves_the_queue(
    stack_name: str, request: pytest.FixtureRequest
) -> None:
    stack: Stack = request.getfixturevalue(stack_name)
    letter = sample_request("inkassovarsel-nb-plain")
    stack.publish(letter)
    assert stack.queue_depth(stack.topology.work_queue.name) == 1

    stack.run_worker()

    record = stack.ledger.get(letter["letter_id"])
    assert record is not None
    assert record.status is LetterStatus.DELIVERED
    assert stack.events(letter["letter_id"]) == HAPPY_HISTORY
    assert (
        record.channel == "digipost"
        and record.route_reason == "consented and has a Digipost mailbox"
    )
    assert record.otp_hash and record.otp_hash.startswith("hmac-sha256$")
    assert record.template_version and record.template_version.startswith("sha256:")
    pdf = LocalArchive(stack.settings.var_dir / "archive").get(record.archive_key or "")
    assert sha256_hex(pdf) == record.pdf_sha256
    [delivered] = stack.delivered("digipost")
    assert delivered["letter_id"] == letter["letter_id"]
    assert delivered["pdf_sha256"] == record.pdf_sha256
    assert stack.queue_depth(stack.topology.work_queue.name) == 0
    assert stack.queue_depth(stack.topology.dead_queue.name) == 0


def test_status_shows_the_history(rabbit_pg: Stack) -> None:
    letter = sample_request()
    rabbit_pg.publish(letter)
    rabbit_pg.run_worker()
    result = rabbit_pg.run("status", letter["letter_id"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        f"letter {letter['letter_id']}  case {letter['case']['case_number']}"
    )
    assert [line.split()[1] for line in lines if line.startswith("  20")] == HAPPY_HISTORY
    as_json = json.loads(rabbit_pg.run("status", letter["letter_id"], "--json").stdout)
    assert [e["event"] for e in as_json["history"]] == HAPPY_HISTORY
    assert "request" not in as_json and "otp_hash" not in as_json
    assert rabbit_pg.run("status", "no-such-letter").returncode == 1


def test_the_same_letter_id_twice_is_rendered_once_and_sent_once(rabbit_pg: Stack) -> None:
    letter = sample_request()
    other = sample_request("purring-en-plain")
    rabbit_pg.publish(letter, letter, other, letter)
    rabbit_pg.run_worker("--concurrency", "2")

    assert rabbit_pg.events(letter["letter_id"]).count("rendered") == 1
    assert rabbit_pg.attempts(letter["letter_id"]) == ["ok"]
    assert sorted(d["letter_id"] for d in rabbit_pg.delivered()) == sorted(
        [letter["letter_id"], other["letter_id"]]
    )


@pytest.mark.parametrize(
    ("first_outcome", "second_outcome"),
    [
        ("hang", "ok"),  # killed while the channel was sending
        ("deliver-then-hang", "ok"),  # killed after delivery, before the ledger heard of it
    ],
)
def test_a_worker_killed_mid_letter_completes_it_after_restart_and_sends_once(
    rabbit_pg: Stack, first_outcome: str, second_outcome: str
) -> None:
    letter = sample_request()
    letter_id = letter["letter_id"]
    rabbit_pg.plan({letter_id: [first_outcome, second_outcome]})
    rabbit_pg.publish(letter)
    worker = rabbit_pg.start_worker()
    wait_for(lambda: rabbit_pg.attempts(letter_id), what="the first send attempt")
    assert rabbit_pg.ledger.get(letter_id).status is LetterStatus.ARCHIVED  # type: ignore[union-attr]
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    rabbit_pg.run_worker()

    assert rabbit_pg.ledger.get(letter_id).status is LetterStatus.DELIVERED  # type: ignore[union-attr]
    assert rabbit_pg.attempts(letter_id) == [first_outcome, second_outcome]
    assert [d["letter_id"] for d in rabbit_pg.delivered()] == [letter_id]
    events = rabbit_pg.events(letter_id)
    assert events.count("rendered") == 1 and events[-1] == "delivered"


def test_a_transient_failure_is_retried_after_a_delay_then_delivered(rabbit_pg: Stack) -> None:
    letter = sample_request()
    letter_id = letter["letter_id"]
    rabbit_pg.plan({letter_id: ["transient", "ok"]})
    rabbit_pg.publish(letter)
    rabbit_pg.run_worker()

    history = rabbit_pg.ledger.history(letter_id)
    assert [e.event for e in history] == [
        "accepted",
        "routed",
        "rendered",
        "archived",
        "failed",
        "delivered",
    ]
    failed, delivered = history[-2], history[-1]
    assert failed.detail and failed.detail.startswith("attempt 1: fake digipost: told to fail")
    # The first retry queue holds the letter for 1 s (LETTERS_RETRY_DELAYS=1s,2s).
    assert (delivered.at - failed.at).total_seconds() >= 0.9
    assert rabbit_pg.attempts(letter_id) == ["transient", "ok"]
    assert len(rabbit_pg.delivered()) == 1


def test_transient_failures_past_the_last_retry_are_dead_lettered(rabbit_pg: Stack) -> None:
    letter = sample_request()
    rabbit_pg.plan({letter["letter_id"]: ["transient"]})
    rabbit_pg.publish(letter)
    rabbit_pg.run_worker()
    # 1 try + 2 retries (1s, 2s), then the dead-letter queue.
    assert rabbit_pg.attempts(letter["letter_id"]) == ["transient"] * 3
    record = rabbit_pg.ledger.get(letter["letter_id"])
    assert record is not None and record.status is LetterStatus.DEAD_LETTERED
    listing = rabbit_pg.run("dead", "list").stdout
    assert letter["letter_id"] in listing
    assert "gave up after 3 attempts: fake digipost: told to fail transiently" in listing


def test_a_permanent_failure_is_dead_lettered_with_the_reason_and_can_be_retried(
    rabbit_pg: Stack,
) -> None:
    refused, fine = sample_request(), sample_request("purring-en-plain")
    rabbit_pg.plan({refused["letter_id"]: ["permanent", "ok"]})
    rabbit_pg.publish(refused, fine)
    rabbit_pg.run_worker()

    assert [d["letter_id"] for d in rabbit_pg.delivered()] == [fine["letter_id"]]
    record = rabbit_pg.ledger.get(refused["letter_id"])
    assert record is not None and record.status is LetterStatus.DEAD_LETTERED
    assert rabbit_pg.ledger.history(refused["letter_id"])[-1].detail == (
        "fake digipost: told to refuse the letter"
    )
    listing = rabbit_pg.run("dead", "list")
    assert refused["letter_id"] in listing.stdout
    assert "attempts 1  fake digipost: told to refuse the letter" in listing.stdout
    assert listing.stdout.splitlines()[-1] == "1 dead letter(s)"

    # After the fix, operations send it back; it is not rendered again.
    retried = rabbit_pg.run("dead", "retry", refused["letter_id"])
    assert retried.returncode == 0, retried.stderr
    assert f"requeued {refused['letter_id']}" in retried.stdout
    rabbit_pg.run_worker()
    assert sorted(d["letter_id"] for d in rabbit_pg.delivered()) == sorted(
        [refused["letter_id"], fine["letter_id"]]
    )
    events = rabbit_pg.events(refused["letter_id"])
    assert events.count("rendered") == 1
    assert events[-3:] == ["dead-lettered", "requeued", "delivered"]
    assert rabbit_pg.queue_depth(rabbit_pg.topology.dead_queue.name) == 0
    assert rabbit_pg.run("dead", "retry", "not-there").returncode == 1


def _invalid_bodies() -> dict[str, tuple[bytes, str]]:
    """Name -> (body, what the reason must say)."""

    def changed(change: str, value: object) -> bytes:
        data = sample_request()
        target = data
        *path, last = change.split(".")
        for key in path:
            target = target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
        return json.dumps(data).encode()

    return {
        "not utf-8": (b"\xff\xfe\x00garbage", "body is not UTF-8 text"),
        "not json": (b"this is not json", "body is not valid JSON"),
        "not an object": (b"[1, 2, 3]", "body must be a JSON object"),
        "unknown schema": (
            json.dumps(sample_request(schema="letters.request/9")).encode(),
            'schema: must be "letters.request/1"',
        ),
        "missing field": (changed("case.claims", _DELETE), "case.claims"),
        "wrong type": (changed("recipient.digital_consent", "yes"), "recipient.digital_consent"),
        "bad value": (changed("language", "de"), "language: must be one of 'nb' or 'en'"),
        "unknown field": (changed("surprise", 1), "surprise"),
        "bad date": (changed("letter_date", "2026-13-01"), "letter_date"),
        "bad national id": (
            changed("recipient.national_identity_number", "15076500566"),
            "recipient.national_identity_number",
        ),
        "bad kid": (changed("case.kid", "202600451481"), "case.kid"),
    }


_DELETE = object()


def test_bad_messages_are_dead_lettered_with_a_reason_and_the_worker_goes_on(
    rabbit_pg: Stack,
) -> None:
    bodies = _invalid_bodies()
    for body, _ in bodies.values():
        rabbit_pg.publish(body)
    rabbit_pg.publish_raw(b"\x80\x04\x95pickled", "application/x-python-serialize")
    good = sample_request()
    rabbit_pg.publish(good)
    rabbit_pg.run_worker()

    assert [d["letter_id"] for d in rabbit_pg.delivered()] == [good["letter_id"]]
    listing = rabbit_pg.run("dead", "list").stdout.splitlines()
    assert listing[-1] == f"{len(bodies) + 1} dead letter(s)"
    reasons = "\n".join(listing)
    for name, (_, expected) in bodies.items():
        assert expected in reasons, f"{name}: {expected!r} not in the dead-letter reasons"
    assert "content type must be application/json; got 30 character(s)" in reasons
    # Invalid requests never enter the ledger as letters.
    assert rabbit_pg.ledger.status_counts() == {"delivered": 1}


def test_sigterm_finishes_the_letter_in_hand_then_exits_cleanly(rabbit_pg: Stack) -> None:
    letter = sample_request()
    rabbit_pg.plan({letter["letter_id"]: ["slow"]})
    rabbit_pg.publish(letter)
    worker = rabbit_pg.start_worker()
    wait_for(lambda: rabbit_pg.attempts(letter["letter_id"]), what="the send to start")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    record = rabbit_pg.ledger.get(letter["letter_id"])
    assert record is not None and record.status is LetterStatus.DELIVERED
    assert rabbit_pg.queue_depth(rabbit_pg.topology.work_queue.name) == 0


def test_a_configuration_error_stops_the_worker_and_keeps_the_message(rabbit_pg: Stack) -> None:
    letter = sample_request()
    rabbit_pg.plan({letter["letter_id"]: ["configuration", "ok"]})
    rabbit_pg.publish(letter)
    result = rabbit_pg.run("worker", "--until-empty")
    assert result.returncode == 1
    assert "told to fail its configuration" in result.stderr
    assert rabbit_pg.delivered() == []
    assert rabbit_pg.queue_depth(rabbit_pg.topology.work_queue.name) == 1
    rabbit_pg.run_worker()  # after the "fix"
    assert [d["letter_id"] for d in rabbit_pg.delivered()] == [letter["letter_id"]]


def test_publish_reads_json_lines_and_publishes_nothing_from_a_bad_batch(
    rabbit_pg: Stack,
) -> None:
    letters = [sample_request(), sample_request("inkassovarsel-en-plain")]
    lines = b"\n".join(json.dumps(x).encode() for x in letters)
    bad = rabbit_pg.run("publish", input=lines + b"\nnot json\n")
    assert bad.returncode == 2
    assert b"stdin line 3: body is not valid JSON" in bad.stderr
    assert rabbit_pg.queue_depth(rabbit_pg.topology.work_queue.name) == 0
    good = rabbit_pg.run("publish", input=lines + b"\n")
    assert good.returncode == 0, good.stderr
    assert b"published 2 request(s)" in good.stdout
    assert rabbit_pg.queue_depth(rabbit_pg.topology.work_queue.name) == 2


@pytest.mark.disruptive
def test_rabbitmq_restarted_during_200_letters_all_are_sent_once(rabbit_pg: Stack) -> None:
    kinds = [
        f"{letter_type}-{language}-{variant}"
        for letter_type in (
            "purring",
            "inkassovarsel",
            "betalingsoppfordring",
            "varsel_rettslig_pagang",
        )
        for language in ("nb", "en")
        for variant in ("plain", "foreign_address")
    ]
    letters = [sample_request(kinds[n % len(kinds)]) for n in range(200)]
    rabbit_pg.publish(*letters)
    worker = rabbit_pg.start_worker("--concurrency", "2", "--until-empty")
    wait_for(lambda: len(rabbit_pg.delivered()) >= 40, timeout=120, what="40 deliveries")
    restart_rabbitmq()
    assert worker.wait(timeout=600) == 0, rabbit_pg.log_file().read_text()[-4000:]

    ids = [x["letter_id"] for x in letters]
    assert sorted(d["letter_id"] for d in rabbit_pg.delivered()) == sorted(ids)
    # One send call per letter: nothing was re-sent after the restart.
    attempts = rabbit_pg.attempts()
    assert len(attempts) == 200 and set(attempts) == {"ok"}
    assert rabbit_pg.ledger.status_counts() == {"delivered": 200}
    log = rabbit_pg.log_file().read_text()
    assert "Connection to broker lost" in log
