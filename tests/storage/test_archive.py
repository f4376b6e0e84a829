"""The local archive: create-only writes keyed by letter id."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from letters.errors import ConfigurationError, PermanentError
from letters.storage.archive import (
    ArchiveConflictError,
    LocalArchive,
    NotArchivedError,
    archive_key,
    open_archive,
)

KEY = archive_key(date(2026, 11, 23), "4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61")


def test_keys_hold_the_date_and_letter_id_only() -> None:
    assert KEY == "2026/11/23/4f7c2b8e-9a51-4d7e-8a7b-2d3c1e0f9a61.pdf"


def test_a_second_write_of_the_same_pdf_is_a_no_op(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    assert archive.put(KEY, b"%PDF-1.7 one") is True
    assert archive.put(KEY, b"%PDF-1.7 one") is False
    assert archive.get(KEY) == b"%PDF-1.7 one"
    assert archive.exists(KEY)
    assert [p.name for p in (tmp_path / "2026/11/23").iterdir()] == [KEY.rsplit("/", 1)[1]]


def test_a_different_pdf_under_the_same_key_is_refused(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    archive.put(KEY, b"%PDF-1.7 one")
    with pytest.raises(ArchiveConflictError, match="different content is already stored") as raised:
        archive.put(KEY, b"%PDF-1.7 two")
    assert isinstance(raised.value, PermanentError)
    assert archive.get(KEY) == b"%PDF-1.7 one"


def test_missing_letters_and_bad_keys(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    with pytest.raises(NotArchivedError):
        archive.get(KEY)
    with pytest.raises(ValueError, match="not a name inside the archive"):
        archive.get("../../etc/passwd.pdf")


def test_archive_urls(tmp_path: Path) -> None:
    assert isinstance(open_archive(str(tmp_path)), LocalArchive)
    assert isinstance(open_archive(f"file://{tmp_path}"), LocalArchive)
    with pytest.raises(ConfigurationError, match="LETTERS_ARCHIVE_URL"):
        open_archive("ftp://example/archive")
