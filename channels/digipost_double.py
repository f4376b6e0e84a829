"""A local Digipost that speaks the v8 protocol, for tests and the embedded default.

It does what the real API does to a sender of PDF letters: serves the entry
point with its certificate and links, verifies every request (user id, date
within five minutes, body hash, signature against the sender's registered
certificate), identifies recipients from a registry, takes multipart
messages (schema-checked, PDF parts matched to documents by uuid, reused
message and document ids refused), answers document status and the event
feed, and signs every answer with its own key. Errors use Digipost's
``<error>`` format and codes.

State lives in a folder, so several worker processes that each start an
embedded double share one mailbox and one set of used ids.

Test control (not part of Digipost's API, served without authentication):
``POST /-/faults`` queues faults, ``POST /-/events`` adds a document event,
``GET /-/mailbox`` lists what was delivered.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from channels import digipost_signing as signing
from channels.digipost_double_store import DoubleStore, StoredDocument
from channels.digipost_double_xml import (
    document_events_xml,
    document_status_xml,
    entrypoint_xml,
    error_xml,
    identification_result_xml,
    message_delivery_xml,
)
from channels.digipost_keys import KeyPair
from channels.digipost_schema import SchemaViolation, validate_message
from channels.digipost_xml import MEDIA_TYPE, MULTIPART_MEDIA_TYPE, MalformedXml, parse, q

log = logging.getLogger("channels.digipost_double")

MAX_BODY_BYTES = 50 * 1024 * 1024
# The sample debtors' national id is a Digipost user; anything else must be registered.
DEFAULT_RECIPIENTS: dict[str, tuple[str, str | None]] = {
    "03039110015": ("DIGIPOST", None),
}


class DoubleError(Exception):
    """An error answer: HTTP status plus Digipost's error code, message and type."""

    def __init__(self, status: int, code: str, message: str, kind: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.kind = status, code, message, kind


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure for the next request whose path starts with ``path``.

    kind: ``error`` (answer ``status`` with Digipost's error ``code`` of type
    ``error_type``, by default 503 SERVER_ERROR), ``delay`` (wait
    ``seconds``, then do the work and answer), ``late`` (do the work, then wait
    ``seconds`` before answering), ``drop`` (do the work, then close the
    connection without answering) or ``bad-signature`` (answer normally with a
    signature that does not verify).
    """

    kind: str
    path: str = "/"
    status: int = 503
    code: str = "SERVER_ERROR"
    error_type: str = "SERVER"
    seconds: float = 0.0


@dataclass
class DoubleConfig:
    state_dir: Path
    keys: KeyPair
    # Sender id -> the certificate its requests must verify with.
    senders: dict[str, x509.Certificate]
    recipients: dict[str, tuple[str, str | None]] = field(
        default_factory=lambda: dict(DEFAULT_RECIPIENTS)
    )


class DigipostDouble:
    def __init__(self, config: DoubleConfig) -> None:
        self.config = config
        self.store = DoubleStore(config.state_dir)
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.requests: list[tuple[str, str, int]] = []

    # -- running ----------------------------------------------------------------------

    def bind(self, host: str = "127.0.0.1", port: int = 0) -> str:
        server = ThreadingHTTPServer((host, port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        return f"http://{host}:{server.server_address[1]}/"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL."""
        url = self.bind(host, port)
        assert self._server is not None  # noqa: S101 - bound above
        # A short poll interval keeps stop() quick; the server is idle otherwise.
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        return url

    def serve_forever(self) -> None:
        assert self._server is not None  # noqa: S101 - bind() first
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- test control -----------------------------------------------------------------

    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def add_event(
        self, document_uuid: str, kind: str, metadata: dict[str, str] | None = None
    ) -> None:
        self.store.add_event(document_uuid, kind, metadata or {}, _now())

    def mailbox(self) -> list[StoredDocument]:
        return self.store.documents()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path):
                    self._faults.remove(fault)
                    return fault
        return None

    # -- the API ----------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, host: str
    ) -> tuple[int, bytes, str]:
        """One API request → (status, body, content type). Raises DoubleError."""
        url = urlsplit(target)
        sender_id = self._authenticate(method, url.path, url.query, headers, body)
        base = f"http://{host}"
        if method == "GET" and url.path.rstrip("/") in ("", f"/{sender_id}"):
            links = {
                "create_message": "/messages",
                "identify_recipient": "/identification",
                "document_events": "/events",
                "get_sender_information": "/sender-information",
            }
            pem = self.config.keys.certificate_pem()
            return 200, entrypoint_xml(pem, base, links), MEDIA_TYPE
        if method == "POST" and url.path == "/identification":
            result, reason = self._identify(body)
            return 200, identification_result_xml(result, reason), MEDIA_TYPE
        if method == "POST" and url.path == "/messages":
            return 200, self._create_message(sender_id, headers, body), MEDIA_TYPE
        parts = url.path.strip("/").split("/")
        if method == "GET" and len(parts) == 4 and parts[0] == "documents" and parts[3] == "status":
            document = self.store.document(parts[2])
            if document is None or parts[1] != document.sender_id:
                raise DoubleError(404, "DOCUMENT_NOT_FOUND", "No such document", "CLIENT_TECHNICAL")
            return 200, document_status_xml(document), MEDIA_TYPE
        if method == "GET" and url.path == "/events":
            return 200, self._events(sender_id, url.query), MEDIA_TYPE
        raise DoubleError(
            404, "GENERAL_ERROR", f"No resource {method} {url.path}", "CLIENT_TECHNICAL"
        )

    def _authenticate(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> str:
        sender_id = headers.get("x-digipost-userid")
        if not sender_id:
            raise DoubleError(
                400, "INVALID_USER_ID_HEADER", "Missing X-Digipost-UserId", "CLIENT_TECHNICAL"
            )
        certificate = self.config.senders.get(sender_id)
        if certificate is None:
            raise DoubleError(
                403, "UNKNOWN_USER_ID", f"Unknown sender {sender_id}", "CLIENT_TECHNICAL"
            )
        date = headers.get("date")
        if not date:
            raise DoubleError(400, "MISSING_DATE_HEADER", "Missing Date header", "CLIENT_TECHNICAL")
        if signing.parse_http_date(date) is None:
            raise DoubleError(
                400, "INVALID_DATE_HEADER", "Date is not RFC 1123", "CLIENT_TECHNICAL"
            )
        if not signing.within_skew(date, _now()):
            raise DoubleError(
                400,
                "DATE_HEADER_OUTSIDE_ACCEPTED_INTERVAL",
                "Date differs from Digipost's clock by more than 5 minutes",
                "CLIENT_TECHNICAL",
            )
        if body:
            declared = headers.get("x-content-sha256")
            if not declared:
                raise DoubleError(
                    400, "MISSING_SHA256", "Missing X-Content-SHA256", "CLIENT_TECHNICAL"
                )
            if declared != signing.content_sha256(body):
                raise DoubleError(
                    400,
                    "INVALID_SHA256",
                    "X-Content-SHA256 does not match the body",
                    "CLIENT_TECHNICAL",
                )
        canonical = signing.canonical_request(method, path, query, headers)
        public_key = certificate.public_key()
        signature = headers.get("x-digipost-signature", "")
        if not isinstance(public_key, rsa.RSAPublicKey) or not signing.verify(
            public_key, canonical, signature
        ):
            raise DoubleError(
                403,
                "GENERAL_ERROR",
                "Signature failed. We computed this string to sign: "
                f"===START==={canonical}===SLUTT===",
                "CLIENT_TECHNICAL",
            )
        return sender_id

    def _identify(self, body: bytes) -> tuple[str, str | None]:
        try:
            root = parse(body, "identification")
        except MalformedXml as err:
            raise DoubleError(400, "SCHEMA_VALIDATION_ERROR", str(err), "CLIENT_TECHNICAL") from err
        number = root.findtext(q("personal-identification-number"))
        if number is None:
            raise DoubleError(
                400,
                "SCHEMA_VALIDATION_ERROR",
                "identify by personal-identification-number only",
                "CLIENT_TECHNICAL",
            )
        if len(number) != 11 or not number.isdigit():
            return "INVALID", "INVALID_PERSONAL_IDENTIFICATION_NUMBER"
        return self.config.recipients.get(number, ("UNIDENTIFIED", "NOT_FOUND"))

    def _create_message(self, sender_id: str, headers: dict[str, str], body: bytes) -> bytes:
        parts = _multipart_parts(headers.get("content-type", ""), body)
        try:
            root = parse(parts.get("message", b""), "message")
            validate_message(root)
        except (MalformedXml, SchemaViolation) as err:
            raise DoubleError(400, "SCHEMA_VALIDATION_ERROR", str(err), "CLIENT_TECHNICAL") from err
        document = root.find(q("primary-document"))
        assert document is not None  # noqa: S101 - the schema requires it
        uuid = document.findtext(q("uuid"))
        if not uuid or set(parts) != {"message", uuid}:
            raise DoubleError(
                400,
                "DOCUMENTS_AND_FILES_MISMATCH",
                "Every document needs one part named by its uuid",
                "CLIENT_TECHNICAL",
            )
        pdf = parts[uuid]
        if document.findtext(q("file-type")) == "pdf" and not pdf.startswith(b"%PDF-"):
            raise DoubleError(
                400, "INVALID_PDF_CONTENT", "The document is not a PDF", "CLIENT_DATA"
            )
        number = root.findtext(f"{q('recipient')}/{q('personal-identification-number')}")
        result, _reason = self.config.recipients.get(number or "", ("UNIDENTIFIED", None))
        has_print_details = root.find(f"{q('recipient')}/{q('print-details')}") is not None
        if result != "DIGIPOST" and not has_print_details:
            raise DoubleError(
                404,
                "UNKNOWN_RECIPIENT",
                "The recipient does not have a Digipost account.",
                "CLIENT_DATA",
            )
        message_id = root.findtext(q("message-id")) or uuid
        stored = self.store.deliver(
            sender_id=sender_id,
            message_id=message_id,
            document_uuid=uuid,
            channel="DIGIPOST" if result == "DIGIPOST" else "PRINT",
            message_xml=parts["message"],
            pdf=pdf,
            now=_now(),
        )
        if stored is None:
            raise DoubleError(
                400, "DUPLICATE_MESSAGE", "The message-id has been previously used", "CLIENT_DATA"
            )
        return message_delivery_xml(stored, document)

    def _events(self, sender_id: str, query: str) -> bytes:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            start = datetime.fromisoformat(params["from"])
            end = datetime.fromisoformat(params["to"])
            offset = int(params.get("offset", "0"))
            limit = int(params.get("maxResults", "100"))
        except (KeyError, ValueError) as err:
            raise DoubleError(
                400, "INVALID_QUERY_PARAMETER", f"bad event query: {err}", "CLIENT_TECHNICAL"
            ) from err
        events = [
            e for e in self.store.events() if start <= e.created < end and e.sender_id == sender_id
        ]
        return document_events_xml(events[offset : offset + limit])


def _now() -> datetime:
    return datetime.now(UTC)


def _multipart_parts(content_type: str, body: bytes) -> dict[str, bytes]:
    """Parts by their Content-Disposition filename, bytes exactly as sent."""
    media_type, _, params = content_type.partition(";")
    boundary = None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if media_type.strip().lower() != MULTIPART_MEDIA_TYPE or not boundary:
        raise DoubleError(
            400,
            "PROBLEM_WITH_REQUEST",
            f"Expected {MULTIPART_MEDIA_TYPE} with a boundary",
            "CLIENT_TECHNICAL",
        )
    delimiter = b"--" + boundary.encode("ascii")
    sections = body.split(b"\r\n" + delimiter)
    if not sections[0].startswith(delimiter):
        raise DoubleError(
            400,
            "PROBLEM_WITH_REQUEST",
            "The body does not start with the boundary",
            "CLIENT_TECHNICAL",
        )
    sections[0] = sections[0][len(delimiter) :]
    parts: dict[str, bytes] = {}
    for section in sections:
        if section.startswith(b"--"):
            break
        head, separator, content = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise DoubleError(
                400, "PROBLEM_WITH_REQUEST", "A part has no headers", "CLIENT_TECHNICAL"
            )
        disposition = next(
            (
                line.decode("latin-1")
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-disposition:")
            ),
            None,
        )
        if disposition is None:
            raise DoubleError(
                400,
                "MISSING_BODYPART_CONTENT_DISPOSITION",
                "A part has no Content-Disposition",
                "CLIENT_TECHNICAL",
            )
        filename = _filename(disposition)
        if not filename:
            raise DoubleError(
                400, "MISSING_BODYPART_FILENAME", "A part has no filename", "CLIENT_TECHNICAL"
            )
        parts[filename] = content
    return parts


def _filename(disposition: str) -> str | None:
    for param in disposition.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "filename":
            return value.strip('"')
    return None


def _handler_for(double: DigipostDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "digipost-double"

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _dispatch(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._answer(
                    413,
                    error_xml("REQUEST_TOO_LARGE", "Request too large", "CLIENT_DATA"),
                    MEDIA_TYPE,
                )
                return
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            if path.startswith("/-/"):
                self._control(method, path, body)
                return
            fault = double._take_fault(path)
            if fault and fault.kind == "delay":
                time.sleep(fault.seconds)
            if fault and fault.kind == "error":
                status = fault.status
                answer = error_xml(fault.code, "Injected failure", fault.error_type)
                content_type = MEDIA_TYPE
            else:
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    status, answer, content_type = double.handle(
                        method, self.path, headers, body, self.headers.get("Host", "")
                    )
                except DoubleError as err:
                    status, answer, content_type = (
                        err.status,
                        error_xml(err.code, err.message, err.kind),
                        MEDIA_TYPE,
                    )
            double.requests.append((method, path, status))
            if fault and fault.kind == "late":
                time.sleep(fault.seconds)
            if fault and fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._answer(
                status,
                answer,
                content_type,
                bad_signature=bool(fault and fault.kind == "bad-signature"),
            )

        def _answer(
            self, status: int, body: bytes, content_type: str, bad_signature: bool = False
        ) -> None:
            path = urlsplit(self.path).path
            signed = signing.response_headers(double.config.keys.key, status, path, body, _now())
            if bad_signature:
                signed[signing.SIGNATURE] = signed[signing.SIGNATURE][::-1]
            # send_response would add a second Date header of its own.
            self.log_request(status)
            self.send_response_only(status)
            self.send_header("Server", self.server_version)
            for name, value in signed.items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _control(self, method: str, path: str, body: bytes) -> None:
            if method == "POST" and path == "/-/faults":
                double.fail_next(*(Fault(**item) for item in json.loads(body)))
                answer: Any = {"queued": True}
            elif method == "POST" and path == "/-/events":
                item = json.loads(body)
                double.add_event(item["uuid"], item["type"], item.get("metadata"))
                answer = {"added": True}
            elif method == "GET" and path == "/-/mailbox":
                answer = [asdict(d) for d in double.mailbox()]
            else:
                self._answer(404, b"{}", "application/json")
                return
            self._answer(200, json.dumps(answer, default=str).encode(), "application/json")

    return Handler
