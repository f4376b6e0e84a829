"""``letters rates`` and the worker, as operations use them: a rate missing for the current
half-year holds the letters that need it, the worker keeps delivering the others, and an
approval by a second person sends the held ones on.

The rate table is the suite's test data with the interest of the current half-year and
later left out, so the test means the same on any day it runs.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from letters.clock import today_in_norway
from letters.domain.rates import RateKind, half_year_start
from letters.ledger import LetterStatus
from letters.worker.health import ServiceProbe, health_app
from tests.support.rates import write_suite_rates
from tests.support.stacks import Stack, needs_interest, needs_no_interest


def missing_this_half_year(stack: Stack, folder: Path) -> date:
    """Point the stack at a table without interest from this half-year on; that day."""
    start = half_year_start(today_in_norway())
    table = write_suite_rates(
        folder / "rates.toml", leave_out_from={RateKind.LATE_PAYMENT_INTEREST: start}
    )
    stack.env["LETTERS_RATES_FILE"] = str(table)
    return start


def scrape(stack: Stack) -> dict[tuple[str, str], float]:
    """The rate gauges of /metrics, and that /readyz says ready."""
    probe = ServiceProbe(stack.settings)
    try:
        assert all(check.ok for check in probe.readiness()), probe.readiness()
        body = b"".join(
            health_app(probe)({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"}, lambda s, h: None)
        )
    finally:
        probe.close()
    return {
        (sample.name, next(iter(sample.labels.values()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        if family.name in ("letters_held_for_rate", "letters_rate_table_days_ahead")
        for sample in family.samples
    }


def status_of(stack: Stack, letter_id: str) -> LetterStatus:
    record = stack.ledger.get(letter_id)
    assert record is not None
    return record.status


def test_a_missing_rate_holds_its_letters_until_a_second_person_approves_it(
    embedded: Stack, tmp_path: Path
) -> None:
    start = missing_this_half_year(embedded, tmp_path)
    missing = f"late_payment_interest {start.isoformat()}"
    held, free = needs_interest(), needs_no_interest()
    embedded.publish(held, free)

    embedded.run_worker()  # exits 0: a missing rate never stops the worker
    assert status_of(embedded, free["letter_id"]) is LetterStatus.DELIVERED
    assert status_of(embedded, held["letter_id"]) is LetterStatus.HELD
    overview = embedded.run("status")
    assert overview.returncode == 0, overview.stderr
    # Ready all the same: a missing rate is a held letter, not an unready service.
    gauges = scrape(embedded)
    assert gauges[("letters_held_for_rate", missing)] == 1
    assert gauges[("letters_rate_table_days_ahead", "late_payment_interest")] == -1
    assert gauges[("letters_rate_table_days_ahead", "court_fee")] > 31
    assert f"1 letter(s): no checked late_payment_interest for {start.isoformat()}" in (
        overview.stdout
    )

    added = embedded.run(
        "rates", "add", "late_payment_interest", "--from", start.isoformat(), "--value", "12.00",
        "--source", "FOR-TEST § 1 (test data)", "--by", "Ola Operatør",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added R1: late_payment_interest" in added.stdout
    same = embedded.run("rates", "approve", "R1", "--by", "ola operatør")
    assert same.returncode == 2
    assert "a second person must approve it" in same.stderr
    embedded.run_worker()
    assert status_of(embedded, held["letter_id"]) is LetterStatus.HELD  # not approved yet

    approved = embedded.run("rates", "approve", "R1", "--by", "Kari Kontroll")
    assert approved.returncode == 0, approved.stderr
    assert "1 held letter(s) go on now; still held: none" in approved.stdout
    embedded.run_worker()
    assert status_of(embedded, held["letter_id"]) is LetterStatus.DELIVERED
    history = embedded.events(held["letter_id"])
    assert history[:4] == ["accepted", "routed", "held", "requeued"]
    assert history[-1] == "delivered"

    listing = json.loads(embedded.run("rates", "list", "--json").stdout)
    [row] = [r for r in listing["rows"] if r["row"] == "R1"]
    assert row | {"added_at": None} == {
        "row": "R1",
        "kind": "late_payment_interest",
        "valid_from": start.isoformat(),
        "value": "12.00",
        "source": "FOR-TEST § 1 (test data)",
        "status": "approved",
        "added_by": "Ola Operatør",
        "added_at": None,
        "approved_by": "Kari Kontroll",
        "withdrawn_by": None,
        "withdrawn_because": None,
        "in_use": True,
    }
    assert listing["held"] == {}
    assert listing["reaches"]["late_payment_interest"]["days_ahead"] >= 0
    assert missing not in embedded.run("status").stdout


def test_a_withdrawn_rate_holds_the_next_letter_again(embedded: Stack, tmp_path: Path) -> None:
    start = missing_this_half_year(embedded, tmp_path)
    for args in (
        ("add", "late_payment_interest", "--from", start.isoformat(), "--value", "12.00",
         "--source", "FOR-TEST", "--by", "Ola"),
        ("approve", "R1", "--by", "Kari"),
        ("withdraw", "R1", "--by", "Kari", "--reason", "the figure was typed wrong"),
    ):  # fmt: skip
        result = embedded.run("rates", *args)
        assert result.returncode == 0, result.stderr
    letter = needs_interest()
    embedded.publish(letter)
    embedded.run_worker()
    assert status_of(embedded, letter["letter_id"]) is LetterStatus.HELD
    listing = json.loads(embedded.run("rates", "list", "--json").stdout)
    [row] = [r for r in listing["rows"] if r["row"] == "R1"]
    assert (row["status"], row["in_use"], row["withdrawn_because"]) == (
        "withdrawn",
        False,
        "the figure was typed wrong",
    )
    assert listing["held"] == {f"late_payment_interest {start.isoformat()}": 1}


def test_rates_add_refuses_a_figure_that_cannot_be_a_rate(embedded: Stack) -> None:
    for args, said in (
        (("court_fee", "--from", "2027-01-01", "--value", "1345.50"), "whole kroner"),
        (("late_payment_interest", "--from", "2027-02-01", "--value", "12"), "1 January or 1 July"),
        (("late_payment_interest", "--from", "2027-01-01", "--value", "-1"), "more than 0"),
        (("collection_rate", "--from", "2027-01-01", "--value", "sju"), "not a number"),
    ):
        result = embedded.run("rates", "add", *args, "--source", "FOR-TEST", "--by", "Ola")
        assert result.returncode == 2, (args, result.stdout)
        assert said in result.stderr, (args, result.stderr)
    unknown = embedded.run("rates", "add", "guessed_rate", "--from", "2027-01-01", "--value", "1",
                           "--source", "x", "--by", "Ola")  # fmt: skip
    assert unknown.returncode == 2
    assert json.loads(embedded.run("rates", "list", "--json").stdout)["rows"][0]["row"] == "package"


def test_the_demo_holds_what_needs_a_missing_rate_and_names_it(
    embedded: Stack, tmp_path: Path
) -> None:
    start = missing_this_half_year(embedded, tmp_path)
    embedded.env["LETTERS_CHANNEL_DIGIPOST"] = "fake"
    demo = embedded.run("demo", timeout=600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"waiting for late_payment_interest {start.isoformat()}" in demo.stdout
    assert "16 letter(s) held for a rate nobody has checked" in demo.stdout
