"""``letters print batches|cut``: the print batches, and cutting them now."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any

from channels.print_post.batches import open_batches
from channels.print_post.dispatch import DispatchReport, open_dispatcher
from letters.cli.common import EXIT_FAILURE, EXIT_OK, Command, open_ledger
from letters.config import Settings
from letters.delivery.pipeline import build_pipeline
from letters.errors import LetterError
from letters.ledger import Batch, BatchStatus


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


def print_command(args: argparse.Namespace, settings: Settings) -> int:
    open_ledger(settings).close()
    if args.action == "batches":
        return _list(args, settings)
    return _cut(args, settings)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    batches = open_batches(settings).store.batches(args.status or (), limit=args.limit)
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
    if batch.status is BatchStatus.SENT and batch.sent_at:
        return f"sent {_time(batch.sent_at)} to {batch.location}"
    return f"closed {_time(batch.closed_at)} ({batch.close_reason})"


def _time(moment: datetime | None) -> str:
    return moment.astimezone().isoformat(timespec="seconds") if moment else "-"


def _cut(args: argparse.Namespace, settings: Settings) -> int:
    try:
        ledger = open_ledger(settings)
        try:
            pipeline = build_pipeline(settings, ledger)
            report = open_dispatcher(settings, pipeline.redate).run(cut_all=True)
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
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def _report_json(report: DispatchReport) -> dict[str, Any]:
    return {
        "closed": report.closed,
        "sent": [asdict(sent) for sent in report.sent],
        "failed": report.failed,
    }


PRINT = Command("print", "print batches for the print house", _arguments, print_command)
