"""``python -m tests.support.relay_kill N``: the events relay, killed with SIGKILL right
after its N-th publish is confirmed and before the outbox hears of it.

The settings come from the environment, as for ``letters``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from letters.config import Settings
from letters.ledger import Ledger
from letters.messaging.broker import Publisher
from letters.messaging.event_relay import open_relay


def main() -> None:
    kill_after = int(sys.argv[1])
    settings = Settings.from_env()
    ledger = Ledger.for_settings(settings)
    relay = open_relay(settings, ledger)
    published = 0

    def open_publisher() -> Publisher:
        publisher = Publisher.open(settings)
        publish_event = publisher.publish_event

        def publish_then_die(*args: Any, **kwargs: Any) -> None:
            nonlocal published
            publish_event(*args, **kwargs)
            published += 1
            if published == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

        publisher.publish_event = publish_then_die  # type: ignore[method-assign]
        return publisher

    relay.open_publisher = open_publisher
    relay.relay()


if __name__ == "__main__":
    main()
