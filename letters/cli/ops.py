"""``letters ops``: the operations page, served (``--serve``) or written once (``--out``)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from letters.cli.common import EXIT_OK, Command
from letters.config import Settings
from letters.config.declared import OPS_HOSTS, OPS_TOKEN_FILE
from letters.secret_files import write_private_file


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--serve", action="store_true", help="serve the page (read-only) until stopped"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help=f"with --serve (default 127.0.0.1; any other needs {OPS_HOSTS} and {OPS_TOKEN_FILE})",
    )
    parser.add_argument("--port", type=int, default=8300, help="with --serve (0: any free)")
    parser.add_argument(
        "--out", type=Path, metavar="FILE.html", help="write the page once to this file"
    )


def ops_command(args: argparse.Namespace, settings: Settings) -> int:
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.operations.page import render_page
    from letters.operations.server import page_server
    from letters.operations.snapshot import take_snapshot
    from letters.worker.health import ServiceProbe

    probe = ServiceProbe(settings)  # the ledger, and the broker's queue depths
    try:
        if not args.serve:
            page = render_page(take_snapshot(probe.ledger, probe.queue_depths))
            out = args.out or settings.var_dir / "operations.html"
            write_private_file(out, page.encode("utf-8"))
            print(f"operations page written to {out}")
            return EXIT_OK
        server = page_server(
            lambda: take_snapshot(probe.ledger, probe.queue_depths),
            args.host,
            args.port,
            settings.ops_hosts or settings.preview_hosts,
            settings.ops_token_file,
        )
        host, port = server.server_address[:2]
        print(f"serving the operations page on http://{host!s}:{port}/ (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
        server.server_close()
        return EXIT_OK
    finally:
        probe.close()


OPS = Command(
    "ops",
    "the operations page: queues, dead letters, print batches, recent and held letters",
    _arguments,
    ops_command,
    description="Queue depths, dead letters with their reasons, print batches and their "
    "manifests, the recent letters by status, held and withdrawn letters, and cases that are "
    "not open. Read-only: each row names the command that acts on it.",
)
