"""Render benchmark: the naive WeasyPrint way, the full renderer and the stencil renderer.

    ./dev bench-render [--letters N] [--turns 10] [--methods naive,full,stencil]

Each method renders the same letters, in a process of its own, on one core,
taking turns (a different one going first each turn), so that the machine's
drift in speed falls on all. The letters are the fuzz benchmark's valid
bodies: the sample requests of the four types in both languages, each with a
case number, KID, letter id and one-time password of its own; past the first
``DISTINCT`` letters a letter comes round again with a new password.

"Naive" is a fresh ``HTML(string=...).write_pdf()`` per letter with default
options: the stylesheet is linked from the HTML, so WeasyPrint fetches and
parses it and loads the fonts into a new font configuration every time.
"Full" is the project's renderer with stencils off (LETTERS_STENCIL=off): one
FontConfiguration, stylesheet and Jinja environment per process, every letter
laid out in full. "Stencil" is the renderer as it ships: the first letter of a
shape is laid out in full and kept; later letters are laid out on it.

Prints letters per second for each, the ratios to naive, how the stencil
renderer laid its letters out (on a stencil, made a stencil, fell back with
the reasons), memory (RSS) after each turn so that growth shows, and each
method's peak RSS.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from weasyprint import HTML

from benchmarks.fuzz import generate
from benchmarks.summary import print_summary
from letters.config import Settings
from letters.domain import otp
from letters.domain.compose import ComposedLetter
from letters.rendering.letter_service import LetterService
from tests.support.rates import use_suite_rates

METHODS = ("naive", "full", "stencil")
TODAY = date(2026, 11, 21)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


# Letters composed once per process (each costs a password hash); later ones reuse them.
DISTINCT = 160
SEED = 35


def generated_letters(service: LetterService, count: int, seed: int = SEED) -> list[ComposedLetter]:
    """``count`` of the fuzz benchmark's valid bodies, composed as the worker would."""
    bodies = [b for b in generate(count * 6 + 50, seed) if b.kind == "valid"]
    if len(bodies) < count:
        raise RuntimeError(f"only {len(bodies)} valid bodies from the fuzz generator")
    chance = random.Random(seed)  # noqa: S311 - reproducible test input, not secrets
    return [
        service.compose_request(body.raw, TODAY, otp.generate(chance.randrange))
        for body in bodies[:count]
    ]


class Mix:
    """The benchmark's letters in order: ``DISTINCT`` composed, then again with new passwords."""

    def __init__(self, service: LetterService, count: int) -> None:
        self.letters = generated_letters(service, min(count, DISTINCT))
        self.chance = random.Random(SEED)  # noqa: S311 - reproducible test input

    def __getitem__(self, index: int) -> ComposedLetter:
        letter = self.letters[index % len(self.letters)]
        if index < len(self.letters):
            return letter
        return dataclasses.replace(letter, password=otp.generate(self.chance.randrange))


def serve(method: str, count: int) -> None:
    """A method's child process: render the next N letters of the mix for each line N on
    stdin; answer each with the seconds it took, the bytes made, the RSS after and how
    the letters were laid out."""
    service = LetterService(Settings.from_env({"LETTERS_STENCIL": str(method == "stencil")}))
    renderer = service.renderer
    layouts: Counter[str] = Counter()
    base_url = renderer.templates.root.as_uri() + "/"

    def naive(letter: ComposedLetter) -> bytes:
        html = renderer.html(letter, standalone=True)
        return HTML(string=html, base_url=base_url).write_pdf()  # type: ignore[no-any-return]

    def project(letter: ComposedLetter) -> bytes:
        rendered = renderer.render(letter)
        layouts[layout_kind(rendered.layout)] += 1
        return rendered.pdf

    render: Callable[[ComposedLetter], bytes] = naive if method == "naive" else project
    mix = Mix(service, count)
    # Warm-up: imports, the fontconfig cache. A letter of its own, outside the mix, so
    # the stencil renderer meets the mix's shapes in the timed turns.
    render(generated_letters(service, 1, seed=SEED + 1)[0])
    layouts.clear()
    done = 0
    for line in sys.stdin:
        letters = [mix[done + i] for i in range(int(line))]
        done += len(letters)
        started = time.perf_counter()
        made = sum(len(render(letter)) for letter in letters)
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "bytes": made, "rss": current_rss_mb(),
                          "peak": peak_rss_mb(), "layouts": layouts}), flush=True)  # fmt: skip


def layout_kind(layout: str) -> str:
    """A RenderedLetter's layout note without the details that differ letter to letter."""
    if layout.startswith("on its stencil"):
        return "on its stencil"
    if "first letter of its shape" in layout:
        return "made its shape's stencil"
    return re.sub(r"\d+", "N", layout)


class Method:
    """One method's child process, rendering in turns with the other's."""

    def __init__(self, name: str, letters: int) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.render",
                "--method",
                name,
                "--letters",
                str(letters),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.seconds = 0.0
        self.letters = 0
        self.bytes = 0
        self.rss: list[float] = []
        self.peak = 0.0
        self.layouts: dict[str, int] = {}

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
        self.layouts = answer["layouts"]

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
            "layouts": self.layouts,
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
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="which methods, comma-separated"
    )
    parser.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.method:
        serve(args.method, args.letters)
        return

    names = [m for m in args.methods.split(",") if m]
    if unknown := set(names) - set(METHODS):
        parser.error(f"unknown methods: {', '.join(sorted(unknown))} (known: {', '.join(METHODS)})")
    turns = max(1, min(args.turns, args.letters))
    print(
        f"render benchmark: {args.letters} letters per method ({', '.join(names)}), the fuzz "
        f"benchmark's valid bodies, each method in its own process on one core, in {turns} "
        "turns each"
    )
    methods = [Method(name, args.letters) for name in names]
    try:
        for turn in range(turns):
            count = args.letters // turns + (1 if turn < args.letters % turns else 0)
            # Each turn another method goes first, so none gets the quieter moments.
            shift = turn % len(methods)
            for method in methods[shift:] + methods[:shift]:
                method.turn(count)
    finally:
        for method in methods:
            method.close()
    for method in methods:
        print(method.summary())
    figures: dict[str, Any] = {m.name: m.figures() for m in methods}
    by_name = {m.name: m for m in methods}
    naive = by_name.get("naive")
    for method in methods:
        if naive is not None and method is not naive:
            ratio = method.letters / method.seconds / (naive.letters / naive.seconds)
            figures[f"{method.name}_vs_naive"] = ratio
            print(f"   ratio: {method.name} is {ratio:.2f}x the naive way")
    if "stencil" in by_name:
        print_layouts(by_name["stencil"])
        figures["stencil_fallback_share"] = fallback_share(by_name["stencil"].layouts)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    print_summary("render", letters=args.letters, **figures)


def fallback_share(layouts: dict[str, int]) -> float:
    """The share of letters laid out in full because they did not fit their stencil."""
    total = sum(layouts.values())
    fell_back = sum(n for kind, n in layouts.items() if kind.startswith("in full"))
    return fell_back / total if total else 0.0


def print_layouts(method: Method) -> None:
    total = sum(method.layouts.values())
    print(f"  stencil: how its {total} letters were laid out")
    for kind, count in sorted(method.layouts.items(), key=lambda item: -item[1]):
        print(f"    {count:6d} ({count / total:6.1%})  {kind}")
    print(f"  fell back to full layout: {fallback_share(method.layouts):.1%}")


if __name__ == "__main__":
    main()
