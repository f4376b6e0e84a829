"""The operations page beyond this machine: named host names and a token, or not at all
(privacy finding 7)."""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from letters.errors import ConfigurationError
from letters.operations.server import page_server
from letters.operations.snapshot import Snapshot
from letters.secret_files import make_secret_file

TOKEN_SETTING = "LETTERS_OPS_TOKEN_FILE"  # noqa: S105 - a setting's name


def _no_snapshot() -> Snapshot:
    raise RuntimeError("the ledger is down")  # a 503 proves the request got through


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])  # noqa: S104 - the point
def test_a_bind_beyond_loopback_without_hosts_and_a_token_is_refused(
    host: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="LETTERS_OPS_HOSTS and LETTERS_OPS_TOKEN_FILE"):
        page_server(_no_snapshot, host, 0, ())
    with pytest.raises(ConfigurationError, match="LETTERS_OPS_HOSTS"):
        page_server(_no_snapshot, host, 0, ("ops.example",), None)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, bytes]]:
    token_file = tmp_path / "ops-token"
    token = make_secret_file(token_file, TOKEN_SETTING)
    server = page_server(_no_snapshot, "0.0.0.0", 0, ("ops.example",), token_file)  # noqa: S104
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], token
    finally:
        server.shutdown()
        server.server_close()


def _status(port: int, host: str, authorization: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", "/", skip_host=True)
        conn.putheader("Host", host)
        if authorization:
            conn.putheader("Authorization", authorization)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def _basic(password: bytes) -> str:
    return "Basic " + base64.b64encode(b"ops:" + password).decode()


def test_the_loopback_name_is_no_way_in_from_the_lan(served: tuple[int, bytes]) -> None:
    port, token = served
    assert _status(port, "127.0.0.1", _basic(token)) == 421
    assert _status(port, f"127.0.0.1:{port}") == 421


def test_a_named_host_needs_the_token(served: tuple[int, bytes]) -> None:
    port, token = served
    assert _status(port, "ops.example") == 401
    assert _status(port, "ops.example", _basic(b"guess")) == 401
    assert _status(port, "ops.example", "Bearer guess") == 401
    assert _status(port, "ops.example", _basic(token)) == 503
    assert _status(port, "ops.example", "Bearer " + token.decode()) == 503
