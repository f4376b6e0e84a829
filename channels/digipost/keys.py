"""Keys and certificates for Digipost: load the sender's enterprise key, make test pairs.

The enterprise key is a PKCS#12 file (what Digipost and Buypass hand out) or
a PEM private key. Errors name the setting, never the password.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from letters.config.declared import DIGIPOST_KEY, DIGIPOST_KEY_PASSWORD
from letters.errors import ConfigurationError
from letters.secret_files import write_private_file

KEY_SETTING = DIGIPOST_KEY.name
PASSWORD_SETTING = DIGIPOST_KEY_PASSWORD.name
# The embedded default's generated key; a real one comes from Digipost or Buypass.
TEST_KEY_PASSWORD = "letters-test-key"  # noqa: S105 - protects a throw-away test key only


@dataclass(frozen=True, slots=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_sender_key(path: Path, password: str) -> rsa.RSAPrivateKey:
    """The RSA key from a PKCS#12 file or a PEM file; ConfigurationError naming the setting."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigurationError(
            f"{KEY_SETTING}: cannot read the Digipost key file {path}: {err.strerror}"
        ) from err
    secret = password.encode("utf-8") if password else None
    key: object
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, secret)
        else:
            key, _cert, _chain = pkcs12.load_key_and_certificates(data, secret)
    except (ValueError, TypeError) as err:
        # cryptography says "bad decrypt", "Invalid password" or "Could not
        # deserialize": all mean the password or the file is wrong.
        raise ConfigurationError(
            f"{KEY_SETTING}/{PASSWORD_SETTING}: cannot open the Digipost key {path}: "
            "wrong password, or not a PKCS#12 or PEM private key"
        ) from err
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(
            f"{KEY_SETTING}: {path} holds no RSA private key; Digipost signs with RSA"
        )
    return key


def load_certificate(path: Path, setting: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as err:
        raise ConfigurationError(f"{setting}: cannot read {path}: {err.strerror}") from err
    except ValueError as err:
        raise ConfigurationError(f"{setting}: {path} is not a PEM X.509 certificate") from err


def certificate_from_pem(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def generate_pair(common_name: str, now: datetime | None = None) -> KeyPair:
    """A fresh RSA-2048 key with a self-signed certificate (tests and the local double)."""
    now = now or datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, certificate)


def write_pkcs12(pair: KeyPair, path: Path, password: str) -> None:
    data = pkcs12.serialize_key_and_certificates(
        b"letters",
        pair.key,
        pair.certificate,
        None,
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )
    write_private_file(path, data)


def write_pem(pair: KeyPair, key_path: Path, certificate_path: Path) -> None:
    key = pair.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private_file(key_path, key)
    certificate_path.write_text(pair.certificate_pem(), encoding="ascii")


def load_pem_pair(key_path: Path, certificate_path: Path) -> KeyPair:
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(f"{key_path}: not an RSA private key")
    return KeyPair(key, x509.load_pem_x509_certificate(certificate_path.read_bytes()))


@dataclass(frozen=True, slots=True)
class TestKeys:
    """Generated keys for the embedded default: the sender's and the local double's."""

    sender_key: Path  # PKCS#12, protected by TEST_KEY_PASSWORD
    sender_certificate: Path
    digipost_key: Path
    digipost_certificate: Path

    def digipost_pair(self) -> KeyPair:
        return load_pem_pair(self.digipost_key, self.digipost_certificate)


def ensure_test_keys(folder: Path) -> TestKeys:
    """The test keys in ``folder``, generated on first use (once, across processes)."""
    keys = TestKeys(
        sender_key=folder / "sender.p12",
        sender_certificate=folder / "sender-certificate.pem",
        digipost_key=folder / "digipost-key.pem",
        digipost_certificate=folder / "digipost-certificate.pem",
    )
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(p.exists() for p in (keys.sender_key, keys.sender_certificate)):
            sender = generate_pair("Letters test sender")
            write_pkcs12(sender, keys.sender_key, TEST_KEY_PASSWORD)
            keys.sender_certificate.write_text(sender.certificate_pem(), encoding="ascii")
        if not all(p.exists() for p in (keys.digipost_key, keys.digipost_certificate)):
            write_pem(
                generate_pair("Local Digipost double"), keys.digipost_key, keys.digipost_certificate
            )
    return keys
