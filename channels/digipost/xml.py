"""The XML of Digipost's v8 API that the client writes and reads.

Element names and their order follow ``api_v8.xsd`` and ``datatypes.xsd``
(order matters to Digipost's schema validation). Parsing uses a parser that
resolves no entities and fetches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lxml import etree

NS = "http://api.digipost.no/schema/v8"
DATATYPES_NS = "http://api.digipost.no/schema/datatypes"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MEDIA_TYPE = "application/vnd.digipost-v8+xml"
MULTIPART_MEDIA_TYPE = "multipart/vnd.digipost-v8+xml"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class MalformedXml(ValueError):
    """A body that is not the XML it should be."""


def q(name: str, ns: str = NS) -> str:
    return f"{{{ns}}}{name}"


# -- what the client sends ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InkassoData:
    """Digipost's ``inkasso`` data type: lets the debtor pay from the mailbox."""

    due_date: datetime
    amount: Decimal
    account: str
    kid: str
    link_url: str | None = None
    link_description: str | None = None
    link_button_text: str | None = None


@dataclass(frozen=True, slots=True)
class MessageSpec:
    message_id: str
    document_uuid: str
    national_identity_number: str
    subject: str
    authentication_level: str
    sensitivity_level: str
    inkasso: InkassoData | None


def identification_xml(national_identity_number: str) -> bytes:
    root = etree.Element(q("identification"), nsmap={None: NS})
    etree.SubElement(root, q("personal-identification-number")).text = national_identity_number
    return serialize(root)


def message_xml(spec: MessageSpec) -> bytes:
    root = etree.Element(q("message"), nsmap={None: NS})
    _text(root, "message-id", spec.message_id)
    recipient = etree.SubElement(root, q("recipient"))
    _text(recipient, "personal-identification-number", spec.national_identity_number)
    document = etree.SubElement(root, q("primary-document"))
    _text(document, "uuid", spec.document_uuid)
    _text(document, "subject", spec.subject)
    _text(document, "file-type", "pdf")
    _text(document, "authentication-level", spec.authentication_level)
    _text(document, "sensitivity-level", spec.sensitivity_level)
    if spec.inkasso is not None:
        data_type = etree.SubElement(document, q("data-type"))
        data_type.append(_inkasso(spec.inkasso))
    return serialize(root)


def _inkasso(data: InkassoData) -> etree._Element:
    inkasso = etree.Element(q("inkasso", DATATYPES_NS), nsmap={None: DATATYPES_NS})
    if data.link_url:
        link = etree.SubElement(inkasso, q("link", DATATYPES_NS))
        _text(link, "url", data.link_url, DATATYPES_NS)
        if data.link_description:
            _text(link, "description", data.link_description, DATATYPES_NS)
        if data.link_button_text:
            _text(link, "button-text", data.link_button_text, DATATYPES_NS)
    _text(inkasso, "due-date", data.due_date.isoformat(), DATATYPES_NS)
    _text(inkasso, "sum", f"{data.amount:.2f}", DATATYPES_NS)
    _text(inkasso, "account", data.account, DATATYPES_NS)
    _text(inkasso, "kid", data.kid, DATATYPES_NS)
    return inkasso


def _text(parent: etree._Element, name: str, value: str, ns: str = NS) -> None:
    etree.SubElement(parent, q(name, ns)).text = value


def serialize(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


# -- what the client reads ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryPoint:
    certificate_pem: str | None
    # Relation name (upper case, as the official clients key them) -> URI.
    links: dict[str, str]


@dataclass(frozen=True, slots=True)
class IdentificationResult:
    result: str  # DIGIPOST, IDENTIFIED, UNIDENTIFIED or INVALID
    reason: str | None


@dataclass(frozen=True, slots=True)
class MessageDelivery:
    message_id: str | None
    delivery_method: str
    status: str
    delivery_time: datetime | None
    document_uuid: str | None


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    code: str
    message: str
    type: str


@dataclass(frozen=True, slots=True)
class DocumentStatus:
    uuid: str
    status: str  # DELIVERED or NOT_DELIVERED
    channel: str | None
    delivered: datetime | None
    read: str | None


@dataclass(frozen=True, slots=True)
class DocumentEvent:
    uuid: str
    type: str
    created: datetime
    detail: str | None


def parse(body: bytes, expected: str) -> etree._Element:
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as err:
        raise MalformedXml(f"not XML: {err}") from err
    if root.tag != q(expected):
        raise MalformedXml(f"expected <{expected}>, got <{etree.QName(root).localname}>")
    return root


def parse_entrypoint(body: bytes) -> EntryPoint:
    root = parse(body, "entrypoint")
    links = {}
    for link in root.iterfind(q("link")):
        rel, uri = link.get("rel", ""), link.get("uri")
        if uri:
            links[rel.rstrip("/").rsplit("/", 1)[-1].upper()] = uri
    return EntryPoint(_child(root, "certificate"), links)


def parse_identification_result(body: bytes) -> IdentificationResult:
    root = parse(body, "identification-result")
    result = _child(root, "result")
    if not result:
        raise MalformedXml("identification-result without a result")
    reason = _child(root, "unidentified-reason") or _child(root, "invalid-reason")
    return IdentificationResult(result, reason)


def parse_message_delivery(body: bytes) -> MessageDelivery:
    root = parse(body, "message-delivery")
    method, status = _child(root, "delivery-method"), _child(root, "status")
    if not method or not status:
        raise MalformedXml("message-delivery without delivery-method or status")
    document = root.find(q("primary-document"))
    return MessageDelivery(
        message_id=_child(root, "message-id"),
        delivery_method=method,
        status=status,
        delivery_time=_datetime(_child(root, "delivery-time")),
        document_uuid=_child(document, "uuid") if document is not None else None,
    )


def parse_error(body: bytes) -> ErrorAnswer:
    root = parse(body, "error")
    return ErrorAnswer(
        code=_child(root, "error-code") or "GENERAL_ERROR",
        message=_child(root, "error-message") or "",
        type=_child(root, "error-type") or "NONE",
    )


def parse_document_status(body: bytes) -> DocumentStatus:
    root = parse(body, "document-status")
    return DocumentStatus(
        uuid=root.get("uuid", ""),
        status=root.get("status", ""),
        channel=root.get("channel"),
        delivered=_datetime(root.get("delivered")),
        read=root.get("read"),
    )


def parse_document_events(body: bytes) -> list[DocumentEvent]:
    root = parse(body, "document-events")
    events = []
    for event in root.iterfind(q("event")):
        created = _datetime(event.get("created"))
        uuid, kind = event.get("uuid"), event.get("type")
        if created is None or not uuid or not kind:
            raise MalformedXml("document event without uuid, type or created")
        events.append(DocumentEvent(uuid, kind, created, _event_detail(event)))
    return events


def _event_detail(event: etree._Element) -> str | None:
    """The metadata worth keeping: the postmark date or the print error code."""
    metadata = event.find(q("metadata"))
    if metadata is None:
        return None
    parts = [
        f"{name}={metadata.get(name)}"
        for name in ("postmarked-date", "error-code")
        if metadata.get(name)
    ]
    return ", ".join(parts) or None


def _child(parent: etree._Element | None, name: str) -> str | None:
    if parent is None:
        return None
    found = parent.find(q(name))
    return found.text.strip() if found is not None and found.text else None


def _datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as err:
        raise MalformedXml(f"{value!r} is not an ISO 8601 date-time") from err
