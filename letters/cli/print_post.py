"""``letters print``: the print batches, cutting them now, and what the print house answers
(its posting receipts, returned mail), with a local print house to answer for it."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from channels.print_post.double import HouseRules, answer_batches
from channels.print_post.returns import MalformedReturnsError, parse_returns
from letters.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Command, open_ledger
from letters.clock import today_in_norway
from letters.config import Settings
from letters.config.declared import PRINT_RECEIPTS_INTERVAL, PRINT_URL
from letters.delivery.print_answers import (
    ReceiptsReport,
    next_step,
    read_receipts,
    record_returns,
    returned_by_reason,
)
from letters.delivery.print_dispatch import DispatchReport, open_dispatcher, open_print_drop
from letters.delivery.print_inbox import ReceiptInbox
from letters.errors import LetterError
from letters.ledger.records import Batch, BatchStatus


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    batches = actions.add_parser(
        "batches",
        help="list open and sent print batches",
        description="List print batches, newest first: open ones taking letters, closed ones "
        "waiting to be delivered (with the last error), and sent ones with where they went.",
    )
    batches.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in BatchStatus],
        help="only batches with this status (repeatable)",
    )
    batches.add_argument("--limit", type=int, default=50, metavar="N")
    batches.add_argument("--json", action="store_true", help="machine-readable output")
    cut = actions.add_parser(
        "cut",
        help="cut the open batches now and deliver them",
        description="Close every open batch without waiting for its size or the cut-off "
        "time, then assemble and upload every closed batch and mark its letters sent. "
        "Exits 1 if a batch could not be delivered (it is tried again later).",
    )
    cut.add_argument("--json", action="store_true", help="machine-readable output")
    receipts = actions.add_parser(
        "receipts",
        help="read the print house's posting receipts now",
        description="Read every receipt in the print drop's receipts/ folder once: record "
        "each letter's real posting day, the deadline the law gives a letter posted late "
        "(its next step waits for it), and send again each letter not posted, as a new "
        "letter. A receipt read before changes nothing; a malformed one, or one that does "
        "not account for its batch exactly, is refused whole and moved to "
        "receipts/refused/ with the reason beside it. The worker does the same every "
        f"{PRINT_RECEIPTS_INTERVAL}. Exits 1 if a receipt was refused.",
    )
    receipts.add_argument("--json", action="store_true", help="machine-readable output")
    returns = actions.add_parser(
        "returns",
        help="record returned mail from a returns file",
        description="Read a returns file (letters.print-returns/1 JSON, or CSV with the "
        "header letter,reason,returned_on) and record each letter as returned, once. A row "
        "that is wrong is refused by its line with the field and the rule; the other rows "
        "are applied. Exits 1 if a row was refused, 2 if the file is not a returns file.",
    )
    returns.add_argument("file", type=Path, metavar="FILE")
    returns.add_argument("--json", action="store_true", help="machine-readable output")
    returned = actions.add_parser(
        "returned",
        help="list returned letters by reason, with what to do next",
        description="Every returned letter, grouped by reason, newest first, with the next "
        "step for each reason and whether its case has had a new letter since.",
    )
    returned.add_argument("--json", action="store_true", help="machine-readable output")
    house = actions.add_parser(
        "house",
        help="answer the batches in the print drop as a local print house (demo, tests)",
        description="A local double of the print house, for a print drop that is a "
        "directory: posts every batch with no receipt and writes receipts/<batch>.json, "
        "optionally late, with spoiled sheets or lost letters, and a returns file "
        "returns/<batch>.csv. Its choices come from --seed.",
    )
    house.add_argument("--seed", type=int, default=0)
    house.add_argument("--late", type=int, default=0, metavar="DAYS", help="working days late")
    house.add_argument("--spoil", type=int, default=0, metavar="N", help="letters reprinted")
    house.add_argument("--lose", type=int, default=0, metavar="N", help="letters not posted")
    house.add_argument("--returns", type=int, default=0, metavar="N", help="letters that come back")


def print_command(args: argparse.Namespace, settings: Settings) -> int:
    open_ledger(settings).close()
    actions = {
        "batches": _list,
        "cut": _cut,
        "receipts": _receipts,
        "returns": _returns,
        "returned": _returned,
        "house": _house,
    }
    return actions[args.action](args, settings)


def _receipts(args: argparse.Namespace, settings: Settings) -> int:
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.delivery.pipeline import build_pipeline

    ledger = open_ledger(settings)
    try:
        pipeline = build_pipeline(settings, ledger)
        report = read_receipts(ReceiptInbox(open_print_drop(settings)), pipeline)
    except LetterError as err:
        print(f"letters: {err}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        ledger.close()
    if args.json:
        print(json.dumps(_receipts_json(report), indent=2))
    else:
        for name, applied in report.applied.items():
            again = ", ".join(applied.replacements)
            print(
                f"applied {name}: {applied.posted} posted ({applied.late} late), "
                f"{applied.not_posted} not posted" + (f", sent again as {again}" if again else "")
            )
        for name in report.duplicates:
            print(f"read before {name}: nothing changed")
        for name, reason in report.waiting.items():
            print(f"left for later {name}: {reason}")
        for name, reason in report.refused.items():
            print(f"refused {name}: {reason}", file=sys.stderr)
        for letter_id, reason in report.replacements_failed.items():
            print(f"letter {letter_id} made again waits for the sweep: {reason}", file=sys.stderr)
        if not (report.applied or report.duplicates or report.waiting or report.refused):
            print("no receipt to read")
    return EXIT_FAILURE if report.refused else EXIT_OK


def _receipts_json(report: ReceiptsReport) -> dict[str, Any]:
    return {
        "applied": {name: asdict(applied) for name, applied in report.applied.items()},
        "duplicates": report.duplicates,
        "waiting": report.waiting,
        "refused": report.refused,
        "replacements_failed": report.replacements_failed,
    }


def _returns(args: argparse.Namespace, settings: Settings) -> int:
    try:
        raw = args.file.read_bytes()
    except OSError as err:
        print(f"letters print returns: {args.file}: {err.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        lines = parse_returns(raw, today_in_norway())
    except MalformedReturnsError as err:
        print(f"letters print returns: {args.file}: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.delivery.pipeline import build_pipeline

    ledger = open_ledger(settings)
    try:
        pipeline = build_pipeline(settings, ledger)
        report = record_returns(lines, ledger.print_answers, args.file.name, pipeline=pipeline)
    except LetterError as err:
        print(f"letters: {err}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        ledger.close()
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(
            f"{args.file.name}: {len(report.recorded)} returned letter(s) recorded, "
            f"{len(report.already)} recorded before, {len(report.refused)} row(s) refused"
        )
        for letter_id, why in report.stopped.items():
            print(f"  stopped {letter_id}: {why}")
        for line, reason in sorted(report.refused.items()):
            print(f"  line {line}: {reason}", file=sys.stderr)
    return EXIT_FAILURE if report.refused else EXIT_OK


def _returned(args: argparse.Namespace, settings: Settings) -> int:
    ledger = open_ledger(settings)
    try:
        groups = returned_by_reason(ledger.print_answers.returned(limit=10_000))
    finally:
        ledger.close()
    if args.json:
        rows = {
            reason: {"next_step": next_step(reason), "letters": [asdict(r) for r in letters]}
            for reason, letters in groups.items()
        }
        print(json.dumps(rows, indent=2, default=str))
        return EXIT_OK
    if not groups:
        print("no returned mail")
    for reason, letters in groups.items():
        print(f"{reason}: {len(letters)} letter(s); next: {next_step(reason)}")
        for r in letters:
            since = (
                f"{r.later_letters} later letter(s) in the case"
                if r.later_letters
                else ("no new letter for the case yet")
            )
            print(f"  {r.letter_id}  case {r.case_number:<14} {r.letter_type:<22} "
                  f"{r.channel or '-':<8} returned {r.returned_on}  {since}")  # fmt: skip
    return EXIT_OK


def _house(args: argparse.Namespace, settings: Settings) -> int:
    if "://" in settings.print.url and not settings.print.url.startswith("file://"):
        print("letters print house: the local print house answers a directory drop only "
              f"({PRINT_URL} is {settings.print.url})", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    rules = HouseRules(
        seed=args.seed,
        late=args.late,
        spoil=args.spoil,
        lose=args.lose,
        returns=args.returns,
        posting_delay=settings.print.posting_delay,
    )
    drop = Path(settings.print.url.removeprefix("file://"))
    report = answer_batches(drop, rules, today_in_norway())
    for batch_id, posted_on in report.receipts.items():
        print(f"posted {batch_id} on {posted_on}: receipts/{batch_id}.json")
    for batch_id, count in report.returns.items():
        print(f"  {count} letter(s) of it came back: returns/{batch_id}.csv")
    if not report.receipts:
        print("no batch without a receipt")
    return EXIT_OK


def _list(args: argparse.Namespace, settings: Settings) -> int:
    ledger = open_ledger(settings)
    try:
        batches = ledger.batches.batches(args.status or (), limit=args.limit)
    finally:
        ledger.close()
    if args.json:
        print(json.dumps([_batch_json(b) for b in batches], indent=2))
        return EXIT_OK
    if not batches:
        print("no print batches")
        return EXIT_OK
    print(f"{'batch':<22} {'status':<9} {'destination':<11} {'letters':>7} {'sheets':>6}  when")
    for batch in batches:
        print(
            f"{batch.batch_id:<22} {batch.status:<9} {batch.destination:<11} "
            f"{batch.letter_count:>7} {batch.sheet_count if batch.sheet_count else '-':>6}  "
            f"{_when(batch)}"
        )
        if batch.last_error and batch.status is not BatchStatus.SENT:
            print(f"{'':<22} last error (attempt {batch.attempts}): {batch.last_error}")
    return EXIT_OK


def _when(batch: Batch) -> str:
    if batch.status is BatchStatus.OPEN:
        return f"opened {_time(batch.opened_at)}, cut-off {_time(batch.cutoff_at)}"
    if batch.status is BatchStatus.POSTED:
        late = (
            f", {batch.planned_posting_day} planned"
            if batch.planned_posting_day and batch.posted_on != batch.planned_posting_day
            else ""
        )
        return f"posted {batch.posted_on}{late} (receipt {batch.receipt_name})"
    if batch.status is BatchStatus.SENT and batch.sent_at:
        to_post = f", to be posted {batch.planned_posting_day}" if batch.planned_posting_day else ""
        return f"sent {_time(batch.sent_at)} to {batch.location}{to_post}; no receipt yet"
    return f"closed {_time(batch.closed_at)} ({batch.close_reason})"


def _time(moment: datetime | None) -> str:
    return moment.astimezone().isoformat(timespec="seconds") if moment else "-"


def _cut(args: argparse.Namespace, settings: Settings) -> int:
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.delivery.pipeline import build_pipeline

    try:
        ledger = open_ledger(settings)
        try:
            pipeline = build_pipeline(settings, ledger)
            report = open_dispatcher(settings, ledger, pipeline.redate).run(cut_all=True)
        finally:
            ledger.close()
    except LetterError as err:
        print(f"letters: {err}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(_report_json(report), indent=2))
    else:
        print(f"closed {len(report.closed)} open batch(es)")
        for sent in report.sent:
            print(
                f"sent {sent.batch_id} ({sent.destination}): {sent.letters} letter(s), "
                f"{sent.pages} pages on {sent.sheets} sheets, {sent.pdf_bytes / 1e6:.2f} MB "
                f"(letters alone {sent.letters_bytes / 1e6:.2f} MB) -> {sent.location}"
            )
        for batch_id, reason in report.failed.items():
            print(f"failed {batch_id}: {reason}", file=sys.stderr)
        if not report.sent and not report.failed:
            print("no batch to deliver")
    return EXIT_FAILURE if report.failed else EXIT_OK


def _batch_json(batch: Batch) -> dict[str, Any]:
    values = asdict(batch)
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in values.items()}


def _report_json(report: DispatchReport) -> dict[str, Any]:
    return {
        "closed": report.closed,
        "sent": [asdict(sent) for sent in report.sent],
        "failed": report.failed,
    }


PRINT = Command("print", "print batches for the print house", _arguments, print_command)
