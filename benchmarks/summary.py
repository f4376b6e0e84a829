"""Each benchmark's last line: one JSON object of its figures, which the suite reads."""

from __future__ import annotations

import json
from typing import Any


def print_summary(benchmark: str, **figures: Any) -> None:
    """Print ``{"summary": benchmark, ...figures}`` on one line, last on stdout."""
    print(json.dumps({"summary": benchmark, **figures}, default=str), flush=True)
