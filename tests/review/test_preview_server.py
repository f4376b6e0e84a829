"""The review server answers only for its own host names, and only with its own files."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

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
