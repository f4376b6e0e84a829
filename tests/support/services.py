"""Breaking the machine's RabbitMQ and PostgreSQL on purpose, as an operator would."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def restart_rabbitmq(down_s: float = 2.0) -> None:
    """Stop the RabbitMQ node's app and start it again."""
    stop_rabbitmq()
    time.sleep(down_s)
    start_rabbitmq()


def stop_rabbitmq() -> None:
    """Stop the RabbitMQ node's app: every connection is refused until it starts again."""
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=120)


def start_rabbitmq() -> None:
    subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=120)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=True, timeout=120)


def drop_broker_connections() -> None:
    """The broker closes every client connection, as a lost heartbeat would."""
    subprocess.run(
        ["rabbitmqctl", "-q", "close_all_connections", "test: connection dropped"],
        check=True,
        timeout=60,
    )


def restart_postgres() -> None:
    """Restart the PostgreSQL cluster: every connection and advisory lock is gone."""
    _pg_ctlcluster("restart")


def stop_postgres() -> None:
    """Stop the PostgreSQL cluster fast (``-m fast``): it is down until started again."""
    _pg_ctlcluster("stop", "-m", "fast")


def start_postgres() -> None:
    _pg_ctlcluster("start")


def _pg_ctlcluster(action: str, *options: str) -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *options],
        check=True,
        timeout=120,
    )


def queue_type(name: str) -> str | None:
    """The type RabbitMQ reports for a queue (classic, quorum), or None if there is none."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "type", "--no-table-headers"],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    for line in listed.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name:
            return parts[1]
    return None
