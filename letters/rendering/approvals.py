"""Legal's approvals of the letter templates, kept in the repository beside them.

``templates/approved.json`` holds, per template (``nb/purring`` …), the
template version legal approved (the content hash of every file that shapes
the letter), who approved it and when, and every earlier approval. Beside
it, ``templates/approved/<language>/<letter_type>/`` keeps what the approved
version looked like for each preview scenario (its text and page images), so
the preview can show what changed since.

With ``LETTERS_REQUIRE_APPROVED_TEMPLATES`` on (production), the renderer
refuses a template whose version is not the approved one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from letters.config.declared import REQUIRE_APPROVED_TEMPLATES
from letters.domain.letter_types import Language, LetterType
from letters.errors import ConfigurationError

APPROVALS_FILE = "approved.json"
SNAPSHOTS_DIR = "approved"


class TemplateNotApprovedError(ConfigurationError):
    """The worker is told to use only approved templates, and this one is not."""


@dataclass(frozen=True, slots=True)
class Approval:
    template: str
    version: str
    approved_by: str
    approved_at: str


def template_key(letter_type: LetterType, language: Language) -> str:
    return f"{language.value}/{letter_type.value}"


def all_template_keys() -> list[tuple[LetterType, Language]]:
    return [(t, lang) for t in LetterType for lang in Language]


class ApprovalBook:
    def __init__(self, templates_dir: Path) -> None:
        self.path = templates_dir / APPROVALS_FILE
        self.snapshots = templates_dir / SNAPSHOTS_DIR

    def current(self, key: str) -> Approval | None:
        entry = self._read()["templates"].get(key)
        return Approval(**entry) if entry else None

    def state(self, key: str, version: str) -> str:
        """``approved``, ``changed`` (an earlier version was approved) or ``not approved``."""
        approval = self.current(key)
        if approval is None:
            return "not approved"
        return "approved" if approval.version == version else "changed"

    def record(self, key: str, version: str, by: str, at: datetime | None = None) -> Approval:
        if not by.strip():
            raise ValueError("--by: the approver's name is required")
        moment = (at or datetime.now(UTC)).isoformat(timespec="seconds")
        approval = Approval(key, version, by.strip(), moment)
        data = self._read()
        data["templates"][key] = asdict(approval)
        data["history"].append(asdict(approval))
        _write_atomically(self.path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return approval

    def snapshot_dir(self, letter_type: LetterType, language: Language) -> Path:
        return self.snapshots / language.value / letter_type.value

    def check(self, letter_type: LetterType, language: Language, version: str) -> None:
        """Raise TemplateNotApprovedError unless ``version`` is the approved one."""
        key = template_key(letter_type, language)
        approval = self.current(key)
        if approval is None:
            raise TemplateNotApprovedError(
                f"template {key} (version {version}) has never been approved by legal; "
                f"approve it with `letters approve {key} --by NAME` after review "
                f"({REQUIRE_APPROVED_TEMPLATES} is on)"
            )
        if approval.version != version:
            raise TemplateNotApprovedError(
                f"template {key} is version {version}, but legal approved "
                f"{approval.version} ({approval.approved_by}, {approval.approved_at}); "
                "review the preview and approve it, or deploy the approved templates "
                f"({REQUIRE_APPROVED_TEMPLATES} is on)"
            )

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"templates": {}, "history": []}
        except (OSError, ValueError) as err:
            raise ConfigurationError(f"{self.path}: not a readable approvals file: {err}") from err
        if not isinstance(data, dict) or not isinstance(data.get("templates"), dict):
            raise ConfigurationError(f"{self.path}: has no 'templates' object")
        data.setdefault("history", [])
        return data


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)
