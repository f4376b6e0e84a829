"""Secret and private files: a pepper or a key the platform's secret store mounts, or one
made once; files readable by their owner only.

On the embedded default the service makes its own secrets under ``var/``,
readable by their owner only. A file is created exclusively and written in
full before anyone reads it, so two processes starting at once agree on it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from letters.errors import ConfigurationError


def read_secret(path: Path, setting: str, min_bytes: int) -> bytes:
    """The file's contents, stripped; ConfigurationError naming ``setting`` if unusable, or
    if anyone but its owner may read or change it (as ssh refuses a private key)."""
    try:
        mode = path.stat().st_mode & 0o777
        raw = path.read_bytes().strip()
    except OSError as err:
        raise ConfigurationError(f"{setting}: cannot read {path}: {err.strerror}") from err
    if mode & 0o077:
        raise ConfigurationError(
            f"{setting}: permissions {mode:04o} for {path} are too open: a secret must be "
            f"readable by its owner only (chmod 600 {path}; in Kubernetes, defaultMode 0400)"
        )
    if len(raw) < min_bytes:
        raise ConfigurationError(
            f"{setting}: {path} holds {len(raw)} bytes; at least {min_bytes} are needed "
            f"(for example: head -c 32 /dev/urandom | base64 > {path})"
        )
    return raw


def read_key(path: Path, setting: str) -> bytes:
    """A 256-bit key written as base64 (what ``make_secret_file`` writes)."""
    text = read_secret(path, setting, 32)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ConfigurationError(f"{setting}: {path} is not a base64 key") from err
    if len(key) != 32:
        raise ConfigurationError(
            f"{setting}: {path} holds a {len(key) * 8}-bit key; a 256-bit one is needed "
            f"(head -c 32 /dev/urandom | base64 > {path})"
        )
    return key


def make_secret_file(path: Path, setting: str, min_bytes: int = 32) -> bytes:
    """The secret in ``path``, made (32 random bytes as base64, mode 600) if there is none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Made by another process, which may still be writing it.
        for _ in range(100):
            raw = path.read_bytes().strip()
            if len(raw) >= min_bytes:
                return raw
            time.sleep(0.02)
        return read_secret(path, setting, min_bytes)
    with os.fdopen(descriptor, "wb") as out:
        out.write(base64.b64encode(secrets.token_bytes(32)) + b"\n")
        out.flush()
        os.fsync(out.fileno())
    return read_secret(path, setting, min_bytes)


def write_private_file(path: Path, data: bytes) -> None:
    """``data`` written whole beside ``path``, readable by its owner only, then renamed into
    place, so that no reader ever sees part of it."""
    with private_file_writer(path) as file:
        file.write(data)


@contextmanager
def private_file_writer(path: Path) -> Iterator[BinaryIO]:
    """A file to write ``path`` through, piece by piece: readable by its owner only, and
    renamed into place only when the block ends without an error (else removed), so that
    no reader ever sees part of it and a failed write leaves nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
