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
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import pikepdf

from channels.print_post.fonts import FontIdentity, FontLibrary, FontSharing, SharingReport
from channels.print_post.pdf_stream import StreamedPdf, copy_pages
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
    sheet's code in ``code_zone`` (the default zone when None).

    Each letter is written to the batch's file as it is read and then let go
    (``channels.print_post.pdf_stream``), so the memory it takes does not grow with the
    number of letters; the file is read back at the end for its digest and upload.
    """
    zone = code_zone or CodeZone()
    fonts = FontSharing(library)
    with tempfile.TemporaryFile(prefix="letters-batch-") as out:
        writer = StreamedPdf(out)
        tree = writer.reserve()
        # Reserved as each typeface is first met: descriptors name them before they exist.
        programs: dict[FontIdentity, int] = {}
        pages: list[int] = []
        entries: list[BatchEntry] = []
        letters_bytes = 0
        version = "1.4"
        for sequence, letter in enumerate(letters, start=1):
            letters_bytes += len(letter.pdf)
            with pikepdf.open(io.BytesIO(letter.pdf)) as source:
                version = max(version, str(source.pdf_version))
                page_count = len(source.pages)
                stamp_sheet_codes(source, letter.letter_id, zone)
                shared = {}
                for objgen, identity in fonts.claim(source).items():
                    descriptor = source.get_object(objgen)
                    # A CIDSet lists the glyphs of the old program; it would be wrong now.
                    for key in ("/FontFile2", "/CIDSet"):
                        if key in descriptor:
                            del descriptor[key]
                    if identity not in programs:
                        programs[identity] = writer.reserve()
                    shared[objgen] = b" /FontFile2 %d 0 R" % programs[identity]
                first_page = len(pages) + 1
                pages.extend(copy_pages(writer, source, tree, shared))
                if page_count % 2:
                    box = source.pages[-1].mediabox
                    pages.append(_blank_page(writer, tree, [float(v) for v in box]))
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
        for identity, program in fonts.programs():
            writer.write_stream(
                programs[identity],
                b"<< /Length1 %d /Filter /FlateDecode >>" % len(program),
                zlib.compress(program),
            )
        _finish(writer, batch_id, tree, pages, version)
        out.seek(0)
        pdf = out.read()
    return AssembledBatch(
        batch_id=batch_id,
        pdf=pdf,
        entries=tuple(entries),
        page_count=len(pages),
        sheet_count=len(pages) // 2,
        sha256=hashlib.sha256(pdf).hexdigest(),
        letters_bytes=letters_bytes,
        fonts=fonts.report(),
    )


def _blank_page(writer: StreamedPdf, tree: int, box: list[float]) -> int:
    number = writer.reserve()
    writer.write_object(
        number,
        b"<< /Type /Page /Parent %d 0 R /MediaBox [ %s ] /Resources << >> >>"
        % (tree, " ".join(f"{v:g}" for v in box).encode()),
    )
    return number


def _finish(writer: StreamedPdf, batch_id: str, tree: int, pages: list[int], version: str) -> None:
    kids = b" ".join(b"%d 0 R" % page for page in pages)
    writer.write_object(tree, b"<< /Type /Pages /Kids [ %s ] /Count %d >>" % (kids, len(pages)))
    catalog, info = writer.reserve(), writer.reserve()
    # The file says 1.7; a letter of a later version raises the batch's in the catalog.
    later = b" /Version /%s" % version.encode() if version > "1.7" else b""
    writer.write_object(catalog, b"<< /Type /Catalog /Pages %d 0 R%s >>" % (tree, later))
    # Only the batch id: no dates, nothing about any debtor.
    title = pikepdf.String(f"Print batch {batch_id}").unparse()
    producer = pikepdf.String(PRODUCER).unparse()
    writer.write_object(info, b"<< /Title %s /Producer %s >>" % (title, producer))
    writer.finish(catalog, info)
