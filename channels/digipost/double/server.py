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

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.digipost import signing
from channels.digipost.double.http import DoubleError, Fault, handler_for, multipart_parts
from channels.digipost.double.schema import SchemaViolation, validate_message
from channels.digipost.double.store import DoubleStore, StoredDocument
from channels.digipost.double.xml import (
    document_events_xml,
    document_status_xml,
    entrypoint_xml,
    identification_result_xml,
    message_delivery_xml,
)
from channels.digipost.keys import KeyPair
from channels.digipost.xml import MEDIA_TYPE, MalformedXml, parse, q

__all__ = ["DEFAULT_RECIPIENTS", "DigipostDouble", "DoubleConfig", "DoubleError", "Fault"]

# The sample debtors' national id is a Digipost user; anything else must be registered.
DEFAULT_RECIPIENTS: dict[str, tuple[str, str | None]] = {
    "03039110015": ("DIGIPOST", None),
}


@dataclass(frozen=True)
class DoubleConfig:
    state_dir: Path
    keys: KeyPair
    # Sender id -> the certificate its requests must verify with.
    senders: dict[str, x509.Certificate]
    recipients: dict[str, tuple[str, str | None]] = field(
        default_factory=lambda: dict(DEFAULT_RECIPIENTS)
    )
    # The share of API requests that fail at random (an error, a dropped or a late
    # answer), for soak runs; queued faults come first. Seeded, so a run repeats.
    fail_rate: float = 0.0
    seed: int = 0


# What a random failure is, in turn: Digipost down, Digipost failing, the answer lost
# after the work was done, the answer late.
RANDOM_FAULTS = (
    Fault("error", status=503),
    Fault("error", status=500),
    Fault("drop"),
    Fault("late", seconds=1.0),
)


class DigipostDouble:
    def __init__(self, config: DoubleConfig) -> None:
        self.config = config
        self.store = DoubleStore(config.state_dir)
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._chance = random.Random(config.seed)  # noqa: S311 - fault injection, not secrets
        self._server: ThreadingHTTPServer | None = None
        self.requests: list[tuple[str, str, int]] = []

    @property
    def signing_key(self) -> rsa.RSAPrivateKey:
        return self.config.keys.key

    # -- running ----------------------------------------------------------------------

    def bind(self, host: str = "127.0.0.1", port: int = 0) -> str:
        server = ThreadingHTTPServer((host, port), handler_for(self))
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
        self.store.add_event(document_uuid, kind, metadata or {}, signing.utc_now())

    def mailbox(self) -> list[StoredDocument]:
        return self.store.documents()

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path):
                    self._faults.remove(fault)
                    return fault
            if self.config.fail_rate and self._chance.random() < self.config.fail_rate:
                return self._chance.choice(RANDOM_FAULTS)
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
        if not signing.within_skew(date, signing.utc_now()):
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
        if len(number) != 11 or not (number.isascii() and number.isdigit()):
            return "INVALID", "INVALID_PERSONAL_IDENTIFICATION_NUMBER"
        return self.config.recipients.get(number, ("UNIDENTIFIED", "NOT_FOUND"))

    def _create_message(self, sender_id: str, headers: dict[str, str], body: bytes) -> bytes:
        parts = multipart_parts(headers.get("content-type", ""), body)
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
            now=signing.utc_now(),
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
