"""The one hash the service records: SHA-256 of a PDF, a request or a message body."""

from __future__ import annotations

import hashlib


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
