"""The soak, short: a few dozen letters, kills, one restart of RabbitMQ and of PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.services
def test_the_short_soak_loses_nothing_and_sends_nothing_twice() -> None:
    from tests.support.stacks import require_postgres, require_rabbitmq

    require_rabbitmq()
    require_postgres()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--letters", "30", "--kills", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = result.stdout
    assert "1 RabbitMQ restart(s), 1 PostgreSQL restart(s)" in out, out + result.stderr[-3000:]
    for count in ("lost       0", "sent twice 0", "misrouted  0", "unfinished 0"):
        assert count in out, out
    assert result.returncode == 0, out
