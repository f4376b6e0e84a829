"""An HTTP client for Digipost's sender API v8: signed requests, verified answers.

Every vendor failure is translated here, once, into the service's three
error families:

- transient (``DigipostUnavailableError``): 5xx, 429, timeouts, connection
  errors, and an answer whose date, hash or signature does not check out;
- permanent (``DigipostRefusedError``): ``CLIENT_DATA`` errors and requests
  Digipost cannot accept as written, with Digipost's error code in the text;
- configuration (``DigipostConfigurationError``): ``CONFIGURATION`` errors and
  the signing and clock problems that every request would share.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.base import ChannelUnavailableError, DeliveryRefusedError, NotAMailboxError
from channels.digipost import signing, xml
from letters import metrics
from letters.config.declared import DIGIPOST_KEY, DIGIPOST_SENDER_ID
from letters.errors import ConfigurationError

_T = TypeVar("_T")
_ELEVEN_DIGITS = re.compile(r"(?<!\d)\d{11}(?!\d)")
# The official clients refresh the entry point at least hourly (Digipost may rotate its key).
ENTRY_POINT_MAX_AGE_S = 3600.0
DUPLICATE_CODES = frozenset({"DUPLICATE_MESSAGE", "DUPLICATE_DOCUMENT_ID", "MESSAGE_ALREADY_SENT"})
# CLIENT_TECHNICAL codes that concern one request rather than the whole set-up.
_REQUEST_PROBLEMS = frozenset(
    {
        "SCHEMA_VALIDATION_ERROR",
        "PROBLEM_WITH_REQUEST",
        "MISSING_BODYPART_CONTENT_DISPOSITION",
        "MISSING_BODYPART_FILENAME",
        "DOCUMENTS_AND_FILES_MISMATCH",
        "MESSAGE_NOT_FOUND",
        "DOCUMENT_NOT_FOUND",
    }
)


class DigipostUnavailableError(ChannelUnavailableError):
    """Digipost could not be reached, failed, or gave an answer we cannot trust."""


class DigipostRefusedError(DeliveryRefusedError):
    def __init__(self, code: str, message: str, status: int) -> None:
        self.code = code
        self.status = status
        # The reason travels to logs and the dead-letter queue: never a national id.
        text = _ELEVEN_DIGITS.sub("[national id]", message)
        super().__init__(f"Digipost refused the request: {code} (HTTP {status}): {text}")


class DigipostDuplicateError(DigipostRefusedError):
    """The message or document id was used before: the letter may already be there."""


class UnknownRecipientError(DigipostRefusedError, NotAMailboxError):
    """The person has no (active) Digipost account."""


class DigipostConfigurationError(ConfigurationError):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(
            f"Digipost refused the sender's set-up ({code}): {message}. Check "
            f"{DIGIPOST_SENDER_ID}, {DIGIPOST_KEY} and the machine's clock."
        )


@dataclass(frozen=True, slots=True)
class ApiConfig:
    base_url: str
    sender_id: str
    key: rsa.RSAPrivateKey
    # Trust this certificate for answers; None: the one the entry point announces.
    digipost_certificate: x509.Certificate | None
    connect_timeout_s: float = 10.0
    timeout_s: float = 30.0
    pool_size: int = 10


class DigipostApi:
    def __init__(
        self,
        config: ApiConfig,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = signing.utc_now,
    ) -> None:
        self.config = config
        self._clock = clock
        self._http = httpx.Client(
            base_url=config.base_url,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=config.pool_size, max_keepalive_connections=config.pool_size
            ),
            # The body hash is over the bytes on the wire: never ask for compression.
            headers={"Accept": xml.MEDIA_TYPE, "Accept-Encoding": "identity"},
            transport=transport,
            follow_redirects=False,
        )
        self._entry: tuple[xml.EntryPoint, float] | None = None
        # Parsed once per entry point fetch; every answer is verified with it.
        self._entry_certificate: x509.Certificate | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # -- the operations ---------------------------------------------------------------

    def entry_point(self) -> xml.EntryPoint:
        with self._lock:
            if self._entry and time.monotonic() - self._entry[1] < ENTRY_POINT_MAX_AGE_S:
                return self._entry[0]
        response = self._call("GET", "/", None, None, signed_answer=False)
        try:
            entry = xml.parse_entrypoint(response.content)
        except xml.MalformedXml as err:
            raise DigipostUnavailableError(f"Digipost entry point: {err}") from err
        certificate = None
        if entry.certificate_pem:
            try:
                certificate = x509.load_pem_x509_certificate(entry.certificate_pem.encode("ascii"))
            except ValueError:
                certificate = None  # reported when an answer needs it
        with self._lock:
            self._entry = (entry, time.monotonic())
            self._entry_certificate = certificate
        return entry

    def identify(self, national_identity_number: str) -> xml.IdentificationResult:
        body = xml.identification_xml(national_identity_number)
        response = self._call("POST", self._link("IDENTIFY_RECIPIENT"), body, xml.MEDIA_TYPE)
        return self._read(response, xml.parse_identification_result)

    def send_message(self, message: bytes, document_uuid: str, pdf: bytes) -> xml.MessageDelivery:
        boundary = uuid.uuid4().hex
        body = _multipart(boundary, message, document_uuid, pdf)
        response = self._call(
            "POST",
            self._link("CREATE_MESSAGE"),
            body,
            f"{xml.MULTIPART_MEDIA_TYPE}; boundary={boundary}",
            extra_headers={"MIME-Version": "1.0"},
        )
        return self._read(response, xml.parse_message_delivery)

    def document_status(self, document_uuid: str) -> xml.DocumentStatus:
        # The Java client builds this path itself; the entry point has no link for it.
        path = f"/documents/{self.config.sender_id}/{document_uuid}/status"
        return self._read(self._call("GET", path, None, None), xml.parse_document_status)

    def document_events(
        self, start: datetime, end: datetime, offset: int, max_results: int
    ) -> list[xml.DocumentEvent]:
        params = {
            "sender": self.config.sender_id,
            "from": _event_time(start),
            "to": _event_time(end),
            "offset": str(offset),
            "maxResults": str(max_results),
        }
        url = str(httpx.URL(self._link("DOCUMENT_EVENTS"), params=params))
        return self._read(self._call("GET", url, None, None), xml.parse_document_events)

    # -- one exchange -----------------------------------------------------------------

    def _link(self, relation: str) -> str:
        try:
            return self.entry_point().links[relation]
        except KeyError:
            raise DigipostConfigurationError(
                "MISSING_LINK", f"the entry point offers no {relation.lower()} link"
            ) from None

    def _call(
        self,
        method: str,
        url: str,
        body: bytes | None,
        content_type: str | None,
        signed_answer: bool = True,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        target = self._http.build_request(method, url).url
        query = target.query.decode("ascii")
        headers = signing.request_headers(
            self.config.key, self.config.sender_id, method, target.path, query, body, self._clock()
        )
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(extra_headers or {})
        try:
            response = self._http.request(method, target, content=body, headers=headers)
        except httpx.TimeoutException as err:
            metrics.digipost_responses.labels("error").inc()
            raise DigipostUnavailableError(f"Digipost timed out ({type(err).__name__})") from err
        except httpx.TransportError as err:
            metrics.digipost_responses.labels("error").inc()
            raise DigipostUnavailableError(
                f"Digipost could not be reached ({type(err).__name__})"
            ) from err
        metrics.digipost_responses.labels(str(response.status_code)).inc()
        self._verify(response, target.path, signed_answer)
        if response.is_success:
            return response
        raise _translate(response)

    def _verify(self, response: httpx.Response, path: str, signed_answer: bool) -> None:
        """Digipost's answer must carry a fresh date, the body's hash and its signature."""
        problem = None
        headers = response.headers
        body = response.content
        if not signing.within_skew(headers.get(signing.DATE), self._clock()):
            problem = "its Date header is missing or more than 5 minutes off"
        elif body and headers.get(signing.CONTENT_SHA256) != signing.content_sha256(body):
            problem = "its X-Content-SHA256 does not match the body"
        elif signed_answer:
            text = signing.canonical_response(response.status_code, path, headers)
            signature = headers.get(signing.SIGNATURE, "")
            public_key = self._certificate().public_key()
            if not isinstance(public_key, rsa.RSAPublicKey) or not signing.verify(
                public_key, text, signature
            ):
                problem = "its X-Digipost-Signature does not verify"
        if problem:
            raise DigipostUnavailableError(
                f"SERVER_SIGNATURE_ERROR: Digipost's answer (HTTP {response.status_code}) "
                f"was not trusted: {problem}"
            )

    def _certificate(self) -> x509.Certificate:
        if self.config.digipost_certificate is not None:
            return self.config.digipost_certificate
        self.entry_point()
        if self._entry_certificate is None:
            raise DigipostUnavailableError(
                "Digipost's entry point carries no readable certificate to verify answers with"
            )
        return self._entry_certificate

    @staticmethod
    def _read(response: httpx.Response, parse: Callable[[bytes], _T]) -> _T:
        try:
            return parse(response.content)
        except xml.MalformedXml as err:
            raise DigipostUnavailableError(f"Digipost answered with bad XML: {err}") from err


def _translate(response: httpx.Response) -> Exception:
    status = response.status_code
    try:
        error = xml.parse_error(response.content)
    except xml.MalformedXml:
        error = xml.ErrorAnswer(f"HTTP_{status}", response.reason_phrase, "NONE")
    if status >= 500 or status in (408, 429):
        retry = response.headers.get("Retry-After")
        hint = f"; retry after {retry}s" if retry else ""
        return DigipostUnavailableError(f"Digipost: {error.code} (HTTP {status}){hint}")
    if error.code in DUPLICATE_CODES:
        return DigipostDuplicateError(error.code, error.message, status)
    if error.code == "UNKNOWN_RECIPIENT":
        return UnknownRecipientError(error.code, error.message, status)
    if error.type == "CONFIGURATION" or status in (401, 403):
        return DigipostConfigurationError(error.code, error.message)
    if error.type == "CLIENT_TECHNICAL" and error.code not in _REQUEST_PROBLEMS:
        return DigipostConfigurationError(error.code, error.message)
    if error.type == "SERVER":
        return DigipostUnavailableError(f"Digipost: {error.code} (HTTP {status})")
    return DigipostRefusedError(error.code, error.message, status)


def _multipart(boundary: str, message: bytes, document_uuid: str, pdf: bytes) -> bytes:
    parts = [
        (f"{xml.MEDIA_TYPE}; charset=UTF-8", "message", message),
        ("application/pdf", document_uuid, pdf),
    ]
    out = bytearray()
    for content_type, filename, content in parts:
        out += (
            f"--{boundary}\r\nContent-Type: {content_type}\r\n"
            f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'
        ).encode("ascii")
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode("ascii")
    return bytes(out)


def _event_time(moment: datetime) -> str:
    # yyyy-MM-dd'T'HH:mm:ss.SSSxxx, as the Java client sends it.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
