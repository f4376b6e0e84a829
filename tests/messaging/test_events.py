"""The case system hears back: letters.event/1 through the outbox and the relay.

On RabbitMQ + PostgreSQL a consumer bound to the event exchange gets every
letter's events in order, without gaps, through a relay killed between
publishing and marking and a broker stopped while changes are committed; on
the embedded default ``letters events tail`` shows them. Every event is
checked against queue/event.schema.json and for the debtors' personal data.
"""

from __future__ import annotations

import json
import queue as stdlib_queue
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kombu.connection import Connection
from kombu.entity import Queue
from kombu.simple import SimpleQueue
from sqlalchemy import func, select

from letters.config import PROJECT_ROOT
from letters.ledger import history as letter_history
from letters.ledger.outbox import Outbox
from letters.ledger.records import LetterStatus
from letters.ledger.schema import event_outbox
from tests.support.events import personal_data, schema_problems
from tests.support.services import start_rabbitmq, stop_rabbitmq
from tests.support.stacks import RABBITMQ_URL, Stack, sample_request, wait_for

DIGIPOST_AND_PRINT = [
    ("purring-nb-plain", True),
    ("inkassovarsel-en-plain", True),
    ("betalingsoppfordring-nb-plain", True),
    ("purring-en-plain", False),
    ("inkassovarsel-nb-plain", False),
    ("varsel_rettslig_pagang-nb-plain", False),
]


def _letters() -> list[dict[str, Any]]:
    requests = []
    for name, digital in DIGIPOST_AND_PRINT:
        request = sample_request(name)
        request["recipient"]["digital_consent"] = digital
        requests.append(request)
    return requests


class Listener:
    """A consumer of the event exchange, with a durable queue of its own (a case system)."""

    def __init__(self, stack: Stack) -> None:
        topology = stack.topology
        self.queue = Queue(
            f"{stack.env['LETTERS_QUEUE_PREFIX']}test.case-system",
            topology.events_exchange,
            routing_key="event.#",
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )
        with Connection(RABBITMQ_URL) as conn:
            topology.events_exchange(conn.default_channel).declare()
            self.queue(conn.default_channel).declare()
        self.received: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def drain(self, idle_s: float = 1.5) -> list[dict[str, Any]]:
        """Take what has arrived (until nothing comes for ``idle_s``); every event so far."""
        with Connection(RABBITMQ_URL) as conn:
            reader = SimpleQueue(conn.channel(), self.queue)
            while True:
                try:
                    message = reader.get(block=True, timeout=idle_s)
                except stdlib_queue.Empty:
                    break
                self.received.append((json.loads(message.body), dict(message.headers or {})))
                message.ack()
        return [event for event, _ in self.received]

    def wait_for(self, condition: Any, what: str, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.drain(idle_s=0.5)
            if condition(events):
                return events
        raise AssertionError(
            f"timed out waiting for {what}: {Counter(e['kind'] for e in self.drain())}"
        )

    def delete(self) -> None:
        with Connection(RABBITMQ_URL) as conn:
            conn.default_channel.queue_delete(self.queue.name)


@pytest.fixture
def listener(rabbit_pg: Stack) -> Any:
    found = Listener(rabbit_pg)
    yield found
    found.delete()


def _in_order(events: list[dict[str, Any]], letter_id: str) -> list[str]:
    """The letter's kinds in arrival order, after asserting 1, 2, 3, … without gaps
    (a repeat of an event already had, same id, is dropped as a consumer would)."""
    seen: dict[str, dict[str, Any]] = {}
    ordered = []
    for event in events:
        if event["letter_id"] != letter_id:
            continue
        if event["event_id"] in seen:
            assert seen[event["event_id"]] == event, "a repeat must be the same event"
            continue
        seen[event["event_id"]] = event
        ordered.append(event)
    assert [e["sequence"] for e in ordered] == list(range(1, len(ordered) + 1)), ordered
    return [e["kind"] for e in ordered]


def _check_each(events: list[dict[str, Any]], requests: list[dict[str, Any]]) -> None:
    private = {value for request in requests for value in personal_data(request)}
    assert private
    for event in events:
        assert not schema_problems(event), (schema_problems(event), event)
        text = json.dumps(event, ensure_ascii=False)
        assert not [p for p in private if p in text], event


@pytest.mark.services
def test_every_letter_s_events_reach_a_consumer_in_order_without_gaps(
    rabbit_pg: Stack, listener: Listener
) -> None:
    stack = rabbit_pg
    stack.env["LETTERS_CHANNEL_PRINT"] = "print_post"
    requests = _letters()
    refused = sample_request("purring-nb-plain")
    refused["recipient"]["address"]["postal_code"] = "01"
    held = sample_request("purring-nb-plain")
    stack.publish(
        {"schema": "letters.case/1", "case_number": held["case"]["case_number"],
         "state": "on_hold", "at": datetime.now(UTC).isoformat()},
        *requests, refused, held,
    )  # fmt: skip
    stack.run_worker("--concurrency", "2")
    cut = stack.run("print", "cut")
    assert cut.returncode == 0, cut.stderr
    relayed = stack.run("events", "relay")
    assert relayed.returncode == 0 and "0 pending" in relayed.stdout, relayed.stderr

    events = listener.drain()
    _check_each(events, [*requests, refused, held])
    for request, (_, digital) in zip(requests, DIGIPOST_AND_PRINT, strict=True):
        kinds = _in_order(events, request["letter_id"])
        if digital:
            assert kinds == ["accepted", "routed", "rendered", "delivered"]
        else:
            assert kinds == ["accepted", "routed", "rendered", "batched", "posted"]
    assert _in_order(events, held["letter_id"]) == ["accepted", "held"]
    [refusal] = [e for e in events if e["letter_id"] == refused["letter_id"]]
    assert refusal["kind"] == "refused" and refusal["sequence"] is None
    assert refusal["case_number"] == refused["case"]["case_number"]
    assert refusal["details"]["reason"].startswith("recipient.address.postal_code: must be")

    # What each event says, for the case system to move the case on.
    by_kind = {(e["letter_id"], e["kind"]): e for e in events}
    posted = by_kind[(requests[3]["letter_id"], "posted")]
    assert posted["channel"] == "print" and posted["posted_on"] and posted["deadline"]
    assert posted["details"]["batch_id"]
    delivered = by_kind[(requests[0]["letter_id"], "delivered")]
    assert delivered["posted_on"] == delivered["letter_date"]
    rendered = by_kind[(requests[0]["letter_id"], "rendered")]
    assert rendered["details"]["page_count"] >= 1 and rendered["details"]["pdf_sha256"]
    # Each message carries its event id as the message id and in a header.
    headers = {event["event_id"]: h for event, h in listener.received}
    assert all(h["x-letters-event-id"] == i for i, h in headers.items())

    # Replay by case: that case's events again, same ids, marked as replays.
    case_number = requests[4]["case"]["case_number"]
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    replay = stack.run("events", "replay", "--since", since, "--case", case_number)
    assert replay.returncode == 0, replay.stderr
    assert "replayed 5 event(s)" in replay.stdout
    again = listener.drain()[len(events) :]
    assert {e["case_number"] for e in again} == {case_number}
    assert all(e["replay"] for e in again)
    first_time = {e["event_id"] for e in events if e["case_number"] == case_number}
    assert {e["event_id"] for e in again} == first_time
    assert [h.get("x-letters-replay") for _, h in listener.received[len(events) :]] == [True] * 5


@pytest.mark.services
def test_a_relay_killed_between_publishing_and_marking_publishes_again_and_loses_nothing(
    rabbit_pg: Stack, listener: Listener
) -> None:
    stack = rabbit_pg
    stack.env["LETTERS_EVENTS_RELAY_INTERVAL"] = "0"  # only the relays below publish
    requests = _letters()[:3]
    stack.publish(*requests)
    stack.run_worker()
    outbox = Outbox(stack.ledger)
    written = outbox.since(datetime(2000, 1, 1, tzinfo=UTC))
    assert outbox.pending_count() == len(written) == 12
    assert listener.drain() == []

    killed = subprocess.run(
        [sys.executable, "-m", "tests.support.relay_kill", "5"],
        env=stack.process_env(),
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert outbox.pending_count() == 12  # published, but never marked
    relayed = stack.run("events", "relay")
    assert relayed.returncode == 0 and "published 12 event(s); 0 pending" in relayed.stdout

    events = listener.drain()
    ids = [e["event_id"] for e in events]
    assert len(ids) == 12 + 5  # the first five again, with the same ids
    assert set(ids) == {e.event_id for e in written}
    assert [i for i, n in Counter(ids).items() if n == 2] == ids[:5]
    for request in requests:
        assert _in_order(events, request["letter_id"]) == [
            "accepted", "routed", "rendered", "delivered"
        ]  # fmt: skip


@pytest.mark.disruptive
@pytest.mark.services
def test_events_committed_while_rabbitmq_is_down_are_published_when_it_is_back(
    rabbit_pg: Stack, listener: Listener
) -> None:
    stack = rabbit_pg
    stack.env["LETTERS_CHANNEL_PRINT"] = "print_post"
    waiting, printed = sample_request("purring-nb-plain"), sample_request("inkassovarsel-nb-plain")
    printed["recipient"]["digital_consent"] = False
    case_number = waiting["case"]["case_number"]
    stack.publish(
        {"schema": "letters.case/1", "case_number": case_number, "state": "on_hold",
         "at": datetime.now(UTC).isoformat()},
        waiting, printed,
    )  # fmt: skip
    stack.start_worker()  # relays every second (LETTERS_EVENTS_RELAY_INTERVAL)
    listener.wait_for(
        lambda events: (
            {(e["letter_id"], e["kind"]) for e in events}
            >= {(waiting["letter_id"], "held"), (printed["letter_id"], "batched")}
        ),
        "the held and batched events",
    )
    stop_rabbitmq()
    try:
        # Changes committed with the broker down: a cancellation and a posted batch.
        cancelled = stack.run("cancel", waiting["letter_id"], "--reason", "paid at the bank")
        assert cancelled.returncode == 0, cancelled.stderr
        cut = stack.run("print", "cut")
        assert cut.returncode == 0, cut.stderr
        assert Outbox(stack.ledger).pending_count() == 2
        time.sleep(3)  # the worker's relay tries and waits
        assert Outbox(stack.ledger).pending_count() == 2
    finally:
        start_rabbitmq()
    events = listener.wait_for(
        lambda events: (
            {(e["letter_id"], e["kind"]) for e in events}
            >= {(waiting["letter_id"], "cancelled"), (printed["letter_id"], "posted")}
        ),
        "the events committed while RabbitMQ was down",
        timeout=120,
    )
    assert _in_order(events, waiting["letter_id"]) == ["accepted", "held", "cancelled"]
    assert _in_order(events, printed["letter_id"])[-2:] == ["batched", "posted"]
    wait_for(lambda: Outbox(stack.ledger).pending_count() == 0, what="the outbox to empty")


@pytest.mark.services
def test_an_event_is_written_with_its_change_and_never_seen_before_it_commits(
    rabbit_pg: Stack,
) -> None:
    stack = rabbit_pg
    request = sample_request("purring-nb-plain")
    stack.publish(request)
    stack.run_worker()
    outbox = Outbox(stack.ledger)
    before = len(outbox.for_letter(request["letter_id"]))
    observer = type(stack.ledger)(stack.settings.database_url)
    try:
        seen_inside: list[int] = []

        def change_then_roll_back() -> None:
            with stack.ledger.transaction() as conn:
                letter_history.record(
                    conn, request["letter_id"], LetterStatus.RETURNED, datetime.now(UTC),
                    "a change that is rolled back", status=LetterStatus.RETURNED,
                )  # fmt: skip
                # Written in this transaction, and invisible outside it until it commits.
                written = select(func.count()).where(
                    event_outbox.c.letter_id == request["letter_id"]
                )
                seen_inside.append(int(conn.execute(written).scalar_one()))
                seen_inside.append(len(Outbox(observer).for_letter(request["letter_id"])))
                raise RuntimeError("roll back")

        with pytest.raises(RuntimeError):
            change_then_roll_back()
        assert seen_inside == [before + 1, before]
        assert len(outbox.for_letter(request["letter_id"])) == before
        assert stack.ledger.get(request["letter_id"]).status is LetterStatus.DELIVERED  # type: ignore[union-attr]
    finally:
        observer.close()


def test_letters_events_tail_shows_the_case_system_s_view_on_the_embedded_default(
    embedded: Stack,
) -> None:
    requests = _letters()[::3]
    embedded.publish(*requests)
    embedded.run_worker()
    tail = embedded.run("events", "tail", "--idle", "1")
    assert tail.returncode == 0, tail.stderr
    events = [json.loads(line) for line in tail.stdout.splitlines()]
    _check_each(events, requests)
    assert _in_order(events, requests[0]["letter_id"]) == [
        "accepted", "routed", "rendered", "delivered"
    ]  # fmt: skip
    assert _in_order(events, requests[1]["letter_id"]) == [
        "accepted", "routed", "rendered", "delivered"
    ]  # fmt: skip
    # Taken: the case system has them now.
    assert embedded.run("events", "tail", "--idle", "0.5").stdout == ""
    since = datetime.now(UTC).date().isoformat()
    replay = embedded.run(
        "events", "replay", "--since", since, "--letter", requests[0]["letter_id"]
    )
    assert replay.returncode == 0 and "replayed 4 event(s)" in replay.stdout, replay.stderr
    again = [json.loads(line) for line in embedded.run("events", "tail").stdout.splitlines()]
    assert [e["kind"] for e in again] == ["accepted", "routed", "rendered", "delivered"]
    assert all(e["replay"] for e in again)
    bad = embedded.run("events", "replay", "--since", "yesterday")
    assert bad.returncode == 2 and "--since 'yesterday' is not a time" in bad.stderr
