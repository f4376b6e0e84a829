"""The local Digipost double's HTTP side: the request handler and multipart parsing.

Kept apart from ``digipost_double`` (what the double does) so that each stays
readable; the handler only decodes requests, applies injected faults and
signs answers.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from channels.digipost import signing
from channels.digipost.double.store import StoredDocument
from channels.digipost.double.xml import error_xml
from channels.digipost.xml import MEDIA_TYPE, MULTIPART_MEDIA_TYPE

log = logging.getLogger("channels.digipost_double")

MAX_BODY_BYTES = 50 * 1024 * 1024


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


def multipart_parts(content_type: str, body: bytes) -> dict[str, bytes]:
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


class DoubleBackend(Protocol):
    """What the HTTP side asks of the double (``server.DigipostDouble``)."""

    requests: list[tuple[str, str, int]]

    @property
    def signing_key(self) -> rsa.RSAPrivateKey: ...

    def take_fault(self, path: str) -> Fault | None: ...

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, host: str
    ) -> tuple[int, bytes, str]: ...

    def fail_next(self, *faults: Fault) -> None: ...

    def add_event(
        self, document_uuid: str, kind: str, metadata: dict[str, str] | None = None
    ) -> None: ...

    def mailbox(self) -> list[StoredDocument]: ...


def handler_for(double: DoubleBackend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the client's
        # delayed ACK adds 40 ms to every answer.
        disable_nagle_algorithm = True
        server_version = "digipost-double"

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _dispatch(self, method: str) -> None:
            raw_length = (self.headers.get("Content-Length") or "0").strip()
            if not (raw_length.isascii() and raw_length.isdigit()):
                self.close_connection = True  # the body's end cannot be known
                self._answer(
                    400,
                    error_xml("PROBLEM_WITH_REQUEST", "Bad Content-Length", "CLIENT_TECHNICAL"),
                    MEDIA_TYPE,
                )
                return
            length = int(raw_length)
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
            fault = double.take_fault(path)
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
            signed = signing.response_headers(
                double.signing_key, status, path, body, signing.utc_now()
            )
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
            try:
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
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as err:
                problem = {"error": f"bad control request: {type(err).__name__}"}
                self._answer(400, json.dumps(problem).encode(), "application/json")
                return
            self._answer(200, json.dumps(answer, default=str).encode(), "application/json")

    return Handler
