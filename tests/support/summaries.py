"""Reading a benchmark's figures from its last line (``benchmarks/summary.py``)."""

from __future__ import annotations

import json
from typing import Any


def summary_of(stdout: str, benchmark: str) -> dict[str, Any]:
    """The one summary line of ``benchmark``'s output, which must be its last line."""
    lines = stdout.strip().splitlines()
    found = [line for line in lines if line.startswith('{"summary": ')]
    assert len(found) == 1, f"expected one summary line, found {len(found)}:\n{stdout[-3000:]}"
    assert lines[-1] == found[0], "the summary line is not the last line"
    summary: dict[str, Any] = json.loads(found[0])
    assert summary["summary"] == benchmark, summary
    return summary
