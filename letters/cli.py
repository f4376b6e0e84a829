"""The ``letters`` command line: one program, one subcommand per job.

Exit codes: 0 success, 2 bad input (invalid request, unknown arguments), 1 any
other failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from letters.config import PROJECT_ROOT, Settings
from letters.errors import ConfigurationError, InvalidRequest, LetterError
from letters.otp import OneTimePassword
from letters.service import LetterService

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
SAMPLES_DIR = PROJECT_ROOT / "samples"
MASKED_PASSWORD = OneTimePassword("*" * 12)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


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

    demo = sub.add_parser(
        "demo",
        help="render the sample requests on embedded defaults",
        description="Render every request in samples/ to var/out/.",
    )
    demo.add_argument("--samples", type=Path, default=SAMPLES_DIR)
    demo.add_argument("--out", type=Path, default=None, help="default: var/out")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_BAD_INPUT if exit_.code not in (0, None) else EXIT_OK
    try:
        settings = Settings.from_env()
        if args.command == "render":
            return _render(args, LetterService(settings))
        if args.command == "demo":
            out = args.out or settings.var_dir / "out"
            requests = sorted(args.samples.glob("*.json"))
            if not requests:
                print(f"letters: no sample requests in {args.samples}", file=sys.stderr)
                return EXIT_FAILURE
            out.mkdir(parents=True, exist_ok=True)
            return _render_many(requests, out, LetterService(settings), None)
    except ConfigurationError as err:
        print(f"letters: configuration error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    parser.error(f"unknown command {args.command}")
    return EXIT_BAD_INPUT  # pragma: no cover - parser.error exits


def _render(args: argparse.Namespace, service: LetterService) -> int:
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
        _report_invalid(source, err)
        return EXIT_BAD_INPUT
    except LetterError as err:
        print(f"{source}: {err}", file=sys.stderr)
        return EXIT_FAILURE
    _write_atomically(target, letter.pdf)
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
            _report_invalid(source, err)
            worst = max(worst, EXIT_BAD_INPUT)
            continue
        except LetterError as err:
            print(f"{source}: {err}", file=sys.stderr)
            worst = max(worst, EXIT_FAILURE)
            continue
        target = out / f"{letter.letter_id}.pdf"
        _write_atomically(target, letter.pdf)
        print(
            f"{target}: {letter.letter_type}/{letter.language}, case {letter.case_number}, "
            f"{letter.page_count} page(s), deadline {letter.deadline.isoformat()}"
        )
    return worst


def _report_invalid(source: Path, err: InvalidRequest) -> None:
    """One line per problem, field path first, so operators can grep and fix."""
    print(f"{source}: invalid request", file=sys.stderr)
    for problem in err.problems:
        print(str(problem), file=sys.stderr)


def _write_atomically(target: Path, data: bytes) -> None:
    """Never leave a partial PDF behind: write beside it, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


if __name__ == "__main__":
    sys.exit(main())
