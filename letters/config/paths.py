"""Where the service finds its own files: the project, the templates, the example profile."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = PROJECT_ROOT / "templates"
EXAMPLE_PROFILE = Path(__file__).resolve().parents[1] / "example_agency.toml"


def default_templates() -> Path:
    # From a checkout the templates sit beside the package; from a wheel, inside it.
    packaged = Path(__file__).resolve().parents[1] / "_data" / "templates"
    return TEMPLATES_DIR if TEMPLATES_DIR.is_dir() else packaged
