"""Template folders for the preview tests: a copy to edit, approve and break."""

from __future__ import annotations

import shutil
from pathlib import Path

from letters.config import PROJECT_ROOT, Settings

ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"


def template_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(PROJECT_ROOT / "templates", folder, ignore=shutil.ignore_patterns("approved*"))
    return folder


def settings_for(templates: Path, tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {"LETTERS_TEMPLATES_DIR": str(templates), "LETTERS_VAR_DIR": str(tmp_path / "var"), **env}
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# A sentence of nb/purring.html, and the reworded one the tests put in its place.
NB_PURRING_OLD = "kan du se bort fra denne påminnelsen."
NB_PURRING_NEW = "kan du se bort fra dette brevet."
