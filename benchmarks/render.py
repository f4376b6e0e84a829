"""Render benchmark: the naive WeasyPrint way against the project's renderer.

    ./dev bench-render [--letters N]

Both render the same mix of the four letter types in both languages in this
one process, on one core. "Naive" is a fresh ``HTML(string=...).write_pdf()``
per letter with default options: the stylesheet is linked from the HTML, so
WeasyPrint fetches and parses it and loads the fonts into a new font
configuration every time. The project's renderer keeps one FontConfiguration,
one parsed stylesheet and one Jinja environment per process.

Prints letters per second for each, their ratio, and peak memory (RSS) at
intervals so that growth shows.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from weasyprint import HTML

from letters.compose import ComposedLetter
from letters.config import Settings
from letters.service import LetterService

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
TODAY = date(2026, 11, 21)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def letters_mix(service: LetterService, count: int) -> list[ComposedLetter]:
    """``count`` letters cycling through the plain and no-interest scenarios of every type."""
    requests = sorted(GOLDEN.glob("*/*/plain/request.json")) + sorted(
        GOLDEN.glob("*/*/no_interest_no_costs/request.json")
    )
    composed = [service.compose_request(p.read_bytes(), TODAY) for p in requests]
    return [dataclasses.replace(composed[i % len(composed)]) for i in range(count)]


def timed(
    name: str,
    letters: list[ComposedLetter],
    render: Callable[[ComposedLetter], bytes],
    checkpoints: int = 4,
) -> dict[str, float]:
    render(letters[0])  # warm-up: imports, fontconfig cache
    step = max(1, len(letters) // checkpoints)
    rss = []
    start = time.perf_counter()
    total_bytes = 0
    for i, letter in enumerate(letters, 1):
        total_bytes += len(render(letter))
        if i % step == 0:
            rss.append(round(current_rss_mb(), 1))
    elapsed = time.perf_counter() - start
    rate = len(letters) / elapsed
    print(
        f"{name:>8}: {len(letters)} letters in {elapsed:6.1f} s = {rate:6.2f} letters/s, "
        f"{total_bytes / len(letters) / 1024:5.1f} KiB/letter, RSS at "
        f"{checkpoints} checkpoints (MiB): {rss}"
    )
    return {
        "letters_per_second": rate,
        "seconds": elapsed,
        "rss_first": rss[0],
        "rss_last": rss[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=200, help="letters per method")
    parser.add_argument(
        "--naive-letters",
        type=int,
        default=None,
        help="letters for the naive method (default: same)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    service = LetterService(Settings.from_env({}))
    renderer = service.renderer
    base_url = renderer.templates.root.as_uri() + "/"

    def naive(letter: ComposedLetter) -> bytes:
        html = renderer.html(letter, standalone=True)
        return HTML(string=html, base_url=base_url).write_pdf()  # type: ignore[no-any-return]

    def project(letter: ComposedLetter) -> bytes:
        return renderer.render(letter).pdf

    naive_count = args.naive_letters or args.letters
    print(
        f"render benchmark: {args.letters} letters (naive: {naive_count}), "
        "mix of 4 types x 2 languages, one process"
    )
    naive_figures = timed("naive", letters_mix(service, naive_count), naive)
    project_figures = timed("project", letters_mix(service, args.letters), project)
    ratio = project_figures["letters_per_second"] / naive_figures["letters_per_second"]
    print(f"   ratio: project is {ratio:.2f}x the naive way; peak RSS {peak_rss_mb():.0f} MiB")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "naive": naive_figures,
                    "project": project_figures,
                    "ratio": ratio,
                    "peak_rss_mb": peak_rss_mb(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
