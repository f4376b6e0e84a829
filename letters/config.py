"""Settings from ``LETTERS_*`` environment variables, each with a safe embedded default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from letters.profile import EXAMPLE_PROFILE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"


@dataclass(frozen=True, slots=True)
class Settings:
    agency_profile: Path
    templates_dir: Path
    var_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        var_dir = Path(env.get("LETTERS_VAR_DIR", PROJECT_ROOT / "var"))
        return cls(
            agency_profile=Path(env.get("LETTERS_AGENCY_PROFILE", EXAMPLE_PROFILE)),
            templates_dir=Path(env.get("LETTERS_TEMPLATES_DIR", _default_templates())),
            var_dir=var_dir,
        )


def _default_templates() -> Path:
    # From a checkout the templates sit beside the package; from a wheel, inside it.
    packaged = Path(__file__).resolve().parent / "_data" / "templates"
    return TEMPLATES_DIR if TEMPLATES_DIR.is_dir() else packaged
