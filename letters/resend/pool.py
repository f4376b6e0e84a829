"""A re-send job over several processes: renewals render on every core.

Rendering is what a renewal costs, and a process renders on one core, so
``letters resend --processes N`` shares the job's letters out to N processes.
A case is the unit shared: every letter of a case goes to the same process,
in the job's order, so the rules on the order of a case's letters see them
as one process would. A process takes the next case when it has finished
the last, so every core stays busy to the end of the job, whatever the cases
cost (a share fixed beforehand left one process idle while the other still
had a tenth of a small job to do). The pace is shared: each process goes at
1/N of the job's rate, evenly spaced, so the job as a whole never goes
faster than its rate.

Exactly-once and resumability are the single process's: each process records
each letter's outcome in the job before it takes the next, the new letter id
is fixed when the job is created, and the ledger and the channels know a
letter they have seen. A stop (Ctrl-C, SIGTERM) lets every process finish
the letter in hand; a process that is killed leaves its letters not yet
recorded to do, and the next run of the job takes them.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event

from channels.digipost.connect import start_embedded_double
from letters.clock import today_in_norway
from letters.config import Rate, Settings
from letters.delivery.pipeline import build_pipeline
from letters.domain.deadline import next_bank_day
from letters.errors import ConfigurationError, TransientError
from letters.ledger import Ledger
from letters.ledger.resend_jobs import TO_DO, Item, ItemStatus, Job, JobStore
from letters.logs import configure_logging
from letters.resend.pace import RateLimiter
from letters.resend.resender import ItemDone, Resender, RunReport

# How often the parent looks at its processes and at a stop while none reports.
_POLL_S = 0.2
# Modules a process would otherwise import on its first letter: httpx imports its
# transport when a client is made, the Digipost body's MIME parts their policy.
_FIRST_LETTER_MODULES = ("httpcore", "email.policy")


@dataclass(frozen=True, slots=True)
class _ItemDone:
    process: int
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


def case_groups(items: Sequence[Item]) -> list[list[Item]]:
    """``items`` by case: each case's letters in the job's order, and the cases in the
    order of their first letter in the job."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.case_number, []).append(item)
    return list(groups.values())


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
    groups = case_groups(to_do)
    # Forked, the processes start with everything imported and begin at once; they
    # have the groups from the fork and take them in turn by this counter.
    context = multiprocessing.get_context("fork")
    reports: multiprocessing.Queue[_Report] = context.Queue()
    stop = context.Event()
    next_group = context.Value("q", 0)
    # No more processes than cases, and none for a job with nothing left to do.
    count = min(processes, len(groups))
    each = Rate(rate.per_second / max(1, count))
    shared = _one_digipost(settings)
    if count:
        _load_before_forking(today_in_norway())
    report.by_process = [0] * count
    share = _Share(job, groups, next_group, report.run, each)
    children = {
        number: context.Process(
            target=_run_share,
            args=(shared, store.ledger, share, number, reports, stop),
            name=f"letters-resend-{number}",
            daemon=True,
        )
        for number in range(count)
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
                report.by_process[news.process] += 1
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


def _load_before_forking(today: date) -> None:
    """Load once, here, what each process would load on its first letter (about a
    quarter of a second each): the bank days of this year and the next, whose
    holidays package imports every country it knows, and some modules."""
    next_bank_day(date(today.year, 12, 31))  # looks into the next year's holidays too
    for module in _FIRST_LETTER_MODULES:
        importlib.import_module(module)


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


@dataclass(frozen=True)
class _Share:
    """What every process of a run works through: the case groups, taken in turn."""

    job: Job
    groups: list[list[Item]]
    next_group: Synchronized[int]  # the index of the next group to take
    run: int
    rate: Rate

    def take(self) -> list[Item] | None:
        with self.next_group.get_lock():
            index = self.next_group.value
            self.next_group.value = index + 1
        return self.groups[index] if index < len(self.groups) else None


def _run_share(
    settings: Settings,
    parents: Ledger,
    share: _Share,
    number: int,
    reports: multiprocessing.Queue[_Report],
    stop: Event,
) -> None:
    """A child process: cases of the job one after the other until none is left, each
    letter's outcome reported to the parent."""
    # The parent decides when to stop (its Ctrl-C or SIGTERM) and says so through ``stop``.
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    configure_logging("WARNING")
    # The parent's connections are the parent's: this process opens its own.
    parents.engine.dispose(close=False)
    ledger = Ledger.for_settings(settings)

    def stopping() -> bool:
        # Also when the command is gone (killed): its next run takes the rest.
        return stop.is_set() or os.getppid() != parent

    try:
        resender = Resender(build_pipeline(settings, ledger), ledger.resend_jobs)
        report = RunReport(share.job.job_id, share.run)
        limiter = RateLimiter(share.rate)
        while not stopping() and (group := share.take()) is not None:
            resender.run_items(
                share.job,
                group,
                report,
                limiter,
                lambda item, status, detail: reports.put(_ItemDone(number, item, status, detail)),
                stopping,
            )
    except ConfigurationError as err:
        reports.put(_Failed(number, str(err), configuration=True))
    except Exception as err:
        reports.put(_Failed(number, f"re-send process {number}: {err}", configuration=False))
    else:
        reports.put(_Finished(number))
    finally:
        ledger.close()
