"""The embedded default: filesystem transport and SQLite, with nothing else running."""

from __future__ import annotations

import re
import shutil
import signal

import pdfplumber

from letters.ledger import LetterStatus
from letters.messaging.broker import embedded_folders
from tests.support.stacks import Stack, sample_request, wait_for


def test_requests_flow_through_on_embedded_defaults(embedded: Stack) -> None:
    letters = [sample_request(), sample_request("inkassovarsel-en-foreign_address")]
    embedded.publish(*letters)
    embedded.run_worker()
    for letter in letters:
        assert embedded.events(letter["letter_id"]) == [
            "accepted",
            "routed",
            "rendered",
            "archived",
            "delivered",
        ]
    routes = {
        d["letter_id"]: route for route in ("digipost", "print") for d in embedded.delivered(route)
    }
    assert routes == {letters[0]["letter_id"]: "digipost", letters[1]["letter_id"]: "print"}
    data = embedded_folders(embedded.settings.broker_dir)["data"]
    # Nothing is left in the work queue; the events wait in theirs for the case system.
    assert [p.name for p in data.glob("*.letters.work.msg")] == []
    assert len(list(data.glob("*.letters.events.msg"))) == 8


def test_a_killed_embedded_worker_resumes_the_letter_from_the_ledger(embedded: Stack) -> None:
    letter = sample_request()
    embedded.plan({letter["letter_id"]: ["hang", "ok"]})
    embedded.publish(letter)
    worker = embedded.start_worker()
    wait_for(lambda: embedded.attempts(letter["letter_id"]), what="the first send attempt")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    # The filesystem transport has no redelivery: the message left the queue.
    assert list(embedded_folders(embedded.settings.broker_dir)["data"].glob("*.msg")) == []

    embedded.run_worker()
    assert embedded.attempts(letter["letter_id"]) == ["hang", "ok"]
    assert [d["letter_id"] for d in embedded.delivered()] == [letter["letter_id"]]
    assert embedded.events(letter["letter_id"]).count("rendered") == 1


def test_a_message_fetched_but_never_accepted_is_put_back_on_start(embedded: Stack) -> None:
    letter = sample_request()
    embedded.publish(letter)
    folders = embedded_folders(embedded.settings.broker_dir)
    [message] = list(folders["data"].glob("*.msg"))
    # What a consumer killed between fetching and accepting leaves behind.
    shutil.move(message, folders["processed"] / message.name)
    embedded.run_worker()
    assert [d["letter_id"] for d in embedded.delivered()] == [letter["letter_id"]]
    # Once handled, no copy is kept: the ledger has the letter, and a copy would only
    # keep the debtor's personal data.
    assert not list(folders["processed"].glob("*.msg"))


def test_a_transient_failure_is_retried_from_the_ledger(embedded: Stack) -> None:
    letter = sample_request()
    embedded.plan({letter["letter_id"]: ["transient", "ok"]})
    embedded.publish(letter)
    embedded.run_worker()
    history = embedded.ledger.history(letter["letter_id"])
    assert [e.event for e in history][-3:] == ["failed", "requeued", "delivered"]
    assert (history[-2].at - history[-3].at).total_seconds() >= 0.9
    assert embedded.attempts(letter["letter_id"]) == ["transient", "ok"]


def test_dead_letters_can_be_listed_and_retried_on_embedded(embedded: Stack) -> None:
    letter = sample_request()
    embedded.plan({letter["letter_id"]: ["permanent", "ok"]})
    embedded.publish(letter, b"not json")
    embedded.run_worker()
    listing = embedded.run("dead", "list").stdout
    assert "fake digipost: told to refuse the letter" in listing
    assert "body is not valid JSON" in listing
    assert listing.splitlines()[-1] == "2 dead letter(s)"
    assert embedded.run("dead", "retry", letter["letter_id"]).returncode == 0
    embedded.run_worker()
    assert embedded.ledger.get(letter["letter_id"]).status is LetterStatus.DELIVERED  # type: ignore[union-attr]
    assert embedded.run("dead", "list").stdout.splitlines()[-1] == "1 dead letter(s)"


def test_logs_carry_no_names_addresses_national_ids_or_passwords(embedded: Stack) -> None:
    letter = sample_request("purring-nb-plain")
    bad = sample_request("inkassovarsel-nb-plain", language="de")
    embedded.plan({letter["letter_id"]: ["transient", "ok"]})
    embedded.publish(letter, bad)
    result = embedded.run_worker()
    logs = result.stderr
    assert letter["letter_id"] in logs and letter["case"]["case_number"] in logs
    record = embedded.ledger.get(letter["letter_id"])
    assert record is not None and record.archive_key
    with pdfplumber.open(embedded.settings.var_dir / "archive" / record.archive_key) as pdf:
        text = "\n".join(page.extract_text() for page in pdf.pages)
    password = re.search(
        r"\b[34679ACEFGHKMNPRTWXY]{4}-[34679ACEFGHKMNPRTWXY]{4}-[34679ACEFGHKMNPRTWXY]{4}\b", text
    )
    assert password, "the letter should carry a password"
    recipient = letter["recipient"]
    secrets = [
        password.group(0),
        password.group(0).replace("-", ""),
        recipient["name"],
        *recipient["name"].split(),
        recipient["national_identity_number"],
        *recipient["address"]["lines"],
        bad["recipient"]["name"],
    ]
    for secret in secrets:
        assert secret not in logs, f"{secret!r} appears in the logs"


class _StubMessage:
    """Just enough of a kombu message for the worker's failure handling."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.headers: dict[str, object] = {}
        self.content_type = "application/json"
        self.content_encoding = "utf-8"
        self.acked = False

    def ack(self) -> None:
        self.acked = True


def test_a_body_kombu_cannot_decode_is_dead_lettered_not_dropped(embedded: Stack) -> None:
    from letters.messaging.broker import Publisher, connect, topology_for
    from letters.worker.consumer import LetterWorker
    from letters.worker.supervisor import build_pipeline

    settings = embedded.settings
    ledger = embedded.ledger
    with connect(settings) as connection:
        worker = LetterWorker(
            connection,
            topology_for(settings),
            build_pipeline(settings, ledger),
            ledger,
            broker_retries=False,
        )
        worker._publisher = Publisher(worker.topology, connection)
        message = _StubMessage(b'{"schema": ')
        worker.on_decode_error(message, ValueError("Expecting value"))  # type: ignore[arg-type]
    assert message.acked  # only after it is safely in the dead-letter queue
    listing = embedded.run("dead", "list").stdout
    assert "body cannot be decoded: ValueError" in listing
