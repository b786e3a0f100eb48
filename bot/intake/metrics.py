"""GET /metrics: Prometheus text from prometheus-client, one registry per receiver app.

Where each figure comes from, and why:

- deliveries by service and outcome, rejections by service and reason: counted in place
  by the receiver (`delivered`, `rejected`), the only place that sees a refused request;
- pipeline lag (age of the oldest stored delivery not yet through the pipeline, and how
  many wait) and outbox depth and age per destination: gauges read from the store at
  scrape time (bot/store/stats.py). A stuck worker shows as a growing age even though it
  counts nothing, and the pipeline and the outbox worker stay untouched;
- sends by sink, outcome and HTTP status: the `out` lines the outbox writes to the ledger
  since this process started, tailed by id at scrape time, so every try is counted once,
  exactly as the ledger records it, whichever worker sent it;
- Docker streams (connected, reconnects) per configured host name: read at scrape time
  from the health report the Docker watcher already feeds to /healthz (no second record
  of its state to keep in step);
- process metrics: prometheus-client's process, platform and GC collectors.

Labels come from small fixed sets (service names, rejection reasons, ledger outcomes,
HTTP status codes, configured Docker host names, never their URLs) or are destinations
redacted with
bot/redact.py; nothing is labelled by delivery id, hook token or secret.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.redact import redact
from bot.store import Store
from bot.store.stats import ledger_cursor, queue_stats, sends_after
from parsers import SERVICES

Health = Callable[[], Awaitable[dict[str, Any]]]  # the /healthz report

DELIVERY_OUTCOMES = ("accepted", "duplicate", "rejected")
LEDGER_BATCH = 50_000  # ledger lines read per scrape at most; the rest on the next one
_LABEL_WORD = re.compile(r"[a-z][a-z0-9]*")


def _reason_label(reason: str) -> str:
    """A rejection reason as a label value: `bad signature` → `bad_signature`."""
    return "_".join(reason.lower().split()) or "unknown"


class DockerStreams(Collector):
    """Each Docker host's stream as last read from the health report: up, and reconnects."""

    def __init__(self) -> None:
        """Start with no host."""
        self.streams: list[tuple[str, bool, int]] = []  # (host name, connected, reconnects)

    def read(self, report: Mapping[str, Any]) -> None:
        """Take the streams from a /healthz report (`docker`: one entry per host)."""
        streams = report.get("docker")
        self.streams = [
            (str(s["name"]), s.get("state") == "connected", int(s.get("reconnects") or 0))
            for s in (streams if isinstance(streams, list) else [])
            if isinstance(s, Mapping) and s.get("name")
        ]

    def collect(self) -> Iterator[Metric]:
        """Yield the two families (prometheus-client calls this on every render)."""
        connected = GaugeMetricFamily(
            "hookbot_docker_stream_connected",
            "1 while the Docker event stream of a host is connected, else 0",
            labels=["host"],
        )
        reconnects = CounterMetricFamily(
            "hookbot_docker_stream_reconnects",
            "Times a Docker host's event stream was reconnected since start",
            labels=["host"],
        )
        for host, up, count in self.streams:
            connected.add_metric([host], 1.0 if up else 0.0)
            reconnects.add_metric([host], float(count))
        yield connected
        yield reconnects


def _sink_label(destination: str | None) -> str:
    """The kind of sink a destination is (`console`, `webhook`, `discord`, …)."""
    head = (destination or "").split(":", 1)[0]
    return head if _LABEL_WORD.fullmatch(head) else "other"


class Metrics:
    """Every series hookbot exports, in a registry of its own (tests run several apps)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        """Create the series; `clock` dates the start, from which sends are counted."""
        self.registry = CollectorRegistry()
        self._clock = clock
        self._started = clock()
        self._cursor: int | None = None
        self._refreshing = asyncio.Lock()
        reg = self.registry
        self.deliveries = Counter(
            "hookbot_deliveries",
            "Webhook deliveries received, by service and outcome (accepted, duplicate, rejected)",
            ["service", "outcome"],
            registry=reg,
        )
        self.rejections = Counter(
            "hookbot_rejections",
            "Webhook deliveries refused with a 4xx, by service and reason",
            ["service", "reason"],
            registry=reg,
        )
        self.pipeline_lag = Gauge(
            "hookbot_pipeline_lag_seconds",
            "Age of the oldest stored delivery the pipeline has not finished (0: none waiting)",
            registry=reg,
        )
        self.pipeline_pending = Gauge(
            "hookbot_pipeline_pending",
            "Stored deliveries the pipeline has not finished",
            registry=reg,
        )
        self.outbox_depth = Gauge(
            "hookbot_outbox_depth",
            "Messages ready or in flight, by destination (redacted)",
            ["destination"],
            registry=reg,
        )
        self.outbox_age = Gauge(
            "hookbot_outbox_oldest_age_seconds",
            "Age of the oldest message ready or in flight, by destination (redacted)",
            ["destination"],
            registry=reg,
        )
        self.sends = Counter(
            "hookbot_sends",
            "Tries at sending a message since start, by sink, outcome and HTTP status",
            ["sink", "outcome", "status"],
            registry=reg,
        )
        self.docker = DockerStreams()
        reg.register(self.docker)
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        if GC_COLLECTOR is not None:  # None on interpreters without gc stats
            GCCollector(registry=reg)
        for service, spec in SERVICES.items():
            if spec.http:
                for outcome in DELIVERY_OUTCOMES:
                    self.deliveries.labels(service, outcome)  # present at 0 from the start

    def delivered(self, service: str, outcome: str) -> None:
        """Count a delivery the receiver answered (`accepted` or `duplicate`)."""
        self.deliveries.labels(self._service(service), outcome).inc()

    def rejected(self, service: str, reason: str) -> None:
        """Count a refused delivery by its reason (a word of the receiver's, never input)."""
        label = self._service(service)
        self.deliveries.labels(label, "rejected").inc()
        self.rejections.labels(label, _reason_label(reason)).inc()

    async def refresh(self, store: Store, health: Health | None = None) -> None:
        """Read the scrape-time figures from the store (and the Docker streams from `health`)."""
        async with self._refreshing:
            if health is not None:
                self.docker.read(await health())
            stats = await queue_stats(store)
            if self._cursor is None:
                self._cursor = await ledger_cursor(store, self._started)
            self._cursor, sends = await sends_after(store, self._cursor, LEDGER_BATCH)
            now = self._clock()
            # Everything below runs without an await: a scrape never sees half an update.
            self.pipeline_pending.set(stats.pending)
            lag = 0.0 if stats.oldest_pending_at is None else now - stats.oldest_pending_at
            self.pipeline_lag.set(max(0.0, lag))
            shown: dict[str, tuple[int, float]] = {}
            for destination, (depth, oldest) in stats.outbox.items():
                # Two destinations may redact alike (the same webhook, two tokens): merge.
                label = redact(destination)
                before_depth, before_oldest = shown.get(label, (0, oldest))
                shown[label] = (before_depth + depth, min(before_oldest, oldest))
            self.outbox_depth.clear()
            self.outbox_age.clear()
            for label, (depth, oldest) in shown.items():
                self.outbox_depth.labels(label).set(depth)
                self.outbox_age.labels(label).set(max(0.0, now - oldest))
            for line in sends:
                status = "none" if line.status_code is None else str(line.status_code)
                self.sends.labels(_sink_label(line.destination), line.outcome, status).inc()

    def render(self) -> bytes:
        """Return the registry in Prometheus' text format."""
        return generate_latest(self.registry)

    @staticmethod
    def _service(service: str) -> str:
        return service if service in SERVICES else "unknown"


@dataclass(frozen=True, slots=True)
class MetricsSource:
    """What /metrics reads besides its counters: the store and the health report."""

    metrics: Metrics
    store: Store
    health: Health | None = None


SOURCE = web.AppKey("metrics", MetricsSource)


async def metrics_page(request: web.Request) -> web.Response:
    """Answer GET /metrics."""
    source = request.app[SOURCE]
    metrics = source.metrics
    await metrics.refresh(source.store, source.health)
    response = web.Response(body=metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def add_metrics(
    app: web.Application, metrics: Metrics, store: Store, health: Health | None = None
) -> None:
    """Serve `metrics` at GET /metrics on `app`, reading gauges from `store` and `health`."""
    app[SOURCE] = MetricsSource(metrics, store, health)
    app.router.add_get("/metrics", metrics_page)
