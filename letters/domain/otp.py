"""One-time passwords for the debtor portal.

The password is drawn from a cryptographic source, printed only in the letter
and kept only as a salted scrypt hash with its expiry. ``OneTimePassword``
hides its value from ``repr`` and ``str`` so that it cannot leak into a log line
or an error message by accident; ``reveal()`` is the one way to read it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

# No look-alikes: 0/O/Q/D, 1/I/L/J, 2/Z, 5/S, 8/B and U/V are left out.
ALPHABET = "34679ACEFGHKMNPRTWXY"
LENGTH = 12
GROUP = 4
VALIDITY_DAYS = 21

# scrypt cost: about 50 ms and 16 MiB per check, slow enough to make guessing
# expensive, cheap enough for the portal's login rate.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32

RandomIndex = Callable[[int], int]


class OneTimePassword:
    """A generated password; its value is shown only by ``reveal()`` and ``grouped()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def grouped(self) -> str:
        """The password in groups of four, as printed: ``K7MX-3CPA-9TWE``."""
        v = self._value
        return "-".join(v[i : i + GROUP] for i in range(0, len(v), GROUP))

    def __repr__(self) -> str:
        return "OneTimePassword(<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class PasswordRecord:
    """What is kept of a password: the encoded scrypt hash and the last valid day."""

    hash: str
    expires_on: date


def generate(randbelow: RandomIndex = secrets.randbelow) -> OneTimePassword:
    """A fresh password. ``randbelow`` is replaceable only so tests can be reproducible."""
    return OneTimePassword("".join(ALPHABET[randbelow(len(ALPHABET))] for _ in range(LENGTH)))


def expiry(letter_date: date, deadline: date) -> date:
    """The last day the password works: 21 days after the letter date, never before
    the payment deadline (a debtor must be able to log in until then)."""
    return max(letter_date + timedelta(days=VALIDITY_DAYS), deadline)


def normalise(typed: str) -> str:
    """What the debtor typed, as stored: upper case, no spaces or hyphens."""
    return "".join(ch for ch in typed.upper() if ch not in " -\t")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("ascii", "replace"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r,
        dklen=_HASH_BYTES,
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: OneTimePassword, expires_on: date) -> PasswordRecord:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password.reveal(), salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    encoded = f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"
    return PasswordRecord(hash=encoded, expires_on=expires_on)


def verify(typed: str, record: PasswordRecord, today: date) -> bool:
    """True when ``typed`` is the password of ``record`` and it has not expired.

    The debtor portal calls this; ``today`` is the portal's date in Norway.
    """
    if today > record.expires_on:
        return False
    try:
        scheme, n, r, p, salt, digest = record.hash.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(normalise(typed), base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
