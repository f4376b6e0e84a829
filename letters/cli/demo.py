"""``letters demo``: the sample requests through the whole pipeline, on this machine."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import sys
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from letters.cli.common import EXIT_FAILURE, EXIT_OK, Command, open_ledger
from letters.config import PROJECT_ROOT, Settings
from letters.config.declared import ALLOW_UNCHECKED_RATES
from letters.ledger import LetterStatus
from letters.logs import configure_logging
from letters.messaging.broker import Publisher, topology_for
from letters.messaging.event_relay import relay_until_empty
from letters.messaging.event_tail import read_events

SAMPLES_DIR = PROJECT_ROOT / "samples"


def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    """The whole pipeline on this machine: samples in, PDFs and delivery records out."""
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.worker.supervisor import prepare, run_worker

    configure_logging("WARNING")
    settings = _demo_rates(settings)
    samples = sorted(args.samples.glob("*.json"))
    if not samples:
        print(f"letters: no sample requests in {args.samples}", file=sys.stderr)
        return EXIT_FAILURE
    prepare(settings)
    letter_ids = []
    with Publisher.open(settings) as publisher:
        for sample in samples:
            data = json.loads(sample.read_bytes())
            # A fresh letter id per run: the same id again would be a duplicate. A fresh
            # case number too: the same case again would be a second letter of its type
            # while the first one's deadline runs, which the order of letters refuses.
            data["letter_id"] = str(uuid.uuid4())
            data["case"]["case_number"] = f"2026-{secrets.randbelow(10**7):07d}"
            # The KID belongs to the case number: the service makes it for the new one.
            data["case"].pop("kid", None)
            letter_ids.append(data["letter_id"])
            publisher.publish_request(json.dumps(data, ensure_ascii=False).encode())
    print(
        f"published {len(samples)} sample request(s); running the worker until the queue is empty"
    )
    code = run_worker(settings, until_empty=True)
    printed = _cut_print_batches(settings)
    printed += _print_house_answers(settings)
    ledger = open_ledger(settings)
    try:
        records = {r.letter_id: r for r in ledger.letters_in(letter_ids)}
    finally:
        ledger.close()
    finished = 0
    held: dict[str, int] = {}
    for letter_id in letter_ids:
        record = records.get(letter_id)
        if record is None:
            print(f"{letter_id}  not accepted")
            continue
        finished += record.finished
        waiting = record.status is LetterStatus.HELD and record.held_for_rates
        if waiting:
            held[record.held_for_rates or ""] = held.get(record.held_for_rates or "", 0) + 1
        print(
            f"{record.letter_id}  {record.letter_type:<22} {record.language}  "
            f"{record.status:<10} {record.channel or '-':<9} "
            + (f"waits for: {record.held_for_rates}" if waiting else record.archive_key or "")
        )
    by_channel = Counter(r.channel or "none" for r in records.values() if r.finished)
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
    if held:
        print(f"{sum(held.values())} letter(s) held for a rate nobody has checked; each goes on "
              "when its rates are added and approved (letters rates add, letters rates "
              "approve), then letters worker --until-empty:")  # fmt: skip
        for keys, count in sorted(held.items()):
            print(f"  {count} waiting for {keys}")
    if settings.allow_unchecked_rates:
        print("rates: the demo lets letters use packaged rows nobody has checked "
              f"({ALLOW_UNCHECKED_RATES}); its history names those used")  # fmt: skip
    shown = _show_events(settings, letter_ids)
    # A letter held for a missing rate is where it should be: waiting, not lost.
    complete = finished + sum(held.values()) == len(letter_ids) and shown == len(letter_ids)
    return EXIT_OK if code == EXIT_OK and complete else EXIT_FAILURE


def _demo_rates(settings: Settings) -> Settings:
    """On the embedded default the demo may use the packaged rates nobody has checked (the
    placeholders), unless LETTERS_ALLOW_UNCHECKED_RATES says otherwise; never on a shared
    broker or database."""
    embedded = settings.embedded_broker and settings.database_url.startswith("sqlite")
    if not embedded or ALLOW_UNCHECKED_RATES.name in os.environ:
        return settings
    return dataclasses.replace(settings, allow_unchecked_rates=True)


def _show_events(settings: Settings, letter_ids: list[str]) -> int:
    """What the case system heard of each letter; how many letters it heard of."""
    ledger = open_ledger(settings)
    try:
        relay_until_empty(settings, ledger, timeout_s=30)
        if settings.embedded_broker:
            # The embedded events queue is the case system's: read it as the case system.
            heard = [e for e in read_events(settings, idle_s=1.0) if e["letter_id"] in letter_ids]
            source = f"the events queue {topology_for(settings).events_queue.name}"
        else:
            outbox = ledger.outbox
            heard = [json.loads(e.body) for i in letter_ids for e in outbox.for_letter(i)]
            source = "the ledger's outbox"
    finally:
        ledger.close()
    by_letter: dict[str, list[dict[str, Any]]] = {}
    for event in heard:
        by_letter.setdefault(event["letter_id"], []).append(event)
    print(f"what the case system heard (letters.event/1, from {source}):")
    for letter_id in letter_ids:
        events = by_letter.get(letter_id, [])
        steps = " → ".join(f"{e['sequence']} {_kind(e)}" for e in events)
        print(f"  {letter_id}  {steps or 'nothing'}")
    return sum(1 for letter_id in letter_ids if by_letter.get(letter_id))


def _kind(event: dict[str, Any]) -> str:
    if event["kind"] == "posted":
        # Handed to the print house, then confirmed by its receipt with the real day.
        return f"posted {event['posted_on']}" + (
            " (receipt)" if event["details"]["confirmed"] else " (planned)"
        )
    return str(event["kind"])


def _cut_print_batches(settings: Settings) -> list[str]:
    """The demo does not wait for the cut-off: it cuts the print batches at once."""
    if settings.print_backend != "print_post":
        return []
    from letters.delivery.pipeline import build_pipeline
    from letters.delivery.print_dispatch import open_dispatcher

    ledger = open_ledger(settings)
    try:
        pipeline = build_pipeline(settings, ledger)
        report = open_dispatcher(settings, ledger, pipeline.redate).run(cut_all=True)
    finally:
        ledger.close()
    lines = [
        f"print batch {sent.batch_id} ({sent.destination}): {sent.letters} letter(s), "
        f"{sent.pages} pages, manifest {sent.location}"
        for sent in report.sent
    ]
    lines += [
        f"print batch {batch_id} failed: {reason}" for batch_id, reason in report.failed.items()
    ]
    return lines


def _print_house_answers(settings: Settings) -> list[str]:
    """The local print house posts the demo's batches and writes its receipts; the service
    reads them, as the worker does every few minutes, and each letter has its real day."""
    if settings.print_backend != "print_post" or "://" in settings.print.url:
        return []
    from channels.print_post.double import HouseRules, answer_batches
    from letters.delivery.pipeline import build_pipeline
    from letters.delivery.print_answers import read_receipts
    from letters.delivery.print_dispatch import open_print_drop
    from letters.delivery.print_inbox import ReceiptInbox

    rules = HouseRules(posting_delay=settings.print.posting_delay)
    # The demo does not wait for the posting day: the print house posts on it at once, and
    # its receipts are read as on that day.
    house = answer_batches(Path(settings.print.url), rules, date.max)
    if not house.receipts:
        return []
    as_of = max(house.receipts.values())
    ledger = open_ledger(settings)
    try:
        pipeline = build_pipeline(settings, ledger)
        inbox = ReceiptInbox(open_print_drop(settings))
        report = read_receipts(inbox, pipeline, as_of=as_of)
        batches = ledger.batches
        lines = []
        for batch_id in house.receipts:
            batch = batches.get(batch_id)
            if batch is None or batch.posted_on is None:
                continue
            lines.append(
                f"the local print house posted {batch_id} on {batch.posted_on} (planned "
                f"{batch.planned_posting_day}); its receipt {batch.receipt_name} says:"
            )
            for member in batches.members(batch_id):
                record = ledger.get(member.letter_id)
                if record is not None:
                    lines.append(
                        f"  {record.letter_id}  posted on {record.posted_on}, "
                        f"dated {record.letter_date}, deadline {record.deadline}"
                    )
    finally:
        ledger.close()
    lines += [f"print receipt {name} refused: {why}" for name, why in report.refused.items()]
    return lines


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=Path, default=SAMPLES_DIR)


DEMO = Command(
    "demo",
    "run the sample requests through the whole pipeline",
    _arguments,
    demo_command,
    description="Publish every request in samples/ (with fresh letter ids) and run a "
    "worker until the queue is empty, on the configured (by default embedded) services; "
    "then show each letter's letters.event/1 events, as the case system hears them.",
)
