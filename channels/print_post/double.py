"""A local print house, for the demo and the tests: it answers the batches in a print drop
directory as a real one would.

For each batch whose manifest is in the drop and that has no receipt yet, it
"posts" the batch and writes ``receipts/<batch id>.json``
(``letters.print-receipt/1``): on the day the batch was to be posted (the day
after its cut, by ``LETTERS_PRINT_POSTING_DELAY``), or some working days
later; a batch whose day has not come yet waits. With a seed it may spoil a sheet (the
letter is printed again and posted: ``reprinted``), lose a letter
(``not_posted``) and bring letters back from the post, listed in
``returns/<batch id>.csv`` (``letters.print-returns/1``) for
``letters print returns``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from channels.print_post.receipts import DONE, RECEIPT_SCHEMA, RECEIPTS
from channels.print_post.returns import CSV_HEADER
from letters.clock import OSLO
from letters.domain.posting import add_working_days, print_posting_day

RETURNS = "returns/"
# What the post writes on a letter it brings back, as a returns file says it.
RETURN_REASONS = ("unknown_address", "moved", "refused")


@dataclass(frozen=True, slots=True)
class HouseRules:
    """How the local print house behaves; every choice it makes comes from ``seed``."""

    seed: int = 0
    # Working days after the day a batch was to be posted that it is posted.
    late: int = 0
    # Letters of each batch whose sheet is spoiled and printed again, and that never go.
    spoil: int = 0
    lose: int = 0
    # Letters of each batch that come back from the post.
    returns: int = 0
    posting_delay: int = 1


@dataclass
class HouseReport:
    receipts: dict[str, date] = field(default_factory=dict)
    returns: dict[str, int] = field(default_factory=dict)
    # Batches it could not post yet (their posting day is after the day it runs).
    waiting: list[str] = field(default_factory=list)


def answer_batches(drop_dir: Path, rules: HouseRules, today: date) -> HouseReport:
    """Post every batch in the drop that has no receipt and whose posting day has come by
    ``today`` (``date.max``: every one, on its own posting day)."""
    report = HouseReport()
    answered = _answered(drop_dir)
    for manifest_path in sorted(drop_dir.glob("*/*.json")):
        if manifest_path.parent.name in ("receipts", "returns"):
            continue
        manifest = json.loads(manifest_path.read_bytes())
        batch_id = manifest["batch_id"]
        if batch_id in answered:
            continue
        closed = datetime.fromisoformat(manifest["closed_at"]).astimezone(OSLO).date()
        posted_on = add_working_days(print_posting_day(closed, rules.posting_delay), rules.late)
        if posted_on > today:
            report.waiting.append(batch_id)
            continue
        choices = random.Random(f"{rules.seed}/{batch_id}")  # noqa: S311 - a test double's dice
        entries = manifest["letters"]
        order = list(range(len(entries)))
        choices.shuffle(order)
        lost = set(order[: rules.lose])
        spoiled = set(order[rules.lose : rules.lose + rules.spoil])
        lines = [_line(i, entry, lost, spoiled) for i, entry in enumerate(entries)]
        receipt = {
            "schema": RECEIPT_SCHEMA,
            "batch_id": batch_id,
            "posted_on": posted_on.isoformat(),
            "letters": lines,
        }
        _write(drop_dir / RECEIPTS / f"{batch_id}.json", _json(receipt))
        report.receipts[batch_id] = posted_on
        came_back = [entries[i] for i in order if i not in lost][: rules.returns]
        if came_back:
            _write(
                drop_dir / RETURNS / f"{batch_id}.csv",
                _returns_csv(came_back, choices, min(add_working_days(posted_on, 3), today)),
            )
            report.returns[batch_id] = len(came_back)
    return report


def _answered(drop_dir: Path) -> set[str]:
    inbox = drop_dir / RECEIPTS
    done = drop_dir / DONE
    names = [p.name for p in inbox.glob("*.json")] + [p.name for p in done.glob("*.json")]
    return {name.split(".", 1)[0] for name in names}


def _line(index: int, entry: dict[str, Any], lost: set[int], spoiled: set[int]) -> dict[str, Any]:
    if index in lost:
        return {
            "letter_id": entry["letter_id"],
            "outcome": "not_posted",
            "reason": "torn in the inserter; not posted",
        }
    outcome = "reprinted" if index in spoiled else "posted"
    return {"letter_id": entry["letter_id"], "outcome": outcome}


def _returns_csv(entries: list[dict[str, Any]], choices: random.Random, day: date) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for entry in entries:
        # The code scanned off the letter's first sheet, as the mailroom reads it.
        code = f"{entry['code']}:1/{entry['sheets']}"
        writer.writerow([code, choices.choice(RETURN_REASONS), day.isoformat()])
    return out.getvalue().encode("utf-8")


def _write(path: Path, body: bytes) -> None:
    """Whole or not at all, as a print house writes to the drop: the service never reads
    half a receipt. A file already there stays as it is."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(body)
    os.replace(partial, path)


def _json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")
