"""The dated rates a letter depends on, and which of them a letter may use.

Rates are set by regulation: the forsinkelsesrente for each half-year, the
inkassosats and the rettsgebyr for each year. A row says from which day its
figure applies and where it was read. Rows come from two places: the table
packaged with the service (``rates.toml``, the baseline) and the rows
operations add in the ledger (``letters rates add``), which a second person
approves. A row is *checked* when its figure was read in the regulation (a
packaged row marked so) or approved (an operator's row); a letter uses only
checked rows, unless the embedded default is told it may use the packaged
unchecked ones (``LETTERS_ALLOW_UNCHECKED_RATES``, set by the demo).

A letter that needs a figure no checked row gives is not guessed at: the
lookup raises ``MissingRate`` and the pipeline holds the letter until the rate
is approved. What needs a row of its own:

- interest: every half-year the interest runs in (no row: no rate);
- the inkassosats and the rettsgebyr: every calendar year. The newest row
  reaches only to the end of its own year, so last year's figure is never
  carried into a year nobody has checked.

Among rows for the same kind and day, an approved operator row (the latest
approved) wins over a packaged one: that is how a packaged figure is corrected.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Any

from letters.config.declared import RATES_FILE
from letters.errors import ConfigurationError, TransientError

PACKAGED_RATES_FILE = Path(__file__).with_name("rates.toml")
# The baseline when LETTERS_RATES_FILE names none. The test suite points it at a table
# of test data (tests/support/rates.py), so that no test depends on today's date.
baseline_rates_file = PACKAGED_RATES_FILE
PACKAGE = "package"


class RateKind(StrEnum):
    LATE_PAYMENT_INTEREST = "late_payment_interest"
    COLLECTION_RATE = "collection_rate"
    COURT_FEE = "court_fee"
    ATTACHMENT_FEE_MULTIPLIER = "attachment_fee_multiplier"


# Set for each calendar year: a day needs a row of its own year.
ANNUAL = frozenset({RateKind.COLLECTION_RATE, RateKind.COURT_FEE})
# The unit each kind's value is in, as rates.toml names its value.
UNIT = {
    RateKind.LATE_PAYMENT_INTEREST: "percent",
    RateKind.COLLECTION_RATE: "kroner",
    RateKind.COURT_FEE: "kroner",
    RateKind.ATTACHMENT_FEE_MULTIPLIER: "times",
}


@dataclass(frozen=True, slots=True)
class Rate:
    kind: RateKind
    valid_from: date
    value: Decimal
    source: str
    # Read in the regulation (packaged), or approved by a second person (an operator's).
    checked: bool
    # "package", or the id of an operator's row in the ledger.
    row_id: str = PACKAGE
    added_by: str = PACKAGE
    approved_by: str | None = None

    @property
    def from_package(self) -> bool:
        return self.row_id == PACKAGE

    def describe(self) -> str:
        origin = "packaged" if self.from_package else f"row {self.row_id}"
        check = "checked" if self.checked else "UNCHECKED"
        return (
            f"{self.kind} from {self.valid_from.isoformat()} = {self.value} "
            f"({origin}, {check}: {self.source})"
        )


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


class MissingRate(TransientError):
    """No checked row gives the figure a letter needs: the letter waits for it.

    Transient where it escapes the pipeline (a re-send, a print batch's new
    date): the figure comes once operations approve it.
    """

    def __init__(self, kind: RateKind, period: str) -> None:
        self.kind = kind
        # The half-year's first day (interest), the year (annual rates), or a row's day.
        self.period = period
        super().__init__(f"no checked {kind} for {period}")

    @property
    def key(self) -> str:
        """What the ledger holds the letter for: ``KIND PERIOD``."""
        return f"{self.kind} {self.period}"


def parse_hold_key(key: str) -> tuple[RateKind, str]:
    kind, _, period = key.partition(" ")
    return RateKind(kind), period


def half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month < 7 else 7, 1)


def next_half_year(day: date) -> date:
    start = half_year_start(day)
    return date(start.year, 7, 1) if start.month == 1 else date(start.year + 1, 1, 1)


@dataclass(frozen=True, slots=True)
class RateTable:
    """Every known row, and the rule for which of them a letter may use."""

    rows: tuple[Rate, ...]
    collection_cost_caps: tuple[CostCaps, ...]
    # The packaged unchecked rows may be used (the embedded demo only).
    allow_unchecked: bool = False
    # Set by probing(): misses are noted here and a stand-in is returned.
    misses: list[MissingRate] | None = field(default=None, compare=False)
    # Set by recording(): every row a lookup returned.
    used: list[Rate] | None = field(default=None, compare=False)

    # -- which rows ---------------------------------------------------------------

    def usable(self, rate: Rate) -> bool:
        return rate.checked or (self.allow_unchecked and rate.from_package)

    def effective(self, kind: RateKind, valid_from: date) -> Rate | None:
        """The row a letter uses for ``kind`` from ``valid_from``: an approved operator row
        (the latest) before a packaged one, checked before unchecked."""
        candidates = [r for r in self.rows if r.kind is kind and r.valid_from == valid_from]
        ranked = sorted(
            (r for r in candidates if self.usable(r)),
            key=lambda r: (r.checked and not r.from_package, r.checked, _row_order(r)),
            reverse=True,
        )
        return ranked[0] if ranked else None

    def in_use(self, rate: Rate) -> bool:
        return self.effective(rate.kind, rate.valid_from) == rate

    def days(self, kind: RateKind) -> list[date]:
        """The days ``kind`` has any row from, in order."""
        return sorted({r.valid_from for r in self.rows if r.kind is kind})

    def recording(self) -> RateTable:
        """This table, noting each row a lookup returns (``used``)."""
        return replace(self, used=[])

    def probing(self) -> RateTable:
        """This table, noting every missing rate instead of stopping at the first (its
        figures then stand in as zero: only for finding what a letter waits for)."""
        return replace(self, misses=[])

    # -- lookups ------------------------------------------------------------------

    def interest_rate(self, day: date) -> Rate:
        """The forsinkelsesrente of ``day``'s half-year."""
        start = half_year_start(day)
        return self._pick(RateKind.LATE_PAYMENT_INTEREST, start, start.isoformat())

    def collection_rate_on(self, day: date) -> Rate:
        return self._in_force(RateKind.COLLECTION_RATE, day)

    def court_fee_on(self, day: date) -> Rate:
        return self._in_force(RateKind.COURT_FEE, day)

    def attachment_fee_times(self, day: date) -> Decimal:
        """The fee for a request for utlegg, in rettsgebyr (rettsgebyrloven § 14)."""
        return self._in_force(RateKind.ATTACHMENT_FEE_MULTIPLIER, day).value

    def attachment_fee_on(self, day: date) -> Decimal:
        """The fee for a request for utlegg on ``day``: whole kroner, rounded down, as every
        fee reckoned in rettsgebyr is."""
        amount = self.attachment_fee_times(day) * self.court_fee_on(day).value
        return amount.quantize(Decimal(1), rounding=ROUND_FLOOR)

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

    def covers(self, key: str) -> bool:
        """Whether the rate a ``MissingRate.key`` names has a usable figure now."""
        kind, period = parse_hold_key(key)
        day = date(int(period), 1, 1) if period.isdigit() else date.fromisoformat(period)
        plain = replace(self, misses=None, used=None)
        try:
            if kind is RateKind.LATE_PAYMENT_INTEREST:
                plain.interest_rate(day)
            else:
                plain._in_force(kind, day)
        except MissingRate:
            return False
        return True

    # -- how far the table reaches ------------------------------------------------

    @property
    def interest_known_from(self) -> date:
        """The first half-year of interest any row gives (a request cannot reach before it)."""
        days = self.days(RateKind.LATE_PAYMENT_INTEREST)
        if not days:
            raise ConfigurationError("the rate table has no late_payment_interest row")
        return days[0]

    def reaches_until(self, kind: RateKind, today: date) -> date | None:
        """The last day from ``today`` on that ``kind`` has a figure for, without a gap (a
        day before ``today`` when today has none); None when its rows never run out."""
        plain = replace(self, misses=None, used=None)
        if kind is RateKind.LATE_PAYMENT_INTEREST:
            start = half_year_start(today)
            while plain.effective(kind, start) is not None:
                start = next_half_year(start)
            return start - timedelta(days=1)
        later = [d for d in self.days(kind) if d > today]
        points = [today, *later]
        if kind in ANNUAL:
            # Each year's first and last day too: the newest row ends with its own year.
            years = range(today.year, max(d.year for d in points) + 2)
            points += [date(y, 1, 1) for y in years if y > today.year]
            points += [date(y, 12, 31) for y in years]
        for day in sorted(set(points)):
            try:
                plain._in_force(kind, day)
            except MissingRate:
                return day - timedelta(days=1)
        return None

    def days_ahead(self, kind: RateKind, today: date) -> float:
        """How many days past ``today`` the table reaches for ``kind``: +inf when its rows
        do not run out, -1 when today itself has no checked figure."""
        until = self.reaches_until(kind, today)
        return math.inf if until is None else float(max(-1, (until - today).days))

    # -- inside -------------------------------------------------------------------

    def _in_force(self, kind: RateKind, day: date) -> Rate:
        days = self.days(kind)
        earlier = [d for d in days if d <= day]
        if not earlier:
            return self._missed(kind, day.isoformat())
        valid_from = earlier[-1]
        if kind in ANNUAL and valid_from == days[-1] and valid_from.year < day.year:
            # The newest figure reaches to the end of its own year only.
            return self._missed(kind, str(day.year))
        new_year = kind in ANNUAL and (valid_from.month, valid_from.day) == (1, 1)
        return self._pick(kind, valid_from, str(day.year) if new_year else valid_from.isoformat())

    def _pick(self, kind: RateKind, valid_from: date, period: str) -> Rate:
        rate = self.effective(kind, valid_from)
        if rate is None:
            return self._missed(kind, period)
        if self.used is not None:
            self.used.append(rate)
        return rate

    def _missed(self, kind: RateKind, period: str) -> Rate:
        missing = MissingRate(kind, period)
        if self.misses is None:
            raise missing
        if missing.key not in {m.key for m in self.misses}:
            self.misses.append(missing)
        return Rate(kind, date.min, Decimal(0), "stand-in while probing", checked=False)

    def _caps_on(self, day: date) -> CostCaps:
        caps = next((c for c in reversed(self.collection_cost_caps) if c.valid_from <= day), None)
        if caps is None:
            raise ConfigurationError(f"the rate table has no collection_cost_caps for {day}")
        return caps


def _row_order(rate: Rate) -> int:
    """Later operator rows first among equals; a packaged row counts as the oldest."""
    digits = "".join(ch for ch in rate.row_id if ch.isdigit())
    return int(digits) if digits else 0


# Decimals a figure of each kind may have, and the most it may sensibly be: a figure
# outside is a typing error, not a regulation.
_PLACES = {
    RateKind.LATE_PAYMENT_INTEREST: 2,
    RateKind.COLLECTION_RATE: 2,
    RateKind.COURT_FEE: 0,
    RateKind.ATTACHMENT_FEE_MULTIPLIER: 4,
}
_AT_MOST = {
    RateKind.LATE_PAYMENT_INTEREST: Decimal(50),
    RateKind.COLLECTION_RATE: Decimal(10_000),
    RateKind.COURT_FEE: Decimal(10_000),
    RateKind.ATTACHMENT_FEE_MULTIPLIER: Decimal(20),
}


def new_rate_problems(kind: RateKind, valid_from: date, value: str) -> list[str]:
    """Why a figure an operator types cannot be a row of ``kind`` (empty: it can)."""
    try:
        number = Decimal(value)
    except ArithmeticError:
        return [f"--value: {value!r} is not a number like 12.25"]
    problems = []
    if not number.is_finite() or number <= 0 or number > _AT_MOST[kind]:
        problems.append(f"--value: a {kind} must be more than 0 and at most {_AT_MOST[kind]}")
    elif -int(number.normalize().as_tuple().exponent) > _PLACES[kind]:
        places = _PLACES[kind]
        problems.append(
            f"--value: a {kind} has at most {places} decimal(s)"
            + (" (the rettsgebyr is whole kroner)" if places == 0 else "")
        )
    if kind is RateKind.LATE_PAYMENT_INTEREST and valid_from != half_year_start(valid_from):
        problems.append(
            "--from: the forsinkelsesrente is set for a half-year: give 1 January or 1 July"
        )
    return problems


def with_rows(table: RateTable, extra: Iterable[Rate]) -> RateTable:
    """``table`` with the operators' rows beside its own."""
    return replace(table, rows=(*table.rows, *extra))


# -- the packaged table ---------------------------------------------------------


def _rows(data: dict[str, Any], kind: RateKind, source_file: str) -> tuple[Rate, ...]:
    unit = UNIT[kind]
    out = tuple(
        Rate(
            kind,
            row["valid_from"],
            Decimal(row[unit]),
            str(row["source"]),
            checked=bool(row["checked"]),
        )
        for row in data.get(kind.value, [])
    )
    days = [r.valid_from for r in out]
    if days != sorted(set(days)):
        raise ConfigurationError(f"{source_file}: [[{kind}]] rows must be in date order, once each")
    return out


def check_interest_rows(rows: Sequence[Rate], source_file: str) -> None:
    """Interest rows start half-years and leave none out between the first and the last."""
    for row in rows:
        if row.valid_from != half_year_start(row.valid_from):
            raise ConfigurationError(
                f"{source_file}: late_payment_interest from {row.valid_from} "
                "does not start a half-year (1 January or 1 July)"
            )
    for earlier, later in pairwise(rows):
        if later.valid_from != next_half_year(earlier.valid_from):
            raise ConfigurationError(
                f"{source_file}: late_payment_interest has no row for the half-year "
                f"from {next_half_year(earlier.valid_from)}"
            )


def parse_rates(data: dict[str, Any], source_file: str = "rates.toml") -> RateTable:
    try:
        rows = {kind: _rows(data, kind, source_file) for kind in RateKind}
        check_interest_rows(rows[RateKind.LATE_PAYMENT_INTEREST], source_file)
        if not rows[RateKind.LATE_PAYMENT_INTEREST]:
            raise ConfigurationError(f"{source_file}: no late_payment_interest row")
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
    except (KeyError, TypeError, ArithmeticError, ValueError) as err:
        raise ConfigurationError(f"{source_file}: malformed rate table: {err!r}") from err
    return RateTable(
        rows=tuple(r for kind in RateKind for r in rows[kind]), collection_cost_caps=caps
    )


_loaded: dict[Path, RateTable] = {}


def load_rates(path: Path | None = None, *, allow_unchecked: bool = False) -> RateTable:
    """The baseline table (``path``, or the packaged one), with the policy for unchecked rows."""
    path = path or baseline_rates_file
    if path not in _loaded:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigurationError(f"{RATES_FILE}: cannot read {path}: {err}") from err
        _loaded[path] = parse_rates(tomllib.loads(text), path.name)
    return replace(_loaded[path], allow_unchecked=allow_unchecked)


def rate_table() -> RateTable:
    """The baseline as production reads it: checked rows only."""
    return load_rates()
