"""The ``letters`` command line: one program, one subcommand per job.

Exit codes: 0 success, 2 bad input (invalid request, unknown arguments), 1 any
other failure.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from collections.abc import Sequence

from letters.cli.archive import ARCHIVE
from letters.cli.case import CANCEL, CASE
from letters.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Command
from letters.cli.demo import DEMO
from letters.cli.digipost import DIGIPOST
from letters.cli.events import EVENTS
from letters.cli.ops import OPS
from letters.cli.print_post import PRINT
from letters.cli.privacy import KEYS, PRIVACY
from letters.cli.queue import DEAD, PUBLISH, QUEUES, RECOVER, WORKER
from letters.cli.rates import RATES
from letters.cli.render import RENDER
from letters.cli.resend import RESEND
from letters.cli.review import APPROVE, PREVIEW
from letters.cli.status import STATUS
from letters.config import Settings
from letters.errors import ConfigurationError

# Every command, in the order ``letters --help`` lists them.
COMMANDS: tuple[Command, ...] = (
    RENDER,
    PUBLISH,
    WORKER,
    STATUS,
    RATES,
    EVENTS,
    DEAD,
    RECOVER,
    QUEUES,
    OPS,
    DEMO,
    DIGIPOST,
    ARCHIVE,
    PRINT,
    RESEND,
    CASE,
    CANCEL,
    PREVIEW,
    APPROVE,
    PRIVACY,
    KEYS,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="letters", description=plain(__doc__.splitlines()[0]))
    parser.add_argument("--version", action="version", version=f"letters {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.arguments(
            sub.add_parser(
                command.name,
                help=plain(command.help),
                description=plain(command.description) if command.description else None,
            )
        )
    return parser


def plain(text: str) -> str:
    """Help text without the reStructuredText literals the docstrings it comes from use."""
    return text.replace("``", "")


def _version() -> str:
    try:
        return importlib.metadata.version("letters")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_BAD_INPUT if exit_.code not in (0, None) else EXIT_OK
    run = {command.name: command.run for command in COMMANDS}[args.command]
    # Ledger files, queued bodies, archived letters and print batches hold debtors'
    # personal data: everything the service creates is readable by its owner only.
    previous = os.umask(0o077)
    try:
        return run(args, Settings.from_env())
    except ConfigurationError as err:
        print(f"letters: configuration error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        os.umask(previous)
