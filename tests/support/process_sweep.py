"""Every process a cluster run starts, written down by PID, so that all of them stop.

The run stops them itself when it ends, on SIGTERM, SIGINT and SIGHUP too (a trap).
A run that is SIGKILLed cannot: a watcher process in a session of its own
outlives it, sees it gone, and kills every PID on the list. A PID is killed only
while it still names the process that was written down (its start time in
``/proc`` matches), never a stranger that got the number since.

    python -m tests.support.process_sweep PIDFILE   # sweep a list by hand
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat``, field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces.
    return stat.rsplit(")", 1)[1].split()[19]


class ProcessSweep:
    def __init__(self, pidfile: Path) -> None:
        self.pidfile = pidfile
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        if not pidfile.exists():
            pidfile.write_text("")

    def register(self, pid: int, what: str) -> None:
        started = _start_time(pid)
        if started is None:
            return
        with open(self.pidfile, "a", encoding="utf-8") as out:
            out.write(json.dumps({"pid": pid, "start": started, "what": what}) + "\n")

    def sweep(self) -> list[str]:
        """SIGKILL every listed process (and its process group, if it leads one) that is
        still the one listed; what was killed."""
        killed = []
        for line in self.pidfile.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            pid = int(entry["pid"])
            if _start_time(pid) != entry["start"]:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGCONT)  # a paused VM dies as it is
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
                killed.append(f"{entry['what']} ({pid})")
        self.pidfile.write_text("")
        return killed

    def watch(self, owner: int) -> subprocess.Popen[bytes]:
        """A watcher that sweeps once ``owner`` has died, however it died."""
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.process_sweep", str(self.pidfile), str(owner)],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parents[2],
        )
        return process

    @contextmanager
    def owning(self) -> Iterator[ProcessSweep]:
        """Sweep leftovers of an earlier run killed before its watcher could act; then
        sweep on the way out, on a trapped signal, and (by the watcher) after a SIGKILL."""
        left = self.sweep()
        if left:
            print(f"swept what an earlier run left running: {', '.join(left)}", file=sys.stderr)
        watcher = self.watch(os.getpid())

        def trap(signum: int, _frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        trapped = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        previous = {sig: signal.signal(sig, trap) for sig in trapped}
        try:
            yield self
        finally:
            # No second signal may stop the sweep half-way.
            for sig in trapped:
                signal.signal(sig, signal.SIG_IGN)
            self.sweep()
            watcher.kill()
            watcher.wait()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _watch(pidfile: Path, owner: int) -> None:
    while True:
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    ProcessSweep(pidfile).sweep()


if __name__ == "__main__":
    if len(sys.argv) == 3:
        _watch(Path(sys.argv[1]), int(sys.argv[2]))
    else:
        print("\n".join(ProcessSweep(Path(sys.argv[1])).sweep()))
