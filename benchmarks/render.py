"""Render benchmark: the naive WeasyPrint way against the project's renderer.

    ./dev bench-render [--letters N]

Both render the same mix of the four letter types in both languages, each in
a process of its own, on one core. "Naive" is a fresh ``HTML(string=...).write_pdf()``
per letter with default options: the stylesheet is linked from the HTML, so
WeasyPrint fetches and parses it and loads the fonts into a new font
configuration every time. The project's renderer keeps one FontConfiguration,
one parsed stylesheet and one Jinja environment per process.

Prints letters per second for each, their ratio, memory (RSS) at four
checkpoints so that growth shows, and each method's peak RSS.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from weasyprint import HTML

from letters.config import Settings
from letters.domain.compose import ComposedLetter
from letters.rendering.letter_service import LetterService

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


def run_one(method: str, count: int) -> dict[str, float]:
    service = LetterService(Settings.from_env({}))
    renderer = service.renderer
    base_url = renderer.templates.root.as_uri() + "/"

    def naive(letter: ComposedLetter) -> bytes:
        html = renderer.html(letter, standalone=True)
        return HTML(string=html, base_url=base_url).write_pdf()  # type: ignore[no-any-return]

    def project(letter: ComposedLetter) -> bytes:
        return renderer.render(letter).pdf

    render = naive if method == "naive" else project
    figures = timed(method, letters_mix(service, count), render)
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=200, help="letters per method")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--method", choices=["naive", "project"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.method:
        # One method per child process, so that each peak RSS is its own.
        print(json.dumps(run_one(args.method, args.letters)))
        return

    print(
        f"render benchmark: {args.letters} letters per method, mix of 4 types x 2 "
        "languages, each method in its own process on one core"
    )
    figures = {}
    for method in ("naive", "project"):
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.render",
                "--method",
                method,
                "--letters",
                str(args.letters),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        lines = child.stdout.strip().splitlines()
        print(lines[0])
        figures[method] = json.loads(lines[-1])
        print(f"{'':>10}peak RSS {figures[method]['peak_rss_mb']:.0f} MiB")
    ratio = figures["project"]["letters_per_second"] / figures["naive"]["letters_per_second"]
    print(f"   ratio: the project's renderer is {ratio:.2f}x the naive way")
    if args.json:
        args.json.write_text(json.dumps({**figures, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
