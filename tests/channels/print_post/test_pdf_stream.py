"""The batch's PDF written letter by letter: valid, renumbered, and never held whole."""

from __future__ import annotations

import io
import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pikepdf
import pytest

from channels.print_post import assembly
from channels.print_post.assembly import BatchLetter, assemble
from channels.print_post.fonts import FontLibrary
from channels.print_post.pdf_stream import StreamedPdf, copy_pages


def _letter_with_a_tricky_string() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0].obj
    note = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Text,
            Rect=[10, 10, 20, 20],
            Contents=pikepdf.String("see 12 0 R (and 3 0 R) \\) 7 0 R"),
        )
    )
    note.P = page
    page.Annots = pdf.make_indirect(pikepdf.Array([note]))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_references_are_renumbered_and_strings_left_as_they_were() -> None:
    out = io.BytesIO()
    writer = StreamedPdf(out)
    tree = writer.reserve()
    with pikepdf.open(io.BytesIO(_letter_with_a_tricky_string())) as source:
        pages = copy_pages(writer, source, tree) + copy_pages(writer, source, tree)
    writer.write_object(
        tree,
        b"<< /Type /Pages /Kids [ %s ] /Count %d >>"
        % (b" ".join(b"%d 0 R" % p for p in pages), len(pages)),
    )
    catalog, info = writer.reserve(), writer.reserve()
    writer.write_object(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % tree)
    writer.write_object(info, b"<< /Producer (test) >>")
    writer.finish(catalog, info)
    with pikepdf.open(io.BytesIO(out.getvalue())) as written:
        assert written.check_pdf_syntax() == []
        assert len(written.pages) == 2
        for page in written.pages:
            (note,) = page.obj.Annots
            assert str(note.Contents) == "see 12 0 R (and 3 0 R) \\) 7 0 R"
            assert note.P.objgen == page.obj.objgen  # pointing at its own page, renumbered
        assert written.pages[0].obj.Annots[0].objgen != written.pages[1].obj.Annots[0].objgen


def test_each_letter_is_written_out_before_the_next_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What keeps a batch's memory flat: the letters before are in the file, not held."""
    files: list[IO[bytes]] = []
    make_file = tempfile.TemporaryFile

    def kept_file(**options: Any) -> IO[bytes]:
        # Closed by assemble, as the file it stands in for.
        files.append(make_file(dir=tmp_path))
        return files[-1]

    monkeypatch.setattr(assembly.tempfile, "TemporaryFile", kept_file)
    letter = _letter_with_a_tricky_string()
    sizes: list[int] = []

    def letters() -> Iterator[BatchLetter]:
        for index in range(5):
            if files:
                files[0].flush()
                sizes.append(Path(f"/proc/self/fd/{files[0].fileno()}").stat().st_size)
            yield BatchLetter(
                f"00000000-0000-4000-8000-{index:012d}", f"C-{index}", "NO", "domestic", letter
            )

    batch = assemble("B-STREAM", letters(), FontLibrary(None))
    assert batch.page_count == 10 and len(sizes) == 5
    # Before each letter is read, every letter before it is in the file already.
    assert sizes[0] > 0 and all(b > a for a, b in itertools.pairwise(sizes)), sizes
