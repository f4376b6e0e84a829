"""What every command shares: exit codes, argument types, atomic writes, the command's shape."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from letters.config import Rate, Settings
from letters.ledger import Ledger

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

Run = Callable[[argparse.Namespace, Settings], int]


@dataclass(frozen=True, slots=True)
class Command:
    """One ``letters`` subcommand: its name and help, its arguments, and what it runs."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Run
    description: str | None = None


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def positive(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more: {text!r}")
    return int(text)


def rate(text: str) -> Rate:
    try:
        return Rate.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def write_atomically(target: Path, data: bytes) -> None:
    """Never leave a partial file behind: write beside it, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def open_ledger(settings: Settings) -> Ledger:
    """The ledger, migrated to the newest schema (every command may be the first to run)."""
    ledger = Ledger.for_settings(settings)
    try:
        ledger.upgrade()
    except BaseException:
        ledger.close()
        raise
    return ledger
