"""The worker group's HTTP face for monitoring: ``/metrics``, ``/healthz`` and ``/readyz``.

Served from a thread of the process that supervises the workers, on
``LETTERS_METRICS_PORT`` (127.0.0.1 unless ``LETTERS_METRICS_HOST`` says
otherwise). ``/metrics`` joins what every worker process counted
(``letters.metrics``) with what is read when scraped: queue depths, the age
of the oldest message on the embedded broker, and the ledger's counts and
ages (``letters.ledger.gauges``). ``/healthz`` answers while the process
lives; ``/readyz`` says whether the broker, the ledger, the archive and the
channels can be reached, one line each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from channels import build_channels
from letters.clock import today_in_norway, utcnow
from letters.config import Settings
from letters.config.declared import PRINT_RECEIPT_WAIT
from letters.delivery.rates import current_rates
from letters.domain.rates import RateKind
from letters.ledger import Ledger
from letters.ledger.gauges import read_gauges
from letters.logs import log_event
from letters.messaging.broker import connect, embedded_folders, reach, topology_for
from letters.storage import open_archive

log = logging.getLogger("letters.health")

_Start = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


class ServiceProbe:
    """Looks at what the workers depend on; owns one ledger connection pool for it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topology = topology_for(settings)
        self.ledger = Ledger.for_settings(settings)
        self.rates = current_rates(settings, self.ledger)
        self._broker_lock = threading.Lock()

    def close(self) -> None:
        self.ledger.close()

    def readiness(self) -> list[Check]:
        return [
            _check("broker", self._broker_ready),
            _check("ledger", self._ledger_ready),
            _check("archive", self._archive_ready),
            _check("channels", self._channels_ready),
        ]

    def queue_depths(self) -> dict[str, int]:
        with self._broker_lock, connect(self.settings) as connection:
            reach(connection)
            channel = connection.default_channel
            depths = {}
            for queue in self.topology.queues:
                _, count, _ = channel.queue_declare(queue=queue.name, passive=True)
                depths[queue.name] = int(count)
            return depths

    def oldest_message_ages(self) -> dict[str, float]:
        """The embedded broker's files say when each message was written; RabbitMQ's
        queues do not tell without its management plugin, so none is given for them."""
        if not self.settings.embedded_broker:
            return {}
        data = embedded_folders(self.settings.broker_dir)["data"]
        now = utcnow().timestamp()
        ages: dict[str, float] = {}
        for queue in self.topology.queues:
            times = [p.stat().st_mtime for p in data.glob(f"*.{queue.name}.msg")]
            if times:
                ages[queue.name] = max(0.0, now - min(times))
        return ages

    def _broker_ready(self) -> str:
        depths = self.queue_depths()
        return f"{len(depths)} queues declared"

    def _ledger_ready(self) -> str:
        read_gauges(self.ledger, utcnow())
        return "reachable"

    def _archive_ready(self) -> str:
        open_archive(self.settings.archive_url, self.settings.s3).check_reachable()
        return "writable"

    def _channels_ready(self) -> str:
        build_channels(self.settings)
        if self.settings.digipost_backend == "digipost":
            from channels.digipost.connect import open_api

            open_api(self.settings.digipost).entry_point()
            return "set up; Digipost's entry point answers"
        return "set up"


def _check(name: str, probe: Callable[[], object]) -> Check:
    try:
        return Check(name, True, str(probe()))
    except Exception as err:  # readiness reports any failure; it never raises
        return Check(name, False, f"{type(err).__name__}: {str(err)[:200]}")


class ScrapeTimeCollector(Collector):
    """Gauges read when Prometheus scrapes, in the serving process only."""

    def __init__(self, probe: ServiceProbe) -> None:
        self.probe = probe

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("letters_broker_up", "1 if the broker answered this scrape")
        try:
            depths = self.probe.queue_depths()
            up.add_metric([], 1)
        except Exception:  # a broker that is down is what the gauge reports
            depths = {}
            up.add_metric([], 0)
        yield up
        yield _labelled("letters_queue_messages", "Messages ready in a queue", "queue", depths)
        yield _labelled(
            "letters_queue_oldest_message_age_seconds",
            "Age of the oldest message in a queue (embedded broker only)",
            "queue",
            self.probe.oldest_message_ages(),
        )
        try:
            gauges = read_gauges(
                self.probe.ledger, utcnow(), self.probe.settings.print.receipt_wait
            )
        except Exception as err:  # the ledger's absence shows as missing gauges, and is logged
            log_event(log, "ledger gauges not read", level=logging.WARNING, reason=str(err)[:200])
            return
        yield _labelled(
            "letters_ledger_letters", "Letters in the ledger not settled yet, by status",
            "status", gauges.letters_by_status,
        )  # fmt: skip
        yield _labelled(
            "letters_ledger_settled_last_day",
            "Letters settled (sent, delivered, cancelled, not posted, returned) in the last "
            "24 hours, by status",
            "status",
            gauges.settled_last_day,
        )
        yield _labelled(
            "letters_print_batches", "Print batches, by status", "status", gauges.batches_by_status
        )
        yield _single(
            "letters_print_batch_oldest_closed_age_seconds",
            "Seconds since the oldest batch still waiting to go to the print house was cut",
            gauges.oldest_closed_batch_age_s,
        )
        yield _single(
            "letters_print_batch_overdue_seconds",
            "Seconds past its cut-off of the batch not yet at the print house that is most past it",
            gauges.most_overdue_batch_s,
        )
        yield _single(
            "letters_print_batches_without_receipt",
            f"Print batches whose posting day is more than {PRINT_RECEIPT_WAIT} working "
            "days past with no receipt from the print house",
            float(gauges.batches_without_receipt),
        )
        yield _single(
            "letters_oldest_unfinished_letter_age_seconds",
            "Seconds since the oldest letter the workers have not finished was accepted",
            gauges.oldest_unfinished_letter_age_s,
        )
        yield _single(
            "letters_dead_letters_waiting",
            "Dead letters not yet requeued or resolved",
            float(gauges.dead_letters_waiting),
        )
        yield from self._rate_gauges()

    def _rate_gauges(self) -> Iterator[GaugeMetricFamily]:
        try:
            table = self.probe.rates.table()
            held = self.probe.rates.book.holding()
        except Exception as err:  # as the ledger gauges: missing, and logged
            log_event(log, "rate gauges not read", level=logging.WARNING, reason=str(err)[:200])
            return
        today = today_in_norway()
        yield _labelled(
            "letters_rate_table_days_ahead",
            "Days past today that each rate kind has a checked figure for (+Inf: no end; "
            "-1: not even today)",
            "kind",
            {kind.value: table.days_ahead(kind, today) for kind in RateKind},
        )
        yield _labelled(
            "letters_held_for_rate",
            "Letters held because a rate they need has no checked figure, by missing rate",
            "rate",
            held,
        )


def _labelled(name: str, doc: str, label: str, values: dict[str, Any]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], float(value))
    return family


def _single(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc)
    if value is not None:
        family.add_metric([], value)
    return family


def health_app(probe: ServiceProbe) -> Callable[[dict[str, Any], _Start], Iterable[bytes]]:
    from letters import metrics

    registry = metrics.registry_to_serve()
    registry.register(ScrapeTimeCollector(probe))
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start: _Start) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics_app(environ, start)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _text(start, "200 OK", "alive\n")
        if path == "/readyz":
            checks = probe.readiness()
            body = "".join(f"{c.name}: {'ok' if c.ok else 'FAILED'}: {c.detail}\n" for c in checks)
            ready = all(c.ok for c in checks)
            return _text(start, "200 OK" if ready else "503 Service Unavailable", body)
        return _text(start, "404 Not Found", "not found: /metrics, /healthz, /readyz\n")

    return app


def _text(start: _Start, status: str, body: str) -> list[bytes]:
    data = body.encode("utf-8")
    start(status, [("Content-Type", "text/plain; charset=utf-8"),
                   ("Content-Length", str(len(data)))])  # fmt: skip
    return [data]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds are not worth a log line each."""


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` in a daemon thread of this process."""

    def __init__(self, settings: Settings) -> None:
        assert settings.metrics_port is not None  # noqa: S101 - callers check the setting
        self.probe = ServiceProbe(settings)
        self.server: WSGIServer = make_server(
            settings.metrics_host, settings.metrics_port, health_app(self.probe),
            handler_class=_QuietHandler,
        )  # fmt: skip
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HealthServer:
        self.thread.start()
        host, port = self.server.server_address[:2]
        where = f"http://{host!s}:{port}/metrics"
        log_event(log, "serving metrics and health", url=where)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.probe.close()
