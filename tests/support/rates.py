"""A rate table of test data, so that no test depends on today's date against shipped data.

The suite runs on this table (``conftest`` points the baseline at it, and every
stack's ``LETTERS_RATES_FILE``): the packaged rows, each marked checked and its
source prefixed "TEST DATA", then the last figure of each kind repeated for
every half-year and year up to ``THROUGH``. A letter dated on any day up to then
finds every rate it needs. Tests of the packaged table itself, and of what
happens when a rate is missing, read the packaged file or build their own rows.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import tomllib
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from letters.domain import rates
from letters.domain.rates import PACKAGED_RATES_FILE, UNIT, RateKind, next_half_year

THROUGH = date(2045, 12, 31)
MARK = "TEST DATA, not a legal rate"


@cache
def suite_rates_file() -> Path:
    """This process's table of test data (made once, removed when the process ends)."""
    folder = Path(tempfile.mkdtemp(prefix="letters-test-rates-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return write_suite_rates(folder / "rates.toml")


def suite_rates_env() -> dict[str, str]:
    """The setting that gives a process started with its own environment the test rates."""
    return {"LETTERS_RATES_FILE": str(suite_rates_file())}


def use_suite_rates() -> None:
    """This process's letters take their rates from the table of test data (benchmarks,
    which measure speed on any day and not the law)."""
    rates.baseline_rates_file = suite_rates_file()


def write_suite_rates(
    path: Path, through: date = THROUGH, leave_out_from: Mapping[RateKind, date] | None = None
) -> Path:
    """The table of test data at ``path``; ``leave_out_from`` leaves out each kind's rows
    from that day on (a rate nobody has checked yet)."""
    packaged = tomllib.loads(PACKAGED_RATES_FILE.read_text(encoding="utf-8"))
    lines = [f"# {MARK}: the packaged rows, then each last figure repeated to {through}.", ""]
    for kind in RateKind:
        rows = [dict(row) for row in packaged.get(kind.value, [])]
        unit = UNIT[kind]
        if kind is RateKind.LATE_PAYMENT_INTEREST:
            while (start := next_half_year(rows[-1]["valid_from"])) <= through:
                rows.append({"valid_from": start, unit: rows[-1][unit], "source": "repeated"})
        elif kind in (RateKind.COLLECTION_RATE, RateKind.COURT_FEE):
            while (year := rows[-1]["valid_from"].year + 1) <= through.year:
                rows.append(
                    {"valid_from": date(year, 1, 1), unit: rows[-1][unit], "source": "repeated"}
                )
        if leave_out_from and kind in leave_out_from:
            rows = [row for row in rows if row["valid_from"] < leave_out_from[kind]]
        for row in rows:
            lines += [
                f"[[{kind.value}]]",
                f"valid_from = {row['valid_from'].isoformat()}",
                f'{unit} = "{row[unit]}"',
                f'source = "{MARK}: {_escaped(row["source"])}"',
                "checked = true",
                "",
            ]
    for caps in packaged["collection_cost_caps"]:
        lines += ["[[collection_cost_caps]]", *_plain_fields(caps), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _plain_fields(table: dict[str, Any]) -> list[str]:
    out = []
    for key, value in table.items():
        if key == "brackets":
            brackets = ", ".join(
                "{ " + ", ".join(f'{k} = "{v}"' for k, v in b.items()) + " }" for b in value
            )
            out.append(f"brackets = [{brackets}]")
        elif isinstance(value, bool):
            out.append(f"{key} = {str(value).lower()}")
        elif isinstance(value, int | date):
            out.append(f"{key} = {value.isoformat() if isinstance(value, date) else value}")
        else:
            out.append(f'{key} = "{_escaped(str(value))}"')
    return out


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
