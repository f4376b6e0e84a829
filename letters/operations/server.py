"""``letters ops --serve``: the operations page over HTTP, read-only, on 127.0.0.1 by default.

GET ``/`` answers the page, taken afresh from the ledger and the broker; every
other method is refused, and so is a host name other than the loopback names
and those configured (a DNS-rebinding page would come with its own).

Bound to anything but a loopback address, the page is for the names in
``LETTERS_OPS_HOSTS`` only, and asks for HTTP basic authentication with the
token in ``LETTERS_OPS_TOKEN_FILE`` as the password, behind a proxy that
terminates TLS (the README says how).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from letters.config.declared import OPS_HOSTS, OPS_TOKEN_FILE
from letters.errors import ConfigurationError
from letters.local_http import ReadOnlyHandler, allowed_hosts, host_allowed, is_loopback
from letters.logs import log_event
from letters.operations.page import render_page
from letters.operations.snapshot import Snapshot
from letters.secret_files import read_secret

log = logging.getLogger("letters.operations")
HOSTS_SETTING = OPS_HOSTS.name
_CHALLENGE = 'Basic realm="letters operations", charset="UTF-8"'
TOKEN_SETTING = OPS_TOKEN_FILE.name


class _PageHandler(ReadOnlyHandler):
    take: Callable[[], Snapshot]
    allowed_hosts: frozenset[str] = frozenset()
    # The token a request from beyond this machine must give; None: loopback only.
    token: bytes | None = None

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

    def _refused(self) -> bool:
        if not host_allowed(self.headers.get("Host"), self.allowed_hosts):
            self.send_error(421, "Misdirected Request: not a host name of this server")
            return True
        if self.token is not None and not _authorized(
            self.headers.get("Authorization"), self.token
        ):
            self.send_response(401, "Unauthorized")
            self.send_header(
                "WWW-Authenticate", 'Basic realm="letters operations", charset="UTF-8"'
            )
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False


def _authorized(header: str | None, token: bytes) -> bool:
    """Basic authentication with the token as the password (any user name), or Bearer."""
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() == "bearer":
        given = credentials.strip().encode()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(credentials.strip(), validate=True).partition(b":")[2]
        except (binascii.Error, ValueError):
            return False
    else:
        return False
    return hmac.compare_digest(given, token)


def page_server(
    take: Callable[[], Snapshot],
    host: str,
    port: int,
    hosts: tuple[str, ...] = (),
    token_file: Path | None = None,
) -> ThreadingHTTPServer:
    """A server for the page (not started): ``serve_forever()`` it, ``server_close()`` after.

    Raises:
        ConfigurationError: bound beyond loopback without the host names and the token.
    """
    token = None
    if is_loopback(host):
        allowed = allowed_hosts((host,), hosts)
    else:
        if not hosts or token_file is None:
            raise ConfigurationError(
                f"{HOSTS_SETTING} and {TOKEN_SETTING}: the operations page shows debtors' "
                f"letters and cases; bound to {host}, beyond this machine, it answers only to "
                "the host names in the first and only with the token in the second"
            )
        # Only the names given: a request from the network naming 127.0.0.1 is no way in.
        allowed = frozenset(h.lower() for h in hosts)
        token = read_secret(token_file, TOKEN_SETTING, 16)
    handler = type(
        "PageHandler",
        (_PageHandler,),
        {"take": staticmethod(take), "allowed_hosts": allowed, "token": token},
    )
    return ThreadingHTTPServer((host, port), handler)
