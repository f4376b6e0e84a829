"""The soak, short: a few dozen letters, kills, one restart of RabbitMQ and of PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.summaries import summary_of

ROOT = Path(__file__).parents[2]


# It restarts RabbitMQ and PostgreSQL: run alone, after the tests that run in parallel.
@pytest.mark.disruptive
@pytest.mark.services
def test_the_short_soak_loses_nothing_and_sends_nothing_twice() -> None:
    from tests.support.stacks import require_postgres, require_rabbitmq

    require_rabbitmq()
    require_postgres()
    result = _soak("--letters", "30", "--kills", "3")
    out = result.stdout
    soak = summary_of(out, "soak")
    assert (soak["broker_restarts"], soak["database_restarts"]) == (1, 1), soak
    assert soak["letters"] == 30 and soak["to_digipost"] + soak["to_print"] == 30, soak
    assert soak["kills"] >= 1, soak
    for failure in ("lost", "sent_twice", "misrouted", "unfinished"):
        assert soak[failure] == [], soak
    assert result.returncode == 0, out + result.stderr[-3000:]


# Three RabbitMQ nodes and two PostgreSQL servers of its own, on ports of their own: beside
# the disruptive tests, which restart only the machine's RabbitMQ and PostgreSQL.
@pytest.mark.cluster
@pytest.mark.services
def test_the_short_cluster_soak_counts_every_letter_through_each_fault() -> None:
    result = _soak("--cluster", "--letters", "20", "--kills", "3")
    out = result.stdout
    soak = summary_of(out, "soak-cluster")
    assert sorted(soak["faults"]) == ["database failover", "leader kill", "partition"], soak
    assert soak["letters"] == 20 and soak["replication"] == "synchronous", soak
    for failure in ("lost", "sent_twice", "misrouted", "unfinished", "events_missing",
                    "events_out_of_order", "events_unknown", "events_conflicting"):  # fmt: skip
        assert soak[failure] == [], soak
    assert soak["events_received"] >= 3 * 20, soak
    assert soak["commits_forgotten"] == 0, soak
    assert result.returncode == 0, out + result.stderr[-3000:]


def _soak(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
