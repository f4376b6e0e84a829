"""The operations page in headless Chromium: ``letters ops --serve`` as its own process on
an embedded stack where the test has made a dead letter, cut and sent a print batch, and
held a letter for its case; the page shows each with its reason and the command that
acts on it, and nothing of the debtors'."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from letters.clock import today_in_norway
from letters.config import PROJECT_ROOT
from letters.domain.rates import RateKind
from letters.ledger import LetterStatus
from letters.ledger.dead_letters import DeadLetterStore
from letters.ledger.print_batches import PrintBatchStore
from tests.support.browser import headless_chromium
from tests.support.rates import write_suite_rates
from tests.support.stacks import Stack, sample_request, stack_env


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("operations")
    env = stack_env(tmp, broker=False, database_url=None)
    env["LETTERS_CHANNEL_PRINT"] = "print_post"
    # No rettsgebyr for this year: a varsel waits for it, the other letters do not.
    year = today_in_norway().year
    env["LETTERS_RATES_FILE"] = str(
        write_suite_rates(tmp / "rates.toml", leave_out_from={RateKind.COURT_FEE: date(year, 1, 1)})
    )
    stack = Stack(env)
    refused = sample_request(language="sv")  # the contract refuses it: dead-lettered
    printed = sample_request("purring-nb-plain")
    printed["recipient"]["digital_consent"] = False  # print and post
    held = sample_request("inkassovarsel-nb-plain")
    set_case = stack.run("case", held["case"]["case_number"], "--set", "on_hold", "--note", "x")
    assert set_case.returncode == 0, set_case.stderr
    waits_for_rate = sample_request("varsel_rettslig_pagang-nb-plain")
    stack.publish(refused, printed, held, waits_for_rate)
    stack.run_worker()
    cut = stack.run("print", "cut")
    assert cut.returncode == 0, cut.stderr
    log = tmp / "ops.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            stack.command("ops", "--serve", "--port", "0"),
            env=stack.process_env(), stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
        )  # fmt: skip
    try:
        deadline, url = time.monotonic() + 60, None
        while url is None and time.monotonic() < deadline and server.poll() is None:
            found = re.search(r"serving the operations page on (\S+)", log.read_text("utf-8"))
            url = found.group(1) if found else None
            time.sleep(0.2)
        assert url, f"the operations page did not start:\n{log.read_text('utf-8')}"
        yield {
            "url": url, "stack": stack, "refused": refused, "printed": printed, "held": held,
            "waits_for_rate": waits_for_rate, "missing": f"court_fee {year}",
        }  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
        stack.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium() as driver:
        yield driver


def test_the_page_shows_the_dead_letter_with_its_reason_and_the_command(
    made: dict[str, Any], browser: Any
) -> None:
    letter_id = made["refused"]["letter_id"]
    dead = DeadLetterStore(made["stack"].ledger).for_letter(letter_id)
    assert len(dead) == 1 and "language" in dead[0].reason
    browser.get(made["url"])
    rows = browser.find_elements("css selector", "#dead-letter-table tr.dead-letter")
    assert len(rows) == 1
    text = rows[0].text
    assert letter_id in text
    assert dead[0].reason in rows[0].find_element("css selector", ".reason").text
    assert f"letters dead retry {letter_id}" in text


def test_the_page_shows_the_cut_batch_with_its_manifest(made: dict[str, Any], browser: Any) -> None:
    ledger = made["stack"].ledger
    record = ledger.get(made["printed"]["letter_id"])
    assert record is not None and record.status is LetterStatus.SENT
    batch = PrintBatchStore(ledger).batch_of(record.letter_id)
    assert batch is not None and batch.location and batch.location.endswith(".json")
    browser.get(made["url"])
    row = browser.find_element("css selector", f"#batch-table tr[id='batch-{batch.batch_id}']")
    assert "sent" in row.find_elements("css selector", "td")[1].text
    assert batch.location in row.find_element("css selector", ".manifest").text
    assert Path(batch.location).exists()
    recent = browser.find_element("id", "recent-table").text
    assert record.letter_id in recent and "sent" in recent


def test_the_page_shows_the_held_letter_and_its_case(made: dict[str, Any], browser: Any) -> None:
    held = made["held"]
    case_number = held["case"]["case_number"]
    browser.get(made["url"])
    waiting = browser.find_element("id", "waiting-table").text
    assert held["letter_id"] in waiting and "held" in waiting
    assert f"letters case {case_number} --set open" in waiting
    cases = browser.find_element("id", "case-table").text
    assert case_number in cases and "on_hold" in cases
    queues = browser.find_element("id", "queue-table").text
    assert "letters.dead 1" in queues and "letters.work 0" in queues


def test_the_page_counts_the_letters_each_missing_rate_holds(
    made: dict[str, Any], browser: Any
) -> None:
    letter_id, missing = made["waits_for_rate"]["letter_id"], made["missing"]
    record = made["stack"].ledger.get(letter_id)
    assert record is not None and record.status is LetterStatus.HELD
    browser.get(made["url"])
    [row] = browser.find_elements("css selector", "#rate-table tr.held-for-rate")
    assert row.text.startswith(f"{missing} 1")
    assert "letters rates add court_fee" in row.text
    waiting = browser.find_element("id", "waiting-table").text
    assert letter_id in waiting and f"goes on when {missing} is approved" in waiting


def test_the_page_holds_nothing_of_the_debtors(made: dict[str, Any]) -> None:
    page = httpx.get(made["url"], timeout=30).text
    for request in (made["refused"], made["printed"], made["held"]):
        recipient = request["recipient"]
        for value in (
            recipient["name"],
            recipient.get("national_identity_number"),
            *recipient["address"]["lines"],
        ):
            if value:
                assert value not in page


def test_the_page_is_read_only_and_answers_only_its_own_host_names(made: dict[str, Any]) -> None:
    url = made["url"]
    assert httpx.post(url, timeout=30).status_code == 405
    assert httpx.get(url, headers={"Host": "evil.example"}, timeout=30).status_code == 421
    assert httpx.get(url + "etc/passwd", timeout=30).status_code == 404


def test_a_broker_that_does_not_answer_is_shown_not_fatal(embedded: Stack) -> None:
    from letters.operations.page import render_page
    from letters.operations.snapshot import take_snapshot

    def broker_down() -> dict[str, int]:
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    assert embedded.ledger.status_counts() == {}  # migrated
    page = render_page(take_snapshot(embedded.ledger, broker_down))
    assert 'id="broker-error"' in page and "ConnectionRefusedError" in page
    assert 'id="queue-table"' not in page
    # A reason is text, never markup: autoescape.
    assert "<script>" not in render_page(
        take_snapshot(embedded.ledger, lambda: {"<script>alert(1)</script>": 1})
    )
