"""The dated rates: the packaged baseline, which rows a letter may use, and what is missing.

The packaged file is read by name here (the rest of the suite runs on a table
of test data); tables of their own are built from rows for each rule.
"""

from __future__ import annotations

import math
import tomllib
from datetime import date
from decimal import Decimal

import pytest

from letters.domain.rates import (
    PACKAGED_RATES_FILE,
    MissingRate,
    Rate,
    RateKind,
    RateTable,
    load_rates,
    parse_rates,
    with_rows,
)
from letters.errors import ConfigurationError, TransientError

INTEREST, COLLECTION, COURT = (
    RateKind.LATE_PAYMENT_INTEREST,
    RateKind.COLLECTION_RATE,
    RateKind.COURT_FEE,
)


def _data() -> dict:
    return tomllib.loads(PACKAGED_RATES_FILE.read_text(encoding="utf-8"))


def packaged(allow_unchecked: bool = False) -> RateTable:
    return load_rates(PACKAGED_RATES_FILE, allow_unchecked=allow_unchecked)


def row(
    kind: RateKind, day: str, value: str, checked: bool = True, row_id: str = "package"
) -> Rate:
    return Rate(kind, date.fromisoformat(day), Decimal(value), "test data", checked, row_id)


def table(*rows: Rate, allow_unchecked: bool = False) -> RateTable:
    return RateTable(rows, packaged().collection_cost_caps, allow_unchecked)


def test_every_packaged_row_has_a_day_a_source_and_says_whether_it_was_checked() -> None:
    for name, rows in _data().items():
        for entry in rows:
            assert isinstance(entry["valid_from"], date), (name, entry)
            assert entry["source"].strip(), (name, entry)
            assert isinstance(entry["checked"], bool), (name, entry)


def test_a_packaged_row_is_checked_only_where_it_names_the_regulation_it_was_read_in() -> None:
    for name, rows in _data().items():
        for entry in rows:
            if entry["checked"]:
                assert "FOR-" in entry["source"] or "forskriften §" in entry["source"], entry
            if "PLACEHOLDER" in entry["source"] or "derived" in entry["source"]:
                assert not entry["checked"], (name, entry)


def test_production_uses_only_the_checked_packaged_rows() -> None:
    production, demo = packaged(), packaged(allow_unchecked=True)
    # FOR-2024-12-19-3279: 12.50 % from 1 January 2025, read in the regulation.
    assert production.interest_rate(date(2025, 3, 1)).value == Decimal("12.50")
    assert production.collection_rate_on(date(2025, 12, 31)).value == Decimal("700.00")
    for rate in production.rows:
        if not rate.checked:
            assert not production.in_use(rate), rate
            assert demo.in_use(rate), rate
    # The placeholder for the second half of 2026 is never a production figure.
    with pytest.raises(MissingRate, match="no checked late_payment_interest for 2026-07-01"):
        production.interest_rate(date(2026, 11, 23))
    placeholder = demo.interest_rate(date(2026, 11, 23))
    assert not placeholder.checked and "PLACEHOLDER" in placeholder.source


def test_a_half_year_without_a_rate_is_missing_not_guessed() -> None:
    rates = table(row(INTEREST, "2026-01-01", "12.00"))
    with pytest.raises(MissingRate) as missing:
        rates.interest_rate(date(2027, 1, 5))
    assert str(missing.value) == "no checked late_payment_interest for 2027-01-01"
    assert missing.value.key == "late_payment_interest 2027-01-01"
    # The letter waits for it: a transient condition, never a stopped worker.
    assert isinstance(missing.value, TransientError)
    assert not rates.covers("late_payment_interest 2027-01-01")
    assert rates.covers("late_payment_interest 2026-01-01")


def test_an_annual_rate_reaches_only_to_the_end_of_the_year_of_its_newest_row() -> None:
    rates = table(row(COLLECTION, "2017-01-01", "700"), row(COLLECTION, "2026-01-01", "750"))
    # An older row is in force until the next one starts, over many years.
    assert rates.collection_rate_on(date(2020, 6, 1)).value == Decimal("700")
    assert rates.collection_rate_on(date(2026, 12, 31)).value == Decimal("750")
    with pytest.raises(MissingRate, match=r"no checked collection_rate for 2027$"):
        rates.collection_rate_on(date(2027, 1, 1))
    later = with_rows(rates, [row(COLLECTION, "2027-01-01", "750", row_id="R1")])
    assert later.collection_rate_on(date(2027, 1, 1)).value == Decimal("750")
    assert later.covers("collection_rate 2027") and not rates.covers("collection_rate 2027")


def test_the_court_fee_has_a_year_too() -> None:
    rates = table(row(COURT, "2025-01-01", "1314"))
    with pytest.raises(MissingRate, match="no checked court_fee for 2026"):
        rates.court_fee_on(date(2026, 2, 1))


def test_an_operators_row_is_used_once_approved_and_wins_over_the_packaged_one() -> None:
    base = table(row(INTEREST, "2026-07-01", "12.00", checked=False), allow_unchecked=True)
    assert base.interest_rate(date(2026, 8, 1)).value == Decimal("12.00")
    awaiting = with_rows(base, [row(INTEREST, "2026-07-01", "11.75", checked=False, row_id="R1")])
    # Not approved: not used, even where unchecked packaged rows are allowed.
    assert awaiting.interest_rate(date(2026, 8, 1)).row_id == "package"
    approved = with_rows(base, [row(INTEREST, "2026-07-01", "11.75", row_id="R1")])
    assert approved.interest_rate(date(2026, 8, 1)).value == Decimal("11.75")
    corrected = with_rows(approved, [row(INTEREST, "2026-07-01", "11.50", row_id="R2")])
    assert corrected.interest_rate(date(2026, 8, 1)).row_id == "R2"
    # Production: the packaged placeholder is no figure; the approved row is.
    production = table(row(INTEREST, "2026-07-01", "12.00", checked=False))
    with pytest.raises(MissingRate):
        production.interest_rate(date(2026, 8, 1))
    assert with_rows(production, [row(INTEREST, "2026-07-01", "11.75", row_id="R1")]).covers(
        "late_payment_interest 2026-07-01"
    )


def test_a_row_of_an_unchecked_figure_for_a_year_holds_that_year() -> None:
    rates = table(row(COURT, "2025-01-01", "1314"), row(COURT, "2026-01-01", "1314", checked=False))
    assert rates.court_fee_on(date(2025, 5, 1)).value == Decimal("1314")
    with pytest.raises(MissingRate, match="no checked court_fee for 2026"):
        rates.court_fee_on(date(2026, 5, 1))


def test_probing_finds_every_missing_rate_and_recording_every_row_used() -> None:
    rates = table(row(INTEREST, "2026-07-01", "12.00"), row(COLLECTION, "2026-01-01", "750"))
    probe = rates.probing()
    probe.interest_rate(date(2027, 2, 1))
    probe.collection_rate_on(date(2027, 2, 1))
    probe.interest_rate(date(2027, 3, 1))
    assert [m.key for m in probe.misses or []] == [
        "late_payment_interest 2027-01-01",
        "collection_rate 2027",
    ]
    recording = rates.recording()
    recording.interest_rate(date(2026, 8, 1))
    assert [r.value for r in recording.used or []] == [Decimal("12.00")]


def test_the_utlegg_fee_is_whole_kroner_rounded_down() -> None:
    rates = table(
        row(COURT, "2026-01-01", "1314"),
        row(RateKind.ATTACHMENT_FEE_MULTIPLIER, "2022-01-01", "1.21"),
    )
    assert rates.attachment_fee_times(date(2026, 11, 23)) == Decimal("1.21")
    assert rates.attachment_fee_on(date(2026, 11, 23)) == Decimal("1589")  # 1.21 × 1314 = 1589.94


def test_how_many_days_ahead_each_table_reaches() -> None:
    rates = table(
        row(INTEREST, "2026-07-01", "12.00"),
        row(INTEREST, "2027-01-01", "12.00"),
        row(COLLECTION, "2026-01-01", "750"),
        row(RateKind.ATTACHMENT_FEE_MULTIPLIER, "2022-01-01", "1.21"),
    )
    today = date(2026, 12, 5)
    assert rates.reaches_until(INTEREST, today) == date(2027, 6, 30)
    assert rates.days_ahead(INTEREST, today) == 207
    assert rates.days_ahead(COLLECTION, today) == 26
    assert rates.days_ahead(COURT, today) == -1
    assert math.isinf(rates.days_ahead(RateKind.ATTACHMENT_FEE_MULTIPLIER, today))
    assert rates.days_ahead(INTEREST, date(2027, 7, 1)) == -1
    assert rates.days_ahead(INTEREST, date(2027, 9, 30)) == -1  # late in a missing half-year
    assert rates.days_ahead(COLLECTION, date(2027, 3, 1)) == -1


def test_a_gap_or_a_row_not_starting_a_half_year_is_refused_when_loading() -> None:
    data = _data()
    del data["late_payment_interest"][2]
    with pytest.raises(ConfigurationError, match="has no row for the half-year from 2024-01-01"):
        parse_rates(data)
    data = _data()
    data["late_payment_interest"][0]["valid_from"] = date(2023, 2, 1)
    with pytest.raises(ConfigurationError, match="does not start a half-year"):
        parse_rates(data)


@pytest.mark.parametrize(
    ("claim", "day", "higher", "vat", "cap"),
    [
        ("500.00", date(2025, 6, 1), False, False, "175.00"),  # 0.25 × 700
        ("500.01", date(2025, 6, 1), False, False, "245.00"),  # 0.35 × 700
        ("1249.00", date(2026, 11, 23), False, False, "300.00"),  # 0.40 × 750
        ("1249.00", date(2026, 11, 23), True, False, "600.00"),  # the higher cap, × 2
        ("1249.00", date(2026, 11, 23), False, True, "375.00"),  # + 25 % VAT
        ("300000.00", date(2026, 11, 23), False, False, "5400.00"),  # 7.20 × 750
    ],
)
def test_collection_cost_caps_by_the_claims_size(
    claim: str, day: date, higher: bool, vat: bool, cap: str
) -> None:
    rates = packaged(allow_unchecked=True)  # 750 from 2026 is not read in the regulation yet
    assert rates.collection_cost_cap(Decimal(claim), day, higher=higher, vat=vat) == Decimal(cap)
