"""``letters rates``: the rates letters use; list them, add one, approve or withdraw one."""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date
from decimal import Decimal
from typing import Any

from letters.cli.common import EXIT_BAD_INPUT, EXIT_OK, Command, iso_date, open_ledger
from letters.clock import today_in_norway, utcnow
from letters.config import Settings
from letters.config.declared import ALLOW_UNCHECKED_RATES
from letters.delivery.rates import current_rates, release_held
from letters.domain.rates import Rate, RateKind, RateTable, new_rate_problems
from letters.domain.text import nfc, text_problem
from letters.ledger import Ledger, LetterRecord
from letters.ledger.rates import RateChangeRefused, RateEntry
from letters.messaging.broker import Publisher
from letters.messaging.topology import ATTEMPT_HEADER

KINDS = [kind.value for kind in RateKind]


def rates_command(args: argparse.Namespace, settings: Settings) -> int:
    if problems := _text_problems(args):
        for problem in problems:
            print(f"letters rates {args.action}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    ledger = open_ledger(settings)
    try:
        if args.action == "list":
            return _list(args, settings, ledger)
        return _change(args, settings, ledger)
    except RateChangeRefused as err:
        print(f"letters rates {args.action}: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        ledger.close()


def _text_problems(args: argparse.Namespace) -> list[str]:
    problems = []
    for option in ("by", "source", "note"):
        value = getattr(args, option, None)
        if value is None:
            continue
        if not value.strip():
            problems.append(f"--{option} must not be empty")
        elif problem := text_problem(nfc(value)):
            problems.append(f"--{option} {problem}")
        elif len(value) > (100 if option == "by" else 1000):
            problems.append(f"--{option} is too long")
    if args.action == "add":
        problems += new_rate_problems(RateKind(args.kind), args.valid_from, args.value)
    return problems


def _change(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
    rates = current_rates(settings, ledger)
    book, now, by = rates.book, utcnow(), " ".join(args.by.split())
    if args.action == "add":
        entry = book.add(
            RateKind(args.kind), args.valid_from, Decimal(args.value), nfc(args.source), by, now
        )
        print(f"added {_line(entry)}")
        print(f"  it is used once someone other than {by} runs: letters rates approve "
              f"{entry.row_id} --by NAME")  # fmt: skip
        return EXIT_OK
    if args.action == "approve":
        entry = book.approve(args.row_id, by, now, args.note and nfc(args.note))
        print(f"approved {_line(entry)}")
    else:
        entry = book.withdraw(args.row_id, by, now, nfc(args.note))
        print(f"withdrew {_line(entry)}")
        print("  letters dated from now on do not use it; a letter that needs it waits")
    release = release_held(ledger, rates)
    _send_on(settings, release.released)
    print(f"  {len(release.released)} held letter(s) go on now; still held: "
          f"{_held_text(release.still_held) or 'none'}")  # fmt: skip
    return EXIT_OK


def _send_on(settings: Settings, released: list[LetterRecord]) -> None:
    """Released letters go to the work queue; were this to fail, the sweep sends them."""
    if not released:
        return
    with Publisher.open(settings) as publisher:
        for record in released:
            publisher.publish_to_work_queue(
                record.request.encode(), {ATTEMPT_HEADER: record.attempts + 1}
            )


def _list(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
    rates = current_rates(settings, ledger)
    table = rates.table()
    entries = {e.row_id: e for e in rates.book.entries()}
    rows = [_row_json(r, table, None) for r in table.rows if r.from_package]
    rows += [_row_json(e.as_rate(), table, e) for e in entries.values()]
    rows.sort(key=lambda r: (KINDS.index(r["kind"]), r["valid_from"], r["row"] != "package"))
    today = today_in_norway()
    reaches = {kind.value: _reach(table, kind, today) for kind in RateKind}
    held = rates.book.holding()
    policy = (
        f"checked packaged rows, approved operator rows, and ({ALLOW_UNCHECKED_RATES}) "
        "the packaged unchecked rows"
        if table.allow_unchecked
        else "checked packaged rows and approved operator rows"
    )
    if args.json:
        print(json.dumps({"used": policy, "rows": rows, "reaches": reaches, "held": held},
                         indent=2, ensure_ascii=False))  # fmt: skip
        return EXIT_OK
    print(f"{'ROW':<8}{'KIND':<27}{'FROM':<12}{'VALUE':>9}  {'STATUS':<19}{'IN USE':<8}"
          "ADDED BY / APPROVED BY · SOURCE")  # fmt: skip
    for r in rows:
        people = r["added_by"] + (f" / {r['approved_by']}" if r["approved_by"] else "")
        in_use = "yes" if r["in_use"] else "no"
        print(f"{r['row']:<8}{r['kind']:<27}{r['valid_from']:<12}{r['value']:>9}  "
              f"{r['status']:<19}{in_use:<8}{people} · {r['source']}")  # fmt: skip
    print(f"a letter uses: {policy}")
    for kind, reach in reaches.items():
        print(f"  {kind:<27} {reach['text']}")
    print(f"letters held for a rate: {_held_text(held) or 'none'}")
    return EXIT_OK


def _row_json(rate: Rate, table: RateTable, entry: RateEntry | None) -> dict[str, Any]:
    status = entry.status if entry else "checked" if rate.checked else "unchecked"
    return {
        "row": rate.row_id,
        "kind": rate.kind.value,
        "valid_from": rate.valid_from.isoformat(),
        "value": str(rate.value),
        "source": rate.source,
        "status": status,
        "added_by": rate.added_by,
        "added_at": entry.added_at.isoformat(timespec="seconds") if entry else None,
        "approved_by": entry.approved.by if entry and entry.approved else None,
        "withdrawn_by": entry.withdrawn.by if entry and entry.withdrawn else None,
        "withdrawn_because": entry.withdrawn.note if entry and entry.withdrawn else None,
        # A withdrawn or unapproved row is never the one a letter uses.
        "in_use": table.in_use(rate),
    }


def _reach(table: RateTable, kind: RateKind, today: date) -> dict[str, Any]:
    ahead = table.days_ahead(kind, today)
    until = table.reaches_until(kind, today)
    if math.isinf(ahead):
        text = "no end"
    elif ahead < 0:
        text = f"NO checked figure for today ({today.isoformat()})"
    else:
        text = f"until {until.isoformat() if until else '-'} ({int(ahead)} days ahead)"
    return {
        "until": until.isoformat() if until else None,
        "days_ahead": None if math.isinf(ahead) else int(ahead),
        "text": text,
    }


def _held_text(held: dict[str, int]) -> str:
    return ", ".join(f"{key} ({count})" for key, count in held.items())


def _line(entry: RateEntry) -> str:
    return (
        f"{entry.row_id}: {entry.kind} from {entry.valid_from.isoformat()} = {entry.value} "
        f"({entry.status}; added by {entry.added_by}; source: {entry.source})"
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="every row, packaged and added, with who added and approved it"
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add = actions.add_parser(
        "add",
        help="add the figure of a new period, as read in the regulation",
        description="Add a row; it is used once a second person approves it.",
    )
    add.add_argument("kind", choices=KINDS, metavar="KIND", help=", ".join(KINDS))
    add.add_argument("--from", dest="valid_from", type=iso_date, required=True,
                     metavar="YYYY-MM-DD", help="the first day the figure applies")  # fmt: skip
    add.add_argument("--value", required=True,
                     help="percent, kroner or times, as the regulation gives it")  # fmt: skip
    add.add_argument("--source", required=True,
                     help="the regulation it was read in, e.g. FOR-2026-12-18-1 § 1")  # fmt: skip
    add.add_argument("--by", required=True, help="who adds it")
    approve = actions.add_parser(
        "approve", help="approve a row someone else added: from now on letters use it"
    )
    approve.add_argument("row_id", metavar="ROW")
    approve.add_argument("--by", required=True, help="who approves it (not who added it)")
    approve.add_argument("--note", help="what was checked")
    withdraw = actions.add_parser("withdraw", help="stop using a row (it stays in the list)")
    withdraw.add_argument("row_id", metavar="ROW")
    withdraw.add_argument("--by", required=True, help="who withdraws it")
    withdraw.add_argument("--reason", dest="note", required=True, help="why")


RATES = Command(
    "rates",
    "the rates letters use: list, add, approve, withdraw",
    _arguments,
    rates_command,
    description="The forsinkelsesrente, inkassosats, rettsgebyr and utlegg multiplier a "
    "letter uses: the packaged rows, and the rows operations add in the ledger. A row is "
    "used once someone other than who added it approves it; nothing is edited, a row is "
    "withdrawn instead. Each change is a rates_changed event. A letter that needs a rate "
    "nobody has checked is held, and goes on when the rate is approved.",
)
