"""``letters status``: a letter and its history, from the ledger."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import timedelta

from letters.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Command, open_ledger
from letters.config import Settings
from letters.delivery.print_answers import next_step, returned_by_reason
from letters.domain.contract import valid_national_identity_number
from letters.domain.message_body import canonical_uuid
from letters.ledger import LetterEvent, LetterRecord, LetterStatus
from letters.ledger.personal_data import letter_ids_of_person
from letters.ledger.print_answers import ReturnedLetter
from letters.ledger.records import DeadLetter


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.letter_id and args.national_id:
        print("letters status: give a LETTER_ID or --national-id, not both", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.letter_id and not args.national_id:
        return _overview(args, settings)
    if args.national_id:
        return _person(args, settings)
    letter_id = canonical_uuid(args.letter_id) or args.letter_id
    ledger = open_ledger(settings)
    try:
        record = ledger.get(letter_id)
        dead = ledger.dead_letters.for_letter(letter_id)
        if record is None and not dead:
            print(f"letters: no letter {args.letter_id} in the ledger", file=sys.stderr)
            return EXIT_FAILURE
        history = ledger.history(letter_id) if record else []
    finally:
        ledger.close()
    if args.json:
        print(
            json.dumps(_record_json(letter_id, record, history, dead), indent=2, ensure_ascii=False)
        )
        return EXIT_OK
    if record is None:
        print(f"letter {letter_id}  never accepted")
    else:
        _print_record(record, history)
    for message in dead:
        requeued = (
            f", requeued {message.requeued_at.isoformat(timespec='seconds')}"
            if message.requeued_at
            else ""
        )
        print(
            f"  dead letter {message.dead_id}  {message.dead_at.isoformat(timespec='seconds')}"
            f"{requeued}  {message.reason}"
        )
    return EXIT_OK


def _overview(args: argparse.Namespace, settings: Settings) -> int:
    """How many letters are in each status, and what the held ones wait for."""
    ledger = open_ledger(settings)
    try:
        counts = ledger.status_counts()
        held_for_rates = ledger.rates.holding()
        returned = ledger.print_answers.returned()
    finally:
        ledger.close()
    by_reason = returned_by_reason(returned)
    if args.json:
        overview = {
            "by_status": counts,
            "held_for_rates": held_for_rates,
            "returned": [
                {
                    "reason": reason,
                    "next_step": next_step(reason),
                    "letters": [_returned_json(r) for r in letters],
                }
                for reason, letters in by_reason.items()
            ],
        }
        print(json.dumps(overview, indent=2))
        return EXIT_OK
    print(f"{sum(counts.values())} letter(s) in the ledger")
    for status, count in sorted(counts.items()):
        print(f"  {status:<14}{count}")
    if held_for_rates:
        print("held for a rate nobody has checked yet (letters rates list; add and approve it):")
        for key, count in held_for_rates.items():
            kind, _, period = key.partition(" ")
            print(f"  {count} letter(s): no checked {kind} for {period}")
    if by_reason:
        print("returned mail, by reason (letters print returned lists them all):")
    for reason, letters in by_reason.items():
        print(f"  {reason}: {len(letters)} letter(s); next: {next_step(reason)}")
        for r in letters[:10]:
            waiting = "" if r.later_letters else "  (no new letter for the case yet)"
            print(f"    {r.letter_id}  case {r.case_number:<14} {r.letter_type:<22} "
                  f"returned {r.returned_on}{waiting}")  # fmt: skip
    return EXIT_OK


def _returned_json(r: ReturnedLetter) -> dict[str, object]:
    return {
        "letter_id": r.letter_id,
        "case_number": r.case_number,
        "letter_type": r.letter_type,
        "channel": r.channel,
        "returned_on": r.returned_on.isoformat(),
        "source": r.source,
        "later_letters": r.later_letters,
    }


def _person(args: argparse.Namespace, settings: Settings) -> int:
    """The debtor's letters, newest last; the number is never printed back."""
    if not valid_national_identity_number(args.national_id):
        print(
            "letters status: --national-id must be a valid Norwegian national identity number "
            "or D-number (11 digits, both check digits)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    ledger = open_ledger(settings)
    try:
        found = ledger.letters_in(letter_ids_of_person(ledger, args.national_id))
    finally:
        ledger.close()
    found.sort(key=lambda r: (r.created_at, r.letter_id))
    if args.json:
        rows = [
            {
                "letter_id": r.letter_id,
                "case_number": r.case_number,
                "letter_type": r.letter_type,
                "language": r.language,
                "status": r.status.value,
                "letter_date": r.letter_date.isoformat() if r.letter_date else None,
                "channel": r.channel,
            }
            for r in found
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for r in found:
        print(f"{r.letter_id}  case {r.case_number:<14} {r.letter_type:<22} {r.language}  "
              f"{r.status:<13} {r.channel or '-':<9} {r.letter_date or ''}")  # fmt: skip
    print(f"{len(found)} letter(s)")
    return EXIT_OK


def _print_record(record: LetterRecord, history: list[LetterEvent]) -> None:
    print(
        f"letter {record.letter_id}  case {record.case_number}  "
        f"{record.letter_type}/{record.language}  status {record.status}"
    )
    for label, value in (
        ("why", status_reason(record, history)),
        ("channel", record.channel and f"{record.channel} ({record.route_reason})"),
        ("dated", record.letter_date),
        ("leaves", record.planned_posting_day and f"{record.planned_posting_day} (planned)"),
        ("left", record.posted_on),
        ("deadline", record.deadline),
        (
            "next step",
            record.lawful_deadline
            and f"not before {record.lawful_deadline + timedelta(days=1)} (posted late; the "
            f"law's deadline from the day it was posted is {record.lawful_deadline})",
        ),
        ("template", record.template_version),
        ("pdf", record.pdf_sha256 and f"{record.page_count} page(s), sha256 {record.pdf_sha256}"),
        ("archive", record.archive_key),
        (
            "history",
            record.history_archive_key
            and f"put away in the archive ({record.history_archive_key}); "
            f"letters archive history {record.letter_id} shows it",
        ),
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


# Statuses a person asks "why?" about; the answer is the detail of the event that set it.
_EXPLAINED = frozenset(
    {
        LetterStatus.HELD,
        LetterStatus.WITHDRAWN,
        LetterStatus.CANCELLED,
        LetterStatus.DEAD_LETTERED,
        LetterStatus.FAILED,
        LetterStatus.NOT_POSTED,
        LetterStatus.RETURNED,
    }
)


def status_reason(record: LetterRecord, history: list[LetterEvent]) -> str | None:
    """Why the letter is held, withdrawn, cancelled, dead-lettered or failed."""
    if record.status not in _EXPLAINED:
        return None
    why = next((e.detail for e in reversed(history) if e.event == record.status), None)
    if record.status is LetterStatus.RETURNED and why:
        reason = why.partition(": ")[2].partition(" (")[0]
        return f"{why}; next: {next_step(reason)}"
    return why


def _record_json(
    letter_id: str, record: LetterRecord | None, history: list[LetterEvent], dead: list[DeadLetter]
) -> dict[str, object]:
    fields: dict[str, object] = {"letter_id": letter_id}
    if record is not None:
        fields |= {
            name: getattr(record, name)
            for name in record.__dataclass_fields__
            if name not in {"request", "otp_hash"}
        }
        fields["status_reason"] = status_reason(record, history)
    fields["history"] = [{"event": e.event, "at": e.at, "detail": e.detail} for e in history]
    fields["dead_letters"] = [asdict(d) for d in dead]
    return json.loads(json.dumps(fields, default=str))  # type: ignore[no-any-return]


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("letter_id", metavar="LETTER_ID", nargs="?")
    parser.add_argument("--national-id", metavar="NUMBER",
                        help="instead of a letter: every letter of this debtor, found by the "
                        "blind index (the number itself is not stored)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="machine-readable output")


STATUS = Command(
    "status",
    "a letter's history from the ledger, or (with no letter) the ledger's counts",
    _arguments,
    status_command,
    description="With a LETTER_ID: the letter and its history. With --national-id: every "
    "letter of that debtor. With neither: how many letters are in each status, and how "
    "many each missing rate is holding.",
)
