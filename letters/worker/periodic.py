"""Work the first worker process does between messages: the events relay, print
dispatch, the print house's receipts, Digipost sync, retention, print-when-unread.

Each task runs every ``interval_s``; a failure of its own is logged and
tried again at the next interval, while a configuration error stops the
worker like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from letters.clock import today_in_norway, utcnow
from letters.config import Settings
from letters.delivery.digipost_sync import sync_digipost
from letters.delivery.pipeline import Pipeline
from letters.delivery.print_when_unread import print_unread
from letters.errors import PermanentError, TransientError
from letters.ledger import Ledger
from letters.ledger.personal_data import erase_expired
from letters.logs import log_event
from letters.messaging.event_relay import open_relay
from letters.retention.history_put_away import put_away_history
from letters.storage import Archive

_HOUR_S = 3600.0
_DAY_S = 24 * _HOUR_S
# Letters whose history one hourly run puts away: seconds of work at most.
_PUT_AWAY_PER_RUN = 10_000
# The worker's own logger: operators filter on it.
log = logging.getLogger("letters.worker")
_RUNNER_LOG = logging.getLogger("letters.runner")


@dataclass
class PeriodicTask:
    """Work the worker does between messages every ``interval_s`` (e.g. Digipost sync)."""

    name: str
    interval_s: float
    run: Callable[[], object]
    due_at: float = field(default_factory=time.monotonic)

    def run_if_due(self) -> None:
        now = time.monotonic()
        if now < self.due_at:
            return
        self.due_at = now + self.interval_s
        try:
            self.run()
        except (TransientError, PermanentError) as err:
            # Tried again at the next interval; a ConfigurationError stops the worker.
            log_event(log, f"{self.name} failed", level=logging.WARNING, reason=str(err))


def periodic_tasks(settings: Settings, ledger: Ledger, pipeline: Pipeline) -> list[PeriodicTask]:
    return [
        *_event_relay(settings, ledger),
        *_digipost_sync(settings, ledger),
        *_print_dispatch(settings, pipeline),
        *_print_receipts(settings, pipeline),
        _retention(settings, ledger),
        _history_put_away(settings, ledger, pipeline.archive),
        *_print_when_unread(settings, pipeline),
    ]


def _print_when_unread(settings: Settings, pipeline: Pipeline) -> list[PeriodicTask]:
    """Every hour: copy Digipost letters nobody opened to print (the profile says which)."""
    rule = pipeline.service.profile.print_when_unread
    if not settings.print_when_unread or not rule.letter_types:
        return []

    def copy_unread() -> None:
        report = print_unread(pipeline, rule, today_in_norway())
        if report.copied or report.withdrawn or report.failed:
            log_event(log, "print-when-unread", count=report.copied)

    return [PeriodicTask("print when unread", _HOUR_S, copy_unread)]


def _retention(settings: Settings, ledger: Ledger) -> PeriodicTask:
    """Once a day, and at start: erase the personal data of letters and dead letters past
    retention."""

    def erase() -> None:
        now = utcnow()
        erased = erase_expired(ledger, now, settings.retention_days)
        if erased:
            log_event(log, "personal data erased past retention", count=erased)
        dead = ledger.dead_letters.erase_expired(now, settings.retention_days)
        if dead:
            log_event(log, "dead letters' messages erased past retention", count=dead)

    return PeriodicTask("retention", _DAY_S, erase)


def _history_put_away(settings: Settings, ledger: Ledger, archive: Archive) -> PeriodicTask:
    """Every hour: put away the history of letters erased long enough ago, a bounded
    number each time, so a backlog (the first run on a ledger of years) is worked off
    over hours without holding up the messages this process takes between runs."""

    def put_away() -> None:
        report = put_away_history(
            ledger, archive, utcnow(), settings.history_archive_days, limit=_PUT_AWAY_PER_RUN
        )
        if report.letters:
            log_event(
                log, "history of erased letters put away in the archive", count=report.letters
            )

    return PeriodicTask("history put-away", _HOUR_S, put_away)


def _event_relay(settings: Settings, ledger: Ledger) -> list[PeriodicTask]:
    if not settings.events.relay_interval_s:
        return []
    relay = open_relay(settings, ledger)
    return [PeriodicTask("events relay", settings.events.relay_interval_s, relay.relay)]


def _print_dispatch(settings: Settings, pipeline: Pipeline) -> list[PeriodicTask]:
    if settings.print_backend != "print_post" or not settings.print.interval_s:
        return []
    # pikepdf and fontTools, only when the print route is used.
    from letters.delivery.print_dispatch import open_dispatcher

    dispatcher = open_dispatcher(settings, pipeline.ledger, pipeline.redate)

    def dispatch() -> None:
        report = dispatcher.run()
        if report.closed or report.sent or report.failed:
            log_event(_RUNNER_LOG, "print batches dispatched", count=len(report.sent))

    # Due at once: batches cut while no worker ran should not wait another interval.
    return [PeriodicTask("print dispatch", settings.print.interval_s, dispatch)]


def _print_receipts(settings: Settings, pipeline: Pipeline) -> list[PeriodicTask]:
    """Every few minutes: apply the print house's posting receipts dropped since."""
    if settings.print_backend != "print_post" or not settings.print.receipts_interval_s:
        return []
    from letters.delivery.print_answers import read_receipts
    from letters.delivery.print_dispatch import open_print_drop
    from letters.delivery.print_inbox import ReceiptInbox

    inbox = ReceiptInbox(open_print_drop(settings))

    def read() -> None:
        report = read_receipts(inbox, pipeline)
        if report.applied or report.refused:
            log_event(_RUNNER_LOG, "print receipts read", count=len(report.applied))

    return [PeriodicTask("print receipts", settings.print.receipts_interval_s, read)]


def _digipost_sync(settings: Settings, ledger: Ledger) -> list[PeriodicTask]:
    if settings.digipost_backend != "digipost" or not settings.digipost.sync_interval_s:
        return []
    # Only when the Digipost backend is chosen: it may start the local double.
    from channels.digipost.connect import open_api

    api, deliveries = open_api(settings.digipost), ledger.deliveries

    def sync() -> None:
        report = sync_digipost(api, deliveries, utcnow())
        log_event(_RUNNER_LOG, "digipost synced", count=report.events + report.confirmed)

    interval = settings.digipost.sync_interval_s
    # The first sync waits one interval: a worker that just started has sent nothing yet.
    return [PeriodicTask("digipost sync", interval, sync, time.monotonic() + interval)]
