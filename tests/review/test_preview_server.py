"""The review server answers only for its own host names, and only with its own files."""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from letters.local_http import IDLE_TIMEOUT_S
from letters.review.server import site_handler


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("<h1>preview</h1>", encoding="utf-8")
    (folder / "files").mkdir()
    (folder / "passwd").symlink_to("/etc/passwd")
    (folder / "files" / "outside").symlink_to(tmp_path)
    (tmp_path / "secret.txt").write_text("not for the web", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), site_handler(folder, ("review.example",)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], folder
    finally:
        server.shutdown()
        server.server_close()


def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        conn.endheaders()
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "review.example"]
)
def test_its_own_host_names_get_the_site(site: tuple[int, Path], host: str) -> None:
    port, _ = site
    assert _get(port, "/index.html", host.format(port=port)) == (200, b"<h1>preview</h1>")


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:{port}", "127.0.0.1.nip.io", ""]
)
def test_another_host_name_is_refused(site: tuple[int, Path], host: str) -> None:
    port, _ = site
    status, _ = _get(port, "/index.html", host.format(port=port))
    assert status == 421


@pytest.mark.parametrize(
    "path", ["/passwd", "/files/outside/secret.txt", "/../secret.txt", "/%2e%2e/secret.txt"]
)
def test_nothing_outside_the_folder_is_served(site: tuple[int, Path], path: str) -> None:
    port, _ = site
    status, body = _get(port, path)
    assert status == 404
    assert b"root:" not in body and b"not for the web" not in body


def _ask(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        return conn.recv(200)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_the_site_is_read_only(site: tuple[int, Path], method: str) -> None:
    port, _ = site
    answer = _ask(port, f"{method} /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.0 405")


@pytest.mark.parametrize(
    ("path", "status"),
    [(b"/index\x00.html", b"400"), (b"/index%00.html", b"400"), (b"/" + b"a" * 5000, b"414")],
)
def test_a_nul_byte_or_an_over_long_path_is_answered(
    site: tuple[int, Path], path: bytes, status: bytes
) -> None:
    port, _ = site
    answer = _ask(port, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 " + status), answer


def test_a_hard_link_in_the_folder_is_not_served(site: tuple[int, Path], tmp_path: Path) -> None:
    port, folder = site
    os.link(tmp_path / "secret.txt", folder / "linked.txt")
    assert _get(port, "/linked.txt")[0] == 404


def test_a_connection_that_sends_nothing_is_closed(site: tuple[int, Path]) -> None:
    port, _ = site
    with socket.create_connection(("127.0.0.1", port), timeout=IDLE_TIMEOUT_S + 10) as conn:
        started = time.monotonic()
        assert conn.recv(10) == b""  # closed by the server, not by this timeout
        assert time.monotonic() - started < IDLE_TIMEOUT_S + 5
