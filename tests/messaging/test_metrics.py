"""/metrics, /healthz and /readyz of a running worker group."""

from __future__ import annotations

import os
import re
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from letters import metrics
from letters.domain.otp import ALPHABET
from letters.errors import InvalidRequest, TransientError
from letters.ledger import LetterStatus
from letters.messaging.broker import embedded_folders
from letters.storage import open_archive
from letters.worker.health import ServiceProbe
from tests.support.pdf import plain_text
from tests.support.services import start_rabbitmq, stop_rabbitmq
from tests.support.stacks import Stack, sample_request, wait_for

_PASSWORD = re.compile(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")
# What the ledger's status of a finished letter is counted as in letters_outcomes_total.
_OUTCOME_OF_STATUS = {
    LetterStatus.SENT: "delivered",
    LetterStatus.DELIVERED: "delivered",
    LetterStatus.BATCHED: "batched",
    LetterStatus.DEAD_LETTERED: "dead_lettered",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serving(stack: Stack) -> str:
    port = _free_port()
    stack.env["LETTERS_METRICS_PORT"] = str(port)
    return f"http://127.0.0.1:{port}"


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=10)
    except httpx.TransportError:
        return None


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def _debtor_data(requests: list[dict[str, Any]]) -> set[str]:
    values = set()
    for request in requests:
        recipient = request["recipient"]
        values.add(recipient["name"])
        if nin := recipient.get("national_identity_number"):
            values.add(nin)
        address = recipient["address"]
        values.update(address["lines"])
        values.add(address["city"])
    assert len(values) >= 4
    return values


@pytest.mark.services
def test_a_two_process_group_counts_what_the_ledger_holds(rabbit_pg: Stack) -> None:
    base = _serving(rabbit_pg)
    requests = [sample_request(n) for n in ("purring-nb-plain", "inkassovarsel-en-plain") * 4]
    requests += [sample_request("purring-en-foreign_address") for _ in range(2)]
    broken = sample_request("purring-nb-plain")
    broken["letter_type"] = "no_such_letter"  # refused by the contract: never in the ledger
    refused = requests[1]["letter_id"]  # the channel refuses it: dead-lettered, in the ledger
    flaky = requests[2]["letter_id"]  # fails once, then is delivered after a retry
    rabbit_pg.plan({refused: ["permanent"], flaky: ["transient", "ok"]})
    rabbit_pg.publish(*requests, broken)
    group = rabbit_pg.start_worker("--concurrency", "2")
    ids = [r["letter_id"] for r in requests]

    def finished() -> bool:
        records = [rabbit_pg.ledger.get(i) for i in ids]
        return all(r is not None and r.finished for r in records)

    try:
        wait_for(finished, timeout=240, what="every letter finished")
    except AssertionError as err:
        raise AssertionError(f"{err}\n{rabbit_pg.log_file().read_text()[-3000:]}") from None
    assert group.poll() is None, rabbit_pg.log_file().read_text()[-3000:]
    response = wait_for(lambda: _get(f"{base}/metrics"), timeout=30, what="/metrics")
    assert response.status_code == 200
    text = response.text
    found = _samples(text)

    counted: Counter[tuple[str, str, str]] = Counter()
    for labels, value in found["letters_outcomes_total"]:
        counted[(labels["letter_type"], labels["channel"], labels["outcome"])] += int(value)
    in_ledger: Counter[tuple[str, str, str]] = Counter()
    for letter_id in ids:
        record = rabbit_pg.ledger.get(letter_id)
        assert record is not None
        outcome = _OUTCOME_OF_STATUS[LetterStatus(record.status)]
        in_ledger[(record.letter_type, record.channel or "none", outcome)] += 1
    assert +counted == in_ledger
    assert {k[2] for k in counted} <= set(metrics.OUTCOMES)
    assert {(k[1], k[2]) for k in in_ledger} == {
        ("digipost", "delivered"),
        ("print", "delivered"),
        ("digipost", "dead_lettered"),
    }

    rendered = sum(v for _, v in found["letters_render_seconds_count"])
    assert rendered == len(requests)
    # Every message handled: each letter's, the refused one, and the flaky letter's retry.
    assert sum(v for _, v in found["letters_message_seconds_count"]) == len(ids) + 2
    dead = {labels["reason_class"]: v for labels, v in found["letters_dead_letters_total"]}
    assert dead == {"invalid_request": 1.0, "delivery_refused": 1.0}
    retried = {labels["reason_class"]: v for labels, v in found["letters_retries_total"]}
    assert retried == {"channel_unavailable": 1.0}
    work_queue = rabbit_pg.topology.work_queue.name
    assert ({"queue": work_queue}, 0.0) in found["letters_queue_messages"]
    assert found["letters_broker_up"] == [({}, 1.0)]
    assert ({"status": "dead-lettered"}, 1.0) in found["letters_ledger_letters"]

    # Nothing of a debtor's in any label or value.
    for value in _debtor_data([*requests, broken]):
        assert value not in text, "debtor data in /metrics"
    archive = open_archive(rabbit_pg.settings.archive_url)
    passwords = set()
    for request in requests:
        record = rabbit_pg.ledger.get(request["letter_id"])
        assert record is not None and record.archive_key, record
        passwords.update(_PASSWORD.findall(plain_text(archive.get(record.archive_key))))
    assert passwords and not any(p in text for p in passwords)
    assert not _PASSWORD.search(text)
    for letter_id in ids:
        assert letter_id not in text

    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    ready = httpx.get(f"{base}/readyz", timeout=30)
    assert ready.status_code == 200, ready.text
    assert [line.split(":")[0:2] for line in ready.text.splitlines()] == [
        ["broker", " ok"],
        ["ledger", " ok"],
        ["archive", " ok"],
        ["channels", " ok"],
    ]


@pytest.mark.services
@pytest.mark.disruptive
def test_readyz_fails_while_rabbitmq_is_stopped_and_recovers(rabbit_pg: Stack) -> None:
    base = _serving(rabbit_pg)
    rabbit_pg.start_worker()
    ready = wait_for(lambda: _get(f"{base}/readyz"), timeout=60, what="/readyz")
    assert ready.status_code == 200, ready.text
    stop_rabbitmq()
    try:
        down = wait_for(
            lambda: r if (r := _get(f"{base}/readyz")) and r.status_code == 503 else None,
            timeout=60,
            what="/readyz to fail",
        )
        assert "broker: FAILED" in down.text and "ledger: ok" in down.text
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        scraped = _samples(httpx.get(f"{base}/metrics", timeout=30).text)
        assert scraped["letters_broker_up"] == [({}, 0.0)]
    finally:
        start_rabbitmq()
    wait_for(
        lambda: r if (r := _get(f"{base}/readyz")) and r.status_code == 200 else None,
        timeout=120,
        what="/readyz to recover",
    )


def test_the_embedded_broker_reports_depth_and_the_oldest_message_age(embedded: Stack) -> None:
    assert embedded.ledger.status_counts() == {}  # migrated, as the supervisor does first
    embedded.publish(sample_request(), sample_request())
    probe = ServiceProbe(embedded.settings)
    try:
        work_queue = embedded.topology.work_queue.name
        assert probe.queue_depths()[work_queue] == 2
        # Written a minute ago by this process's clock (the suite also runs under a faked
        # one, while the filesystem stamps files with the real time).
        written = time.time() - 60
        for path in embedded_folders(embedded.settings.broker_dir)["data"].glob("*.msg"):
            os.utime(path, (written, written))
        ages = probe.oldest_message_ages()
        assert set(ages) == {work_queue} and 55 <= ages[work_queue] < 120
        checks = {c.name: c.ok for c in probe.readiness()}
        assert checks == {"broker": True, "ledger": True, "archive": True, "channels": True}, (
            probe.readiness()
        )
    finally:
        probe.close()


def test_readiness_names_what_cannot_be_reached(embedded: Stack, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the archive's folder should be")
    embedded.env["LETTERS_ARCHIVE_URL"] = str(blocked / "archive")
    embedded.env["LETTERS_CHANNEL_PRINT"] = "no_such_backend"
    assert embedded.ledger.status_counts() == {}
    probe = ServiceProbe(embedded.settings)
    try:
        checks = {c.name: c for c in probe.readiness()}
        assert checks["broker"].ok and checks["ledger"].ok
        assert not checks["channels"].ok and "LETTERS_CHANNEL_PRINT" in checks["channels"].detail
        assert not checks["archive"].ok
    finally:
        probe.close()


def test_reason_classes_are_words_from_the_error_kind() -> None:
    assert metrics.reason_class(InvalidRequest([])) == "invalid_request"
    assert metrics.reason_class(TransientError("x")) == "transient"

    class _StoppedWorkers(Exception):
        pass

    assert metrics.reason_class(_StoppedWorkers()) == "stopped_workers"
