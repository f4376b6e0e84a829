"""Letters through the worker to the local Digipost double, end to end.

The double runs in the test process (a real HTTP server); workers are
separate processes configured with its URL and keys, as in production.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.digipost.channel import delivery_ids
from channels.digipost.double import Fault
from letters.config import PROJECT_ROOT
from letters.ledger import LetterStatus
from letters.ledger.delivery_events import DeliveryLog
from letters.ledger.outbox import Outbox
from tests.support.digipost import (
    DIGIPOST_USER,
    IDENTIFIED_PERSON,
    UNIDENTIFIED_PERSON,
    DoubleHarness,
    running_double,
)
from tests.support.ledger_rows import force_status
from tests.support.stacks import (
    Stack,
    fresh_postgres_database,
    require_rabbitmq,
    sample_request,
    stack_env,
    wait_for,
)


@pytest.fixture
def double(tmp_path: Path) -> Iterator[DoubleHarness]:
    with running_double(tmp_path / "double") as harness:
        yield harness


def digipost_stack(tmp_path: Path, double: DoubleHarness, **env: str) -> Stack:
    base = stack_env(tmp_path, broker=False, database_url=None)
    base["LETTERS_CHANNEL_DIGIPOST"] = "digipost"
    return Stack({**base, **double.write_keys(tmp_path), **env})


@pytest.fixture
def stack(tmp_path: Path, double: DoubleHarness) -> Iterator[Stack]:
    stack = digipost_stack(tmp_path, double)
    try:
        yield stack
    finally:
        stack.close()


def debtor(nin: str | None, consent: bool, name: str = "inkassovarsel-nb-plain") -> dict[str, Any]:
    request = sample_request(name)
    request["recipient"]["digital_consent"] = consent
    if nin is None:
        request["recipient"].pop("national_identity_number", None)
    else:
        request["recipient"]["national_identity_number"] = nin
    return request


def mailbox_letters(double: DoubleHarness, letter_ids: list[str]) -> set[str]:
    by_document = {delivery_ids(letter_id)[1]: letter_id for letter_id in letter_ids}
    return {by_document[d.uuid] for d in double.double.mailbox() if d.uuid in by_document}


def printed(stack: Stack) -> set[str]:
    return {record["letter_id"] for record in stack.delivered("print")}


def check_routing(stack: Stack, double: DoubleHarness) -> None:
    user, no_consent, identified, unidentified, no_id = (
        debtor(DIGIPOST_USER, True),
        debtor(DIGIPOST_USER, False),
        debtor(IDENTIFIED_PERSON, True),
        debtor(UNIDENTIFIED_PERSON, True),
        debtor(None, True, "purring-en-foreign_address"),
    )
    requests = [user, no_consent, identified, unidentified, no_id]
    stack.publish(*requests)
    worker = stack.run_worker()
    for secret in (DIGIPOST_USER, IDENTIFIED_PERSON, UNIDENTIFIED_PERSON, "Nordmann"):
        assert secret not in worker.stderr
    ids = [r["letter_id"] for r in requests]
    assert mailbox_letters(double, ids) == {user["letter_id"]}
    assert printed(stack) == set(ids) - {user["letter_id"]}

    record = stack.ledger.get(user["letter_id"])
    assert record is not None
    assert (record.status, record.channel, record.delivery_method) == (
        LetterStatus.DELIVERED,
        "digipost",
        "DIGIPOST",
    )
    assert record.delivered_at is not None
    assert record.provider_ref == delivery_ids(user["letter_id"])[1]
    reasons = {r["letter_id"]: stack.ledger.get(r["letter_id"]).route_reason for r in requests}  # type: ignore[union-attr]
    assert reasons[no_consent["letter_id"]] == "no consent to digital delivery"
    assert "(IDENTIFIED)" in reasons[identified["letter_id"]]
    assert "(UNIDENTIFIED)" in reasons[unidentified["letter_id"]]
    assert reasons[no_id["letter_id"]] == "no national identity number"


def test_consenting_digipost_users_reach_the_mailbox_and_the_rest_print(
    stack: Stack, double: DoubleHarness
) -> None:
    check_routing(stack, double)


@pytest.mark.services
def test_the_same_routing_on_rabbitmq_and_postgresql(tmp_path: Path, double: DoubleHarness) -> None:
    require_rabbitmq()
    with fresh_postgres_database() as database_url:
        base = stack_env(tmp_path, broker=True, database_url=database_url)
        base["LETTERS_CHANNEL_DIGIPOST"] = "digipost"
        stack = Stack({**base, **double.write_keys(tmp_path)})
        try:
            check_routing(stack, double)
        finally:
            stack.close()


def test_digipost_server_errors_are_retried_and_never_printed(
    stack: Stack, double: DoubleHarness
) -> None:
    double.double.fail_next(
        Fault("error", "/identification", status=503),
        Fault("error", "/messages", status=500),
    )
    request = debtor(DIGIPOST_USER, True)
    stack.publish(request)
    stack.run_worker()
    letter_id = request["letter_id"]
    assert mailbox_letters(double, [letter_id]) == {letter_id}
    assert printed(stack) == set()
    events = stack.events(letter_id)
    assert events.count("failed") == 2
    assert events[-1] == "delivered"
    details = [e.detail or "" for e in stack.ledger.history(letter_id) if e.event == "failed"]
    assert "HTTP 503" in details[0] and "HTTP 500" in details[1]


def test_a_timeout_at_send_is_retried_with_the_same_message_id(
    tmp_path: Path, double: DoubleHarness
) -> None:
    stack = digipost_stack(tmp_path, double, LETTERS_DIGIPOST_TIMEOUT="1s")
    try:
        # Digipost takes the letter but answers after the client gave up.
        double.double.fail_next(Fault("late", "/messages", seconds=3))
        request = debtor(DIGIPOST_USER, True)
        stack.publish(request)
        stack.run_worker()
        letter_id = request["letter_id"]
        # The retry was refused as a duplicate and confirmed by document status.
        assert len(double.double.mailbox()) == 1
        statuses = [s for _m, path, s in double.double.requests if path == "/messages"]
        assert statuses == [200, 400]
        assert stack.ledger.get(letter_id).status is LetterStatus.DELIVERED  # type: ignore[union-attr]
        assert "already at Digipost" in stack.ledger.history(letter_id)[-1].detail  # type: ignore[operator]
    finally:
        stack.close()


@pytest.mark.services
def test_a_digipost_refusal_is_dead_lettered_with_its_code(
    tmp_path: Path, double: DoubleHarness
) -> None:
    require_rabbitmq()
    base = stack_env(tmp_path, broker=True, database_url=None)
    base["LETTERS_CHANNEL_DIGIPOST"] = "digipost"
    stack = Stack({**base, **double.write_keys(tmp_path)})
    try:
        double.double.fail_next(
            Fault(
                "error",
                "/messages",
                status=400,
                code="INVALID_MONETARY_AMOUNT",
                error_type="CLIENT_DATA",
            )
        )
        request = debtor(DIGIPOST_USER, True)
        stack.publish(request)
        stack.run_worker()
        record = stack.ledger.get(request["letter_id"])
        assert record is not None and record.status is LetterStatus.DEAD_LETTERED
        listing = stack.run("dead", "list")
        assert "INVALID_MONETARY_AMOUNT" in listing.stdout
        assert request["letter_id"] in listing.stdout
        assert printed(stack) == set()
    finally:
        stack.close()


def test_no_mailbox_at_send_time_means_print(stack: Stack, double: DoubleHarness) -> None:
    double.double.fail_next(
        Fault("error", "/messages", status=404, code="UNKNOWN_RECIPIENT", error_type="CLIENT_DATA")
    )
    request = debtor(DIGIPOST_USER, True)
    stack.publish(request)
    stack.run_worker()
    record = stack.ledger.get(request["letter_id"])
    assert record is not None and record.channel == "print"
    assert "Digipost found no mailbox when sending" in (record.route_reason or "")
    assert printed(stack) == {request["letter_id"]}


def test_sync_records_confirmations_and_events_once(stack: Stack, double: DoubleHarness) -> None:
    request = debtor(DIGIPOST_USER, True)
    stack.publish(request)
    stack.run_worker()
    letter_id = request["letter_id"]
    document = delivery_ids(letter_id)[1]
    # As if the send had only been handed over, not yet confirmed: a delivered letter never
    # goes back to sent, so the row is set by hand.
    force_status(stack.ledger, letter_id, LetterStatus.SENT, provider_ref=document)
    double.double.add_event(document, "OPENED")
    double.double.add_event(document, "POSTMARKED", {"postmarked-date": "2026-11-24"})

    first = stack.run("digipost", "sync", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) | {"from": None, "to": None} == {
        "confirmed": 1,
        "events": 2,
        "unmatched": 0,
        "missing": 0,
        "from": None,
        "to": None,
    }
    again = stack.run("digipost", "sync", "--json")
    assert json.loads(again.stdout)["events"] == 0

    assert stack.ledger.get(letter_id).status is LetterStatus.DELIVERED  # type: ignore[union-attr]
    events = DeliveryLog(stack.ledger).events(letter_id)
    assert [(e.event, e.detail) for e in events] == [
        ("OPENED", None),
        ("POSTMARKED", "postmarked-date=2026-11-24"),
    ]
    assert {"opened", "postmarked"} <= set(stack.events(letter_id))
    # The case system hears of them: delivered, then Digipost's own document events.
    published = [json.loads(e.body) for e in Outbox(stack.ledger).for_letter(letter_id)]
    assert [(e["kind"], e["details"].get("channel_event")) for e in published[-3:]] == [
        ("delivered", None),
        ("opened", "opened"),
        ("channel-event", "postmarked"),
    ]
    assert published[-1]["details"]["reason"] == (
        "digipost: POSTMARKED (postmarked-date=2026-11-24)"
    )


def test_the_worker_syncs_events_periodically(tmp_path: Path, double: DoubleHarness) -> None:
    stack = digipost_stack(tmp_path, double, LETTERS_DIGIPOST_SYNC_INTERVAL="1s")
    try:
        request = debtor(DIGIPOST_USER, True)
        stack.start_worker()
        stack.publish(request)
        letter_id = request["letter_id"]
        wait_for(lambda: mailbox_letters(double, [letter_id]), what="the delivery")
        double.double.add_event(delivery_ids(letter_id)[1], "OPENED")
        wait_for(lambda: "opened" in stack.events(letter_id), what="the synced event")
    finally:
        stack.close()


def test_a_missing_key_stops_the_worker_before_it_takes_a_letter(
    tmp_path: Path, double: DoubleHarness
) -> None:
    stack = digipost_stack(tmp_path, double, LETTERS_DIGIPOST_KEY=str(tmp_path / "missing.p12"))
    try:
        request = debtor(DIGIPOST_USER, True)
        stack.publish(request)
        result = stack.run("worker", "--until-empty")
        assert result.returncode == 1
        assert "LETTERS_DIGIPOST_KEY" in result.stderr
        assert stack.ledger.get(request["letter_id"]) is None
    finally:
        stack.close()


def test_digipost_serve_runs_a_double_a_worker_can_use(tmp_path: Path) -> None:
    var = tmp_path / "var"
    recipients = tmp_path / "recipients.json"
    recipients.write_text(json.dumps({IDENTIFIED_PERSON: "IDENTIFIED"}), encoding="utf-8")
    env = stack_env(tmp_path, broker=False, database_url=None)
    env["LETTERS_CHANNEL_DIGIPOST"] = "digipost"
    stack = Stack(env)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "letters.cli",
            "digipost",
            "serve",
            "--port",
            "0",
            "--recipients",
            str(recipients),
        ],
        env=stack.process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert banner.startswith("local Digipost double at http://127.0.0.1:"), banner
        url = banner.split(" at ", 1)[1].split(" ", 1)[0]
        stack.env["LETTERS_DIGIPOST_URL"] = url
        user, identified = debtor(DIGIPOST_USER, True), debtor(IDENTIFIED_PERSON, True)
        stack.publish(user, identified)
        stack.run_worker()
        mailbox = httpx.get(url + "-/mailbox", timeout=5).json()
        assert [d["uuid"] for d in mailbox] == [delivery_ids(user["letter_id"])[1]]
        assert printed(stack) == {identified["letter_id"]}
        assert (var / "digipost" / "sender.p12").exists()
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=10)
        assert server.returncode == 0, err
        stack.close()
