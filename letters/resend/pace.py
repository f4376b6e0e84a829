"""A steady pace for bulk jobs: at most N letters per second, evenly spaced.

No bursts: after a pause the job does not catch up, so Digipost and the print
house never see more than the agreed rate in any second.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from letters.config import Rate


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
