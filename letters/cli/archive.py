"""``letters archive get``: a letter's archived PDF, checked against the ledger."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from letters.cli.common import EXIT_FAILURE, EXIT_OK, Command, open_ledger, write_atomically
from letters.config import Settings
from letters.errors import LetterError
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


def archive_command(args: argparse.Namespace, settings: Settings) -> int:
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


ARCHIVE = Command("archive", "read the PDF archive", _arguments, archive_command)
