"""``letters preview --serve``: the preview site on localhost, rebuilt as templates change.

A watcher polls the template folder's files; when one changes it rebuilds the
templates it shapes (all of them for a shared file) and bumps ``build.json``,
which the open pages poll to reload themselves.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from letters.config import Settings
from letters.domain.letter_types import Language, LetterType
from letters.local_http import ReadOnlyHandler, allowed_hosts, host_allowed
from letters.rendering.approvals import SNAPSHOTS_DIR, all_template_keys
from letters.review.site import SiteReport, build_site

POLL_SECONDS = 0.5
TemplateKeys = set[tuple[LetterType, Language]]


class _SiteHandler(ReadOnlyHandler, SimpleHTTPRequestHandler):
    """Serves the site's own files to its own host names, and nothing else.

    A request for another host name is refused (a DNS-rebinding page would
    come with its own), and a path that leads out of the site's folder, a
    symbolic link or a hard link included, is not found.
    """

    allowed_hosts: frozenset[str] = frozenset()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        # Always the newest build: the pages and images change under the same names.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        if self._refused():
            return
        super().do_GET()

    def do_HEAD(self) -> None:
        if self._refused():
            return
        super().do_HEAD()

    def _refused(self) -> bool:
        if not host_allowed(self.headers.get("Host"), self.allowed_hosts):
            self.send_error(421, "Misdirected Request: not a host name of this server")
            return True
        return False

    def translate_path(self, path: str) -> str:
        translated = Path(super().translate_path(path))
        root = Path(self.directory).resolve()
        try:
            inside = translated.resolve().is_relative_to(root)
        except OSError:
            inside = False
        walked = translated
        while inside and walked != root and walked.parent != walked:
            if walked.is_symlink():
                inside = False
            walked = walked.parent
        # A hard link is a name in the site for a file that may be anywhere: the site
        # itself never writes one.
        if inside and translated.is_file() and translated.stat().st_nlink > 1:
            inside = False
        # A name the site never writes: the handler answers 404.
        return str(translated) if inside else str(root / ".not-in-this-site")


def site_handler(folder: Path, hosts: tuple[str, ...] = ()) -> Callable[..., _SiteHandler]:
    """A handler for ``folder``'s files, for the loopback names and ``hosts``."""
    allowed = allowed_hosts(hosts)
    handler_class = type("SiteHandler", (_SiteHandler,), {"allowed_hosts": allowed})
    return functools.partial(handler_class, directory=str(folder))


def _stamps(root: Path) -> dict[Path, tuple[int, int]]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and SNAPSHOTS_DIR not in path.relative_to(root).parts[:1]:
            stat = path.stat()
            found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


def affected(root: Path, changed: set[Path]) -> TemplateKeys:
    """The templates a set of changed files shapes."""
    keys: TemplateKeys = set()
    for path in changed:
        parts = path.relative_to(root).parts
        if len(parts) == 2 and parts[0] in {lang.value for lang in Language}:
            stem = Path(parts[1]).stem
            language = Language(parts[0])
            types = [t for t in LetterType if t.value == stem] or list(LetterType)
            keys.update((t, language) for t in types)
        else:
            return set(all_template_keys())
    return keys


class PreviewServer:
    def __init__(
        self,
        settings: Settings,
        out: Path,
        port: int,
        on_build: Callable[[SiteReport], None] = lambda _: None,
    ) -> None:
        self.settings = settings
        self.out = out
        self.on_build = on_build
        self.build_number = 1
        self.report = build_site(settings, out, live=True, build_number=self.build_number)
        on_build(self.report)
        handler = site_handler(out, settings.preview_hosts)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def serve_forever(self) -> None:
        watcher = threading.Thread(target=self._watch, daemon=True)
        watcher.start()
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self._stop.set()
            self.httpd.server_close()

    def shutdown(self) -> None:
        self.httpd.shutdown()

    def _watch(self) -> None:
        root = self.settings.templates_dir
        seen = _stamps(root)
        # A plain sleep, not Event.wait(timeout): a timed wait on a condition hangs under
        # libfaketime, which the suite's date tests run the server under.
        while not self._stop.is_set():
            time.sleep(POLL_SECONDS)
            now = _stamps(root)
            changed = {p for p in now.keys() | seen.keys() if now.get(p) != seen.get(p)}
            seen = now
            if not changed:
                continue
            time.sleep(0.1)  # an editor may write a file in more than one step
            self.build_number += 1
            self.report = build_site(
                self.settings,
                self.out,
                live=True,
                build_number=self.build_number,
                only=affected(root, changed),
                earlier=self.report,
            )
            self.on_build(self.report)
