"""The queue commands: ``publish``, ``worker``, ``status``, ``dead list|retry`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from letters.broker import Publisher
from letters.config import Settings
from letters.dead_letters import list_dead, retry_dead
from letters.ledger import Ledger, LetterEvent, LetterRecord
from letters.logs import configure_logging
from letters.runner import prepare, run_worker, run_workers

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


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


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    ledger = _ledger(settings)
    try:
        record = ledger.get(args.letter_id)
        if record is None:
            print(f"letters: no letter {args.letter_id} in the ledger", file=sys.stderr)
            return EXIT_FAILURE
        history = ledger.history(args.letter_id)
    finally:
        ledger.close()
    if args.json:
        print(json.dumps(_record_json(record, history), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(
        f"letter {record.letter_id}  case {record.case_number}  "
        f"{record.letter_type}/{record.language}  status {record.status}"
    )
    for label, value in (
        ("channel", record.channel and f"{record.channel} ({record.route_reason})"),
        ("deadline", record.deadline),
        ("template", record.template_version),
        ("pdf", record.pdf_sha256 and f"{record.page_count} page(s), sha256 {record.pdf_sha256}"),
        ("archive", record.archive_key),
        (
            "re-send",
            record.origin_letter_id
            and f"{record.resend_mode} of {record.origin_letter_id} (job {record.resend_job_id})",
        ),
        (
            "password",
            record.otp_revoked_at
            and f"revoked {record.otp_revoked_at.isoformat(timespec='seconds')}",
        ),
        ("receipt", record.provider_ref),
        (
            "delivered",
            record.delivered_at
            and f"{record.delivered_at.isoformat(timespec='seconds')} via {record.delivery_method}",
        ),
    ):
        if value:
            print(f"  {label:<10}{value}")
    for event in history:
        detail = f"  {event.detail}" if event.detail else ""
        print(f"  {event.at.isoformat(timespec='milliseconds')}  {event.event:<14}{detail}")
    return EXIT_OK


def _record_json(record: LetterRecord, history: list[LetterEvent]) -> dict[str, object]:
    fields = {
        name: getattr(record, name)
        for name in record.__dataclass_fields__
        if name not in {"request", "otp_hash"}
    }
    fields["history"] = [{"event": e.event, "at": e.at, "detail": e.detail} for e in history]
    return json.loads(json.dumps(fields, default=str))  # type: ignore[no-any-return]


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
    ledger = _ledger(settings)
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


def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    """The whole pipeline on this machine: samples in, PDFs and delivery records out."""
    configure_logging("WARNING")
    samples = sorted(args.samples.glob("*.json"))
    if not samples:
        print(f"letters: no sample requests in {args.samples}", file=sys.stderr)
        return EXIT_FAILURE
    prepare(settings)
    letter_ids = []
    with Publisher.open(settings) as publisher:
        for sample in samples:
            data = json.loads(sample.read_bytes())
            # A fresh letter id per run: the same id again would be a duplicate.
            data["letter_id"] = str(uuid.uuid4())
            letter_ids.append(data["letter_id"])
            publisher.publish_request(json.dumps(data, ensure_ascii=False).encode())
    print(
        f"published {len(samples)} sample request(s); running the worker until the queue is empty"
    )
    code = run_worker(settings, until_empty=True)
    printed = _cut_print_batches(settings)
    ledger = _ledger(settings)
    try:
        records = {r.letter_id: r for r in ledger.letters_in(letter_ids)}
    finally:
        ledger.close()
    finished = 0
    for letter_id in letter_ids:
        record = records.get(letter_id)
        if record is None:
            print(f"{letter_id}  not accepted")
            continue
        finished += record.finished
        print(
            f"{record.letter_id}  {record.letter_type:<22} {record.language}  "
            f"{record.status:<10} {record.channel or '-':<9} {record.archive_key or ''}"
        )
    by_channel = Counter(r.channel or "none" for r in records.values())
    where = {
        "digipost": "the local Digipost double's mailbox in "
        f"{settings.digipost.double_dir / 'documents'}"
        if settings.digipost_backend == "digipost" and settings.digipost.url is None
        else f"Digipost ({settings.digipost_backend})",
        "print": f"the fake print channel in {settings.fake_outbox / 'print'}"
        if settings.print_backend == "fake"
        else f"the print drop in {settings.print.url}",
    }
    print(
        f"{finished} of {len(letter_ids)} letter(s) finished; PDFs under {settings.archive_url}, "
        f"ledger {settings.database_url}"
    )
    for channel, count in sorted(by_channel.items()):
        print(f"  {count} to {where.get(channel, channel)}")
    for line in printed:
        print(f"    {line}")
    return EXIT_OK if code == EXIT_OK and finished == len(letter_ids) else EXIT_FAILURE


def _cut_print_batches(settings: Settings) -> list[str]:
    """The demo does not wait for the cut-off: it cuts the print batches at once."""
    if settings.print_backend != "print_post":
        return []
    from letters.print_dispatch import open_dispatcher

    report = open_dispatcher(settings).run(cut_all=True)
    lines = [
        f"print batch {sent.batch_id} ({sent.destination}): {sent.letters} letter(s), "
        f"{sent.pages} pages, manifest {sent.location}"
        for sent in report.sent
    ]
    lines += [
        f"print batch {batch_id} failed: {reason}" for batch_id, reason in report.failed.items()
    ]
    return lines


def _ledger(settings: Settings) -> Ledger:
    ledger = Ledger(settings.database_url)
    ledger.upgrade()
    return ledger
