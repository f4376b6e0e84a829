"""A PDF written object by object as its letters come, so its memory does not grow with it.

pikepdf (qpdf) keeps every object of a PDF it writes in memory until it saves:
a print batch of 5,000 letters put together that way took 880 MB, about
150 KB a letter, mostly the letters' font width arrays parsed into objects.
Here each letter is opened with pikepdf on its own, the objects its pages use
are written out at once under new numbers (packed into one compressed object
stream per letter, PDF 1.5), and the letter is let go. What stays is where
each object was written, one number per page, and what the shared fonts need;
the page tree, the shared font programs and the cross-reference stream are
written last. pikepdf still parses and serialises every object: this module
only numbers them and lays them out in the file.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from array import array
from collections import deque
from collections.abc import Callable, Mapping
from typing import BinaryIO

import pikepdf

# A reference in pikepdf's serialisation: "12 0 R", after a delimiter (never inside a
# name such as /F12 or a number such as 1.12).
_REFERENCE = re.compile(rb"(?<![^\s\[<])(\d+) (\d+) R(?![^\s\]>/])")
# What a page takes from the page tree above it when it does not say itself.
_INHERITED = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")
_FREE, _PLAIN, _PACKED = 0, 1, 2


class StreamedPdf:
    """A PDF written to ``out`` as it is made: reserve numbers, write objects, finish."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._written = 0
        # Per object number: its kind, and its offset (plain) or its object stream (packed)
        # and its place in that stream.
        self._kinds = bytearray([_FREE])
        self._where = array("Q", [0])
        self._index = array("I", [65535])
        self._digest = hashlib.sha256()
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def reserve(self) -> int:
        self._kinds.append(_FREE)
        self._where.append(0)
        self._index.append(0)
        return len(self._kinds) - 1

    def write_object(self, number: int, body: bytes) -> None:
        self._place(number)
        self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def write_stream(self, number: int, dictionary: bytes, data: bytes) -> None:
        """``dictionary``: "<< ... >>" without /Length, which is added here."""
        self._place(number)
        head = dictionary.rstrip()[:-2] + b" /Length %d >>" % len(data)
        self._write(b"%d 0 obj\n%s\nstream\n%s\nendstream\nendobj\n" % (number, head, data))

    def write_packed(self, objects: list[tuple[int, bytes]]) -> None:
        """Objects that are not streams, in one compressed object stream."""
        if not objects:
            return
        stream = self.reserve()
        offsets, bodies, at = [], [], 0
        for position, (number, body) in enumerate(objects):
            offsets.append(b"%d %d" % (number, at))
            bodies.append(body)
            at += len(body) + 1
            self._kinds[number], self._where[number], self._index[number] = (
                _PACKED,
                stream,
                position,
            )
        header = b" ".join(offsets) + b"\n"
        data = zlib.compress(header + b"\n".join(bodies) + b"\n")
        self.write_stream(
            stream,
            b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode >>"
            % (len(objects), len(header)),
            data,
        )

    def finish(self, catalog: int, info: int) -> None:
        """The cross-reference stream and the end of the file."""
        xref = self.reserve()
        self._place(xref)
        # The same objects in the same order give the same id (like qpdf's deterministic_id).
        document_id = self._digest.hexdigest()[:32].encode()
        rows = b"".join(
            struct.pack(">BIH", kind, where, index if kind != _PLAIN else 0)
            for kind, where, index in zip(self._kinds, self._where, self._index, strict=True)
        )
        data = zlib.compress(rows)
        head = (
            b"<< /Type /XRef /Size %d /W [ 1 4 2 ] /Root %d 0 R /Info %d 0 R "
            b"/ID [ <%s> <%s> ] /Filter /FlateDecode /Length %d >>"
            % (len(self._kinds), catalog, info, document_id, document_id, len(data))
        )
        start = self._written
        self._write(b"%d 0 obj\n%s\nstream\n%s\nendstream\nendobj\n" % (xref, head, data))
        self._write(b"startxref\n%d\n%%%%EOF\n" % start)

    def _place(self, number: int) -> None:
        self._kinds[number], self._where[number], self._index[number] = _PLAIN, self._written, 0

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._digest.update(data)
        self._written += len(data)


def copy_pages(
    writer: StreamedPdf,
    source: pikepdf.Pdf,
    parent: int,
    extra_entries: Mapping[tuple[int, int], bytes] | None = None,
) -> list[int]:
    """Write ``source``'s pages and everything they use to ``writer``, under ``parent`` (the
    number of the batch's page tree); the pages' new numbers, in order.

    ``extra_entries``: entries added to some of the source's dictionaries as they are
    written (by object id), e.g. a font descriptor pointed at a shared font program.
    """
    extra = extra_entries or {}
    numbers: dict[tuple[int, int], int] = {node.objgen: parent for node in _page_tree(source)}
    waiting: deque[pikepdf.Object] = deque()

    def number_of(objgen: tuple[int, int]) -> int:
        if objgen not in numbers:
            numbers[objgen] = writer.reserve()
            waiting.append(source.get_object(objgen))
        return numbers[objgen]

    def renumbered(text: bytes) -> bytes:
        return _renumber(text, lambda n, g: number_of((n, g)))

    pages = [page.obj for page in source.pages]
    for page in pages:
        _take_inherited(page)
    page_numbers = [number_of(page.objgen) for page in pages]
    packed: list[tuple[int, bytes]] = []
    while waiting:
        obj = waiting.popleft()
        number = numbers[obj.objgen]
        if isinstance(obj, pikepdf.Stream):
            entries = pikepdf.Dictionary(
                {k: v for k, v in obj.stream_dict.items() if k != "/Length"}
            )
            data = obj.read_raw_bytes()
            if "/Filter" not in entries:
                # As qpdf's compress_streams: the sheet codes' drawings come uncompressed.
                entries.Filter, data = pikepdf.Name.FlateDecode, zlib.compress(data)
            writer.write_stream(number, renumbered(entries.unparse(resolved=True)), data)
            continue
        body = renumbered(obj.unparse(resolved=True))
        if obj.objgen in extra:  # numbers of the new file already: after renumbering
            body = body.rstrip()[:-2] + extra[obj.objgen] + b" >>"
        packed.append((number, body))
    writer.write_packed(packed)
    return page_numbers


def _page_tree(source: pikepdf.Pdf) -> list[pikepdf.Object]:
    nodes, waiting = [], [source.Root.Pages]
    while waiting:
        node = waiting.pop()
        nodes.append(node)
        waiting.extend(kid for kid in node.get("/Kids", []) if kid.get("/Type") == "/Pages")
    return nodes


def _take_inherited(page: pikepdf.Object) -> None:
    for key in _INHERITED:
        node = page
        while key not in node and "/Parent" in node:
            node = node.Parent
        if key not in page and key in node:
            page[key] = node[key]


def _renumber(text: bytes, number_of: Callable[[int, int], int]) -> bytes:
    """``text`` with each reference "n g R" replaced by "m 0 R", m = number_of(n, g);
    what is inside string literals is left as it is."""
    parts, at = [], 0
    for start, end in _literal_strings(text):
        parts.append(_replace_references(text[at:start], number_of))
        parts.append(text[start:end])
        at = end
    parts.append(_replace_references(text[at:], number_of))
    return b"".join(parts)


def _replace_references(text: bytes, number_of: Callable[[int, int], int]) -> bytes:
    return _REFERENCE.sub(lambda m: b"%d 0 R" % number_of(int(m[1]), int(m[2])), text)


def _literal_strings(text: bytes) -> list[tuple[int, int]]:
    """Where the "(...)" strings are: nested parentheses count, a backslash escapes."""
    found, index, length = [], 0, len(text)
    while index < length:
        if text[index : index + 1] != b"(":
            index += 1
            continue
        start, depth = index, 0
        while index < length:
            char = text[index : index + 1]
            if char == b"\\":
                index += 2
                continue
            depth += {b"(": 1, b")": -1}.get(char, 0)
            index += 1
            if depth == 0:
                break
        found.append((start, index))
    return found
