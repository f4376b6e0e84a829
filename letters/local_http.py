"""What the local pages (the preview site, the operations page) answer, and to whom.

A page served on a loopback address answers only to its own names: a
DNS-rebinding page in the operator's browser would come with a name of its own.
Both servers are read-only (anything but GET and HEAD is 405), refuse a path
with a NUL byte (400) or longer than any of theirs (414), and drop a
connection that sends nothing for ``IDLE_TIMEOUT_S``, so that half-open
connections cannot pile up.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(*extra: Iterable[str]) -> frozenset[str]:
    """The loopback names and ``extra`` ones (e.g. LETTERS_PREVIEW_HOSTS), lower case."""
    return frozenset(h.lower() for h in (*LOOPBACK_HOSTS, *(h for names in extra for h in names)))


def host_allowed(host_header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request's Host header (with or without its port) names this server."""
    host = (host_header or "").strip().lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in allowed


IDLE_TIMEOUT_S = 10
MAX_PATH_CHARS = 1024


def is_loopback(host: str) -> bool:
    """Whether a bind address is a loopback one (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ReadOnlyHandler(BaseHTTPRequestHandler):
    """The rules both local servers keep, before either looks at a path."""

    timeout = IDLE_TIMEOUT_S

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if "\x00" in self.path or "%00" in self.path:
            self.send_error(400, "Bad Request: a NUL byte in the path")
            return False
        if len(self.path) > MAX_PATH_CHARS:
            self.send_error(414, "URI Too Long")
            return False
        return True

    def do_POST(self) -> None:
        self.send_response(405, "Method Not Allowed")
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = do_POST
