"""Every benchmark runs at a tiny size, so none of them rots between the runs that measure.

These check that each benchmark finishes and prints its figures; they never
judge a figure (speed is measured by the benchmarks themselves, in one run).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def _bench(module: str, *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_the_render_benchmark_runs() -> None:
    out = _bench("render", "--letters", "2")
    assert "naive: 2 letters" in out and "project: 2 letters" in out
    assert "ratio: the project's renderer is" in out


def test_the_digipost_benchmark_runs() -> None:
    out = _bench("digipost", "--letters", "3")
    assert "identify:" in out and "printability check:" in out and "send:" in out


def test_the_print_benchmark_runs() -> None:
    out = _bench("print_batch", "--letters", "4", "--processes", "1")
    assert "batch of 4 letters" in out and "letters/s" in out


def test_the_resend_benchmark_runs_on_the_embedded_stack() -> None:
    out = _bench("resend", "--letters", "6", "--renew", "4", "--ratio-letters", "4",
                 "--stack", "embedded")  # fmt: skip
    jobs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [(j["job"], j["processes"]) for j in jobs] == [
        ("copy", 1), ("renew1", 1), ("renew2", 2), ("renew", 2)
    ]  # fmt: skip
    assert all(j["sent"] == j["letters"] and j["failed"] == 0 for j in jobs), jobs
    assert all(j["hours_for_100000"] > 0 for j in jobs), jobs
    assert "embedded: renew jobs of 4 letters" in out and "speed-up" in out


@pytest.mark.services
def test_the_worker_benchmark_runs_to_its_figures() -> None:
    from tests.support.stacks import require_postgres, require_rabbitmq

    require_rabbitmq()
    require_postgres()
    out = _bench("worker", "--letters", "4", "--memory-letters", "6")
    assert "1 process(es):" in out and "2 process(es):" in out
    assert "renderer alone (compose + render, one process, in turns" in out
    assert "end-to-end per process / renderer alone:" in out
    assert "speed-up with 2 processes" in out
    assert "worker RSS at 6 checkpoints (MiB):" in out
