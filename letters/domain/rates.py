"""The dated rates of ``rates.toml``: interest, the collection rate, fee caps, the court fee.

Each rate is looked up for a day: the row in force on that day is the last one
whose ``valid_from`` is not after it. Late-payment interest is different: it
is fixed per half-year, so a day needs the row of its own half-year, and a
half-year without one is a configuration error (a guessed rate would be
printed in a legal letter).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from letters.errors import ConfigurationError

RATES_FILE = Path(__file__).with_name("rates.toml")


@dataclass(frozen=True, slots=True)
class Rate:
    valid_from: date
    value: Decimal
    source: str
    checked: bool


@dataclass(frozen=True, slots=True)
class CapBracket:
    # None: the open bracket above the last bound.
    up_to: Decimal | None
    times: Decimal


@dataclass(frozen=True, slots=True)
class CostCaps:
    valid_from: date
    brackets: tuple[CapBracket, ...]
    higher_factor: Decimal
    higher_after_days: int
    vat_percent: Decimal
    source: str


def half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month < 7 else 7, 1)


def next_half_year(day: date) -> date:
    start = half_year_start(day)
    return date(start.year, 7, 1) if start.month == 1 else date(start.year + 1, 1, 1)


@dataclass(frozen=True, slots=True)
class RateTable:
    late_payment_interest: tuple[Rate, ...]
    collection_rate: tuple[Rate, ...]
    court_fee_unit: tuple[Rate, ...]
    attachment_fee_multiplier: tuple[Rate, ...]
    collection_cost_caps: tuple[CostCaps, ...]

    def interest_rate(self, day: date) -> Rate:
        """The forsinkelsesrente of ``day``'s half-year."""
        start = half_year_start(day)
        for rate in self.late_payment_interest:
            if rate.valid_from == start:
                return rate
        raise ConfigurationError(
            f"{RATES_FILE.name}: no late_payment_interest row for the half-year from "
            f"{start.isoformat()}; add the rate in force from that day"
        )

    @property
    def interest_known_from(self) -> date:
        return self.late_payment_interest[0].valid_from

    @property
    def interest_known_until(self) -> date:
        """The last day the interest table covers."""
        return date.fromordinal(
            next_half_year(self.late_payment_interest[-1].valid_from).toordinal() - 1
        )

    def collection_rate_on(self, day: date) -> Rate:
        return _in_force(self.collection_rate, day, "collection_rate")

    def court_fee_on(self, day: date) -> Rate:
        return _in_force(self.court_fee_unit, day, "court_fee_unit")

    def attachment_fee_times(self, day: date) -> Decimal:
        """The fee for a request for utlegg, in rettsgebyr (rettsgebyrloven § 14)."""
        return _in_force(self.attachment_fee_multiplier, day, "attachment_fee_multiplier").value

    def attachment_fee_on(self, day: date) -> Decimal:
        """The fee for a request for utlegg on ``day``, in kroner."""
        return (self.attachment_fee_times(day) * self.court_fee_on(day).value).quantize(
            Decimal("0.01")
        )

    def collection_cost_cap(self, claim: Decimal, day: date, *, higher: bool, vat: bool) -> Decimal:
        """The most a consumer can be charged in collection costs for a claim of this size."""
        caps = self._caps_on(day)
        bracket = next(b for b in caps.brackets if b.up_to is None or claim <= b.up_to)
        cap = bracket.times * self.collection_rate_on(day).value
        if higher:
            cap *= caps.higher_factor
        if vat:
            cap *= 1 + caps.vat_percent / 100
        return cap.quantize(Decimal("0.01"))

    def higher_cap_after_days(self, day: date) -> int:
        return self._caps_on(day).higher_after_days

    def _caps_on(self, day: date) -> CostCaps:
        caps = next((c for c in reversed(self.collection_cost_caps) if c.valid_from <= day), None)
        if caps is None:
            raise ConfigurationError(f"{RATES_FILE.name}: no collection_cost_caps for {day}")
        return caps


def _in_force(rows: Sequence[Rate], day: date, name: str) -> Rate:
    found = None
    for row in rows:
        if row.valid_from <= day:
            found = row
    if found is None:
        raise ConfigurationError(f"{RATES_FILE.name}: no {name} row in force on {day.isoformat()}")
    return found


def _rates(rows: list[dict[str, Any]], key: str, name: str) -> tuple[Rate, ...]:
    out = tuple(
        Rate(row["valid_from"], Decimal(row[key]), str(row["source"]), bool(row["checked"]))
        for row in rows
    )
    days = [r.valid_from for r in out]
    if days != sorted(set(days)) or not days:
        raise ConfigurationError(f"{RATES_FILE.name}: [[{name}]] rows must be in date order")
    return out


def parse_rates(data: dict[str, Any]) -> RateTable:
    try:
        interest = _rates(data["late_payment_interest"], "percent", "late_payment_interest")
        for row in interest:
            if row.valid_from != half_year_start(row.valid_from):
                raise ConfigurationError(
                    f"{RATES_FILE.name}: late_payment_interest from {row.valid_from} "
                    "does not start a half-year (1 January or 1 July)"
                )
        for earlier, later in pairwise(interest):
            if later.valid_from != next_half_year(earlier.valid_from):
                raise ConfigurationError(
                    f"{RATES_FILE.name}: late_payment_interest has no row for the half-year "
                    f"from {next_half_year(earlier.valid_from)}"
                )
        caps = tuple(
            CostCaps(
                row["valid_from"],
                tuple(
                    CapBracket(Decimal(b["up_to"]) if "up_to" in b else None, Decimal(b["times"]))
                    for b in row["brackets"]
                ),
                Decimal(row["higher_factor"]),
                int(row["higher_after_days"]),
                Decimal(row["vat_percent"]),
                str(row["source"]),
            )
            for row in data["collection_cost_caps"]
        )
        return RateTable(
            late_payment_interest=interest,
            collection_rate=_rates(data["collection_rate"], "kroner", "collection_rate"),
            court_fee_unit=_rates(data["court_fee_unit"], "kroner", "court_fee_unit"),
            attachment_fee_multiplier=_rates(
                data["attachment_fee_multiplier"], "times", "attachment_fee_multiplier"
            ),
            collection_cost_caps=caps,
        )
    except (KeyError, TypeError, ArithmeticError, ValueError) as err:
        raise ConfigurationError(f"{RATES_FILE.name}: malformed rate table: {err!r}") from err


@lru_cache(maxsize=1)
def rate_table() -> RateTable:
    """The rate table shipped with the service."""
    return parse_rates(tomllib.loads(RATES_FILE.read_text(encoding="utf-8")))
