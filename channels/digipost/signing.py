"""Digipost's request and response signatures (SHA256withRSA over a canonical string).

Both sides of the protocol live here, so that the client and the local double
cannot drift apart: the client signs requests and verifies responses, the
double verifies requests and signs responses.

Request string: method, lowercased path, the signed headers present (sorted,
``name: value``), lowercased query; every line ends in ``\\n`` and the query
line is always there. Response string: status, lowercased request path, the
signed headers present. See ``reference/digipost-api.md`` §1.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DATE = "Date"
USER_ID = "X-Digipost-UserId"
CONTENT_SHA256 = "X-Content-SHA256"
SIGNATURE = "X-Digipost-Signature"
# Content-MD5 is obsolete but still signed when present, as the official clients do.
SIGNED_HEADERS = ("content-md5", "date", "x-content-sha256", "x-digipost-userid")
# Digipost refuses a request whose Date is further than this from its clock.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


def content_sha256(body: bytes) -> str:
    """Base64 of SHA-256 over the exact body bytes."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def http_date(moment: datetime) -> str:
    """RFC 1123 in GMT, e.g. ``Wed, 29 Jun 2011 14:58:11 GMT``."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def within_skew(value: str | None, now: datetime) -> bool:
    moment = parse_http_date(value) if value else None
    return moment is not None and abs(now - moment) <= MAX_CLOCK_SKEW


def _signed_header_lines(headers: Mapping[str, str]) -> str:
    present = {name.lower(): value for name, value in headers.items()}
    return "".join(f"{name}: {present[name]}\n" for name in SIGNED_HEADERS if name in present)


def canonical_request(method: str, path: str, query: str, headers: Mapping[str, str]) -> str:
    return f"{method.upper()}\n{path.lower()}\n{_signed_header_lines(headers)}{query.lower()}\n"


def canonical_response(status: int, path: str, headers: Mapping[str, str]) -> str:
    return f"{status}\n{path.lower()}\n{_signed_header_lines(headers)}"


def sign(key: rsa.RSAPrivateKey, text: str) -> str:
    signature = key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(public_key: rsa.RSAPublicKey, text: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def request_headers(
    key: rsa.RSAPrivateKey,
    user_id: str,
    method: str,
    path: str,
    query: str,
    body: bytes | None,
    now: datetime,
) -> dict[str, str]:
    """The authentication headers of one request: Date, user id, body hash, signature."""
    headers = {DATE: http_date(now), USER_ID: user_id}
    if body:
        headers[CONTENT_SHA256] = content_sha256(body)
    headers[SIGNATURE] = sign(key, canonical_request(method, path, query, headers))
    return headers


def response_headers(
    key: rsa.RSAPrivateKey, status: int, path: str, body: bytes, now: datetime
) -> dict[str, str]:
    """The headers Digipost signs every response with (the hash even of an empty body)."""
    headers = {DATE: http_date(now), CONTENT_SHA256: content_sha256(body)}
    headers[SIGNATURE] = sign(key, canonical_response(status, path, headers))
    return headers
