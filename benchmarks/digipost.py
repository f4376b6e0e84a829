"""Digipost channel benchmark: identify and send against the local double over HTTP.

    ./dev bench-digipost [--letters N]

One process, one client: every request signed (RSA-2048), every answer
verified, the message checked by the double and stored in its mailbox. The
letter is a real rendered two-page PDF, sent under a fresh letter id each
time; the printability check runs before every send, as in the worker.
Prints requests per second and the time per send.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

from benchmarks.summary import print_summary
from channels.base import OutgoingLetter
from channels.digipost.channel import DigipostChannel, DigipostDirectory, SendOptions
from channels.digipost.client import ApiConfig, DigipostApi
from channels.digipost.double import DigipostDouble, DoubleConfig
from channels.digipost.keys import generate_pair
from channels.printability import printability_problems
from letters.config import PROJECT_ROOT, Settings
from letters.domain.model import Address, Recipient
from letters.rendering.letter_service import LetterService
from tests.support.rates import use_suite_rates

USER = "03039110015"


def main() -> None:
    # Speed on any day: the letters take their rates from the suite's table of test data.
    use_suite_rates()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=300)
    args = parser.parse_args()
    raw = (PROJECT_ROOT / "samples" / "betalingsoppfordring-nb-plain.json").read_bytes()
    pdf = LetterService(Settings.from_env({})).render_request(raw, date(2026, 11, 21)).pdf
    sender, digipost = generate_pair("bench sender"), generate_pair("bench Digipost")
    with TemporaryDirectory() as folder:
        double = DigipostDouble(
            DoubleConfig(Path(folder), digipost, {"1000001": sender.certificate})
        )
        url = double.start()
        api = DigipostApi(ApiConfig(url, "1000001", sender.key, digipost.certificate))
        try:
            run(api, pdf, args.letters)
        finally:
            api.close()
            double.stop()


def run(api: DigipostApi, pdf: bytes, count: int) -> None:
    directory, channel = DigipostDirectory(api), DigipostChannel(api, SendOptions())
    api.entry_point()
    started = time.perf_counter()
    for _ in range(count):
        directory.identify(USER)
    identify_s = time.perf_counter() - started

    checks = []
    for _ in range(min(count, 100)):
        t = time.perf_counter()
        printability_problems(pdf)
        checks.append(time.perf_counter() - t)

    address = Address(("Storgata 1",), "0155", "OSLO", "NO")
    template = OutgoingLetter(
        letter_id="",
        case_number="2026-0045127",
        letter_type="betalingsoppfordring",
        language="nb",
        letter_date=date(2026, 11, 23),
        deadline=date(2026, 12, 7),
        kid="20260045127",
        amount_due=Decimal("1303.34"),
        account_number="15034000015",
        page_count=2,
        pdf_sha256="",
        pdf=pdf,
        recipient=Recipient("Bench Mark", address, USER, True),
        portal_url="https://min.nordlys-inkasso.example",
    )
    sends = []
    started = time.perf_counter()
    for _ in range(count):
        t = time.perf_counter()
        channel.send(replace(template, letter_id=str(uuid.uuid4())))
        sends.append(time.perf_counter() - t)
    send_s = time.perf_counter() - started
    figures = {
        "letters": count,
        "pdf_kib": round(len(pdf) / 1024),
        "identify_per_s": count / identify_s,
        "printability_median_ms": statistics.median(checks) * 1000,
        "send_per_s": count / send_s,
        "send_median_ms": statistics.median(sends) * 1000,
        "send_p99_ms": sorted(sends)[int(len(sends) * 0.99) - 1] * 1000,
    }
    print(f"PDF: {len(pdf) / 1024:.0f} KiB, {count} letters")
    print(f"identify: {count / identify_s:.0f}/s ({identify_s / count * 1000:.1f} ms each)")
    print(f"printability check: {statistics.median(checks) * 1000:.1f} ms (median)")
    print(
        f"send: {count / send_s:.1f}/s, median {statistics.median(sends) * 1000:.1f} ms, "
        f"p99 {sorted(sends)[int(len(sends) * 0.99) - 1] * 1000:.1f} ms "
        "(check + sign + multipart + double + verify)"
    )
    print_summary("digipost", **figures)


if __name__ == "__main__":
    main()
