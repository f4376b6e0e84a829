"""Print batch benchmark: assemble one batch of N rendered letters.

    ./dev bench-print [--letters 1000] [--processes 2]

Renders N different letters first (the four types, both languages, varied
names, cases and amounts; two processes by default), keeps them under
``var/bench-print/`` so a second run starts at once, then times what the
dispatcher does with a closed batch: read the letters, write one PDF letter
by letter with shared fonts (``channels.print_post.pdf_stream``), build the
JSON and CSV manifests, and write all three create-only to a fresh directory
drop. Prints seconds, letters per second, megabytes of the batch against the
sum of the letters, and peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.summary import print_summary
from channels.print_post.assembly import BatchLetter, assemble
from channels.print_post.fonts import FontLibrary
from channels.print_post.manifest import BatchFiles, manifest_csv, manifest_json
from letters.config import PROJECT_ROOT, Settings
from letters.rendering.letter_service import LetterService
from letters.storage import DirectoryStore
from tests.support.rates import use_suite_rates

GOLDEN = PROJECT_ROOT / "tests" / "golden"
TODAY = date(2026, 11, 21)
CLOSED_AT = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
TYPES = ("purring", "inkassovarsel", "betalingsoppfordring", "varsel_rettslig_pagang")
SCENARIOS = ("plain", "long_names", "many_claims", "no_interest_no_costs")
NAMES = ("Kari Nordmann", "Ola Hansen", "Åse Kjærstad", "Bjørn Ødegård", "Sigrid Berg")


def request(index: int) -> dict[str, Any]:
    letter_type, scenario = TYPES[index % 4], SCENARIOS[(index // 4) % 4]
    language = "en" if index % 3 == 0 else "nb"
    path = GOLDEN / letter_type / language / scenario / "request.json"
    raw: dict[str, Any] = json.loads(path.read_bytes())
    raw["letter_id"] = f"00000000-0000-4000-8000-{index:012d}"
    raw["recipient"]["name"] = f"{NAMES[index % len(NAMES)]} {index}"
    raw["case"]["case_number"] = f"2026-{index + 100000:07d}"
    raw["case"].pop("kid", None)  # the KID of the new case number is made
    for claim in raw["case"]["claims"]:
        claim["principal"] = str(Decimal(claim["principal"]) + index)
    return raw


_service: LetterService | None = None


def render(index: int) -> bytes:
    global _service
    _service = _service or LetterService(Settings.from_env({}))
    return _service.render_request(request(index), TODAY).pdf


def rendered_letters(count: int, processes: int) -> list[Path]:
    """The files of ``count`` rendered letters, rendered once and kept."""
    templates = sorted((PROJECT_ROOT / "templates").rglob("*.*"))
    version = hashlib.sha256(b"".join(p.read_bytes() for p in templates)).hexdigest()[:12]
    kept = PROJECT_ROOT / "var" / "bench-print"
    # A larger set rendered before serves a smaller batch: its first ``count`` letters.
    for larger in sorted(kept.glob(f"{version}-*")):
        rendered = int(larger.name.rsplit("-", 1)[1])
        if rendered >= count and len(list(larger.glob("*.pdf"))) == rendered:
            return [larger / f"{i:05d}.pdf" for i in range(count)]
    folder = kept / f"{version}-{count}"
    paths = [folder / f"{i:05d}.pdf" for i in range(count)]
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(processes) as pool:
        for path, pdf in zip(paths, pool.map(render, range(count), chunksize=16), strict=True):
            path.write_bytes(pdf)
    print(f"rendered {count} letters in {time.perf_counter() - started:.1f} s ({processes} proc)")
    return paths


def _read(paths: list[Path]) -> Iterator[BatchLetter]:
    # One at a time, as the dispatcher reads them from the archive.
    for i, path in enumerate(paths):
        yield BatchLetter(
            letter_id=f"00000000-0000-4000-8000-{i:012d}",
            case_number=f"2026-{i + 100000:07d}",
            country="NO",
            postage_class="domestic",
            pdf=path.read_bytes(),
        )


def main() -> None:
    # Speed on any day: the letters take their rates from the suite's table of test data.
    use_suite_rates()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    paths = rendered_letters(args.letters, args.processes)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as drop_dir:
        drop = DirectoryStore(Path(drop_dir), "print drop")
        started = time.perf_counter()
        library = FontLibrary(PROJECT_ROOT / "templates" / "fonts")
        batch = assemble("BENCH", _read(paths), library)
        assembled = time.perf_counter()
        files = BatchFiles("BENCH")
        drop.put(files.pdf, batch.pdf)
        drop.put(files.csv, manifest_csv(batch), "text/csv")
        drop.put(files.json, manifest_json(batch, "domestic", CLOSED_AT, "E65"), "application/json")
        finished = time.perf_counter()
    total = batch.letters_bytes
    print(
        f"batch of {len(batch.entries)} letters: {batch.page_count} pages on {batch.sheet_count} "
        f"sheets ({batch.page_count - sum(e.page_count for e in batch.entries)} blank)"
    )
    print(
        f"assembly {assembled - started:.2f} s, with manifests and drop writes "
        f"{finished - started:.2f} s ({len(batch.entries) / (finished - started):.0f} letters/s)"
    )
    print(
        f"batch PDF {len(batch.pdf) / 1e6:.2f} MB; the letters apart {total / 1e6:.2f} MB "
        f"({len(batch.pdf) / total:.0%}); {batch.fonts.shared_typefaces} shared typefaces, "
        f"{batch.fonts.letter_fonts_kept} letter fonts kept as they were"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB (before the batch: {rss_before:.0f} MB)")
    print_summary(
        "print_batch",
        letters=len(batch.entries),
        pages=batch.page_count,
        sheets=batch.sheet_count,
        assembly_s=assembled - started,
        total_s=finished - started,
        letters_per_s=len(batch.entries) / (finished - started),
        batch_mb=len(batch.pdf) / 1e6,
        letters_mb=total / 1e6,
        peak_rss_mb=peak,
        rss_before_mb=rss_before,
    )


if __name__ == "__main__":
    main()
