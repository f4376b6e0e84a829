"""A re-send job over several processes: renewals render on every core.

Rendering is what a renewal costs, and a process renders on one core, so
``letters resend --processes N`` deals the job's letters out to N processes.
Every letter of a case goes to the same process, in the job's order, so the
rules on the order of a case's letters see them as one process would. The
pace is shared: each process goes at 1/N of the job's rate, evenly spaced,
so the job as a whole never goes faster than its rate.

Exactly-once and resumability are the single process's: each process records
each letter's outcome in the job before it takes the next, the new letter id
is fixed when the job is created, and the ledger and the channels know a
letter they have seen. A stop (Ctrl-C, SIGTERM) lets every process finish
the letter in hand; a process that is killed leaves its letters not yet
recorded to do, and the next run of the job takes them.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event

from channels.digipost.connect import start_embedded_double
from letters.config import Rate, Settings
from letters.delivery.pipeline import build_pipeline
from letters.errors import ConfigurationError, TransientError
from letters.ledger import TO_DO, Item, ItemStatus, Job, JobStore, Ledger
from letters.logs import configure_logging
from letters.resend.pace import RateLimiter
from letters.resend.resender import ItemDone, Resender, RunReport

# How often the parent looks at its processes and at a stop while none reports.
_POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class _ItemDone:
    item: Item
    status: ItemStatus
    detail: str


@dataclass(frozen=True, slots=True)
class _Finished:
    process: int


@dataclass(frozen=True, slots=True)
class _Failed:
    process: int
    reason: str
    configuration: bool


_Report = _ItemDone | _Finished | _Failed


def process_for(case_number: str, processes: int) -> int:
    """Which of ``processes`` takes the case's letters: the same one in every run."""
    return zlib.crc32(case_number.encode()) % processes


def dealt(items: Sequence[Item], processes: int) -> list[list[Item]]:
    """``items`` in ``processes`` shares, each case whole and in the job's order."""
    shares: list[list[Item]] = [[] for _ in range(processes)]
    for item in items:
        shares[process_for(item.case_number, processes)].append(item)
    return shares


def run_in_processes(
    settings: Settings,
    job: Job,
    store: JobStore,
    processes: int,
    rate: Rate,
    on_item: ItemDone = lambda *_: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> RunReport:
    """One run of ``job`` in ``processes`` processes; raises as ``Resender.run`` does."""
    started = time.perf_counter()
    report = RunReport(job.job_id, store.start_run(job.job_id))
    to_do = store.items(job.job_id, TO_DO)
    report.done_before = job.item_count - len(to_do)
    # Forked, the processes start with everything imported and begin at once.
    context = multiprocessing.get_context("fork")
    reports: multiprocessing.Queue[_Report] = context.Queue()
    stop = context.Event()
    each = Rate(rate.per_second / processes)
    shared = _one_digipost(settings)
    children = {
        number: context.Process(
            target=_run_share,
            args=(shared, store.ledger, job, share, report.run, each, number, reports, stop),
            name=f"letters-resend-{number}",
            daemon=True,
        )
        for number, share in enumerate(dealt(to_do, processes))
        if share
    }
    for child in children.values():
        child.start()
    failure: _Failed | None = None
    running = set(children)
    try:
        while running:
            if should_stop() and not stop.is_set():
                stop.set()
                report.stopped = True
            try:
                news = reports.get(timeout=_POLL_S)
            except queue.Empty:
                died = _died(children, running)
                failure = failure or died
                continue
            if isinstance(news, _ItemDone):
                report.counts[news.status] += 1
                on_item(news.item, news.status, news.detail)
            else:
                running.discard(news.process)
                if isinstance(news, _Failed):
                    failure = failure or news
                    stop.set()
    finally:
        stop.set()
        for child in children.values():
            child.join()
    report.elapsed_s = time.perf_counter() - started
    if failure is not None:
        if failure.configuration:
            raise ConfigurationError(failure.reason)
        raise TransientError(failure.reason)
    if not report.stopped and not store.items(job.job_id, TO_DO):
        store.finish(job.job_id)
    return report


def _one_digipost(settings: Settings) -> Settings:
    """On the embedded default, one local Digipost double (this process's) for every
    process of the job, as there is one Digipost."""
    if settings.digipost_backend != "digipost" or settings.digipost.url is not None:
        return settings
    url = start_embedded_double(settings.digipost)
    return replace(settings, digipost=replace(settings.digipost, url=url))


def _died(children: Mapping[int, BaseProcess], running: set[int]) -> _Failed | None:
    for number in sorted(running):
        code = children[number].exitcode
        if code is not None:
            running.discard(number)
            return _Failed(
                number,
                f"re-send process {number} stopped (exit code {code}); the letters it had "
                "not recorded stay to do",
                configuration=False,
            )
    return None


def _run_share(
    settings: Settings,
    parents: Ledger,
    job: Job,
    items: list[Item],
    run: int,
    rate: Rate,
    number: int,
    reports: multiprocessing.Queue[_Report],
    stop: Event,
) -> None:
    """A child process: its share of the job, each outcome reported to the parent."""
    # The parent decides when to stop (its Ctrl-C or SIGTERM) and says so through ``stop``.
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    configure_logging("WARNING")
    # The parent's connections are the parent's: this process opens its own.
    parents.engine.dispose(close=False)
    ledger = Ledger.for_settings(settings)
    try:
        resender = Resender(build_pipeline(settings, ledger), JobStore(ledger))
        resender.run_items(
            job,
            items,
            RunReport(job.job_id, run),
            RateLimiter(rate),
            lambda item, status, detail: reports.put(_ItemDone(item, status, detail)),
            # Also when the command is gone (killed): its next run takes the rest.
            lambda: stop.is_set() or os.getppid() != parent,
        )
    except ConfigurationError as err:
        reports.put(_Failed(number, str(err), configuration=True))
    except Exception as err:
        reports.put(_Failed(number, f"re-send process {number}: {err}", configuration=False))
    else:
        reports.put(_Finished(number))
    finally:
        ledger.close()
