"""``letters render``: validate requests and render them to PDF, outside the queue."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from letters.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    Command,
    iso_date,
    write_atomically,
)
from letters.config import Settings
from letters.domain.otp import OneTimePassword
from letters.errors import InvalidRequest, LetterError

if TYPE_CHECKING:
    from letters.rendering.letter_service import LetterService

MASKED_PASSWORD = OneTimePassword("*" * 12)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("requests", nargs="+", type=Path, metavar="REQUEST.json")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="the PDF file; a folder when several requests are given "
        "(files are named by letter id)",
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="OUT.html",
        help="also write the letter's HTML (one request only)",
    )
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the sending day for requests without a letter date (default: today in Norway)",
    )


def render_command(args: argparse.Namespace, settings: Settings) -> int:
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.rendering.letter_service import LetterService

    service = LetterService(settings)
    if len(args.requests) == 1 and args.output.suffix.lower() == ".pdf":
        return _render_one(args.requests[0], args.output, args.html, service, args.today)
    if args.html:
        print(
            "letters: --html takes one request and an output file ending in .pdf", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    args.output.mkdir(parents=True, exist_ok=True)
    return _render_many(args.requests, args.output, service, args.today)


def _render_one(
    source: Path, target: Path, html_target: Path | None, service: LetterService, today: date | None
) -> int:
    try:
        raw = source.read_bytes()
    except OSError as err:
        print(f"letters: cannot read {source}: {err.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        composed = service.compose_request(raw, today)
        letter = service.renderer.render(composed)
        if html_target is not None:
            # The password belongs in the PDF and nowhere else, so the HTML copy
            # shows a mask in its place.
            masked = dataclasses.replace(composed, password=MASKED_PASSWORD)
            html_target.write_text(service.renderer.html(masked, standalone=True), encoding="utf-8")
    except InvalidRequest as err:
        report_invalid(source, err)
        return EXIT_BAD_INPUT
    except LetterError as err:
        print(f"{source}: {err}", file=sys.stderr)
        return EXIT_FAILURE
    write_atomically(target, letter.pdf)
    print(
        f"{target}: {letter.letter_type}/{letter.language}, {letter.page_count} page(s), "
        f"template {letter.template_version}, sha256 {letter.sha256[:16]}"
    )
    return EXIT_OK


def _render_many(sources: list[Path], out: Path, service: LetterService, today: date | None) -> int:
    worst = EXIT_OK
    for source in sources:
        try:
            raw = source.read_bytes()
            letter = service.render_request(raw, today)
        except OSError as err:
            print(f"{source}: cannot read: {err.strerror}", file=sys.stderr)
            worst = max(worst, EXIT_BAD_INPUT)
            continue
        except InvalidRequest as err:
            report_invalid(source, err)
            worst = max(worst, EXIT_BAD_INPUT)
            continue
        except LetterError as err:
            print(f"{source}: {err}", file=sys.stderr)
            worst = max(worst, EXIT_FAILURE)
            continue
        target = out / f"{letter.letter_id}.pdf"
        write_atomically(target, letter.pdf)
        print(
            f"{target}: {letter.letter_type}/{letter.language}, case {letter.case_number}, "
            f"{letter.page_count} page(s), deadline {letter.deadline.isoformat()}"
        )
    return worst


def report_invalid(source: Path, err: InvalidRequest) -> None:
    """One line per problem, field path first, so operators can grep and fix."""
    print(f"{source}: invalid request", file=sys.stderr)
    for problem in err.problems:
        print(str(problem), file=sys.stderr)


RENDER = Command(
    "render",
    "render requests to PDF",
    _arguments,
    render_command,
    description="Validate letter requests and render them to PDF.",
)
