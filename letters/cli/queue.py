"""The queue commands: ``publish``, ``worker``, ``dead list|retry``, ``recover`` and ``queues``."""

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
from letters.clock import utcnow
from letters.config import Settings, parse_delays
from letters.config.declared import (
    CONCURRENCY,
    SWEEP_MAX_RECOVERIES,
    SWEEP_RETRY_GRACE,
    SWEEP_STALE_AFTER,
)
from letters.domain.message_body import BodyLimits, is_case_message, request_object
from letters.errors import ConfigurationError, InvalidRequest
from letters.ledger import OverdueLetter
from letters.logs import configure_logging
from letters.messaging.broker import Publisher
from letters.messaging.dead_letter_queue import list_dead, retry_dead
from letters.messaging.queue_migration import migrate_classic_retry_queues
from letters.worker.sweep import sweep


def publish_command(args: argparse.Namespace, settings: Settings) -> int:
    """Publish request and case message files (or JSON lines on standard input) with
    publisher confirms."""
    bodies: list[bytes] = []
    case_changes = 0
    problems: list[str] = []
    limits = BodyLimits(settings.max_body_bytes, settings.max_nesting)
    for origin, raw in _request_sources(args.requests):
        if isinstance(raw, OSError):
            problems.append(f"{origin}: cannot read: {raw.strerror}")
            continue
        try:
            data = request_object(raw, limits)
        except InvalidRequest as err:
            problems.append(f"{origin}: {err}")
            continue
        case_changes += is_case_message(data)
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
    print(
        f"published {len(bodies) - case_changes} request(s) and {case_changes} case "
        f"change(s) to the {where}, confirmed"
    )
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
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.worker.supervisor import run_workers

    configure_logging(settings.log_level)
    concurrency = args.concurrency or settings.concurrency
    return run_workers(settings, concurrency, args.until_empty)


def dead_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "retry" and not args.all and not args.ids:
        print("letters: say which letters to retry (LETTER_ID…) or --all", file=sys.stderr)
        return EXIT_BAD_INPUT
    ledger = open_ledger(settings)
    try:
        if args.action == "list":
            dead = list_dead(settings, ledger)
            for message in dead:
                print(
                    f"{message.dead_id:<36}  {message.letter_id or '-':<36}  "
                    f"attempts {message.attempts}  {message.reason}"
                )
            print(f"{len(dead)} dead letter(s)")
            return EXIT_OK
        retried = retry_dead(settings, ledger, None if args.all else set(args.ids))
    finally:
        ledger.close()
    for message in retried.requeued:
        print(f"requeued {message.letter_id or message.dead_id}")
    for message in retried.without_body:
        print(
            f"letters: {message.dead_id}: the ledger no longer holds its message (erased by "
            "retention, or dead-lettered before messages were kept); it stays dead",
            file=sys.stderr,
        )
    found = [*retried.requeued, *retried.without_body]
    missing = set(args.ids) - {m.letter_id for m in found} - {m.dead_id for m in found}
    for wanted in sorted(missing):
        print(f"letters: {wanted} is not in the dead-letter queue", file=sys.stderr)
    print(f"{len(retried.requeued)} dead letter(s) requeued")
    return EXIT_FAILURE if missing or retried.without_body else EXIT_OK


def recover_command(args: argparse.Namespace, settings: Settings) -> int:
    """The ledger sweep, now: letters in flight that no message carries any more."""
    ledger = open_ledger(settings)
    try:
        if args.dry_run:
            report = sweep(ledger, None, settings.sweep, utcnow())
        else:
            with Publisher.open(settings) as publisher:
                report = sweep(ledger, publisher, settings.sweep, utcnow())
    finally:
        ledger.close()
    if args.json:
        print(
            json.dumps(
                {
                    "dry_run": args.dry_run,
                    "recovered": [_overdue_json(o) for o in report.recovered],
                    "unrecoverable": [_overdue_json(o) for o in report.unrecoverable],
                },
                indent=2,
            )
        )
    else:
        verb = "would recover" if args.dry_run else "recovered"
        for letter in report.recovered:
            print(f"{verb} {letter.letter_id}  case {letter.case_number}  {letter.reason}")
        for letter in report.unrecoverable:
            print(
                f"not recovered {letter.letter_id}  case {letter.case_number}  {letter.reason}; "
                f"recovered {letter.recoveries} time(s) already"
            )
        print(
            f"{len(report.recovered)} letter(s) {verb}, "
            f"{len(report.unrecoverable)} left for operations"
        )
    return EXIT_FAILURE if report.unrecoverable else EXIT_OK


def _overdue_json(letter: OverdueLetter) -> dict[str, object]:
    return {
        "letter_id": letter.letter_id,
        "case_number": letter.case_number,
        "status": letter.status.value,
        "attempts": letter.attempts,
        "reason": letter.reason,
        "recoveries": letter.recoveries,
    }


def queues_command(args: argparse.Namespace, settings: Settings) -> int:
    """Move what the classic retry queues of earlier releases hold, and delete them."""
    if settings.embedded_broker:
        print("the embedded broker has no classic retry queues; nothing to do")
        return EXIT_OK
    try:
        extra = parse_delays(args.delays or "", "--delays")
    except ConfigurationError as err:
        print(f"letters queues: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with Publisher.open(settings) as publisher:
        report = migrate_classic_retry_queues(publisher, extra)
    for name, count in report.moved.items():
        state = "deleted" if name in report.deleted else "kept"
        print(f"{name}: {count} message(s) moved, queue {state}")
    for name in report.kept:
        print(f"letters queues: {name} still receives messages (is an old worker running?); "
              "stop it and run this again", file=sys.stderr)  # fmt: skip
    if not report.moved:
        print("no classic retry queues found")
    return EXIT_FAILURE if report.kept else EXIT_OK


def _publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("requests", nargs="*", metavar="MESSAGE.json")


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--concurrency", type=positive, metavar="N", help=f"worker processes ({CONCURRENCY})"
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


def _recover_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show what would be recovered")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _queues_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    migrate = actions.add_parser(
        "migrate",
        help="move the classic retry queues of earlier releases into the quorum ones",
        description="Empty every classic retry queue of an earlier release into the quorum "
        "retry queue of the same delay (or the work queue), then delete it. Every worker "
        "start does this too. Stop workers of the earlier release first.",
    )
    migrate.add_argument(
        "--delays",
        metavar="10s,1m,...",
        help="delays of old retry queues besides the default and configured ones",
    )


PUBLISH = Command(
    "publish",
    "publish letter requests and case changes to the queue",
    _publish_arguments,
    publish_command,
    description="Publish letters.request/1 and letters.case/1 files, or JSON lines on "
    "standard input (no files, or -), with publisher confirms: requests with routing key "
    "request.<letter type>, case changes with case.<state>. Nothing is published if an "
    "entry is not a JSON object.",
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
RECOVER = Command(
    "recover",
    "send letters the broker lost back to the work queue (the ledger sweep)",
    _recover_arguments,
    recover_command,
    description="Find letters the ledger holds in flight that no message can be carrying "
    f"any more (a retry overdue by {SWEEP_RETRY_GRACE}, or a letter in hand untouched "
    f"for {SWEEP_STALE_AFTER}), record them recovered and republish them to the work "
    f"queue. Exits 1 if some were recovered {SWEEP_MAX_RECOVERIES} times already.",
)
QUEUES = Command(
    "queues",
    "the broker's queues: migrate from earlier releases",
    _queues_arguments,
    queues_command,
)
