"""One-time passwords for the debtor portal.

The password is drawn from a cryptographic source, printed only in the letter
and kept only as a keyed hash with its expiry: HMAC-SHA256 under a secret
pepper that is never stored in the ledger (``letters.domain.pepper``), with a
salt per password. A 12-character password from 20 symbols holds about 52
bits and lives 21 days: without the pepper, a stolen ledger gives nothing to
guess against; with the pepper too, each guess costs one HMAC (the README's
threat model has the figures). Records of earlier releases, hashed with
scrypt (``scrypt$…``), still verify.

``OneTimePassword`` hides its value from ``repr`` and ``str`` so that it cannot
leak into a log line or an error message by accident; ``reveal()`` is the one
way to read it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

# No look-alikes: 0/O/Q/D, 1/I/L/J, 2/Z, 5/S, 8/B and U/V are left out.
ALPHABET = "34679ACEFGHKMNPRTWXY"
LENGTH = 12
GROUP = 4
VALIDITY_DAYS = 21

_SALT_BYTES = 16
_HASH_BYTES = 32
HMAC_SCHEME = "hmac-sha256"
# Earlier releases: scrypt (N=2^14, r=8, p=1), read only.
SCRYPT_SCHEME = "scrypt"
PEPPER_MIN_BYTES = 32

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
class Pepper:
    """The secret key of the password hash. Its id, stored with each hash, names it
    without revealing it, so that a rotated pepper can still check older records."""

    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"letters password pepper id\x00" + self.secret).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"Pepper(<hidden>, key_id={self.key_id!r})"


@dataclass(frozen=True, slots=True)
class PasswordRecord:
    """What is kept of a password: the encoded hash (its scheme first) and the last valid day."""

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


def _keyed(pepper: Pepper, salt: bytes, password: str) -> bytes:
    return hmac.new(
        pepper.secret, salt + b"\x00" + password.encode("ascii", "replace"), hashlib.sha256
    ).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: OneTimePassword, expires_on: date, pepper: Pepper) -> PasswordRecord:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _keyed(pepper, salt, password.reveal())
    encoded = f"{HMAC_SCHEME}${pepper.key_id}${_b64(salt)}${_b64(digest)}"
    return PasswordRecord(hash=encoded, expires_on=expires_on)


def verify(typed: str, record: PasswordRecord, today: date, peppers: Sequence[Pepper] = ()) -> bool:
    """True when ``typed`` is the password of ``record`` and it has not expired.

    The debtor portal calls this; ``today`` is the portal's date in Norway, and
    ``peppers`` the current pepper and any it replaced.
    """
    if today > record.expires_on:
        return False
    try:
        scheme, rest = record.hash.split("$", 1)
        if scheme == HMAC_SCHEME:
            key_id, salt, digest = rest.split("$")
            pepper = next((p for p in peppers if p.key_id == key_id), None)
            if pepper is None:
                return False
            actual = _keyed(pepper, base64.b64decode(salt), normalise(typed))
        elif scheme == SCRYPT_SCHEME:
            n, r, p, salt, digest = rest.split("$")
            actual = _scrypt(normalise(typed), base64.b64decode(salt), int(n), int(r), int(p))
        else:
            return False
        expected = base64.b64decode(digest)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
