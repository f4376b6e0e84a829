"""``letters digipost serve|sync|print-unread``: the local Digipost double, delivery news,
and print-when-unread."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from channels.digipost.connect import local_double, open_api
from channels.digipost.keys import load_certificate
from letters.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Command, open_ledger
from letters.clock import today_in_norway
from letters.config import DigipostSettings, Settings
from letters.config.declared import DIGIPOST_DOUBLE_DIR, PRINT_WHEN_UNREAD
from letters.delivery.digipost_sync import sync_digipost
from letters.errors import LetterError
from letters.logs import configure_logging

RESULTS = ("DIGIPOST", "IDENTIFIED", "UNIDENTIFIED", "INVALID")


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve = actions.add_parser(
        "serve",
        help="run a local Digipost double",
        description="Serve a local Digipost that speaks the v8 sender API, signs its answers "
        "with a generated key and trusts the generated test sender key.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8282, help="0 picks a free port")
    serve.add_argument(
        "--state", type=Path, help=f"the mailbox folder (default {DIGIPOST_DOUBLE_DIR})"
    )
    serve.add_argument(
        "--recipients",
        type=Path,
        metavar="FILE.json",
        help='who has a mailbox: {"<national id>": "DIGIPOST" | "IDENTIFIED" | '
        '"UNIDENTIFIED" | "INVALID", …}; default: the sample debtor only',
    )
    serve.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="fail this share of API requests at random: 503, 500, a dropped or a late answer "
        "(soak runs; default 0)",
    )
    serve.add_argument("--seed", type=int, default=0, help="the random failures' seed")
    serve.add_argument(
        "--sender-certificate",
        type=Path,
        metavar="PEM",
        help="the sender's certificate (default: the generated test sender's)",
    )
    sync = actions.add_parser(
        "sync",
        help="record delivery confirmations and document events from Digipost",
        description="Ask Digipost for the status of letters still only sent, and for the "
        "document events since the last sync, and record them in the ledger.",
    )
    sync.add_argument("--json", action="store_true", help="machine-readable output")
    unread = actions.add_parser(
        "print-unread",
        help="print and post copies of Digipost letters nobody opened (print-when-unread), now",
        description=f"What the worker does every hour with {PRINT_WHEN_UNREAD}=true: a "
        "letter of a type in the profile's [rules.print_when_unread], sent to Digipost at least "
        "its days ago, not opened and with its deadline still ahead, is copied to print; a copy "
        "still batched whose original has been opened is taken out of its batch. Run "
        "`letters digipost sync` first for the newest OPENED events.",
    )
    unread.add_argument("--json", action="store_true", help="machine-readable output")


def digipost_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "serve":
        return _serve(args, settings)
    if args.action == "print-unread":
        return _print_unread(args, settings)
    return _sync(args, settings)


def _print_unread(args: argparse.Namespace, settings: Settings) -> int:
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.delivery.pipeline import build_pipeline
    from letters.delivery.print_when_unread import print_unread

    if not settings.print_when_unread:
        print(
            f"letters: print-when-unread is off; set {PRINT_WHEN_UNREAD}=true to use it",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    configure_logging(settings.log_level)
    ledger = open_ledger(settings)
    try:
        pipeline = build_pipeline(settings, ledger)
        rule = pipeline.service.profile.print_when_unread
        report = print_unread(pipeline, rule, today_in_norway())
    finally:
        ledger.close()
    counts = {"copied": report.copied, "withdrawn": report.withdrawn, "failed": report.failed}
    if args.json:
        print(json.dumps(counts))
    else:
        types = ", ".join(sorted(t.value for t in rule.letter_types)) or "none"
        print(
            f"{report.copied} unread letter(s) copied to print, {report.withdrawn} copy(ies) "
            f"withdrawn because the original was opened, {report.failed} not sent this time "
            f"(types: {types}; after {rule.days} days)"
        )
    return EXIT_FAILURE if report.failed else EXIT_OK


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level)
    digipost = settings.digipost
    if args.state:
        digipost = _replace_double_dir(settings, args.state)
    certificate = None
    if args.sender_certificate:
        certificate = load_certificate(args.sender_certificate, "--sender-certificate")
    recipients = None
    if args.recipients:
        try:
            recipients = _recipients(args.recipients)
        except (OSError, ValueError) as err:
            print(f"letters: --recipients {args.recipients}: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if not 0 <= args.fail_rate < 1:
        print("letters: --fail-rate must be at least 0 and below 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    double = local_double(digipost, recipients, certificate, args.fail_rate, args.seed)
    url = double.bind(args.host, args.port)
    print(
        f"local Digipost double at {url} (sender {digipost.sender_id}, "
        f"mailbox {double.config.state_dir})",
        flush=True,
    )
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=double.stop, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    double.serve_forever()
    return EXIT_OK


def _replace_double_dir(settings: Settings, folder: Path) -> DigipostSettings:
    return replace(settings.digipost, double_dir=folder)


def _recipients(path: Path) -> dict[str, tuple[str, str | None]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object of national id to result")
    recipients = {}
    for number, result in data.items():
        if result not in RESULTS:
            raise ValueError(f"{number}: {result!r} is not one of {', '.join(RESULTS)}")
        reason = {"UNIDENTIFIED": "NOT_FOUND", "INVALID": "UNKNOWN"}.get(result)
        recipients[number] = (result, reason)
    return recipients


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level)
    ledger = open_ledger(settings)
    try:
        report = sync_digipost(open_api(settings.digipost), ledger.deliveries, datetime.now(UTC))
    except LetterError as err:
        print(f"letters: Digipost sync failed: {err}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        ledger.close()
    if args.json:
        print(
            json.dumps(
                {
                    "confirmed": report.confirmed,
                    "events": report.events,
                    "unmatched": report.unmatched,
                    "missing": report.missing,
                    "from": report.window[0].isoformat(),
                    "to": report.window[1].isoformat(),
                }
            )
        )
    else:
        print(
            f"{report.confirmed} letter(s) confirmed delivered, {report.events} new event(s) "
            f"recorded, {report.unmatched} event(s) for unknown documents, {report.missing} "
            f"sent letter(s) unknown to Digipost; window {report.window[0].isoformat()} to "
            f"{report.window[1].isoformat()}"
        )
    return EXIT_OK


DIGIPOST = Command(
    "digipost", "the local Digipost double; delivery news", _arguments, digipost_command
)
