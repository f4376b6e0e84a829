"""``letters privacy export|erase`` and ``letters keys rotate``: personal data on request and
on time, and the keys that protect it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from letters.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Command, open_ledger
from letters.clock import utcnow
from letters.config import Settings
from letters.config.declared import (
    LEDGER_KEY_FILE,
    LEDGER_KMS_KEY_ID,
    LEDGER_RETIRED_KEY_FILES,
    RETENTION_DAYS,
)
from letters.domain.pepper import SETTING as PEPPER_SETTING
from letters.domain.pepper import load_pepper
from letters.errors import PermanentError, TransientError
from letters.ledger import Ledger
from letters.ledger.key_checks import accept_secret
from letters.ledger.keys import INDEX_SETTING, load_ledger_keys
from letters.ledger.personal_data import erase_expired
from letters.ledger.rekeying import rekey
from letters.privacy.export import Subject, SubjectError, export_personal_data
from letters.storage import open_archive


def _privacy_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="everything held about a person, as a zip (GDPR art. 15)",
        description="Write each letter's PDF (checked against the ledger), its history, "
        "delivery events, re-send links and the case states, as JSON plus the PDFs, with a "
        "README; the request is recorded with who asked and why.",
    )
    export.add_argument("--national-id", metavar="NUMBER", help="the person's national id")
    export.add_argument("--case", metavar="CASE_NUMBER",
                        help="the case's letters (to one person; with --national-id, that "
                        "person's letters in the case)")  # fmt: skip
    export.add_argument("-o", "--out", type=Path, required=True, metavar="FILE.zip")
    export.add_argument("--requested-by", required=True, metavar="WHO",
                        help="who asks (recorded): the case handler and desk")  # fmt: skip
    export.add_argument("--reason", required=True, metavar="WHY",
                        help="why (recorded): the debtor's letter of 2026-11-30")  # fmt: skip
    erase = actions.add_parser(
        "erase",
        help=f"erase the personal data of letters past retention ({RETENTION_DAYS})",
        description="Erase the name, address and national id from the stored request of "
        f"every letter finished more than {RETENTION_DAYS} ago; ids, hashes, statuses, "
        "dates, channel and receipts stay. The worker does this once a day as well.",
    )
    erase.add_argument("--json", action="store_true", help="the count as JSON")


def privacy_command(args: argparse.Namespace, settings: Settings) -> int:
    ledger = open_ledger(settings)
    try:
        if args.action == "erase":
            now = utcnow()
            erased = erase_expired(ledger, now, settings.retention_days)
            dead = ledger.dead_letters.erase_expired(now, settings.retention_days)
            if args.json:
                print(json.dumps({"erased": erased, "dead_letters_erased": dead,
                                  "retention_days": settings.retention_days}))  # fmt: skip
            else:
                print(f"erased the personal data of {erased} letter(s) finished more than "
                      f"{settings.retention_days} days ago, and the messages of {dead} dead "
                      "letter(s) older than that")  # fmt: skip
            return EXIT_OK
        subject = Subject(args.national_id, args.case)
        archive = open_archive(settings.archive_url, settings.s3)
        report = export_personal_data(
            ledger, archive, subject, args.out, args.requested_by, args.reason, utcnow()
        )
        print(f"wrote {report.path}: {report.letters} letter(s), {report.pdfs} PDF(s), "
              f"sha256 {report.sha256}; recorded as request {report.request_id}")  # fmt: skip
        return EXIT_OK
    except SubjectError as err:
        print(f"letters privacy: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (PermanentError, TransientError) as err:
        print(f"letters privacy: {err}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        ledger.close()


def _keys_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "rotate",
        help="re-wrap every data key under the current master key, then re-key",
        description=f"Re-wrap the ledger's data keys under the master key {LEDGER_KEY_FILE} "
        f"(or {LEDGER_KMS_KEY_ID}) names, opening them with the keys in "
        f"{LEDGER_RETIRED_KEY_FILES}; then re-key: a new data key wraps every erasure key "
        "and seals every other value again, and the old data keys are destroyed, so that the "
        "old master key with an old backup opens nothing current. Run it once every process "
        "has been restarted with the new key; afterwards the retired keys can be destroyed.",
    )
    accept = actions.add_parser(
        "accept",
        help="accept a replaced index key or password pepper as the ledger's from now on",
        description="A process refuses to start with another index key or pepper than the "
        "ledger was written with. After replacing one on purpose (every letter found by the "
        "old index key, or hashed with the old pepper, stops being found or logging in), "
        "record the new one.",
    )
    accept.add_argument("setting", choices=sorted(_ACCEPTABLE))


def keys_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "accept":
        return _accept(args.setting, settings)
    ledger = open_ledger(settings)
    try:
        assert ledger.sealer is not None  # noqa: S101 - open_ledger gives the keys
        report = ledger.sealer.rewrap()
        rekeyed = rekey(ledger)
    finally:
        ledger.close()
    print(f"re-wrapped {report.data_keys} data key(s) under "
          f"{ledger.sealer.keys.master.key_id}; {report.already_current} already were")  # fmt: skip
    print(
        f"re-keyed under the new data key {rekeyed.data_key_id}: {rekeyed.erasure_keys_rewrapped}"
        f" erasure key(s) re-wrapped, {rekeyed.values_resealed} value(s) sealed again, "
        f"{rekeyed.data_keys_destroyed} old data key(s) destroyed"
    )
    if rekeyed.data_keys_kept:
        print(
            f"letters keys: {rekeyed.data_keys_kept} old data key(s) are still in use (a process "
            "not yet restarted with the new master key?); run `letters keys rotate` again "
            "once every process has been",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


_ACCEPTABLE = {INDEX_SETTING: "the index key", PEPPER_SETTING: "the password pepper"}


def _accept(setting: str, settings: Settings) -> int:
    keys = load_ledger_keys(settings)
    secret = keys.index_key if setting == INDEX_SETTING else load_pepper(settings).secret
    # Opened without the check that would refuse the very secret being accepted.
    ledger = Ledger(settings.database_url)
    try:
        ledger.upgrade()
        accept_secret(ledger, setting, secret)
    finally:
        ledger.close()
    print(f"{setting}: {_ACCEPTABLE[setting]} the settings name is the ledger's from now on")
    return EXIT_OK


PRIVACY = Command(
    "privacy",
    "a person's data: the access export (GDPR art. 15) and erasure past retention",
    _privacy_arguments,
    privacy_command,
)
KEYS = Command("keys", "the keys of the ledger's personal data: rotate, accept", _keys_arguments,
               keys_command)  # fmt: skip
