"""The settings table of ``docs/configuration.md``, made from the declarations.

``python -m letters.config.page`` exits 1 when the page's table differs from
the declarations; ``--write`` makes it again. The test suite holds them equal.
"""

from __future__ import annotations

import sys
from pathlib import Path

from letters.config.declared import SETTINGS

CONFIGURATION_PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
TABLE_START = "<!-- settings: made from letters/config/declared.py; do not edit by hand -->"
TABLE_END = "<!-- end of settings -->"


def settings_table() -> str:
    """The configuration page's table of settings, between its two markers."""
    rows = [
        TABLE_START,
        "",
        "| variable | meaning | default |",
        "| --- | --- | --- |",
        *(f"| `{s.name}` | {_cell(s.doc)} | {_cell(s.default_doc)} |" for s in SETTINGS),
        "",
        TABLE_END,
    ]
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def page_with_table(page: str) -> str:
    """``page`` with its settings table made again from the declarations."""
    start, end = page.index(TABLE_START), page.index(TABLE_END) + len(TABLE_END)
    return page[:start] + settings_table() + page[end:]


if __name__ == "__main__":
    current = CONFIGURATION_PAGE.read_text(encoding="utf-8")
    made = page_with_table(current)
    if "--write" in sys.argv:
        CONFIGURATION_PAGE.write_text(made, encoding="utf-8")
    elif made != current:
        sys.exit(f"{CONFIGURATION_PAGE}: the settings table differs; run with --write")
