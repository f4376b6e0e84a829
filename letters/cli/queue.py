"""The queue commands: ``publish``, ``worker`` and ``dead list|retry``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from letters.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    Command,
    open_ledger,
    positive,
)
from letters.config import Settings
from letters.logs import configure_logging
from letters.messaging.broker import Publisher
from letters.messaging.dead_letters import list_dead, retry_dead
from letters.messaging.supervisor import run_workers


def publish_command(args: argparse.Namespace, settings: Settings) -> int:
    """Publish request files (or JSON lines on standard input) with publisher confirms."""
    bodies: list[bytes] = []
    problems: list[str] = []
    for origin, raw in _request_sources(args.requests):
        if isinstance(raw, OSError):
            problems.append(f"{origin}: cannot read: {raw.strerror}")
            continue
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            problems.append(f"{origin}: not JSON: {err}")
            continue
        if not isinstance(data, dict):
            problems.append(f"{origin}: not a JSON object")
            continue
        bodies.append(raw)
    if problems:
        # Nothing is published from a batch that has unreadable entries: the
        # operator fixes the batch and runs it again without duplicates to sort out.
        print("\n".join(problems), file=sys.stderr)
        print(f"letters: nothing published; {len(problems)} bad entr(y/ies)", file=sys.stderr)
        return EXIT_BAD_INPUT
    with Publisher.open(settings) as publisher:
        for body in bodies:
            publisher.publish_request(body)
    where = "embedded broker" if settings.embedded_broker else "broker"
    print(f"published {len(bodies)} request(s) to the {where}, confirmed")
    return EXIT_OK


def _request_sources(paths: list[str]) -> Iterator[tuple[str, bytes | OSError]]:
    if not paths or paths == ["-"]:
        for number, line in enumerate(sys.stdin.buffer, start=1):
            if line.strip():
                yield f"stdin line {number}", line.strip()
        return
    for name in paths:
        try:
            yield name, Path(name).read_bytes()
        except OSError as err:
            yield name, err


def worker_command(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level)
    concurrency = args.concurrency or settings.concurrency
    return run_workers(settings, concurrency, args.until_empty)


def dead_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "list":
        dead = list_dead(settings)
        for message in dead:
            print(
                f"{message.dead_id or '-':<36}  {message.letter_id or '-':<36}  "
                f"attempts {message.attempts}  {message.reason}"
            )
        print(f"{len(dead)} dead letter(s)")
        return EXIT_OK
    if not args.all and not args.ids:
        print("letters: say which letters to retry (LETTER_ID…) or --all", file=sys.stderr)
        return EXIT_BAD_INPUT
    ledger = open_ledger(settings)
    try:
        retried = retry_dead(settings, ledger, None if args.all else set(args.ids))
    finally:
        ledger.close()
    for message in retried:
        print(f"requeued {message.letter_id or message.dead_id}")
    missing = set(args.ids) - {m.letter_id for m in retried} - {m.dead_id for m in retried}
    for wanted in sorted(missing):
        print(f"letters: {wanted} is not in the dead-letter queue", file=sys.stderr)
    print(f"{len(retried)} dead letter(s) requeued")
    return EXIT_FAILURE if missing else EXIT_OK


def _publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("requests", nargs="*", metavar="REQUEST.json")


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--concurrency", type=positive, metavar="N", help="worker processes (LETTERS_CONCURRENCY)"
    )
    parser.add_argument(
        "--until-empty",
        action="store_true",
        help="stop when the work and retry queues are empty (jobs and tests)",
    )


def _dead_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="list the dead-letter queue with reasons")
    retry = actions.add_parser("retry", help="send dead letters back to the work queue")
    retry.add_argument("ids", nargs="*", metavar="LETTER_ID", help="letter ids or dead ids")
    retry.add_argument("--all", action="store_true", help="every dead letter")


PUBLISH = Command(
    "publish",
    "publish letter requests to the queue",
    _publish_arguments,
    publish_command,
    description="Publish letters.request/1 files, or JSON lines on standard input "
    "(no files, or -), with publisher confirms. Nothing is published if an entry is "
    "not a JSON object.",
)
WORKER = Command(
    "worker",
    "consume and deliver letter requests",
    _worker_arguments,
    worker_command,
    description="Consume the work queue: validate, record, render, archive, route and "
    "send each letter. SIGTERM finishes the letter in hand, then exits.",
)
DEAD = Command("dead", "inspect and requeue dead letters", _dead_arguments, dead_command)
