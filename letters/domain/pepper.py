"""Where the one-time password pepper comes from: a secret file, never the ledger.

In production the pepper is a file the platform's secret store mounts, named
by ``LETTERS_PASSWORD_PEPPER_FILE``; every worker and the portal read the same
one. On the embedded default (a SQLite ledger under ``var/``) one is made
once, as ``var/password-pepper``, readable by its owner only. A shared ledger
without the setting is a configuration error: a pepper made on one machine
would not verify on another, and a letter is never hashed without one.
"""

from __future__ import annotations

from pathlib import Path

from letters.config import Settings
from letters.config.declared import DATABASE_URL, PASSWORD_PEPPER_FILE
from letters.domain.otp import PEPPER_MIN_BYTES, Pepper
from letters.errors import ConfigurationError
from letters.secret_files import make_secret_file, read_secret

PEPPER_FILE_NAME = "password-pepper"
SETTING = PASSWORD_PEPPER_FILE.name


def load_pepper(settings: Settings) -> Pepper:
    """The pepper the settings name, or the embedded default's, made on first use."""
    if settings.password_pepper_file is not None:
        return Pepper(read_secret(settings.password_pepper_file, SETTING, PEPPER_MIN_BYTES))
    if not settings.database_url.startswith("sqlite"):
        raise ConfigurationError(
            f"{SETTING} is not set: with a shared ledger ({DATABASE_URL}) every worker "
            "and the portal need the same password pepper, from the secret store"
        )
    return Pepper(make_secret_file(settings.var_dir / PEPPER_FILE_NAME, SETTING, PEPPER_MIN_BYTES))


def make_pepper_file(path: Path) -> Path:
    """A new pepper file, readable by its owner only (for a secret store, or a test stack);
    an existing one is kept."""
    make_secret_file(path, SETTING, PEPPER_MIN_BYTES)
    return path
