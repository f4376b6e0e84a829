"""The letter's metadata, set in WeasyPrint's PDF before it is written, and the pydyf it uses.

The golden facts hold the information dictionary; these tests hold the XMP
packet, the compression of the streams, and the pydyf attributes that
``apply_metadata`` and ``deflate_streams`` rely on (an upgrade that changes
them fails here first).
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, datetime

import pikepdf
import pydyf
import pytest

from letters.rendering.letter_service import LetterService
from letters.rendering.pdf import DEFLATE_LEVEL, deflate_streams
from letters.rendering.pdf_metadata import PdfMetadata, apply_metadata, xmp_packet
from tests.support.rendering import GOLDEN_DIR, TEST_TODAY, password_for

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "pdfuaid": "http://www.aiim.org/pdfua/ns/id/",
}
HOSTILE = PdfMetadata(
    title='Brev & "varsel" <1>',
    subject="Krav fra Bygg & Anlegg <Øst> AS, sak 2026-0001",
    author="Nordlys & Co's Inkasso",
    language="nb",
    created=datetime(2026, 11, 23, 14, 5, 9, tzinfo=UTC),
    letter_id="0b9f6a57-3c1e-4f0e-9d55-2f5e3a1c7d10",
    template_version="sha256:0123456789abcdef",
)


def _rendered(service: LetterService, case: str) -> bytes:
    raw = (GOLDEN_DIR / case / "request.json").read_bytes()
    letter_id = json.loads(raw)["letter_id"]
    return service.render_request(raw, TEST_TODAY, password_for(letter_id)).pdf


def _description(packet: bytes) -> ET.Element:
    body = packet.decode("utf-8").split("?>", 1)[1].rsplit("<?xpacket", 1)[0]
    root = ET.fromstring(body)  # noqa: S314 - our own packet
    description = root.find("rdf:RDF/rdf:Description", NS)
    assert description is not None
    return description


def test_the_xmp_packet_carries_every_fact_and_escapes_what_it_quotes() -> None:
    described = _description(xmp_packet(HOSTILE, producer='WeasyPrint "70" & co'))
    text = {
        tag: described.findtext(path, namespaces=NS)
        for tag, path in {
            "title": "dc:title/rdf:Alt/rdf:li",
            "description": "dc:description/rdf:Alt/rdf:li",
            "creator": "dc:creator/rdf:Seq/rdf:li",
            "language": "dc:language/rdf:Bag/rdf:li",
            "identifier": "dc:identifier",
            "created": "xmp:CreateDate",
            "tool": "xmp:CreatorTool",
        }.items()
    }
    assert text == {
        "title": HOSTILE.title,
        "description": HOSTILE.subject,
        "creator": HOSTILE.author,
        "language": "nb",
        "identifier": HOSTILE.letter_id,
        "created": "2026-11-23T14:05:09+00:00",
        "tool": "letters sha256:0123456789abcdef",
    }
    assert described.get(f"{{{NS['pdfuaid']}}}part") == "1"
    assert described.get(f"{{{NS['pdf']}}}Producer") == 'WeasyPrint "70" & co'


def test_a_rendered_letter_has_its_metadata_in_xmp_and_info(service: LetterService) -> None:
    pdf_bytes = _rendered(service, "inkassovarsel/nb/plain")
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        assert str(pdf.docinfo["/Producer"]).startswith("WeasyPrint ")
        # PDF/A's rule, kept here too: the packet is plain text in the file.
        assert "/Filter" not in pdf.Root.Metadata.stream_dict
        # One metadata stream: WeasyPrint's own was replaced, not left beside ours.
        streams = [o for o in pdf.objects if isinstance(o, pikepdf.Stream)]
        assert [o.get("/Type") for o in streams].count("/Metadata") == 1
        others = [o for o in streams if o.get("/Type") != "/Metadata"]
        assert others and all(o.get("/Filter") == "/FlateDecode" for o in others)
        # Read last: pikepdf writes a new packet into its copy when the block ends.
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
            assert xmp["pdfuaid:part"] == "1"
            assert xmp["dc:title"] == str(pdf.docinfo["/Title"])
            assert xmp["dc:description"] == str(pdf.docinfo["/Subject"])
            assert xmp["dc:identifier"] == str(pdf.docinfo["/LetterId"])
            assert xmp["xmp:CreatorTool"] == str(pdf.docinfo["/Creator"])
    assert b"dc:identifier" in pdf_bytes


def test_apply_metadata_replaces_the_information_dictionary() -> None:
    pdf = pydyf.PDF()
    pdf.info["Producer"] = pydyf.String("WeasyPrint 70.0")
    pdf.info["Keywords"] = pydyf.String("left over")
    apply_metadata(pdf, HOSTILE)
    assert {key: value.string for key, value in pdf.info.items()} == {
        "Producer": "WeasyPrint 70.0",
        "Title": HOSTILE.title,
        "Subject": HOSTILE.subject,
        "Author": HOSTILE.author,
        "Creator": "letters sha256:0123456789abcdef",
        "CreationDate": "D:20261123140509Z",
        "LetterId": HOSTILE.letter_id,
        "TemplateVersion": HOSTILE.template_version,
    }
    assert pdf.catalog["Lang"].string == "nb"
    stream = pdf.objects[int(pdf.catalog["Metadata"].split()[0])]
    assert stream.stream == [xmp_packet(HOSTILE, "WeasyPrint 70.0")]
    assert stream.compress is False


def test_the_pydyf_that_deflate_streams_relies_on() -> None:
    assert pydyf.__version__ == "0.13.0", "check deflate_streams and apply_metadata on this version"
    parts = [b"BT", "/F1 9 Tf", 12.5, 3.0, pydyf.Array([1, 2]), b"ET"]
    plain = pydyf.Stream(list(parts), {"Length1": 7}, compress=False).data
    ours = pydyf.Stream(list(parts), {"Length1": 7}, compress=True)
    pdf = pydyf.PDF()
    pdf.add_object(ours)
    deflate_streams(pdf)
    assert ours.compress is False and ours.extra["Filter"] == "/FlateDecode"
    content = plain.split(b"\nstream\n", 1)[1].rsplit(b"\nendstream", 1)[0]
    (compressed,) = ours.stream
    assert zlib.decompress(compressed) == content
    assert compressed == zlib.compress(content, DEFLATE_LEVEL)
    # What pydyf itself would have written, less only the compression level.
    theirs = pydyf.Stream(list(parts), {"Length1": 7}, compress=True).data
    body = theirs.split(b"\nstream\n", 1)[1].rsplit(b"\nendstream", 1)[0]
    assert zlib.decompress(body) == content
    assert b"/Filter /FlateDecode" in ours.data and b"/Length1 7" in ours.data


@pytest.mark.parametrize("case", ["purring/en/plain", "betalingsoppfordring/nb/many_claims"])
def test_every_page_still_reads_after_deflating(service: LetterService, case: str) -> None:
    with pikepdf.open(io.BytesIO(_rendered(service, case))) as pdf:
        for page in pdf.pages:
            contents = page.obj.Contents
            streams = contents if isinstance(contents, pikepdf.Array) else [contents]
            assert all(b"BT" in s.read_bytes() for s in streams)
