"""``letters ops --serve``: the operations page over HTTP, read-only, on 127.0.0.1 by default.

GET ``/`` answers the page, taken afresh from the ledger and the broker; every
other method is refused, and so is a host name other than the loopback names
and those configured (a DNS-rebinding page would come with its own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from letters.local_http import allowed_hosts, host_allowed
from letters.logs import log_event
from letters.operations.page import render_page
from letters.operations.snapshot import Snapshot

log = logging.getLogger("letters.operations")


class _PageHandler(BaseHTTPRequestHandler):
    take: Callable[[], Snapshot]
    allowed_hosts: frozenset[str] = frozenset()

    def log_message(self, format: str, *args: Any) -> None:
        """A page load every 30 seconds is not worth a log line each."""

    def do_GET(self) -> None:
        if self._refused():
            return
        if self.path.split("?", 1)[0] not in ("/", "/index.html"):
            self.send_error(404, "Not Found: the operations page is at /")
            return
        try:
            body = render_page(self.take()).encode("utf-8")
        except Exception as err:  # the ledger is down: say so, and keep serving
            log_event(log, "operations page failed", level=logging.WARNING, reason=str(err)[:200])
            self.send_error(503, f"The ledger did not answer: {type(err).__name__}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.send_error(405, "Method Not Allowed: the page is read-only; actions are commands")

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _refused(self) -> bool:
        if not host_allowed(self.headers.get("Host"), self.allowed_hosts):
            self.send_error(421, "Misdirected Request: not a host name of this server")
            return True
        return False


def page_server(
    take: Callable[[], Snapshot], host: str, port: int, hosts: tuple[str, ...] = ()
) -> ThreadingHTTPServer:
    """A server for the page (not started): ``serve_forever()`` it, ``server_close()`` after."""
    allowed = allowed_hosts((host,), hosts)
    handler = type(
        "PageHandler", (_PageHandler,), {"take": staticmethod(take), "allowed_hosts": allowed}
    )
    return ThreadingHTTPServer((host, port), handler)
