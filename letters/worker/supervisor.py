"""Run workers: prepare the ledger and broker once, then one consumer per process.

``letters worker --concurrency N`` starts N processes (rendering is CPU-bound,
so processes, not threads). The parent passes SIGTERM on, restarts a worker
that died, and stops everything if one reports a configuration error.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from channels import build_channels
from letters import metrics
from letters.clock import today_in_norway
from letters.config import Settings
from letters.config.declared import SWEEP_MAX_RECOVERIES
from letters.delivery.pipeline import build_pipeline
from letters.delivery.rates import warn_if_rates_run_out
from letters.domain.pepper import SETTING as PEPPER_SETTING
from letters.domain.pepper import load_pepper
from letters.errors import TransientError
from letters.ledger import Ledger
from letters.ledger.key_checks import check_secret
from letters.logs import configure_logging, log_event
from letters.messaging.broker import Publisher, connect, topology_for
from letters.messaging.dead_letter_queue import seal_dead_queue
from letters.messaging.event_relay import relay_until_empty
from letters.messaging.queue_migration import migrate_classic_retry_queues
from letters.worker.consumer import LetterWorker
from letters.worker.health import HealthServer
from letters.worker.periodic import periodic_tasks
from letters.worker.recovery import recover

log = logging.getLogger("letters.runner")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIGURATION = 0, 1, 78
# --until-empty stopped with letters overdue that the sweep may not recover.
EXIT_OVERDUE = 3
# A worker that dies more often than this is not helped by restarting it.
_MAX_RESTARTS, _RESTART_WINDOW_S = 5, 60.0


def prepare(settings: Settings) -> None:
    """Check the channels' set-up, migrate the ledger, declare the topology, recover.

    Building the channels loads keys and certificates, so a missing key file
    or a wrong password stops here, before any worker starts.
    """
    build_channels(settings)
    pepper = load_pepper(settings)
    ledger = Ledger.for_settings(settings)
    try:
        ledger.upgrade()
        # A worker with another pepper would send passwords the portal rejects.
        check_secret(ledger, PEPPER_SETTING, pepper.secret)
        with Publisher.open(settings) as publisher:
            if settings.embedded_broker:
                recover(settings, ledger, publisher)
            else:
                migrate_classic_retry_queues(publisher)
            # A message the broker dead-lettered whole is sealed into the ledger.
            seal_dead_queue(publisher, ledger)
    finally:
        ledger.close()


def run_worker(
    settings: Settings,
    until_empty: bool,
    name: str = "worker-1",
    supervisor_gone: Callable[[], bool] = lambda: False,
) -> int:
    """One consumer in this process, until SIGTERM (or an empty queue, or no supervisor)."""
    ledger = Ledger.for_settings(settings)
    first = name == "worker-1"
    try:
        pipeline = build_pipeline(settings, ledger)
        worker = LetterWorker(
            connect(settings),
            topology_for(settings),
            pipeline,
            ledger,
            broker_retries=not settings.embedded_broker,
            until_empty=until_empty,
            # One process syncs, dispatches and sweeps for all; the others only deliver.
            periodic=periodic_tasks(settings, ledger, pipeline) if first else (),
            sweep=settings.sweep,
            sweep_periodically=first,
            supervisor_gone=supervisor_gone,
            limits=pipeline.service.contract_rules.limits,
            max_worker_stops=settings.max_worker_stops,
            ledger_wait_s=settings.ledger_wait_s,
        )

        def stop(signum: int, _frame: FrameType | None) -> None:
            # The letter in hand is finished first; the consume loop checks this flag.
            worker.should_stop = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        log_event(log, "worker started", worker=name)
        if first:
            warn_if_rates_run_out(pipeline.rates.table(), today_in_norway())
        try:
            worker.run(safety_interval=0.25)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        code = EXIT_CONFIGURATION if worker.configuration_error else EXIT_OK
        if worker.unrecoverable and code == EXIT_OK:
            code = EXIT_OVERDUE
            ids = ", ".join(letter.letter_id for letter in worker.unrecoverable)
            print(
                f"letters worker: {len(worker.unrecoverable)} letter(s) overdue that the sweep "
                f"may not recover (recovered {settings.sweep.max_recoveries} time(s) already, "
                f"{SWEEP_MAX_RECOVERIES}): {ids}; see `letters recover --dry-run`",
                file=sys.stderr,
            )
        log_event(log, "worker stopped", worker=name, count=worker.handled, exit_code=code)
        return code
    finally:
        ledger.close()


def _child(settings: Settings, until_empty: bool, name: str) -> None:
    configure_logging(settings.log_level)
    supervisor = multiprocessing.parent_process()

    def supervisor_gone() -> bool:
        # The supervisor's sentinel closes when it dies, SIGKILL included.
        return supervisor is not None and not supervisor.is_alive()

    raise SystemExit(run_worker(settings, until_empty, name, supervisor_gone))


def run_workers(settings: Settings, concurrency: int, until_empty: bool) -> int:
    """Prepare, then run ``concurrency`` workers; returns the exit code. With
    ``until_empty``, every event of the letters handled is published before it returns
    (unless LETTERS_EVENTS_RELAY_INTERVAL is 0: then another process relays)."""
    prepare(settings)
    with _serving_health(settings, concurrency):
        code = _run(settings, concurrency, until_empty)
    if until_empty and code == EXIT_OK and settings.events.relay_interval_s:
        ledger = Ledger.for_settings(settings)
        try:
            relay_until_empty(settings, ledger)
        except TransientError as err:
            log_event(log, "events not all published", level=logging.ERROR, reason=str(err))
            code = EXIT_FAILURE
        finally:
            ledger.close()
    return code


@contextmanager
def _serving_health(settings: Settings, concurrency: int) -> Iterator[None]:
    """/metrics, /healthz and /readyz while the workers run, if LETTERS_METRICS_PORT is set.

    Several worker processes write their values to files that this process reads
    when scraped: the folder is named in the environment before they start.
    """
    if settings.metrics_port is None:
        yield
        return
    previous = os.environ.get(metrics.MULTIPROC_ENV)
    if concurrency > 1:
        metrics.start_multiprocess(settings.var_dir / "metrics")
    try:
        with HealthServer(settings):
            yield
    finally:
        if previous is None:
            os.environ.pop(metrics.MULTIPROC_ENV, None)
        else:
            os.environ[metrics.MULTIPROC_ENV] = previous


def _run(settings: Settings, concurrency: int, until_empty: bool) -> int:
    if concurrency == 1:
        code = run_worker(settings, until_empty)
        return EXIT_OK if code == EXIT_OK else EXIT_FAILURE
    context = multiprocessing.get_context("spawn")
    stopping = False
    restarts: list[float] = []

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=_child, args=(settings, until_empty, f"worker-{index}"), name=f"worker-{index}"
        )
        process.start()
        return process

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in children.values():
            if process.is_alive() and process.pid:
                process.terminate()

    children = {i: start(i) for i in range(1, concurrency + 1)}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log_event(log, "workers started", concurrency=concurrency)
    code = EXIT_OK
    while children:
        wait([p.sentinel for p in children.values()], timeout=1.0)
        for index, process in list(children.items()):
            if process.is_alive():
                continue
            process.join()
            del children[index]
            exit_code = process.exitcode
            if exit_code == EXIT_CONFIGURATION:
                code = EXIT_FAILURE
                stop(signal.SIGTERM, None)
            elif exit_code == EXIT_OVERDUE:
                code = EXIT_FAILURE
            elif exit_code != EXIT_OK and not stopping:
                now = time.monotonic()
                restarts[:] = [t for t in restarts if now - t < _RESTART_WINDOW_S] + [now]
                if len(restarts) > _MAX_RESTARTS:
                    log_event(log, "workers keep dying; giving up", level=logging.CRITICAL)
                    code = EXIT_FAILURE
                    stop(signal.SIGTERM, None)
                    continue
                log_event(log, "worker died; restarting", level=logging.ERROR, exit_code=exit_code)
                children[index] = start(index)
    return code
