"""Prometheus metrics of one node, served on `/metrics` (see service/health.py).

Imported only where a node polls a source or serves the console (prometheus_client costs a
start ~20 ms and 3 MB): the callers import it when they first need it (issue 19).

Poll counters and latency are this node's; the outbox figures (alerts and replies by state,
queue depth, oldest unsent age) are read from the database at scrape time, so every node
reports the same shared outbox, whichever node did the sending.
"""

import re
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.clock import Clock
from core.store import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Listener errors name the cause in parentheses: "X API server error (503)", "X API
# unreachable (ReadTimeout)"; that is the label, so the series stay few and meaningful.
_CAUSE = re.compile(r"\(([\w-]{1,40})\)")


def error_code(error: Exception) -> str:
    """A low-cardinality label for a failed fetch: the HTTP status or the error's cause."""
    found = _CAUSE.search(str(error))
    return found.group(1) if found else type(error).__name__


class Metrics:
    def __init__(self, store: Store | None = None, clock: Clock | None = None):
        # A registry per app, not the global one: tests and demo build several apps per process.
        self.registry = CollectorRegistry()
        self.mentions_fetched = Counter(
            "brandpulse_mentions_fetched",
            "Mentions fetched from a source (including ones already stored)",
            ["source"],
            registry=self.registry,
        )
        self.mentions_new = Counter(
            "brandpulse_mentions_new",
            "Mentions stored for the first time",
            ["source"],
            registry=self.registry,
        )
        self.api_errors = Counter(
            "brandpulse_api_errors",
            "Failed fetches, by HTTP status or error kind",
            ["source", "code"],
            registry=self.registry,
        )
        self.poll_seconds = Histogram(
            "brandpulse_poll_seconds",
            "Time for one poll: fetch, triage and save",
            ["source"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        if store is not None and clock is not None:
            self.registry.register(OutboxCollector(store, clock))

    def polled(self, source: str, fetched: int, new: int, seconds: float) -> None:
        """One successful poll of `source`."""
        self.mentions_fetched.labels(source).inc(fetched)
        self.mentions_new.labels(source).inc(new)
        self.poll_seconds.labels(source).observe(seconds)

    def failed(self, source: str, error: Exception) -> None:
        """One failed fetch of `source`, labelled by its cause."""
        self.api_errors.labels(source, error_code(error)).inc()

    def render(self) -> bytes:
        """The exposition text; reads the database (the outbox gauges), so call off the loop."""
        return generate_latest(self.registry)


class OutboxCollector(Collector):
    """Actions by kind and state, and the age of the oldest unsent one, as stored now."""

    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        actions = GaugeMetricFamily(
            "brandpulse_outbox_actions",
            "Outbox actions (alert, reply …) by state: pending, sending, sent, failed",
            labels=["kind", "state"],
        )
        for kind, state, count in self.store.outbox_counts():
            actions.add_metric([kind, state], count)
        yield actions
        depth, oldest = self.store.outbox_backlog()
        depth_family = GaugeMetricFamily(
            "brandpulse_outbox_depth", "Outbox actions not yet sent", labels=["kind"]
        )
        for kind, count in sorted(depth.items()):
            depth_family.add_metric([kind], count)
        yield depth_family
        age = (self.clock.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "brandpulse_outbox_oldest_age_seconds",
            "Age of the oldest unsent outbox action (0 when none waits)",
            value=max(0.0, age),
        )
