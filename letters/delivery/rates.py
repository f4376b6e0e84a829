"""The rates a worker uses, and the letters that wait for one.

A worker's table is the packaged baseline with the rows operations added in
the ledger (``letters rates``), read again whenever the ledger's rate book has
changed, so a rate approved or withdrawn counts for the next letter of every
worker. A letter that needs a rate with no checked figure is held for it
(``letters.delivery.pipeline``); ``release_held`` sends it on once the figure
is there, and it is dated by the day it then leaves.
"""

from __future__ import annotations

import logging
import math
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from letters.config import Settings
from letters.domain.compose import compose
from letters.domain.cost_rules import check_costs
from letters.domain.letter_order import PriorLetter
from letters.domain.model import LetterRequest
from letters.domain.rates import MissingRate, RateKind, RateTable, load_rates, with_rows
from letters.errors import LetterError
from letters.ledger import Ledger, LetterRecord
from letters.ledger.rates import HOLD_KEY_SEPARATOR, RateBook
from letters.logs import log_event

if TYPE_CHECKING:  # releasing held letters renders nothing itself
    from letters.rendering.letter_service import LetterService

log = logging.getLogger("letters.rates")

# Warn this many days before a kind's table runs out: the ministry publishes the
# interest rate for 1 January in December and for 1 July in June.
RATE_TABLE_WARNING_DAYS = 31


class CurrentRates:
    """The baseline and the ledger's rows as one table, kept until the rate book changes."""

    def __init__(self, baseline: RateTable, book: RateBook) -> None:
        self.baseline = baseline
        self.book = book
        self._version = -1
        self._table = baseline

    def table(self) -> RateTable:
        version = self.book.version()
        if version != self._version:
            self._table = with_rows(self.baseline, self.book.rates())
            self._version = version
        return self._table


def current_rates(settings: Settings, ledger: Ledger) -> CurrentRates:
    """The rates a process of these settings uses (a worker's pipeline keeps its own)."""
    baseline = load_rates(settings.rates_file, allow_unchecked=settings.allow_unchecked_rates)
    return CurrentRates(baseline, ledger.rates)


def missing_rates(
    service: LetterService,
    probe: RateTable,
    request: LetterRequest,
    letter_date: date,
    prior: list[PriorLetter],
    today: date,
    leaves_on: date,
) -> list[MissingRate]:
    """Every rate the letter needs that ``probe`` (a ``RateTable.probing()``) has no checked
    figure for, found by checking and composing it as the pipeline does; the figures stand
    in as zero here, and what the letter would break with them is found again when it is
    made with the real ones."""
    with suppress(LetterError):
        check_costs(request, letter_date, prior, probe)
    with suppress(LetterError):
        compose(
            request,
            service.profile,
            today,
            leaves_on=leaves_on,
            rates=probe,
            pepper=service.pepper,
        )
    return list(probe.misses or [])


def unchecked_note(rates: RateTable) -> str:
    """Which unchecked rows a letter used (only the embedded default may use them), for the
    history of its rendering."""
    unchecked = dict.fromkeys(r for r in rates.used or [] if not r.checked)
    if not unchecked:
        return ""
    return "; UNCHECKED rates used: " + "; ".join(r.describe() for r in unchecked)


def hold_reason(missing: list[MissingRate]) -> str:
    """What a held letter's history and its ``held`` event say."""
    rates = "; ".join(str(m) for m in missing)
    return f"{rates}: the letter waits until the rate is approved (letters rates list)"


def hold_keys(missing: list[MissingRate]) -> str:
    return HOLD_KEY_SEPARATOR.join(m.key for m in missing)


def released_by(table: RateTable, keys: str) -> bool:
    """Whether every rate a letter was held for has a usable figure now."""
    return all(table.covers(key) for key in keys.split(HOLD_KEY_SEPARATOR))


@dataclass
class Release:
    released: list[LetterRecord] = field(default_factory=list)
    # Missing rates still holding letters, and how many.
    still_held: dict[str, int] = field(default_factory=dict)


def release_held(ledger: Ledger, rates: CurrentRates) -> Release:
    """Letters held for rates that have a checked figure now go on: each is marked
    requeued (the caller sends it to the work queue) under a conditional update, so
    two workers never both release one."""
    table = rates.table()
    book = rates.book
    ids: list[str] = []
    for keys in book.hold_keys():
        if not released_by(table, keys):
            continue
        note = f"{keys}: checked now; the letter goes on and is dated by the day it leaves"
        ids += [
            letter_id
            for letter_id in book.held_letters(keys)
            if ledger.record_released(letter_id, note, held_for_rates=keys)
        ]
    if ids:
        log_event(log, "letters held for a rate released", count=len(ids))
    return Release(ledger.letters_in(ids) if ids else [], book.holding())


def warn_if_rates_run_out(table: RateTable, today: date) -> list[str]:
    """Log a warning for each kind whose table ends within RATE_TABLE_WARNING_DAYS; the
    warnings, for the caller. A letter that needs a missing rate is held, not lost."""
    warnings = []
    for kind in RateKind:
        ahead = table.days_ahead(kind, today)
        if math.isinf(ahead) or ahead >= RATE_TABLE_WARNING_DAYS:
            continue
        until = table.reaches_until(kind, today)
        reason = (
            f"{kind} has a checked figure until {until.isoformat() if until else '-'}; "
            "add the next one (letters rates add, then letters rates approve by a second "
            "person): letters that need it are held until then"
        )
        log_event(log, "a rate table ends soon", level=logging.WARNING, reason=reason)
        warnings.append(reason)
    return warnings
