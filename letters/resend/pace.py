"""A steady pace for bulk jobs: at most N letters per second, evenly spaced.

No bursts: after a pause the job does not catch up, so Digipost and the print
house never see more than the agreed rate in any second.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$")
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``20/s``, ``600/min``, ``5000/h`` or a plain number per second."""
        match = _RATE.match(text)
        if not match or float(match[1]) <= 0:
            raise ValueError(f"not a rate like 20/s, 600/min or 5000/h: {text!r}")
        return cls(float(match[1]) / _PER[match[2] or "s"])

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    def __str__(self) -> str:
        return f"{self.per_second:g}/s"


class RateLimiter:
    def __init__(
        self,
        rate: Rate,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    def wait(self) -> None:
        """Return when the next letter may go."""
        now = self._clock()
        if self._next is not None and self._next > now:
            self._sleep(self._next - now)
            now = self._clock()
        self._next = max(now, self._next or now) + self.rate.interval
