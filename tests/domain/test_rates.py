"""The rate table shipped as data: every row dated and sourced, interest per half-year."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from decimal import Decimal

import pytest

from letters.clock import today_in_norway
from letters.domain.rates import RATES_FILE, parse_rates, rate_table
from letters.errors import ConfigurationError


def _data() -> dict:
    return tomllib.loads(RATES_FILE.read_text(encoding="utf-8"))


def test_every_row_has_a_valid_from_date_and_a_source() -> None:
    for name, rows in _data().items():
        for row in rows:
            assert isinstance(row["valid_from"], date), (name, row)
            assert row["source"].strip(), (name, row)
            assert isinstance(row["checked"], bool), (name, row)


def test_the_rates_the_review_checked() -> None:
    table = rate_table()
    # FOR-2024-12-19-3279: 12.50 % from 1 January 2025.
    assert table.interest_rate(date(2025, 3, 1)).value == Decimal("12.50")
    assert table.interest_rate(date(2025, 3, 1)).checked
    assert table.interest_rate(date(2026, 1, 1)).value == Decimal("12.00")
    assert table.collection_rate_on(date(2025, 12, 31)).value == Decimal("700.00")
    assert table.collection_rate_on(date(2026, 1, 1)).value == Decimal("750.00")


def test_the_interest_table_reaches_the_current_half_year() -> None:
    # Fails on the first day of a half-year nobody has added the rate for: the worker
    # would stop on the first letter with interest (a configuration error, not a guess).
    today = today_in_norway()
    assert rate_table().interest_known_until >= today, (
        f"add the forsinkelsesrente from {today:%Y-%m-01} to {RATES_FILE.name}"
    )


def test_a_half_year_without_a_rate_is_a_configuration_error() -> None:
    table = rate_table()
    after = date(table.interest_known_until.year + 1, 2, 1)
    with pytest.raises(ConfigurationError, match="no late_payment_interest row for the half-year"):
        table.interest_rate(after)
    with pytest.raises(ConfigurationError, match="no late_payment_interest row"):
        table.interest_rate(date(2022, 12, 31))


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
    assert rate_table().collection_cost_cap(Decimal(claim), day, higher=higher, vat=vat) == Decimal(
        cap
    )


def test_the_attachment_fee_is_the_multiplier_times_the_court_fee_unit() -> None:
    table = rate_table()
    assert table.attachment_fee_times(date(2026, 11, 23)) == Decimal("1.21")
    assert table.attachment_fee_on(date(2026, 11, 23)) == Decimal("1589.94")  # 1.21 × 1314


def test_a_worker_warns_a_month_before_the_interest_table_runs_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from letters.config import Settings
    from letters.logs import JsonFormatter
    from letters.rendering.letter_service import LetterService

    service = LetterService(Settings.from_env({}))
    caplog.clear()  # the service checked today's date when it started
    end = rate_table().interest_known_until
    with caplog.at_level("WARNING", logger="letters.rendering"):
        service._warn_if_the_rates_run_out(end - timedelta(days=40))
    assert caplog.records == []
    with caplog.at_level("WARNING", logger="letters.rendering"):
        service._warn_if_the_rates_run_out(end - timedelta(days=10))
    [record] = caplog.records
    assert record.getMessage() == "the interest rate table ends soon"
    assert f"known until {end.isoformat()}" in JsonFormatter().format(record)
