"""Broker and database URLs that name more than one node: the service uses the live one.

The first part of running on a cluster (issue 34): a node that is down is passed
over when connecting. Here the node that is down is a port nothing listens on.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from letters.config import Settings
from letters.ledger import LetterStatus
from letters.worker.health import ServiceProbe
from tests.support.stacks import RABBITMQ_URL, Stack, sample_request

pytestmark = pytest.mark.services

# A node that is down: nothing listens on port 1.
DOWN = "127.0.0.1:1"


def _several_nodes_the_first_down(stack: Stack) -> None:
    # kombu's failover form: URLs joined by ";", tried in order.
    stack.env["LETTERS_BROKER_URL"] = f"amqp://guest:guest@{DOWN}//;{RABBITMQ_URL}"
    # libpq's several hosts, in SQLAlchemy's form (one "host" pair each), and only a
    # primary will do: a standby (read-only) is passed over as a host that is down is.
    url = make_url(stack.env["LETTERS_DATABASE_URL"])
    live = f"{url.host}:{url.port or 5432}"
    several = url.set(host=None, port=None).update_query_pairs(
        [("host", DOWN), ("host", live), ("target_session_attrs", "read-write")]
    )
    stack.env["LETTERS_DATABASE_URL"] = several.render_as_string(hide_password=False)


def test_letters_go_through_when_the_first_broker_node_and_database_host_are_down(
    rabbit_pg: Stack,
) -> None:
    _several_nodes_the_first_down(rabbit_pg)
    letter = sample_request()
    rabbit_pg.publish(letter)  # letters publish, through the node that is up
    rabbit_pg.run_worker()
    record = rabbit_pg.ledger.get(letter["letter_id"])
    assert record is not None and record.status is LetterStatus.DELIVERED
    [delivered] = rabbit_pg.delivered("digipost")
    assert delivered["letter_id"] == letter["letter_id"]
    status = rabbit_pg.run("status", letter["letter_id"])
    assert status.returncode == 0 and "delivered" in status.stdout, status.stderr
    # The health checks reach the node and the host that are up.
    probe = ServiceProbe(Settings.from_env(rabbit_pg.env))
    try:
        checks = {check.name: check for check in probe.readiness()}
    finally:
        probe.close()
    assert checks["broker"].ok and checks["ledger"].ok, checks
