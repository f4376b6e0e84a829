"""The manifest the print house reads beside a batch PDF, as JSON and as CSV.

It says, for each letter in order, where the letter starts in the PDF, how
many pages and sheets it has, where it goes and at which postage. Nothing
else: no names or addresses (those are printed in the envelope window), only
the letter id and case number to answer questions with. The JSON also holds
the batch PDF's SHA-256, so the print house can check what it received.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from channels.print_post.assembly import AssembledBatch, BatchEntry

MANIFEST_VERSION = 1
CSV_COLUMNS = tuple(BatchEntry.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class BatchFiles:
    """The names of a batch's files in the print drop, under the batch's own folder."""

    batch_id: str

    @property
    def pdf(self) -> str:
        return f"{self.batch_id}/{self.batch_id}.pdf"

    @property
    def csv(self) -> str:
        return f"{self.batch_id}/{self.batch_id}.csv"

    @property
    def json(self) -> str:
        # Written last: the print house may take its arrival as "the batch is complete".
        return f"{self.batch_id}/{self.batch_id}.json"


def manifest_json(
    batch: AssembledBatch, destination: str, closed_at: datetime, envelope: str
) -> bytes:
    document: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "batch_id": batch.batch_id,
        "destination": destination,
        "closed_at": closed_at.isoformat(timespec="seconds"),
        "pdf": {
            "file": BatchFiles(batch.batch_id).pdf.rsplit("/", 1)[-1],
            "sha256": batch.sha256,
            "bytes": len(batch.pdf),
            "pages": batch.page_count,
            "sheets": batch.sheet_count,
        },
        "print": {"paper": "A4", "duplex": True, "envelope": envelope},
        "letter_count": len(batch.entries),
        "letters": [asdict(entry) for entry in batch.entries],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def manifest_csv(batch: AssembledBatch) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for entry in batch.entries:
        writer.writerow(asdict(entry))
    return out.getvalue().encode("utf-8")
