"""A create-only store in a directory tree: files are written once and never replaced."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from letters.storage.base import ObjectConflictError, ObjectNotFoundError, StoreUnavailableError


class DirectoryStore:
    """A directory tree; files are written once and never replaced."""

    def __init__(self, root: Path, label: str = "archive") -> None:
        self.root = root
        self.label = label

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()) or path == self.root.resolve():
            raise ValueError(f"not a name inside the {self.label}: {name!r}")
        return path

    def put(self, name: str, body: bytes, content_type: str = "application/pdf") -> bool:
        target = self._path(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as temp:
                    temp.write(body)
                    temp.flush()
                    os.fsync(temp.fileno())
                # link() fails if the name exists, so a concurrent writer can
                # never replace a file another process has already stored.
                os.link(temp_name, target)
            except FileExistsError:
                if _sha256(target.read_bytes()) != _sha256(body):
                    raise ObjectConflictError(
                        f"{self.label} {name}: different content is already stored there"
                    ) from None
                return False
            finally:
                Path(temp_name).unlink(missing_ok=True)
            _fsync_dir(target.parent)
            return True
        except OSError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {err.strerror or err}") from err

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"{self.label} {name}: not found") from None
        except OSError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {err.strerror or err}") from err

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def check_reachable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreUnavailableError(f"{self.label} {self.root}: {err.strerror or err}") from err
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreUnavailableError(f"{self.label} {self.root}: not writable")

    def location(self, name: str) -> str:
        return str(self._path(name))

    def names(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        try:
            found = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        except FileNotFoundError:
            return []
        except OSError as err:
            raise StoreUnavailableError(f"{self.label} {prefix}: {err.strerror or err}") from err
        return sorted(str(p.relative_to(self.root)) for p in found)

    def remove(self, name: str) -> None:
        target = self._path(name)
        try:
            target.unlink(missing_ok=True)
        except OSError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {err.strerror or err}") from err
        _fsync_dir(target.parent)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
