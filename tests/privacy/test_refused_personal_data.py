"""A hundred bad requests carrying personal data, on RabbitMQ and PostgreSQL: none of it is
left in the clear anywhere the service writes (privacy findings 1 and 2).

The places are listed in ``PLACES``; each is read whole and searched for every
name, national identity number and address line the requests carried. A new
place the service starts writing goes in the list.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from letters.ledger.dead_letters import DeadLetterStore
from letters.messaging.broker import Publisher
from tests.support.stacks import Stack, sample_request

NATIONAL_ID = "03039110015"
NAME = "Ingrid Fjellvik"
STREET = "Fjellviksvingen 17"
TOWN_LINE = "9990 Båtsfjordhamn"
NEEDLES = (NATIONAL_ID, NAME, STREET, TOWN_LINE, "Fjellvik")

pytestmark = pytest.mark.services


def _with_person(data: dict[str, Any]) -> dict[str, Any]:
    data["recipient"]["name"] = NAME
    data["recipient"]["national_identity_number"] = NATIONAL_ID
    data["recipient"]["address"]["lines"] = [STREET]
    return data


def _placed(path: str, value: Any) -> dict[str, Any]:
    """A request for the person, with ``value`` put at ``path`` (dots between names)."""
    data = _with_person(copy.deepcopy(sample_request()))
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
    return data


# Personal data in the wrong field, in a field's name, or in the right fields of a
# request refused for something else: what a careless case system sends.
_KINDS: list[Callable[[], dict[str, Any]]] = [
    lambda: _placed("letter_date", NATIONAL_ID),
    lambda: _placed("letter_date", NAME),
    lambda: _placed("deadline", f"{STREET}, {TOWN_LINE}"),
    lambda: _placed("letter_id", NATIONAL_ID),
    lambda: _placed("letter_type", NAME),
    lambda: _placed("language", TOWN_LINE),
    lambda: _placed("schema", NAME),
    lambda: _placed("case.case_number", NAME),
    lambda: _placed("case.claims.0.principal", NATIONAL_ID + " kr"),
    lambda: _placed("recipient.address.country_code", TOWN_LINE),
    lambda: _placed("recipient.national_identity_number", NAME),
    lambda: _placed(f"recipient.{NATIONAL_ID}", NAME),
    lambda: _placed(f"recipient.{NAME}", NATIONAL_ID),
    lambda: _placed("case.claims.0.due_date", "2099-12-31"),
]


def _bad_requests(count: int) -> list[dict[str, Any]]:
    return [_KINDS[i % len(_KINDS)]() for i in range(count)]


def _pg_dump(stack: Stack) -> str:
    url = stack.env["LETTERS_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(
        ["pg_dump", "--data-only", url], capture_output=True, text=True, check=True
    ).stdout


def _queue_contents(stack: Stack) -> str:
    """Every message on every queue of the stack, bodies and headers, left in place."""
    texts = []
    with Connection(stack.settings.broker_url) as conn:
        channel = conn.channel()
        topology = stack.topology
        names = [topology.work_queue.name, topology.dead_queue.name]
        names += [tier.queue.name for tier in topology.retry_tiers]
        for name in names:
            while (message := channel.basic_get(name, no_ack=False)) is not None:
                texts.append(f"{name}: {message.body!r} {message.headers!r}")
        channel.close()  # unacknowledged: all go back
    return "\n".join(texts)


def test_a_hundred_refused_requests_leave_no_personal_data_in_the_clear(
    rabbit_pg: Stack, tmp_path: Path
) -> None:
    rabbit_pg.publish(sample_request(), *_bad_requests(100))
    # One more with a content type no worker reads, and the person in its body.
    rabbit_pg.publish_raw(
        json.dumps(_placed("letter_type", "purring")).encode(), "application/x-python-serialize"
    )
    worker = rabbit_pg.run_worker()
    listing = rabbit_pg.run("dead", "list")
    ops_page = tmp_path / "ops.html"
    ops = rabbit_pg.run("ops", "--out", str(ops_page))
    assert ops.returncode == 0, ops.stderr
    dead = [line for line in listing.stdout.splitlines() if line.strip()]
    assert dead[-1] == "101 dead letter(s)", listing.stdout[-2000:]

    places = {
        "the worker's log": worker.stdout + worker.stderr,
        "`letters dead list`": listing.stdout + listing.stderr,
        "the ledger (pg_dump: letters, history, dead letters, events)": _pg_dump(rabbit_pg),
        "RabbitMQ's queues, the dead queue with them": _queue_contents(rabbit_pg),
        "the operations page": ops_page.read_text(encoding="utf-8"),
        "the files under var/": "\n".join(
            p.read_bytes().decode("utf-8", "replace")
            for p in Path(rabbit_pg.env["LETTERS_VAR_DIR"]).rglob("*")
            if p.is_file() and p.suffix != ".pdf"
        ),
    }
    leaks = [f"{place}: {needle!r}" for place, text in places.items() for needle in NEEDLES
             if needle in text]  # fmt: skip
    assert not leaks, leaks
    # The scan can fail: the person is in every refused body, which the ledger keeps sealed.
    store = DeadLetterStore(rabbit_pg.ledger)
    dead_ids = [line.split()[0] for line in dead[:-1]]
    bodies = [store.body(dead_id) or b"" for dead_id in dead_ids]
    assert len(bodies) == 101 and all(NAME.encode() in body for body in bodies)


def _take_one(stack: Stack, queue_name: str, *, leave: bool = False) -> Any:
    """The first message on the queue; with ``leave``, it stays there."""
    with Connection(stack.settings.broker_url) as conn:
        channel = conn.channel()
        message = channel.basic_get(queue_name, no_ack=not leave)
        channel.close()
    return message


def test_a_dead_letter_is_retried_with_its_message_from_the_ledger(rabbit_pg: Stack) -> None:
    refused = _placed("case.claims.0.due_date", "2099-12-31")
    rabbit_pg.publish(refused)
    rabbit_pg.run_worker()
    [line, _] = rabbit_pg.run("dead", "list").stdout.splitlines()
    dead_id = line.split()[0]
    # The dead queue holds a reference; the ledger holds the message, sealed.
    dead_queue = rabbit_pg.topology.dead_queue.name
    reference = json.loads(_take_one(rabbit_pg, dead_queue, leave=True).body)
    assert reference == {
        "schema": "letters.dead/1",
        "dead_id": dead_id,
        "letter_id": refused["letter_id"],
        "reason": reference["reason"],
        "attempts": 1,
    }
    assert "case.claims[0].due_date" in reference["reason"]
    retried = rabbit_pg.run("dead", "retry", dead_id)
    assert retried.returncode == 0, retried.stderr
    message = _take_one(rabbit_pg, rabbit_pg.topology.work_queue.name)
    assert json.loads(message.body) == refused
    [dead] = DeadLetterStore(rabbit_pg.ledger).for_letter(refused["letter_id"])
    assert dead.requeued_at is not None and dead.body_kept


def test_a_whole_message_the_broker_dead_lettered_is_sealed_into_the_ledger(
    rabbit_pg: Stack,
) -> None:
    """Past RabbitMQ's delivery limit the broker dead-letters the message itself, whole."""
    body = _placed("letter_type", "purring")
    with Publisher.open(rabbit_pg.settings) as publisher:
        publisher.publish_dead(
            json.dumps(body).encode(),
            {"x-first-death-reason": "delivery_limit"},
            content_type="application/json",
            content_encoding="utf-8",
        )
    listing = rabbit_pg.run("dead", "list").stdout
    assert "broker: delivery_limit" in listing and listing.endswith("1 dead letter(s)\n")
    queued = _queue_contents(rabbit_pg)
    assert NATIONAL_ID not in queued and "letters.dead/1" in queued
    [dead] = DeadLetterStore(rabbit_pg.ledger).for_letter(body["letter_id"])
    assert json.loads(DeadLetterStore(rabbit_pg.ledger).body(dead.dead_id) or b"") == body
