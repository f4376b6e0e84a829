"""``letters preview`` (the review site, built or served) and ``letters approve``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from letters.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Command
from letters.config import Settings
from letters.errors import InvalidRequest, TemplateError

if TYPE_CHECKING:
    from letters.review.site import SiteReport


def _preview_arguments(preview: argparse.ArgumentParser) -> None:
    preview.add_argument("--out", type=Path, metavar="DIR", help="default: var/preview")
    preview.add_argument(
        "--serve", action="store_true", help="serve on localhost and rebuild on template changes"
    )
    preview.add_argument("--port", type=int, default=8000, help="with --serve (0: any free)")


def _approve_arguments(approval: argparse.ArgumentParser) -> None:
    approval.add_argument("template", metavar="TEMPLATE", help="for example nb/purring")
    approval.add_argument("--by", required=True, metavar="NAME", help="who approved it")


def preview_command(args: argparse.Namespace, settings: Settings) -> int:
    # Loaded here, not at the top: ``letters --help`` must not pay for the renderer.
    from letters.review.server import PreviewServer
    from letters.review.site import build_site

    out = args.out or settings.var_dir / "preview"
    if args.serve:
        server = PreviewServer(settings, out, args.port, on_build=_report_build)
        print(f"serving the preview on {server.url} (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
        return EXIT_OK
    report = build_site(settings, out)
    _report_build(report)
    print(f"preview written to {out / 'index.html'}")
    return EXIT_FAILURE if report.failed else EXIT_OK


def _report_build(report: SiteReport) -> None:
    from letters.review.site import failure_lines

    states = ", ".join(f"{p.key} {p.state}" for p in report.previews)
    print(f"built {len(report.previews)} templates: {states}", flush=True)
    for line in failure_lines(report):
        print(f"letters preview: template failed: {line}", file=sys.stderr, flush=True)


def approve_command(args: argparse.Namespace, settings: Settings) -> int:
    from letters.review.build import approve

    try:
        approval = approve(settings, args.template, args.by)
    except ValueError as err:
        print(f"letters approve: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (TemplateError, InvalidRequest) as err:
        print(f"letters approve: {args.template} does not render: {err}", file=sys.stderr)
        return EXIT_FAILURE
    print(
        f"approved {approval.template} version {approval.version} "
        f"by {approval.approved_by} at {approval.approved_at}"
    )
    return EXIT_OK


PREVIEW = Command(
    "preview",
    "build (or serve) the template preview site for legal review",
    _preview_arguments,
    preview_command,
    description="Render every letter type × language × preview scenario to PDF and page "
    "images and write a static site: an index of the templates with version and approval "
    "state, and per letter type Bokmål and English side by side with what changed since "
    "the last approval. Exits 1 if a template does not render (its page shows why).",
)
APPROVE = Command(
    "approve",
    "record a template's current version as approved by legal",
    _approve_arguments,
    approve_command,
    description="Record the template's content hash, the approver and the time in "
    "templates/approved.json, and keep what this version looks like for the next "
    "comparison. Commit both with the template.",
)
