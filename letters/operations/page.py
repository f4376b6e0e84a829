"""The operations page as HTML: Jinja2 with autoescape, so no value from the ledger or
the broker (a reason, a note) can add markup."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jinja2

from letters.clock import OSLO
from letters.delivery.print_answers import next_step
from letters.operations.snapshot import Snapshot

PAGES_DIR = Path(__file__).with_name("pages")
REFRESH_S = 30


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(OSLO).strftime("%Y-%m-%d %H:%M:%S")


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PAGES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_ENV.filters["when"] = _when
_ENV.filters["next_step"] = next_step


def render_page(snapshot: Snapshot) -> str:
    return _ENV.get_template("operations.html").render(snap=snapshot, refresh_s=REFRESH_S)
