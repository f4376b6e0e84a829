"""The host names a local page (the preview site, the operations page) answers to.

A page served on a loopback address answers only to its own names: a
DNS-rebinding page in the operator's browser would come with a name of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(*extra: Iterable[str]) -> frozenset[str]:
    """The loopback names and ``extra`` ones (e.g. LETTERS_PREVIEW_HOSTS), lower case."""
    return frozenset(h.lower() for h in (*LOOPBACK_HOSTS, *(h for names in extra for h in names)))


def host_allowed(host_header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request's Host header (with or without its port) names this server."""
    host = (host_header or "").strip().lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in allowed
