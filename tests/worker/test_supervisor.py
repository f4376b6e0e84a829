"""The supervisor of a worker group: its workers never outlive it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.support.stacks import Stack, sample_request, wait_for


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The parent's pid is the second field after the process name in brackets.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_stop_when_their_supervisor_is_killed(embedded: Stack) -> None:
    group = embedded.start_worker("--concurrency", "2")
    workers = wait_for(
        lambda: (
            [p for p in _children(group.pid) if _alive(p)][:2]
            if len([p for p in _children(group.pid) if _alive(p)]) >= 2
            else None
        ),
        timeout=60,
        what="two worker processes",
    )
    wait_for(
        lambda: embedded.log_file().read_text().count('"worker started"') >= 2,
        timeout=60,
        what="both workers consuming",
    )
    os.kill(group.pid, signal.SIGKILL)
    group.wait(timeout=10)

    started = time.monotonic()
    wait_for(lambda: not any(_alive(p) for p in workers), timeout=30, what="the workers to stop")
    assert time.monotonic() - started < 30
    assert embedded.log_file().read_text().count("supervisor gone; stopping") == 2


def test_a_worker_finishes_the_letter_in_hand_when_its_supervisor_dies(embedded: Stack) -> None:
    letter = sample_request("purring-nb-plain")
    embedded.plan({letter["letter_id"]: ["slow:4"]})
    embedded.publish(letter)
    group = embedded.start_worker("--concurrency", "2")
    wait_for(lambda: embedded.attempts(letter["letter_id"]), timeout=60, what="the send to start")
    workers = _children(group.pid)
    os.kill(group.pid, signal.SIGKILL)
    group.wait(timeout=10)

    wait_for(lambda: not any(_alive(p) for p in workers), timeout=60, what="the workers to stop")
    assert [d["letter_id"] for d in embedded.delivered()] == [letter["letter_id"]]
    record = embedded.ledger.get(letter["letter_id"])
    assert record is not None and record.status == "delivered"
