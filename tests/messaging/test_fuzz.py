"""The fuzz run, short: a seeded mix of hostile bodies through a real worker on each transport."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.summaries import summary_of

ROOT = Path(__file__).parents[2]


def _fuzz(transport: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.fuzz", "--bodies", "120", "--transport", transport],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize(
    "transport", ["embedded", pytest.param("rabbitmq", marks=pytest.mark.services)]
)
def test_every_hostile_body_is_dead_lettered_or_a_valid_letter(transport: str) -> None:
    if transport == "rabbitmq":
        from tests.support.stacks import require_postgres, require_rabbitmq

        require_rabbitmq()
        require_postgres()
    counts = summary_of(_fuzz(transport), "fuzz")["transports"][transport]
    assert counts["bodies"] == 120 and 0 < counts["valid"] < 120, counts
    assert counts["accepted"] + counts["dead_lettered"] == 120, counts
    for failure in ("lost", "invalid_accepted", "valid_refused"):
        assert counts[failure] == [], counts
    assert counts["undelivered"] == counts["crashed"] == 0, counts
