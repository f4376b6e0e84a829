"""``letters events relay|replay|tail``: the case system's view of every letter."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, time

from letters.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Command, open_ledger
from letters.clock import OSLO
from letters.config import Settings
from letters.config.declared import EVENTS_KEEP, EVENTS_RELAY_INTERVAL
from letters.domain.message_body import canonical_uuid
from letters.domain.request_shape import case_number_problem
from letters.errors import TransientError
from letters.messaging.event_relay import open_relay, relay_until_empty
from letters.messaging.event_tail import read_events


def events_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "relay":
        return _relay(args, settings)
    if args.action == "replay":
        return _replay(args, settings)
    return _tail(args, settings)


def _relay(args: argparse.Namespace, settings: Settings) -> int:
    ledger = open_ledger(settings)
    try:
        if args.until_empty:
            published = relay_until_empty(settings, ledger, timeout_s=args.timeout)
        else:
            relay = open_relay(settings, ledger)
            try:
                published = relay.relay()
            finally:
                relay.close()
        pending = ledger.outbox.pending_count()
    except TransientError as err:
        print(f"letters events relay: {err}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        ledger.close()
    print(f"published {published} event(s); {pending} pending")
    return EXIT_OK


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    since = _moment(args.since)
    if since is None:
        print(
            f"letters events replay: --since {args.since!r} is not a time such as "
            "2026-11-24T10:00:00+01:00 or a date such as 2026-11-24",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if args.case and (problem := case_number_problem("--case", args.case)):
        print(f"letters events replay: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    letter_id = canonical_uuid(args.letter) if args.letter else None
    if args.letter and letter_id is None:
        print(f"letters events replay: --letter {args.letter!r} is not a UUID", file=sys.stderr)
        return EXIT_BAD_INPUT
    ledger = open_ledger(settings)
    try:
        chosen = ledger.outbox.since(since, case_number=args.case, letter_id=letter_id)
        if args.dry_run:
            print(f"{len(chosen)} event(s) would be replayed")
            return EXIT_OK
        relay = open_relay(settings, ledger)
        try:
            replayed = relay.replay(chosen)
        finally:
            relay.close()
    except TransientError as err:
        print(f"letters events replay: {err}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        ledger.close()
    print(f"replayed {replayed} event(s) since {since.isoformat(timespec='seconds')}")
    return EXIT_OK


def _tail(args: argparse.Namespace, settings: Settings) -> int:
    try:
        for event in read_events(
            settings, follow=args.follow, idle_s=args.idle, queue_name=args.queue
        ):
            print(json.dumps(event, ensure_ascii=False, separators=(",", ":")), flush=True)
    except TransientError as err:
        print(f"letters events tail: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def _moment(text: str) -> datetime | None:
    """A time with an offset, or a date (from midnight in Norway)."""
    try:
        if "T" not in text:
            return datetime.combine(datetime.fromisoformat(text).date(), time(), tzinfo=OSLO)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    relay = actions.add_parser(
        "relay",
        help="publish the events waiting in the outbox",
        description="Publish every pending letters.event/1 event, in order, with publisher "
        f"confirms (the first worker process does this every {EVENTS_RELAY_INTERVAL}).",
    )
    relay.add_argument(
        "--until-empty",
        action="store_true",
        help="wait out a broker that is down until nothing is pending",
    )
    relay.add_argument(
        "--timeout", type=float, default=300.0, metavar="SECONDS", help="with --until-empty"
    )
    replay = actions.add_parser(
        "replay",
        help="publish kept events again, marked as replays",
        description="Publish again the events written since a time (kept for "
        f"{EVENTS_KEEP}), with the same event ids, marked as replays: for a consumer "
        "that lost its queue.",
    )
    replay.add_argument("--since", required=True, metavar="TIME", help="ISO 8601 time or date")
    replay.add_argument("--case", metavar="CASE_NUMBER", help="only this case's events")
    replay.add_argument("--letter", metavar="LETTER_ID", help="only this letter's events")
    replay.add_argument("--dry-run", action="store_true", help="say how many, publish none")
    tail = actions.add_parser(
        "tail",
        help="print events as JSON lines as the case system gets them",
        description="Print letters.event/1 events as JSON lines. On the embedded broker it "
        "takes them from the events queue (it is the case system there); on RabbitMQ it "
        "reads a queue of its own bound to every event, or --queue.",
    )
    tail.add_argument("--follow", action="store_true", help="keep waiting for more")
    tail.add_argument(
        "--idle", type=float, default=2.0, metavar="SECONDS", help="stop after this long idle"
    )
    tail.add_argument("--queue", metavar="NAME", help="read (and take from) this queue")


EVENTS = Command(
    "events",
    "the letters.event/1 events: relay, replay, tail",
    _arguments,
    events_command,
    description="Every change of a letter the case system hears of, as a letters.event/1 "
    "event published from the ledger's outbox.",
)
