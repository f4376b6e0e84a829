"""The fuzz run, short: a seeded mix of hostile bodies through a real worker on each transport."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
    out = _fuzz(transport)
    assert f"fuzz on {transport}: 120 bodies" in out
    for count in ("lost 0", "invalid accepted 0", "valid refused 0", "undelivered 0", "crashed 0"):
        assert count in out, out
