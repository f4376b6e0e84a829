"""Every benchmark runs at a tiny size, so none of them rots between the runs that measure.

These check that each benchmark finishes and prints its figures; they never
judge a figure (speed is measured by the benchmarks themselves, in one run).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.summaries import summary_of

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
    figures = summary_of(_bench("render", "--letters", "3", "--turns", "3"), "render")
    assert figures["letters"] == 3, figures
    assert figures["full_vs_naive"] > 0 and figures["stencil_vs_naive"] > 0, figures
    for method in ("naive", "full", "stencil"):
        assert figures[method]["letters_per_second"] > 0 and figures[method]["rss_mib"], figures
    assert sum(figures["stencil"]["layouts"].values()) == 3, figures
    assert 0 <= figures["stencil_fallback_share"] <= 1, figures


def test_the_stencil_check_runs() -> None:
    figures = summary_of(
        _bench("stencil_check", "--letters", "6", "--processes", "1"), "stencil-check"
    )
    assert figures["letters"] == 6 and figures["differing"] == 0, figures


def test_the_digipost_benchmark_runs() -> None:
    figures = summary_of(_bench("digipost", "--letters", "3"), "digipost")
    assert figures["letters"] == 3 and figures["pdf_kib"] > 0, figures
    assert figures["identify_per_s"] > 0 and figures["send_per_s"] > 0, figures
    assert figures["send_median_ms"] <= figures["send_p99_ms"], figures


def test_the_print_benchmark_runs() -> None:
    figures = summary_of(_bench("print_batch", "--letters", "4", "--processes", "1"), "print_batch")
    assert figures["letters"] == 4 and figures["sheets"] >= 4, figures
    assert figures["pages"] >= figures["sheets"] and figures["letters_per_s"] > 0, figures


def test_the_resend_benchmark_runs_on_the_embedded_stack() -> None:
    out = _bench("resend", "--letters", "6", "--renew", "4", "--ratio-letters", "4",
                 "--stack", "embedded")  # fmt: skip
    jobs = summary_of(out, "resend")["stacks"]["embedded"]
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
    figures = summary_of(out, "worker")
    assert [run["processes"] for run in figures["runs"]] == [1, 2], figures
    assert all(run["letters_per_s"] > 0 for run in figures["runs"]), figures
    assert figures["renderer_alone_per_s"] > 0 and figures["speed_up_2_processes"] > 0
    assert len(figures["memory_rss_mib"]) == 6, figures


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
)
def test_the_scale_benchmark_runs(tmp_path: Path, database: str) -> None:
    out = _bench(
        "scale", "--letters", "1000", "--sizes", "400,1000", "--probes", "5", "--fresh",
        "--database", database, "--workdir", str(tmp_path), "--database-prefix", "letters_scale_test",
        "--print-letters", "6" if database == "sqlite" else "0",
    )  # fmt: skip
    figures = summary_of(out, "scale")
    assert figures["sizes"] == [400, 1000], figures
    for size in ("400", "1000"):
        at = figures["figures"][size]
        assert at["fill"]["letters_written"] == int(size), at
        assert 0 < at["status_ms"]["median"] <= at["status_ms"]["p99"], at
        assert at["access_export"]["letters"] == 50, at
        assert at["relay"]["published"] > 0 and at["retention"]["erased"] > 0, at
        put_away = at["history_put_away"]
        assert put_away["letters"] > 0 and put_away["lines"] > put_away["letters"], at
        selection = at["resend_selection"]
        assert selection["chosen"] == selection["streamed"] > selection["month_chosen"], at
        assert at["on_disk"]["total_mib"] > 0 and at["metrics_scrape_ms"]["median"] > 0, at
    assert figures["plans"], "no query plan was captured"
    if database == "sqlite":
        assert figures["print_batch"]["letters"] == 6, figures["print_batch"]
    assert "ratio to first" in out


# The cluster soak's processes: stopped by PID when the run ends however it ends.
_OWNER = """
import subprocess, sys, time
from pathlib import Path
from tests.support.process_sweep import ProcessSweep
with ProcessSweep(Path(sys.argv[1])).owning() as sweep:
    for _ in range(2):
        child = subprocess.Popen(["sleep", "600"], start_new_session=True)
        sweep.register(child.pid, "a server")
        print(child.pid, flush=True)
    time.sleep(600)
"""


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_what_a_run_started_is_stopped_when_it_is_killed(tmp_path: Path, signal_name: str) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(tmp_path / "pids")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    children = [int(owner.stdout.readline()) for _ in range(2)]
    owner.send_signal(getattr(signal, signal_name))  # SIGKILL: no trap runs; the watcher
    owner.wait(timeout=30)
    owner.stdout.close()
    deadline = time.monotonic() + 15
    alive = children
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in children if _running(pid)]
    assert alive == [], f"still running after the run was killed with {signal_name}"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
