"""``letters resend``: bulk re-send jobs from the command line.

The selection is always shown first. ``--dry-run`` stops there; otherwise the
job is recorded in the ledger under its id and run, with a progress bar, at
the given rate. Ctrl-C finishes the letter in hand and stops; the same
command with ``--job ID`` continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from letters.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Command,
    iso_date,
    open_ledger,
    rate,
)
from letters.config import Rate, Settings
from letters.config.declared import RESEND_CONFIRM_OVER, RESEND_PROCESSES, RESEND_RATE
from letters.errors import TransientError
from letters.ledger import Ledger
from letters.ledger.resend_jobs import TO_DO, Item, ItemStatus, Job, JobExistsError, JobStore
from letters.logs import configure_logging
from letters.resend.pace import RateLimiter
from letters.resend.selection import (
    MODES,
    Selection,
    SelectionError,
    SelectionResult,
    read_case_numbers,
    read_letter_ids,
)

_SELECTING = (
    "letters",
    "cases",
    "types",
    "date_from",
    "date_to",
    "sent_via",
    "statuses",
    "batches",
)


if TYPE_CHECKING:
    from letters.resend.resender import RunReport


def _arguments(resend: argparse.ArgumentParser) -> None:
    chosen = resend.add_argument_group("selection (every option narrows it)")
    chosen.add_argument("--letters", type=Path, metavar="FILE", help="letter ids, one per line")
    chosen.add_argument("--cases", type=Path, metavar="FILE", help="case numbers, one per line")
    chosen.add_argument("--type", dest="types", action="append", metavar="LETTER_TYPE")
    chosen.add_argument("--from", dest="date_from", type=iso_date, metavar="YYYY-MM-DD",
                        help="letter date on or after")  # fmt: skip
    chosen.add_argument("--to", dest="date_to", type=iso_date, metavar="YYYY-MM-DD",
                        help="letter date on or before")  # fmt: skip
    chosen.add_argument("--sent-via", action="append", metavar="CHANNEL",
                        help="the channel the letter went to: digipost or print")  # fmt: skip
    chosen.add_argument("--status", dest="statuses", action="append", metavar="STATUS")
    chosen.add_argument("--batch", dest="batches", action="append", metavar="BATCH_ID",
                        help="letters of this print batch (a lost batch)")  # fmt: skip
    resend.add_argument("--mode", choices=MODES, help="copy: the archived PDF again; "
                        "renew: a new letter with a new date, deadline and password")  # fmt: skip
    resend.add_argument("--channel", choices=("print", "digipost"),
                        help="force this channel instead of the routing rule "
                        "(digipost still needs the debtor's consent)")  # fmt: skip
    resend.add_argument("--rate", type=rate, metavar="N/s",
                        help="at most this many letters per second, per minute (N/min) or "
                        f"per hour (N/h) (default {RESEND_RATE}, 10/s)")  # fmt: skip
    resend.add_argument("--processes", type=_processes, metavar="N",
                        help="render and send in N processes, each case's letters in one, "
                        f"sharing the rate (default {RESEND_PROCESSES}, 1)")  # fmt: skip
    resend.add_argument("--job", metavar="JOB_ID",
                        help="the job's id; an existing job is continued")  # fmt: skip
    resend.add_argument("--dry-run", action="store_true",
                        help="show what would be sent and stop")  # fmt: skip
    resend.add_argument("--yes", action="store_true", help="do not ask before a large job")
    resend.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    resend.add_argument("--report", type=Path, metavar="FILE", help="also write the JSON here")
    resend.add_argument("--sample", type=int, default=10, metavar="N",
                        help="letters shown in the dry run")  # fmt: skip


def resend_command(args: argparse.Namespace, settings: Settings) -> int:
    ledger = open_ledger(settings)
    try:
        store = ledger.resend_jobs
        job = store.get(args.job) if args.job else None
        if job is None:
            selection = _selection(args)
            mode = args.mode or "copy"
            result = selection.select(ledger, mode, args.sample)
            _show_selection(args, result, mode)
            if args.dry_run or not result.count:
                if not result.count:
                    print("no letters match the selection; nothing to do", file=sys.stderr)
                return EXIT_OK
            if args.mode is None:
                raise SelectionError("--mode: choose copy or renew for a job")
            if not _confirmed(args, result.count, settings.resend.confirm_over):
                return EXIT_FAILURE
            job_id = args.job or _new_job_id()
            chosen = selection.chosen(ledger, mode)
            job = store.create(job_id, mode, args.channel, selection.to_json(), chosen)
            print(f"job {job.job_id}: {job.item_count} letter(s); run again with "
                  f"--job {job.job_id} to continue after a stop", file=sys.stderr)  # fmt: skip
        else:
            _check_same_job(args, job)
            if args.dry_run:
                _emit(args, _job_report(store, job, None))
                return EXIT_OK
            print(f"continuing job {job.job_id}", file=sys.stderr)
        return _run(args, settings, ledger, store, job)
    except (SelectionError, JobExistsError) as err:
        print(f"letters resend: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TransientError as err:
        where = f"; run again with --job {args.job} to continue" if args.job else ""
        print(f"letters resend: {err}{where}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        ledger.close()


def _run(
    args: argparse.Namespace, settings: Settings, ledger: Ledger, store: JobStore, job: Job
) -> int:
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.delivery.pipeline import build_pipeline
    from letters.resend.pool import run_in_processes
    from letters.resend.resender import Resender

    configure_logging("WARNING")
    rate = args.rate or Rate(settings.resend.rate)
    processes = args.processes or settings.resend.processes
    with _progress(job, store) as on_item, _stop_on_interrupt() as stopping:
        if processes > 1:
            report = run_in_processes(settings, job, store, processes, rate, on_item, stopping)
        else:
            resender = Resender(build_pipeline(settings, ledger), store)
            report = resender.run(job, RateLimiter(rate), on_item, stopping)
    summary = _job_report(store, job, report)
    _emit(args, summary)
    if report.stopped:
        print(f"stopped; run `letters resend --job {job.job_id}` to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if not summary["failed"] and not summary["to_retry"] else EXIT_FAILURE


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(
        letter_ids=read_letter_ids(args.letters) if args.letters else (),
        case_numbers=read_case_numbers(args.cases) if args.cases else (),
        letter_types=tuple(args.types or ()),
        date_from=args.date_from,
        date_to=args.date_to,
        channels=tuple(args.sent_via or ()),
        statuses=tuple(args.statuses or ()),
        batch_ids=tuple(args.batches or ()),
    )


def _check_same_job(args: argparse.Namespace, job: Job) -> None:
    """Options given to a resumed job must be the ones it was created with."""
    differs = []
    if args.mode and args.mode != job.mode:
        differs.append(f"--mode {job.mode}")
    if args.channel and args.channel != job.forced_channel:
        differs.append(f"--channel {job.forced_channel or '(none)'}")
    selecting = any(getattr(args, name) for name in _SELECTING)
    if selecting and _selection(args).to_json() != job.selection:
        differs.append("its selection")
    if differs:
        raise SelectionError(
            f"--job {job.job_id} exists with {', '.join(differs)}; run "
            f"`letters resend --job {job.job_id}` alone to continue it, or choose a new job id"
        )


def _show_selection(args: argparse.Namespace, result: SelectionResult, mode: str) -> None:
    summary = result.summary()
    if args.json and args.dry_run:
        print(json.dumps({"mode": mode, "forced_channel": args.channel, **summary}, indent=2))
        return
    out = sys.stdout if args.dry_run else sys.stderr
    print(f"{summary['letters']} letter(s) selected for {mode}"
          f"{f', forced to {args.channel}' if args.channel else ''}", file=out)  # fmt: skip
    for label in ("by_type", "by_channel", "by_status"):
        counts = ", ".join(f"{k} {v}" for k, v in summary[label].items()) or "-"
        print(f"  {label.replace('_', ' '):<11} {counts}", file=out)
    for reason, count in summary["left_out"].items():
        print(f"  left out    {count}: {reason}", file=out)
    if summary["unknown_letter_ids"]:
        print(f"  not in the ledger: {len(summary['unknown_letter_ids'])} letter id(s), "
              f"first {summary['unknown_letter_ids'][0]}", file=out)  # fmt: skip
    if summary["sample"]:
        print("  sample:", file=out)
    for s in summary["sample"]:
        print(f"    {s['letter_id']}  case {s['case_number']:<14} {s['letter_type']:<22} "
              f"{s['language']}  {s['status']:<13} {s['channel'] or '-':<9} "
              f"{s['letter_date'] or ''}", file=out)  # fmt: skip


def _confirmed(args: argparse.Namespace, count: int, confirm_over: int) -> bool:
    if args.yes or count <= confirm_over:
        return True
    if not sys.stdin.isatty():
        raise SelectionError(
            f"{count} letters is over {RESEND_CONFIRM_OVER} ({confirm_over}): "
            "add --yes to run it without a terminal"
        )
    answer = input(f"Re-send {count} letters ({args.mode})? Type {count} to go on: ")
    if answer.strip() != str(count):
        print("not started", file=sys.stderr)
        return False
    return True


@contextmanager
def _progress(job: Job, store: JobStore) -> Iterator[Any]:
    counts = store.counts(job.job_id)
    done = job.item_count - sum(counts[s] for s in TO_DO)
    terminal = sys.stderr.isatty()
    bar = tqdm(total=job.item_count, initial=done, unit="letter", disable=not terminal,
               dynamic_ncols=True, file=sys.stderr)  # fmt: skip
    step = max(1, job.item_count // 10)
    done_now = done

    def on_item(item: Item, status: ItemStatus, _detail: str) -> None:
        nonlocal done_now
        counts[item.status] -= 1  # pending or retry when the run began
        counts[status] += 1
        done_now += 1
        tally = (
            f"sent {counts[ItemStatus.SENT]}, skipped {counts[ItemStatus.SKIPPED]}, "
            f"failed {counts[ItemStatus.FAILED]}, retry {counts[ItemStatus.RETRY]}"
        )
        if terminal:
            bar.set_postfix_str(tally, refresh=False)
            bar.update(1)
        elif done_now % step == 0 or done_now == job.item_count:
            # No terminal (a job runner's log): a plain line every tenth of the job.
            print(f"{done_now}/{job.item_count} {tally}", file=sys.stderr)

    try:
        yield on_item
    finally:
        bar.close()


@contextmanager
def _stop_on_interrupt() -> Iterator[Any]:
    """The first Ctrl-C (or SIGTERM) stops after the letter in hand; a second one at once."""
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        signal.signal(signum, signal.default_int_handler)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _job_report(store: JobStore, job: Job, run: RunReport | None) -> dict[str, Any]:
    counts = store.counts(job.job_id)
    noted = store.items(job.job_id, (ItemStatus.FAILED, ItemStatus.SKIPPED, ItemStatus.RETRY))

    def listed(status: ItemStatus) -> list[dict[str, str | None]]:
        return [
            {
                "letter_id": i.source_letter_id,
                "new_letter_id": i.new_letter_id,
                "case_number": i.case_number,
                "reason": i.detail,
            }
            for i in noted
            if i.status is status
        ]

    report: dict[str, Any] = {
        "job_id": job.job_id,
        "mode": job.mode,
        "forced_channel": job.forced_channel,
        "letters": job.item_count,
        "sent": counts[ItemStatus.SENT],
        "skipped": counts[ItemStatus.SKIPPED],
        "failed": counts[ItemStatus.FAILED],
        "to_retry": counts[ItemStatus.RETRY],
        "pending": counts[ItemStatus.PENDING],
        "skipped_letters": listed(ItemStatus.SKIPPED),
        "failed_letters": listed(ItemStatus.FAILED),
        "retry_letters": listed(ItemStatus.RETRY),
    }
    if run is not None:
        report["this_run"] = {
            "run": run.run,
            "handled": run.handled,
            **{status.value: run.counts[status] for status in ItemStatus if run.counts[status]},
            "done_in_earlier_runs": run.done_before,
            "stopped": run.stopped,
            "seconds": round(run.elapsed_s, 2),
            "letters_per_second": round(run.handled / run.elapsed_s, 1) if run.elapsed_s else None,
        }
        if run.by_process:
            report["this_run"]["handled_by_process"] = run.by_process
    return report


def _emit(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"job {report['job_id']} ({report['mode']}"
          f"{', forced to ' + report['forced_channel'] if report['forced_channel'] else ''}, "
          f"{report['letters']} letters): {report['sent']} sent, {report['skipped']} skipped, "
          f"{report['failed']} failed, {report['to_retry']} to retry, "
          f"{report['pending']} pending")  # fmt: skip
    run = report.get("this_run")
    if run:
        pace = run["letters_per_second"]
        shares = run.get("handled_by_process")
        print(f"this run: {run['handled']} letter(s) in {run['seconds']} s"
              f"{f' ({pace} letters/s)' if pace else ''}"
              f"{f', by process {shares}' if shares else ''}; "
              f"{run['done_in_earlier_runs']} done in earlier runs")  # fmt: skip
    for label, key in (("failed", "failed_letters"), ("to retry", "retry_letters"),
                       ("skipped", "skipped_letters")):  # fmt: skip
        for item in report[key]:
            print(f"  {label:<9}{item['letter_id']}  case {item['case_number']}  {item['reason']}")


def _processes(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"not a number of processes from 1 to 64: {text!r}")
    return count


def _new_job_id() -> str:
    return f"resend-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


RESEND = Command(
    "resend",
    "re-send letters in bulk (copy or renew), as a resumable job",
    _arguments,
    resend_command,
    description=__doc__.split("\n\n")[1].replace("\n", " "),
)
