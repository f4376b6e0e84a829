"""Interest per claim and rate period, computed from the rate table, never taken from a request."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from letters.domain.account import account
from letters.domain.contract import ContractRules, parse_request
from letters.domain.interest import interest_periods, total_interest
from letters.domain.kid import KidMethod
from letters.domain.rates import rate_table
from letters.errors import InvalidRequest

GOLDEN = Path(__file__).parents[1] / "golden"
RULES = ContractRules(KidMethod.MOD10, 12)
TODAY = date(2026, 11, 21)


def _request(**case: Any) -> dict[str, Any]:
    data = json.loads((GOLDEN / "purring/nb/plain/request.json").read_text())
    data = copy.deepcopy(data)
    data["case"].update(case)
    return data


def test_one_claim_across_the_first_of_july_gets_a_line_per_rate_period() -> None:
    claim = {
        "description": "Faktura 1",
        "invoice_number": "1",
        "due_date": "2025-05-31",
        "principal": "10000.00",
    }
    request = parse_request(_request(claims=[claim]), RULES, TODAY)
    lines = account(request.case, date(2025, 9, 30), rate_table()).interest_lines
    assert [(line.percent, line.from_date, line.to_date) for line in lines] == [
        (Decimal("12.50"), date(2025, 6, 1), date(2025, 6, 30)),
        (Decimal("12.25"), date(2025, 7, 1), date(2025, 9, 30)),
    ]
    # 10 000 × 12.50 % × 30/365 and 10 000 × 12.25 % × 92/365
    assert [line.amount for line in lines] == [Decimal("102.74"), Decimal("308.77")]
    assert total_interest(lines) == Decimal("411.51")
    assert [line.days for line in lines] == [30, 92]


def test_interest_runs_from_the_later_day_the_case_gives() -> None:
    request = parse_request(_request(interest={"from_date": "2026-10-01"}), RULES, TODAY)
    [line] = account(request.case, date(2026, 11, 23), rate_table()).interest_lines
    assert line.from_date == date(2026, 10, 1) and line.to_date == date(2026, 11, 23)


def test_no_interest_object_means_no_interest() -> None:
    data = _request()
    del data["case"]["interest"]
    request = parse_request(data, RULES, TODAY)
    assert account(request.case, date(2026, 11, 23), rate_table()).interest_lines == ()


def test_many_claims_sum_per_period_and_per_claim() -> None:
    claims = [
        {"description": "A", "invoice_number": "1", "due_date": "2026-03-01", "principal": "100"},
        {"description": "B", "invoice_number": "2", "due_date": "2026-08-01", "principal": "200"},
    ]
    request = parse_request(_request(claims=claims), RULES, TODAY)
    lines = account(request.case, date(2026, 11, 23), rate_table()).interest_lines
    assert [(line.claim_index, line.from_date) for line in lines] == [
        (0, date(2026, 3, 2)),
        (0, date(2026, 7, 1)),
        (1, date(2026, 8, 2)),
    ]
    periods = interest_periods(lines)
    assert [(p.from_date, p.to_date, p.one_start) for p in periods] == [
        (date(2026, 3, 2), date(2026, 6, 30), True),
        (date(2026, 7, 1), date(2026, 11, 23), False),
    ]
    assert sum(p.amount for p in periods) == total_interest(lines)


@pytest.mark.parametrize("field", ["rate_percent", "amount"])
def test_a_request_cannot_carry_its_own_rate_or_amount(field: str) -> None:
    data = _request(interest={field: "12.50"})
    with pytest.raises(InvalidRequest) as err:
        parse_request(data, RULES, TODAY)
    assert str(err.value).startswith(
        f"case.interest.{field}: must be left out: the service computes the interest from the "
        "rate table (forsinkelsesrenteloven § 3)"
    )


def test_interest_from_before_the_rate_table_is_refused_with_the_claim_named() -> None:
    claim = {
        "description": "Old",
        "invoice_number": "9",
        "due_date": "2022-06-30",
        "principal": "5",
    }
    with pytest.raises(InvalidRequest) as err:
        parse_request(_request(claims=[claim]), RULES, TODAY)
    assert "case.claims[0].due_date: interest from 2022-07-01 cannot be computed" in str(err.value)
    data = _request(claims=[claim], interest={"from_date": "2023-01-01"})
    parse_request(data, RULES, TODAY)  # from a day the table knows, it is fine
