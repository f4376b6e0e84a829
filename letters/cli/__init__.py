"""The ``letters`` command line: one program, one subcommand per job.

Exit codes: 0 success, 2 bad input (invalid request, unknown arguments), 1 any
other failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from letters.cli_archive import add_parser as add_archive_parser
from letters.cli_archive import archive_command
from letters.cli_digipost import add_parser as add_digipost_parser
from letters.cli_digipost import digipost_command
from letters.cli_preview import add_parsers as add_preview_parsers
from letters.cli_preview import approve_command, preview_command
from letters.cli_print import add_parser as add_print_parser
from letters.cli_print import print_command
from letters.cli_queue import (
    dead_command,
    demo_command,
    publish_command,
    status_command,
    worker_command,
)
from letters.cli_render import render_command
from letters.cli_resend import add_parser as add_resend_parser
from letters.cli_resend import case_command, resend_command
from letters.config import PROJECT_ROOT, Settings
from letters.errors import ConfigurationError
from letters.service import LetterService

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
SAMPLES_DIR = PROJECT_ROOT / "samples"


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more: {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="letters", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser(
        "render",
        help="render requests to PDF",
        description="Validate letter requests and render them to PDF.",
    )
    render.add_argument("requests", nargs="+", type=Path, metavar="REQUEST.json")
    render.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="the PDF file; a folder when several requests are given "
        "(files are named by letter id)",
    )
    render.add_argument(
        "--html",
        type=Path,
        metavar="OUT.html",
        help="also write the letter's HTML (one request only)",
    )
    render.add_argument(
        "--today",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="the sending day for requests without a letter date (default: today in Norway)",
    )

    publish = sub.add_parser(
        "publish",
        help="publish letter requests to the queue",
        description="Publish letters.request/1 files, or JSON lines on standard input "
        "(no files, or -), with publisher confirms. Nothing is published if an entry is "
        "not a JSON object.",
    )
    publish.add_argument("requests", nargs="*", metavar="REQUEST.json")

    worker = sub.add_parser(
        "worker",
        help="consume and deliver letter requests",
        description="Consume the work queue: validate, record, render, archive, route and "
        "send each letter. SIGTERM finishes the letter in hand, then exits.",
    )
    worker.add_argument(
        "--concurrency", type=_positive, metavar="N", help="worker processes (LETTERS_CONCURRENCY)"
    )
    worker.add_argument(
        "--until-empty",
        action="store_true",
        help="stop when the work and retry queues are empty (jobs and tests)",
    )

    status = sub.add_parser("status", help="a letter's history from the ledger")
    status.add_argument("letter_id", metavar="LETTER_ID")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    dead = sub.add_parser("dead", help="inspect and requeue dead letters")
    dead_sub = dead.add_subparsers(dest="action", required=True, metavar="ACTION")
    dead_sub.add_parser("list", help="list the dead-letter queue with reasons")
    retry = dead_sub.add_parser("retry", help="send dead letters back to the work queue")
    retry.add_argument("ids", nargs="*", metavar="LETTER_ID", help="letter ids or dead ids")
    retry.add_argument("--all", action="store_true", help="every dead letter")

    demo = sub.add_parser(
        "demo",
        help="run the sample requests through the whole pipeline",
        description="Publish every request in samples/ (with fresh letter ids) and run a "
        "worker until the queue is empty, on the configured (by default embedded) services.",
    )
    demo.add_argument("--samples", type=Path, default=SAMPLES_DIR)

    add_digipost_parser(sub)
    add_archive_parser(sub)
    add_print_parser(sub)
    add_resend_parser(sub)
    add_preview_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_BAD_INPUT if exit_.code not in (0, None) else EXIT_OK
    try:
        settings = Settings.from_env()
        match args.command:
            case "render":
                return render_command(args, LetterService(settings))
            case "publish":
                return publish_command(args, settings)
            case "worker":
                return worker_command(args, settings)
            case "status":
                return status_command(args, settings)
            case "dead":
                return dead_command(args, settings)
            case "demo":
                return demo_command(args, settings)
            case "digipost":
                return digipost_command(args, settings)
            case "archive":
                return archive_command(args, settings)
            case "print":
                return print_command(args, settings)
            case "resend":
                return resend_command(args, settings)
            case "case":
                return case_command(args, settings)
            case "preview":
                return preview_command(args, settings)
            case "approve":
                return approve_command(args, settings)
    except ConfigurationError as err:
        print(f"letters: configuration error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    parser.error(f"unknown command {args.command}")
    return EXIT_BAD_INPUT  # pragma: no cover - parser.error exits


if __name__ == "__main__":
    sys.exit(main())
