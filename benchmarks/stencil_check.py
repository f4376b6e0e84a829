"""The stencil renderer against the full renderer, letter by letter, on generated letters.

    ./dev stencil-check [--letters 10000] [--processes 2] [--seed 35] [--vary]

Takes the fuzz benchmark's valid bodies (the sample requests, each with a
case number, KID, letter id and one-time password of its own), renders each
with the full renderer (stencils off) and with the stencil renderer, and holds
the two PDFs equal (tests/support/stencil_compare.py: the bytes, or else the
words within 0.2 mm, pages, fonts, tagged structure, metadata and page
images). Prints how the stencil renderer laid the letters out and every letter
that differs, by letter id; exits 1 on any difference.

``--vary`` gives each letter other words where the samples all say the same:
the creditor's name, the debtor's name and street, the claims' descriptions.
Their sentences then break at other places, and some take another number of
lines, so blocks are laid out again over several lines, and letters fall back.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import time
from collections import Counter
from datetime import date

from benchmarks.fuzz import generate
from benchmarks.render import layout_kind
from benchmarks.summary import print_summary
from letters.config import Settings
from letters.domain import otp
from letters.rendering.letter_service import LetterService
from tests.support.rates import use_suite_rates
from tests.support.stencil_compare import differences

TODAY = date(2026, 11, 21)

# Made-up names and streets of many lengths, for --vary.
CREDITORS = (
    "Fjellkraft AS",
    "Nordlys Energi AS",
    "Bø Tele AS",
    "Vestland Kommunale Eiendom KF",
    "Trøndelag Bredbånd og Fiber AS",
    "Oslo Sportsklubb",
    "Hamar Tannlegesenter AS",
    "Nordisk Forbrukerfinans ASA",
    "Lofoten Fiskeriutstyr og Båtservice AS",
    "AB Boligbyggelag",
)
DEBTORS = (
    "Kari Nordmann",
    "Ola Nordmann",
    "Åse Bø",
    "Per-Kristian Fjellheim Johannessen",
    "Ingrid Marie Solberg-Ødegård",
    "Jo Li",
    "Mohammed Al-Rashid",
    "Sigrid Øverland",
)
STREETS = (
    "Storgata 1 B",
    "Kirkeveien 214",
    "Øvre Slottsgate 12",
    "Postboks 1",
    "Lia 3",
    "Professor Dahls gate 45 H0302",
    "Nedre Ullevål 9",
)
DESCRIPTIONS = (
    "Faktura 88123, strøm september",
    "Abonnement",
    "Tannbehandling 12. august",
    "Faktura 5512, bredbånd og TV-pakke for tredje kvartal",
    "Medlemskontingent 2026",
)


def vary(raw: bytes, chance: random.Random) -> bytes:
    """The same letter with other words in the places the samples all fill alike."""
    data = json.loads(raw)
    case = data["case"]
    old_creditor = case["creditor"]["name"]
    case["creditor"]["name"] = chance.choice(CREDITORS)
    for earlier in case.get("earlier_letters", []):
        if earlier.get("sent_by") == old_creditor:
            earlier["sent_by"] = case["creditor"]["name"]
    for claim in case["claims"]:
        claim["description"] = chance.choice(DESCRIPTIONS)
    recipient = data["recipient"]
    recipient["name"] = chance.choice(DEBTORS)
    if recipient["address"]["country_code"] == "NO":
        recipient["address"]["lines"] = [chance.choice(STREETS)]
    return json.dumps(data, ensure_ascii=False).encode()


def check_shard(args: tuple[int, int, int, int, bool]) -> tuple[Counter[str], list[str]]:
    """Letters ``shard``, ``shard + shards``, … of the first ``count`` valid bodies."""
    count, seed, shard, shards, varied = args
    use_suite_rates()
    full = LetterService(Settings.from_env({"LETTERS_STENCIL": "off"}))
    stencil = LetterService(Settings.from_env({}))
    bodies = [b for b in generate(count * 6 + 50, seed) if b.kind == "valid"][:count]
    layouts: Counter[str] = Counter()
    mismatches: list[str] = []
    for body in bodies[shard::shards]:
        chance = random.Random(body.letter_id)  # noqa: S311 - reproducible test input
        password = otp.generate(chance.randrange)
        raw = vary(body.raw, chance) if varied else body.raw
        composed = full.compose_request(raw, TODAY, password)
        expected = full.renderer.render(composed)
        made = stencil.renderer.render(composed)
        layouts[layout_kind(made.layout)] += 1
        if found := differences(expected.pdf, made.pdf):
            mismatches.append(f"{body.letter_id} ({made.layout}): " + "; ".join(found))
    return layouts, mismatches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=35)
    parser.add_argument("--vary", action="store_true", help="other names, streets, claims")
    args = parser.parse_args()
    started = time.monotonic()
    shards = [
        (args.letters, args.seed, i, args.processes, args.vary) for i in range(args.processes)
    ]
    with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
        results = pool.map(check_shard, shards)
    layouts: Counter[str] = Counter()
    mismatches: list[str] = []
    for shard_layouts, shard_mismatches in results:
        layouts.update(shard_layouts)
        mismatches += shard_mismatches
    total = sum(layouts.values())
    print(f"stencil check: {total} letters in {time.monotonic() - started:.0f} s")
    for kind, n in layouts.most_common():
        print(f"  {n:6d} ({n / total:6.1%})  {kind}")
    print(f"  differing from the full renderer: {len(mismatches)}")
    for line in mismatches[:50]:
        print(f"    {line}")
    print_summary("stencil-check", letters=total, layouts=dict(layouts), differing=len(mismatches))
    sys.exit(1 if mismatches or total < args.letters else 0)


if __name__ == "__main__":
    main()
