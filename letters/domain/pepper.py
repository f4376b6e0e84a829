"""Where the one-time password pepper comes from: a secret file, never the ledger.

In production the pepper is a file the platform's secret store mounts, named
by ``LETTERS_PASSWORD_PEPPER_FILE``; every worker and the portal read the same
one. On the embedded default (a SQLite ledger under ``var/``) one is made
once, as ``var/password-pepper``, readable by its owner only. A shared ledger
without the setting is a configuration error: a pepper made on one machine
would not verify on another, and a letter is never hashed without one.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from pathlib import Path

from letters.config import Settings
from letters.domain.otp import PEPPER_MIN_BYTES, Pepper
from letters.errors import ConfigurationError

PEPPER_FILE_NAME = "password-pepper"
SETTING = "LETTERS_PASSWORD_PEPPER_FILE"


def load_pepper(settings: Settings) -> Pepper:
    """The pepper the settings name, or the embedded default's, made on first use."""
    if settings.password_pepper_file is not None:
        return Pepper(_read(settings.password_pepper_file))
    if not settings.database_url.startswith("sqlite"):
        raise ConfigurationError(
            f"{SETTING} is not set: with a shared ledger (LETTERS_DATABASE_URL) every worker "
            "and the portal need the same password pepper, from the secret store"
        )
    return Pepper(_made_once(settings.var_dir / PEPPER_FILE_NAME))


def _read(path: Path) -> bytes:
    try:
        raw = path.read_bytes().strip()
    except OSError as err:
        raise ConfigurationError(f"{SETTING}: cannot read {path}: {err.strerror}") from err
    if len(raw) < PEPPER_MIN_BYTES:
        raise ConfigurationError(
            f"{SETTING}: {path} holds {len(raw)} bytes; a pepper needs at least "
            f"{PEPPER_MIN_BYTES} (for example: head -c 32 /dev/urandom | base64 > {path})"
        )
    return raw


def make_pepper_file(path: Path) -> Path:
    """A new pepper file, readable by its owner only (for a secret store, or a test stack);
    an existing one is kept."""
    _made_once(path)
    return path


def _made_once(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Made by another process, which may still be writing it.
        for _ in range(100):
            raw = path.read_bytes().strip()
            if len(raw) >= PEPPER_MIN_BYTES:
                return raw
            time.sleep(0.02)
        return _read(path)
    with os.fdopen(descriptor, "wb") as out:
        out.write(base64.b64encode(secrets.token_bytes(32)) + b"\n")
        out.flush()
        os.fsync(out.fileno())
    return _read(path)
