"""One print-ready PDF per batch, with pikepdf, and the facts the manifest lists.

Letters go in manifest order. A letter with an odd page count gets a blank
page after it, so that every letter starts on a new sheet when printed on
both sides. The front of each sheet gets the sheet's code
(``channels.print_post.sheet_codes``) in the print profile's code zone.
Fonts are shared across letters (``channels.print_post.fonts``). The output
depends only on the letters and their order, never on the clock, so a batch
assembled again after a crash has the same bytes and SHA-256.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass

import pikepdf

from channels.print_post.fonts import FontLibrary, SharingReport, share_fonts
from channels.print_post.sheet_codes import CodeZone, letter_code, sheet_count, stamp_sheet_codes

PRODUCER = "Letters print batch"


@dataclass(frozen=True, slots=True)
class BatchLetter:
    letter_id: str
    case_number: str
    country: str
    postage_class: str
    pdf: bytes


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """One letter's line in the manifest."""

    sequence: int
    letter_id: str
    case_number: str
    first_page: int
    page_count: int
    sheets: int
    country: str
    postage_class: str
    # The letter's part of every sheet's code; sheet n of N reads "<code>:n/N".
    code: str


@dataclass(frozen=True, slots=True)
class AssembledBatch:
    batch_id: str
    pdf: bytes
    entries: tuple[BatchEntry, ...]
    # Pages in the PDF, blank pages included; sheets of paper when printed duplex.
    page_count: int
    sheet_count: int
    sha256: str
    # The sum of the letters' own PDFs, to show what font sharing saved.
    letters_bytes: int
    fonts: SharingReport


def assemble(
    batch_id: str,
    letters: Iterable[BatchLetter],
    library: FontLibrary,
    code_zone: CodeZone | None = None,
) -> AssembledBatch:
    """Concatenate ``letters`` into one duplex-ready PDF (reads each letter once), each
    sheet's code in ``code_zone`` (the default zone when None)."""
    zone = code_zone or CodeZone()
    batch = pikepdf.Pdf.new()
    entries: list[BatchEntry] = []
    letters_bytes = 0
    version = "1.4"
    for sequence, letter in enumerate(letters, start=1):
        letters_bytes += len(letter.pdf)
        first_page = len(batch.pages) + 1
        with pikepdf.open(io.BytesIO(letter.pdf)) as source:
            version = max(version, str(source.pdf_version))
            page_count = len(source.pages)
            stamp_sheet_codes(source, letter.letter_id, zone)
            batch.pages.extend(source.pages)
            if page_count % 2:
                last = source.pages[-1].mediabox
                size = (float(last[2]) - float(last[0]), float(last[3]) - float(last[1]))
                batch.add_blank_page(page_size=size)
        entries.append(
            BatchEntry(
                sequence=sequence,
                letter_id=letter.letter_id,
                case_number=letter.case_number,
                first_page=first_page,
                page_count=page_count,
                sheets=sheet_count(page_count),
                country=letter.country,
                postage_class=letter.postage_class,
                code=letter_code(letter.letter_id),
            )
        )
    if not entries:
        raise ValueError(f"print batch {batch_id} has no letters")
    fonts = share_fonts(batch, library)
    batch.remove_unreferenced_resources()
    # Only the batch id: no dates, nothing about any debtor.
    batch.docinfo = batch.make_indirect(
        pikepdf.Dictionary(
            Title=pikepdf.String(f"Print batch {batch_id}"), Producer=pikepdf.String(PRODUCER)
        )
    )
    out = io.BytesIO()
    batch.save(
        out,
        deterministic_id=True,
        compress_streams=True,
        object_stream_mode=pikepdf.ObjectStreamMode.generate,
        min_version=version,
    )
    pdf = out.getvalue()
    return AssembledBatch(
        batch_id=batch_id,
        pdf=pdf,
        entries=tuple(entries),
        page_count=len(batch.pages),
        sheet_count=len(batch.pages) // 2,
        sha256=hashlib.sha256(pdf).hexdigest(),
        letters_bytes=letters_bytes,
        fonts=fonts,
    )
