"""What a letter's PDF says about itself, written into WeasyPrint's PDF before it is saved.

The document information dictionary (title, subject, author, creation date,
letter id, template version), the XMP packet that PDF/UA requires and that
the Digipost app shows as the title, and the document language. WeasyPrint
hands its ``pydyf.PDF`` to a finisher just before it writes the file; setting
these there costs well under a millisecond, where opening and saving the
finished file again with pikepdf cost about 5 ms of a letter's render.

Relies on pydyf's ``PDF.info``, ``PDF.catalog``, ``PDF.objects`` and the
``stream`` and ``compress`` attributes of ``pydyf.Stream``;
tests/rendering/test_pdf_metadata.py fails if an upgrade changes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

import pydyf

# The XMP packet is left uncompressed, as PDF/A asks and as pikepdf and most
# tools write it, so that a plain text search of the file finds the title.
_XMP_HEAD = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '<rdf:Description rdf:about=""'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' xmlns:pdf="http://ns.adobe.com/pdf/1.3/"'
    ' xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/"'
    ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
)
_XMP_TAIL = '</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="r"?>'


@dataclass(frozen=True, slots=True)
class PdfMetadata:
    title: str
    subject: str
    author: str
    language: str
    # When the letter was made (aware; written in UTC).
    created: datetime
    letter_id: str
    template_version: str

    @property
    def created_utc(self) -> datetime:
        return self.created.astimezone(UTC)

    @property
    def creator(self) -> str:
        return f"letters {self.template_version}"


def xmp_packet(meta: PdfMetadata, producer: str, ua_part: int = 1) -> bytes:
    """The XMP packet of a PDF/UA-``ua_part`` letter."""
    return "".join(
        (
            _XMP_HEAD,
            f' pdfuaid:part="{ua_part}" pdf:Producer={quoteattr(producer)}>\n',
            _alt("dc:title", meta.title),
            _alt("dc:description", meta.subject),
            f"<dc:creator><rdf:Seq><rdf:li>{escape(meta.author)}</rdf:li></rdf:Seq></dc:creator>\n",
            f"<dc:language><rdf:Bag><rdf:li>{escape(meta.language)}</rdf:li></rdf:Bag>"
            "</dc:language>\n",
            f"<dc:identifier>{escape(meta.letter_id)}</dc:identifier>\n",
            f"<xmp:CreateDate>{meta.created_utc.isoformat(timespec='seconds')}</xmp:CreateDate>\n",
            f"<xmp:CreatorTool>{escape(meta.creator)}</xmp:CreatorTool>\n",
            _XMP_TAIL,
        )
    ).encode("utf-8")


def _alt(tag: str, text: str) -> str:
    item = f'<rdf:li xml:lang="x-default">{escape(text)}</rdf:li>'
    return f"<{tag}><rdf:Alt>{item}</rdf:Alt></{tag}>\n"


def apply_metadata(pdf: pydyf.PDF, meta: PdfMetadata) -> None:
    """Set the letter's information dictionary, language and XMP packet on ``pdf``.

    WeasyPrint has already made a metadata stream for the PDF/UA variant; it
    gets this packet in place of WeasyPrint's, which knows only the HTML's
    title and description.
    """
    producer = str(pdf.info.get("Producer", pydyf.String("WeasyPrint")).string)
    pdf.info.clear()
    for key, value in (
        ("Producer", producer),
        ("Title", meta.title),
        ("Subject", meta.subject),
        ("Author", meta.author),
        ("Creator", meta.creator),
        ("CreationDate", meta.created_utc.strftime("D:%Y%m%d%H%M%SZ")),
        ("LetterId", meta.letter_id),
        ("TemplateVersion", meta.template_version),
    ):
        pdf.info[key] = pydyf.String(value)
    pdf.catalog["Lang"] = pydyf.String(meta.language)
    packet = xmp_packet(meta, producer)
    reference = pdf.catalog.get("Metadata")
    if reference is None:
        stream = pydyf.Stream([packet], {"Type": "/Metadata", "Subtype": "/XML"})
        pdf.add_object(stream)
        pdf.catalog["Metadata"] = stream.reference
    else:
        stream = pdf.objects[int(reference.split()[0])]
        stream.stream = [packet]
        stream.compress = False
