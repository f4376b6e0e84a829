"""Scale benchmark: how the ledger's work grows with its history.

    ./dev bench-scale [--letters 1000000] [--sizes 10000,100000,1000000]
                      [--database postgresql|sqlite] [--probes 100] [--fresh]

For each size, a ledger of that many letters spread over three years
(``benchmarks.scale_history``), written through the ledger's bulk path
(``letters.ledger.bulk``): sealed requests with their blind index, history,
the outbox (published events kept 90 days, as the relay prunes them; the
newest waiting) and delivery events. Each size has a database of its own
(PostgreSQL ``letters_scale_<size>``, or ``var/scale/letters-<size>.db``),
kept between runs: a fill that stops goes on from where it stopped, and a
second run measures without filling again (``--fresh`` starts over).

Then, at each size, the median and p99 of the ledger's part of:

- the worker's per-letter work (accept, route, render, archive, send);
- ``letters status ID`` and ``letters status --national-id``;
- the operations page's snapshot; one sweep pass;
- the relay's publish rate (to a publisher that only counts);
- a re-send selection over a year; a retention pass erasing a month;
- putting away the history of 10,000 erased letters in the archive;
- the access export of the person with 50 letters.

It prints a table of each figure and its ratio to the first size's, the
plans of the queries these ran (PostgreSQL ``EXPLAIN``, SQLite ``EXPLAIN
QUERY PLAN``; in full under ``var/scale/``), and last one JSON summary.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from benchmarks.scale_history import (
    PROBE_CASE,
    SPAN,
    History,
    archived_pdf,
    letter_id,
    national_id,
)
from benchmarks.summary import print_summary
from letters.clock import utcnow
from letters.config import PROJECT_ROOT
from letters.digests import sha256_hex
from letters.ledger import Ledger, LetterStatus, Rendering
from letters.ledger.bulk import analyze, write_past_letters
from letters.ledger.gauges import read_gauges
from letters.ledger.keys import KEY_FILE_SETTING, FileMasterKey, LedgerKeys
from letters.ledger.locks import letter_locks
from letters.ledger.personal_data import erase_expired, letter_ids_of_person
from letters.operations.snapshot import take_snapshot
from letters.privacy.export import Subject, export_personal_data
from letters.resend.selection import Selection
from letters.retention.history_put_away import put_away_history
from letters.storage import DirectoryStore

POSTGRES_ADMIN_URL = os.environ.get(
    "LETTERS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CHUNK = 2000
KEEP_EVENTS = timedelta(days=90)
# The outbox holds about this many events waiting for the relay when the fill ends.
PENDING_EVENTS = 100_000
# Letters whose history the put-away measurement moves to the archive (the worker's
# hourly run puts away as many).
PUT_AWAY = 10_000


def main() -> None:
    args = _arguments()
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = _sizes(args)
    results: dict[int, dict[str, Any]] = {}
    plans: dict[str, str] = {}
    for size in sizes:
        with _ledger(args, size) as ledger:
            anchor = _anchor(args.workdir, ledger, args.fresh)
            fill = _fill(ledger, History(size, anchor))
            analyze(ledger)
            figures, size_plans = _measure(
                ledger, History(size, anchor), args.probes, args.retention_month
            )
            results[size] = {
                "fill": fill, **figures, "on_disk": _sizes_on_disk(ledger, args, size)
            }  # fmt: skip
            plans = size_plans  # the largest size's plans are the ones shown
            plan_file = args.workdir / f"plans-{args.database}-{size}.txt"
            plan_file.write_text("\n\n".join(f"{q}\n{p}" for q, p in size_plans.items()))
    print_batch = _print_batch(args.print_letters)
    _print_table(sizes, results)
    print("\nplans at the largest size (first lines; in full under var/scale/):")
    for query, plan in plans.items():
        print(f"  {query[:110]}\n      {plan.splitlines()[0] if plan else '-'}")
    print_summary(
        "scale",
        database=args.database,
        sizes=sizes,
        figures={str(size): results[size] for size in sizes},
        print_batch=print_batch,
        plans={q[:200]: p.splitlines()[:3] for q, p in plans.items()},
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=1_000_000)
    parser.add_argument(
        "--sizes", help="comma-separated sizes (default: 10k, 100k, … up to --letters)"
    )
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--probes", type=int, default=100, help="samples per figure")
    parser.add_argument("--fresh", action="store_true", help="fill each size's ledger anew")
    parser.add_argument(
        "--retention-month", type=int, default=1,
        help="the retention pass erases the month this many months from now (a kept "
        "ledger's earlier runs erased the months before)",
    )  # fmt: skip
    parser.add_argument(
        "--workdir", type=Path, default=PROJECT_ROOT / "var" / "scale",
        help="where the SQLite ledgers, the keys and the plans are kept",
    )  # fmt: skip
    parser.add_argument("--database-prefix", default="letters_scale", help="PostgreSQL's")
    parser.add_argument(
        "--print-letters", type=int, default=5000,
        help="letters in the print batch assembled once, with its peak memory (0: none)",
    )  # fmt: skip
    return parser.parse_args()


def _sizes(args: argparse.Namespace) -> list[int]:
    if args.sizes:
        return sorted({int(s) for s in args.sizes.split(",")})
    steps = [s for s in (10_000, 100_000, 1_000_000, 10_000_000) if s < args.letters]
    return [*steps, args.letters]


# -- the ledgers ------------------------------------------------------------------------------


def _keys(workdir: Path) -> LedgerKeys:
    """One pair of keys for every size's ledger, kept beside them so a kept ledger opens."""
    path = workdir / "keys.json"
    if not path.exists():
        made = {"master": os.urandom(32), "index": os.urandom(32)}
        path.write_text(json.dumps({k: base64.b64encode(v).decode() for k, v in made.items()}))
        path.chmod(0o600)
    kept = {k: base64.b64decode(v) for k, v in json.loads(path.read_text()).items()}
    return LedgerKeys(FileMasterKey(kept["master"], KEY_FILE_SETTING), kept["index"])


@contextlib.contextmanager
def _ledger(args: argparse.Namespace, size: int) -> Iterator[Ledger]:
    fresh = args.fresh
    if args.database == "sqlite":
        path = args.workdir / f"letters-{size}.db"
        if fresh:
            path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        name = f"{args.database_prefix}_{size}"
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as conn:
            if fresh:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    ledger = Ledger(url, _keys(args.workdir))
    started = time.perf_counter()
    ledger.upgrade()
    # The migrations a kept ledger had not had yet, run on all its letters.
    print(f"  {size}: migrations and key checks took {time.perf_counter() - started:.1f} s")
    try:
        yield ledger
    finally:
        ledger.close()


def _fill(ledger: Ledger, history: History) -> dict[str, Any]:
    """Fill the ledger up to its size, from where an earlier fill stopped."""
    size = history.total
    probes = len(ledger.case_letters(PROBE_CASE))
    start = sum(ledger.status_counts().values()) - probes
    per_day = 5 * size / SPAN.days
    published_before = history.now - timedelta(days=PENDING_EVENTS / per_day)
    kept_since = history.now - KEEP_EVENTS
    began = time.perf_counter()
    for first in range(start, size, CHUNK):
        chunk = list(history.letters(first, min(size, first + CHUNK)))
        write_past_letters(ledger, chunk, published_before, kept_since)
        done = first + len(chunk)
        if done % 100_000 < CHUNK or done == size:
            rate = (done - start) / (time.perf_counter() - began)
            print(f"  fill {size}: {done} letters, {rate:,.0f} letters/s", flush=True)
    seconds = time.perf_counter() - began
    filled = size - start
    return {
        "letters_written": filled,
        "seconds": round(seconds, 1),
        "letters_per_s": round(filled / seconds) if filled else None,
    }


def _anchor(workdir: Path, ledger: Ledger, fresh: bool) -> datetime:
    """The fill's 'now', kept with the ledger, so that a fill that goes on days later
    writes the letters the first part would have."""
    path = workdir / f"anchor-{sha256_hex(ledger.url.encode())[:12]}.txt"
    if fresh or not path.exists():
        path.write_text(utcnow().isoformat())
    return datetime.fromisoformat(path.read_text())


# -- the measurements -------------------------------------------------------------------------


def _measure(
    ledger: Ledger, history: History, probes: int, retention_month: int
) -> tuple[dict[str, Any], dict[str, str]]:
    size = history.total
    now = utcnow()
    captured: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    with _capturing(ledger, captured):
        figures["per_letter_ms"] = _timed(probes, lambda i: _one_letter(ledger, i))
        ids = [letter_id((i * 7919) % size) for i in range(probes)]
        figures["status_ms"] = _timed(
            probes, lambda i: (ledger.get(ids[i]), ledger.history(ids[i]))
        )
        persons = [history.heavy_person_id] + [
            _person_id(history, (i * 104_729) % size) for i in range(1, probes)
        ]
        figures["status_national_id_ms"] = _timed(
            probes, lambda i: ledger.letters_in(letter_ids_of_person(ledger, persons[i]))
        )
        few = max(3, probes // 20)
        figures["ops_snapshot_ms"] = _timed(few, lambda _: take_snapshot(ledger, dict))
        figures["metrics_scrape_ms"] = _timed(few, lambda _: read_gauges(ledger, now))
        figures["sweep_ms"] = _timed(
            few,
            lambda _: (ledger.overdue(now, 120, 900), ledger.in_flight(now, timedelta(hours=2))),
        )
        figures["relay"] = _relay(ledger)
        figures["resend_selection"] = _selection(ledger, now)
        figures["retention"] = _retention(ledger, history, retention_month)
        figures["history_put_away"] = _put_away(ledger, history, retention_month)
        figures["access_export"] = _export(ledger, history)
    return figures, _plans(ledger, captured)


def _timed(count: int, work: Callable[[int], object]) -> dict[str, float]:
    times = []
    for index in range(count):
        started = time.perf_counter()
        work(index)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "median": round(statistics.median(times), 2),
        "p99": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
    }


def _person_id(history: History, index: int) -> str:
    return national_id(history.person_of(index))


def _one_letter(ledger: Ledger, _: int) -> None:
    """The ledger's statements for one letter on its way through the worker."""
    new_id = str(uuid.uuid4())
    request = json.dumps(
        {"letter_id": new_id, "recipient": {"national_identity_number": "03039110015"}}
    )
    ledger.accept(
        letter_id=new_id, case_number=PROBE_CASE, letter_type="purring", language="nb",
        request=request,
    )  # fmt: skip
    ledger.record_routed(new_id, "digipost", "consent and a mailbox")
    today = utcnow().date()
    rendering = Rendering(
        letter_date=today, deadline=today + timedelta(days=14), kid="0000000001",
        amount_due=Decimal("100.00"), template_version="scale-1",
        pdf_sha256="0" * 64, page_count=2, otp_hash="scrypt$scale",
        otp_expires_on=today + timedelta(days=60), planned_posting_day=today,
    )  # fmt: skip
    ledger.record_rendered(new_id, rendering, "2 page(s)")
    ledger.record_archived(new_id, f"{today:%Y/%m/%d}/{new_id}.pdf")
    ledger.record_sent(new_id, LetterStatus.DELIVERED, "doc", "digipost: delivered")


class _CountingPublisher:
    published = 0

    def publish_event(self, body: bytes, routing_key: str, event_id: str, **_: Any) -> None:
        self.published += 1

    def close(self) -> None:
        pass


def _relay(ledger: Ledger) -> dict[str, Any]:
    from letters.messaging.event_relay import EventRelay

    pending = ledger.outbox.pending_count()
    with TemporaryDirectory() as folder:
        publisher = _CountingPublisher()
        relay = EventRelay(
            ledger.outbox,
            lambda: publisher,  # type: ignore[arg-type, return-value]
            letter_locks(ledger.engine, Path(folder)),
            KEEP_EVENTS.total_seconds(),
        )
        limit = min(pending, 20_000)
        started = time.perf_counter()
        published = relay.relay(limit=limit) if limit else 0
        seconds = time.perf_counter() - started
    return {
        "pending": pending,
        "published": published,
        "events_per_s": round(published / seconds) if published else None,
    }


def _selection(ledger: Ledger, now: datetime) -> dict[str, Any]:
    """The dry run's count and the job's stream, over a year; the stream's peak memory over
    a month and over a year (flat: it holds a batch of rows, never the result)."""
    year = Selection(letter_types=("purring",), date_from=(now - timedelta(days=365)).date())
    month = Selection(letter_types=("purring",), date_from=(now - timedelta(days=30)).date())
    started = time.perf_counter()
    counted = year.select(ledger, "copy")
    counting = time.perf_counter() - started
    started = time.perf_counter()
    streamed = sum(1 for _ in year.chosen(ledger, "copy"))
    streaming = time.perf_counter() - started
    month_peak, month_count = _peak_kib(lambda: sum(1 for _ in month.chosen(ledger, "copy")))
    year_peak, _ = _peak_kib(lambda: sum(1 for _ in year.chosen(ledger, "copy")))
    return {
        "ms": round(counting * 1000),
        "stream_ms": round(streaming * 1000),
        "chosen": counted.count,
        "streamed": streamed,
        "month_chosen": month_count,
        "peak_kib_month": month_peak,
        "peak_kib_year": year_peak,
    }


def _peak_kib(work: Callable[[], Any]) -> tuple[int, Any]:
    """The most Python memory ``work`` held at once, in KiB, and what it returned."""
    tracemalloc.start()
    try:
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return round(peak / 1024), result


def _retention(ledger: Ledger, history: History, month: int) -> dict[str, Any]:
    """Erase one month more than retention has erased: as the pass ``month`` months on."""
    started = time.perf_counter()
    erased = erase_expired(ledger, history.now + timedelta(days=30 * month), 400)
    return {"ms": round((time.perf_counter() - started) * 1000), "erased": erased}


def _put_away(ledger: Ledger, history: History, month: int) -> dict[str, Any]:
    """Put away the history of up to PUT_AWAY letters erased 30 days before the retention
    pass above: the hourly run's work, at most, on a ledger of years."""
    now = history.now + timedelta(days=30 * month + 31)
    with TemporaryDirectory() as folder:
        archive = DirectoryStore(Path(folder) / "archive")
        started = time.perf_counter()
        report = put_away_history(ledger, archive, now, 30, limit=PUT_AWAY)
        seconds = time.perf_counter() - started
        stored = sum(p.stat().st_size for p in Path(folder).rglob("*.jsonl.gz"))
    return {
        "ms": round(seconds * 1000), "letters": report.letters, "lines": report.lines,
        "delivery_events": report.delivery_events, "files": len(report.files),
        "letters_per_s": round(report.letters / seconds) if report.letters else None,
        "archive_bytes_per_letter": round(stored / report.letters) if report.letters else None,
    }  # fmt: skip


def _export(ledger: Ledger, history: History) -> dict[str, Any]:
    with TemporaryDirectory() as folder:
        archive = DirectoryStore(Path(folder) / "archive")
        pdf_bytes = 0
        for record in ledger.letters_in(letter_ids_of_person(ledger, history.heavy_person_id)):
            if record.archive_key:
                pdf = archived_pdf(record.letter_id)
                pdf_bytes += len(pdf)
                archive.put(record.archive_key, pdf)
        subject = Subject(national_identity_number=history.heavy_person_id)

        def export(out: str) -> Any:
            return export_personal_data(
                ledger, archive, subject, Path(folder) / out, "scale benchmark", "measuring",
                utcnow(),
            )  # fmt: skip

        started = time.perf_counter()
        report = export("export.zip")
        ms = round((time.perf_counter() - started) * 1000)
        peak, _ = _peak_kib(lambda: export("again.zip"))
        return {
            "ms": ms, "letters": report.letters, "pdf_kib": round(pdf_bytes / 1024),
            "peak_kib": peak,
        }  # fmt: skip


def _sizes_on_disk(ledger: Ledger, args: argparse.Namespace, size: int) -> dict[str, Any]:
    """How much room the ledger takes: per table on PostgreSQL (with its indexes and
    TOAST), the file on SQLite; and per million letters."""
    if ledger.engine.dialect.name == "sqlite":
        path = args.workdir / f"letters-{size}.db"
        total = path.stat().st_size
        tables: dict[str, float] = {}
    else:
        with ledger.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).all()
        tables = {name: round(bytes_ / 2**20, 1) for name, bytes_ in rows if bytes_ > 2**20}
        total = sum(bytes_ for _, bytes_ in rows)
    return {
        "total_mib": round(total / 2**20),
        "mib_per_million_letters": round(total / 2**20 / size * 1_000_000),
        "tables_mib": dict(sorted(tables.items(), key=lambda kv: -kv[1])),
    }


def _print_batch(letters: int) -> dict[str, Any]:
    """A batch of ``letters`` assembled by ``benchmarks.print_batch`` in a process of its
    own, so that its peak RSS is the batch's, not this benchmark's."""
    if not letters:
        return {}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.print_batch", "--letters", str(letters)],
        capture_output=True, text=True, check=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    *lines, last = done.stdout.strip().splitlines()
    print("\n".join(lines))
    summary: dict[str, Any] = json.loads(last)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()}


# -- the plans ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _capturing(ledger: Ledger, captured: dict[str, Any]) -> Iterator[None]:
    """Keep the first parameters of each distinct SELECT the measurements run."""

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and statement not in captured:
            captured[statement] = parameters

    event.listen(ledger.engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(ledger.engine, "before_cursor_execute", before)


def _plans(ledger: Ledger, captured: dict[str, Any]) -> dict[str, str]:
    explain = "EXPLAIN QUERY PLAN " if ledger.engine.dialect.name == "sqlite" else "EXPLAIN "
    plans = {}
    with ledger.engine.connect() as conn:
        for statement, parameters in captured.items():
            try:
                rows = conn.exec_driver_sql(explain + statement, parameters).all()
            except Exception as err:  # a plan we cannot ask for is reported, not fatal
                plans[" ".join(statement.split())] = f"(no plan: {type(err).__name__})"
                continue
            plans[" ".join(statement.split())] = "\n".join(str(r[-1]) for r in rows)
    return plans


def _print_table(sizes: list[int], results: dict[int, dict[str, Any]]) -> None:
    rows = []
    for name in (
        "per_letter_ms", "status_ms", "status_national_id_ms", "ops_snapshot_ms",
        "metrics_scrape_ms", "sweep_ms",
    ):  # fmt: skip
        for stat in ("median", "p99"):
            rows.append((f"{name} {stat}", [results[s][name][stat] for s in sizes]))
    rows.append(("relay events/s", [results[s]["relay"]["events_per_s"] for s in sizes]))
    selections = [results[s]["resend_selection"] for s in sizes]
    rows.append(("resend selection ms", [r["ms"] for r in selections]))
    rows.append(("resend stream ms", [r["stream_ms"] for r in selections]))
    rows.append(("resend chosen (year)", [r["chosen"] for r in selections]))
    rows.append(("resend peak KiB (month)", [r["peak_kib_month"] for r in selections]))
    rows.append(("resend peak KiB (year)", [r["peak_kib_year"] for r in selections]))
    rows.append(("retention ms", [results[s]["retention"]["ms"] for s in sizes]))
    rows.append(("retention erased", [results[s]["retention"]["erased"] for s in sizes]))
    put_away = [results[s]["history_put_away"] for s in sizes]
    rows.append(("history put away letters", [r["letters"] for r in put_away]))
    rows.append(("history put-away letters/s", [r["letters_per_s"] for r in put_away]))
    rows.append(("history archived B/letter", [r["archive_bytes_per_letter"] for r in put_away]))
    rows.append(("access export ms", [results[s]["access_export"]["ms"] for s in sizes]))
    rows.append(
        ("access export peak KiB", [results[s]["access_export"]["peak_kib"] for s in sizes])
    )
    rows.append(("ledger MiB", [results[s]["on_disk"]["total_mib"] for s in sizes]))
    rows.append(
        (
            "MiB per million letters",
            [results[s]["on_disk"]["mib_per_million_letters"] for s in sizes],
        )
    )
    rows.append(("fill letters/s", [results[s]["fill"]["letters_per_s"] for s in sizes]))
    header = f"{'figure':<28}" + "".join(f"{s:>14,}" for s in sizes) + "   ratio to first"
    print(header)
    for name, values in rows:
        first = values[0]
        ratios = " ".join(
            f"{v / first:.2f}x" if isinstance(v, (int, float)) and first else "-" for v in values
        )
        cells = "".join(f"{v if v is not None else '-':>14}" for v in values)
        print(f"{name:<28}{cells}   {ratios}")


if __name__ == "__main__":
    sys.exit(main())
