"""The XML the local Digipost double answers with (``api_v8.xsd`` shapes)."""

from __future__ import annotations

from lxml import etree

from channels.digipost.double.store import StoredDocument, StoredEvent
from channels.digipost.xml import NS, XSI_NS, q, serialize

_RELATIONS = "https://api.digipost.no/relations"


def _root(name: str) -> etree._Element:
    return etree.Element(q(name), nsmap={None: NS})


def _add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, q(name))
    if text is not None:
        child.text = text
    return child


def entrypoint_xml(certificate_pem: str, base_url: str, links: dict[str, str]) -> bytes:
    root = _root("entrypoint")
    _add(root, "certificate", certificate_pem)
    for name, path in links.items():
        link = _add(root, "link")
        link.set("rel", f"{_RELATIONS}/{name}")
        link.set("uri", base_url.rstrip("/") + path)
        link.set("media-type", "application/vnd.digipost-v8+xml")
    return serialize(root)


def identification_result_xml(result: str, reason: str | None) -> bytes:
    root = _root("identification-result")
    _add(root, "result", result)
    if result == "UNIDENTIFIED" and reason:
        _add(root, "unidentified-reason", reason)
    elif result == "INVALID" and reason:
        _add(root, "invalid-reason", reason)
    elif result == "IDENTIFIED":
        _add(root, "person-alias", reason or "alias-not-a-user")
    return serialize(root)


def message_delivery_xml(document: StoredDocument, sent: etree._Element) -> bytes:
    """The receipt; subjects become ``N/A`` on the print path, as Digipost does."""
    root = _root("message-delivery")
    _add(root, "message-id", document.message_id)
    _add(root, "delivery-method", document.channel)
    _add(root, "sender-id", document.sender_id)
    _add(root, "status", "DELIVERED" if document.channel == "DIGIPOST" else "DELIVERED_TO_PRINT")
    _add(root, "delivery-time", document.delivered.isoformat(timespec="milliseconds"))
    primary = _add(root, "primary-document")
    _add(primary, "uuid", document.uuid)
    subject = sent.findtext(q("subject"))
    if subject is not None:
        _add(primary, "subject", subject if document.channel == "DIGIPOST" else "N/A")
    _add(primary, "file-type", sent.findtext(q("file-type")) or "pdf")
    for name in ("authentication-level", "sensitivity-level"):
        value = sent.findtext(q(name))
        if value:
            _add(primary, name, value)
    _add(primary, "content-hash", document.content_hash).set("hash-algorithm", "SHA256")
    return serialize(root)


def document_status_xml(document: StoredDocument) -> bytes:
    root = _root("document-status")
    root.set("uuid", document.uuid)
    root.set("sender-id", document.sender_id)
    root.set("status", document.status)
    root.set("created", document.created.isoformat(timespec="milliseconds"))
    root.set("delivered", document.delivered.isoformat(timespec="milliseconds"))
    root.set("channel", document.channel)
    root.set("is-primary-document", "true")
    root.set("content-hash", document.content_hash)
    root.set("content-hash-algorithm", "SHA256")
    return serialize(root)


def document_events_xml(events: list[StoredEvent]) -> bytes:
    root = etree.Element(q("document-events"), nsmap={None: NS, "xsi": XSI_NS})
    for event in events:
        element = _add(root, "event")
        element.set("uuid", event.uuid)
        element.set("type", event.type)
        element.set("created", event.created.isoformat(timespec="milliseconds"))
        element.set("document-created", event.document_created.isoformat(timespec="milliseconds"))
        if event.type == "POSTMARKED":
            metadata = _add(element, "metadata")
            metadata.set(f"{{{XSI_NS}}}type", "postmarked-metadata")
            metadata.set("postmarked-date", event.metadata.get("postmarked-date", ""))
        elif event.type == "PRINT_FAILED":
            metadata = _add(element, "metadata")
            metadata.set(f"{{{XSI_NS}}}type", "failed-print-metadata")
            metadata.set("error-code", event.metadata.get("error-code", "UNKNOWN"))
    return serialize(root)


def error_xml(code: str, message: str, kind: str) -> bytes:
    root = _root("error")
    _add(root, "error-code", code)
    _add(root, "error-message", message)
    _add(root, "error-type", kind)
    return serialize(root)
