"""Render benchmark: the naive WeasyPrint way against the project's renderer.

    ./dev bench-render [--letters N] [--turns 10]

Both render the same mix of the four letter types in both languages, each in
a process of its own, on one core, taking turns (the other going first each
turn), so that the machine's drift in speed falls on both. "Naive" is a
fresh ``HTML(string=...).write_pdf()`` per letter with default options: the
stylesheet is linked from the HTML, so WeasyPrint fetches and parses it and
loads the fonts into a new font configuration every time. The project's
renderer keeps one FontConfiguration, one parsed stylesheet and one Jinja
environment per process.

Prints letters per second for each, their ratio, memory (RSS) after each
turn so that growth shows, and each method's peak RSS.
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
from typing import Any

from weasyprint import HTML

from benchmarks.summary import print_summary
from letters.config import Settings
from letters.domain.compose import ComposedLetter
from letters.rendering.letter_service import LetterService
from tests.support.rates import use_suite_rates

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


def serve(method: str) -> None:
    """A method's child process: render the next N letters of the mix for each line N on
    stdin; answer each with the seconds it took, the bytes made and the RSS after."""
    service = LetterService(Settings.from_env({}))
    renderer = service.renderer
    base_url = renderer.templates.root.as_uri() + "/"

    def naive(letter: ComposedLetter) -> bytes:
        html = renderer.html(letter, standalone=True)
        return HTML(string=html, base_url=base_url).write_pdf()  # type: ignore[no-any-return]

    def project(letter: ComposedLetter) -> bytes:
        return renderer.render(letter).pdf

    render: Callable[[ComposedLetter], bytes] = naive if method == "naive" else project
    mix = letters_mix(service, 16)
    render(mix[0])  # warm-up: imports, fontconfig cache
    done = 0
    for line in sys.stdin:
        letters = [mix[(done + i) % len(mix)] for i in range(int(line))]
        done += len(letters)
        started = time.perf_counter()
        made = sum(len(render(letter)) for letter in letters)
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "bytes": made, "rss": current_rss_mb(),
                          "peak": peak_rss_mb()}), flush=True)  # fmt: skip


class Method:
    """One method's child process, rendering in turns with the other's."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.render", "--method", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.seconds = 0.0
        self.letters = 0
        self.bytes = 0
        self.rss: list[float] = []
        self.peak = 0.0

    def turn(self, count: int) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{count}\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        self.seconds += answer["seconds"]
        self.letters += count
        self.bytes += answer["bytes"]
        self.rss.append(round(answer["rss"], 1))
        self.peak = answer["peak"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)

    def figures(self) -> dict[str, Any]:
        return {
            "letters_per_second": self.letters / self.seconds,
            "seconds": self.seconds,
            "rss_mib": self.rss,
            "peak_rss_mb": self.peak,
        }

    def summary(self) -> str:
        rate = self.letters / self.seconds
        return (
            f"{self.name:>8}: {self.letters} letters in {self.seconds:6.1f} s = {rate:6.2f} "
            f"letters/s, {self.bytes / self.letters / 1024:5.1f} KiB/letter, RSS after each "
            f"turn (MiB): {self.rss}, peak {self.peak:.0f} MiB"
        )


def main() -> None:
    # Speed on any day: the letters take their rates from the suite's table of test data.
    use_suite_rates()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=200, help="letters per method")
    parser.add_argument("--turns", type=int, default=10, help="turns each method takes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--method", choices=["naive", "project"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.method:
        serve(args.method)
        return

    turns = max(1, min(args.turns, args.letters))
    print(
        f"render benchmark: {args.letters} letters per method, mix of 4 types x 2 "
        f"languages, each method in its own process on one core, in {turns} turns each"
    )
    methods = [Method("naive"), Method("project")]
    try:
        for turn in range(turns):
            count = args.letters // turns + (1 if turn < args.letters % turns else 0)
            # Each turn the other method goes first, so neither gets the quieter moments.
            for method in methods if turn % 2 == 0 else methods[::-1]:
                method.turn(count)
    finally:
        for method in methods:
            method.close()
    naive, project = methods
    for method in methods:
        print(method.summary())
    ratio = project.letters / project.seconds / (naive.letters / naive.seconds)
    print(f"   ratio: the project's renderer is {ratio:.2f}x the naive way")
    figures = {"naive": naive.figures(), "project": project.figures(), "ratio": ratio}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    print_summary("render", letters=args.letters, **figures)


if __name__ == "__main__":
    main()
