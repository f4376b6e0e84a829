"""What the service counts and times, for Prometheus.

The instruments live here, below every layer that records into them, and
carry no debtor data: every label is a word from a small fixed set (a letter
type, a language, a channel, an outcome, a reason's class, an HTTP status).

A worker group runs in several processes. prometheus_client's multiprocess
mode gives one set for all of them: the supervisor sets
``PROMETHEUS_MULTIPROC_DIR`` before it starts the workers, so each worker's
values go to files there and the supervisor reads them all when scraped
(``letters.worker.health``). prometheus_client chooses the mode when it is
first imported, which is why nothing else may import it before the variable
is set in a worker.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, Metric
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

OUTCOMES = ("delivered", "batched", "held", "cancelled", "duplicate", "dead_lettered")

letter_outcomes = Counter(
    "letters_outcomes",
    "Letter requests handled, by what became of them",
    ["letter_type", "language", "channel", "outcome"],
)
render_seconds = Histogram(
    "letters_render_seconds",
    "Time to compose and render one letter",
    ["letter_type"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5),
)
render_layouts = Counter(
    "letters_render_layouts_total",
    "Letters rendered, by how they were laid out: on a stencil, in full as a new stencil, "
    "in full because they did not fit one, or in full with stencils off",
    ["way"],
)
send_seconds = Histogram(
    "letters_send_seconds",
    "Time for a channel to take one letter",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
message_seconds = Histogram(
    "letters_message_seconds",
    "Time a worker spends on one message, from delivery to acknowledgement",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
retries = Counter(
    "letters_retries",
    "Messages sent to a retry queue (or scheduled again), by the class of the reason",
    ["reason_class"],
)
dead_letters = Counter(
    "letters_dead_letters",
    "Messages dead-lettered, by the class of the reason",
    ["reason_class"],
)
digipost_responses = Counter(
    "letters_digipost_responses",
    "Answers from Digipost's API, by HTTP status ('error': no answer at all)",
    ["status"],
)
sweep_recoveries = Counter(
    "letters_sweep_recoveries",
    "Letters the ledger sweep found overdue and sent back to the work queue",
)

_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def reason_class(err: BaseException) -> str:
    """A label for an error's kind: ``InvalidRequest`` is ``invalid_request``."""
    name = type(err).__name__.lstrip("_").removesuffix("Error") or "error"
    return _WORD_BREAK.sub("_", name).lower()


def record_outcome(letter_type: str, language: str, channel: str, outcome: str) -> None:
    letter_outcomes.labels(letter_type or "unknown", language or "unknown",
                           channel or "none", outcome).inc()  # fmt: skip


def start_multiprocess(directory: Path) -> None:
    """Before a worker group starts: an empty folder for its processes' values, named in
    the environment its workers inherit. Values of an earlier run are removed."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    os.environ[MULTIPROC_ENV] = str(directory)


def registry_to_serve() -> CollectorRegistry:
    """A registry of its own for one server: every process's values when the group runs
    in several processes, else this process's."""
    registry = CollectorRegistry()
    if MULTIPROC_ENV in os.environ:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped
    else:
        registry.register(_ThisProcess())
    return registry


class _ThisProcess:
    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
