"""``letters archive``: a letter's archived PDF and put-away history, checked against the
ledger; and putting away the history of letters erased long ago."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from letters.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    Command,
    open_ledger,
    positive,
    write_atomically,
)
from letters.clock import utcnow
from letters.config import Settings
from letters.config.declared import HISTORY_ARCHIVE_DAYS
from letters.errors import LetterError
from letters.retention.history_put_away import archived_history, put_away_history
from letters.storage import open_archive


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    get = actions.add_parser(
        "get",
        help="write a letter's archived PDF to a file",
        description="Fetch the PDF the ledger recorded for LETTER_ID from the archive "
        "(directory or S3), check its SHA-256 against the ledger, and write it.",
    )
    get.add_argument("letter_id", metavar="LETTER_ID")
    get.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    shown = actions.add_parser(
        "history",
        help="show the history a letter had before it was put away in the archive",
        description="Read the history lines and delivery events of LETTER_ID from the "
        "archive file the ledger names, checked against the digest in its name.",
    )
    shown.add_argument("letter_id", metavar="LETTER_ID")
    shown.add_argument("--json", action="store_true", help="print it as JSON")
    put_away = actions.add_parser(
        "put-away",
        help="move the history of letters erased long ago from the ledger to the archive",
        description="Write the history lines and delivery events of letters whose personal "
        "data was erased more than DAYS ago to the archive, a file per 500 letters, then "
        "delete them from the ledger. The worker does this every hour, 10,000 letters at "
        "a time; this runs it now, to the end or to --limit.",
    )
    put_away.add_argument(
        "--after-days",
        type=positive,
        metavar="DAYS",
        help=f"days since the erasure (default: {HISTORY_ARCHIVE_DAYS.name})",
    )
    put_away.add_argument("--limit", type=positive, metavar="N", help="at most N letters")
    put_away.add_argument(
        "--dry-run", action="store_true", help="count the letters due, and change nothing"
    )
    put_away.add_argument("--json", action="store_true", help="print the report as JSON")


def archive_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "history":
        return _show_history(args, settings)
    if args.action == "put-away":
        return _put_away(args, settings)
    ledger = open_ledger(settings)
    try:
        record = ledger.get(args.letter_id)
    finally:
        ledger.close()
    if record is None or not record.archive_key or not record.pdf_sha256:
        print(
            f"letters: letter {args.letter_id} has no archived PDF in the ledger", file=sys.stderr
        )
        return EXIT_FAILURE
    try:
        pdf = open_archive(settings.archive_url, settings.s3).get(record.archive_key)
    except LetterError as err:
        print(f"letters: {err}", file=sys.stderr)
        return EXIT_FAILURE
    if hashlib.sha256(pdf).hexdigest() != record.pdf_sha256:
        print(
            f"letters: the archived PDF of {args.letter_id} does not match the ledger's SHA-256",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    write_atomically(args.output, pdf)
    print(f"{args.output}: {len(pdf)} bytes, sha256 {record.pdf_sha256} ({record.archive_key})")
    return EXIT_OK


ARCHIVE = Command(
    "archive", "read the PDF archive; put away old letters' history", _arguments, archive_command
)


def _show_history(args: argparse.Namespace, settings: Settings) -> int:
    ledger = open_ledger(settings)
    try:
        record = ledger.get(args.letter_id)
        kept = ledger.history(args.letter_id) if record else []
    finally:
        ledger.close()
    if record is None or not record.history_archive_key:
        print(
            f"letters: letter {args.letter_id} has no history put away in the archive",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    try:
        entry = archived_history(
            open_archive(settings.archive_url, settings.s3),
            record.history_archive_key,
            args.letter_id,
        )
    except LetterError as err:
        print(f"letters: {err}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        entry["archive_key"] = record.history_archive_key
        entry["kept_in_the_ledger"] = [
            {"event": e.event, "at": e.at.isoformat(), "detail": e.detail} for e in kept
        ]
        print(json.dumps(entry, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"letter {args.letter_id}  case {entry['case_number']}  ({record.history_archive_key})")
    for line in entry["history"]:
        detail = f"  {line['detail']}" if line["detail"] else ""
        print(f"  {line['at']}  {line['event']:<14}{detail}")
    for event in entry["delivery_events"]:
        detail = f"  {event['detail']}" if event["detail"] else ""
        print(f"  {event['occurred_at']}  {event['channel']}: {event['event']}{detail}")
    for later in kept:
        detail = f"  {later.detail}" if later.detail else ""
        print(f"  {later.at.isoformat()}  {later.event:<14}{detail}  (in the ledger)")
    return EXIT_OK


def _put_away(args: argparse.Namespace, settings: Settings) -> int:
    days = args.after_days or settings.history_archive_days
    now = utcnow()
    ledger = open_ledger(settings)
    try:
        if args.dry_run:
            due = ledger.history_archive.count_due(now - timedelta(days=days))
            print(f"{due} letter(s) erased more than {days} days ago have history to put away")
            return EXIT_OK
        try:
            report = put_away_history(
                ledger, open_archive(settings.archive_url, settings.s3), now, days,
                limit=args.limit,
            )  # fmt: skip
        except LetterError as err:
            print(f"letters: {err}", file=sys.stderr)
            return EXIT_FAILURE
    finally:
        ledger.close()
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(
            f"put away the history of {report.letters} letter(s): {report.lines} history "
            f"lines and {report.delivery_events} delivery events, in {len(report.files)} "
            "file(s) in the archive"
        )
    return EXIT_OK
