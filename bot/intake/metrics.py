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
- Docker streams: gauges the Docker watcher sets (`docker_stream`);
- process metrics: prometheus-client's process, platform and GC collectors.

Labels come from small fixed sets (service names, rejection reasons, ledger outcomes,
HTTP status codes, configured Docker host names) or are destinations redacted with
bot/redact.py; nothing is labelled by delivery id, hook token or secret.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

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

from bot.redact import redact
from bot.store import Store
from bot.store.stats import ledger_cursor, queue_stats, sends_after
from parsers import SERVICES

DELIVERY_OUTCOMES = ("accepted", "duplicate", "rejected")
LEDGER_BATCH = 50_000  # ledger lines read per scrape at most; the rest on the next one
_LABEL_WORD = re.compile(r"[a-z][a-z0-9]*")


def _reason_label(reason: str) -> str:
    """A rejection reason as a label value: `bad signature` → `bad_signature`."""
    return "_".join(reason.lower().split()) or "unknown"


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
        self.docker_connected = Gauge(
            "hookbot_docker_stream_connected",
            "1 while the Docker event stream of a host is connected, else 0",
            ["host"],
            registry=reg,
        )
        self.docker_reconnects = Counter(
            "hookbot_docker_stream_reconnects",
            "Times a Docker host's event stream was reconnected",
            ["host"],
            registry=reg,
        )
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

    def docker_stream(self, host: str, *, connected: bool, reconnected: bool = False) -> None:
        """Record a Docker host's stream state (`host`: its configured name, not its URL)."""
        self.docker_connected.labels(host).set(1 if connected else 0)
        if reconnected:
            self.docker_reconnects.labels(host).inc()

    async def refresh(self, store: Store) -> None:
        """Read the scrape-time figures from the store."""
        async with self._refreshing:
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


METRICS = web.AppKey("metrics", Metrics)
STORE = web.AppKey("metrics_store", Store)


async def metrics_page(request: web.Request) -> web.Response:
    """Answer GET /metrics."""
    metrics = request.app[METRICS]
    await metrics.refresh(request.app[STORE])
    response = web.Response(body=metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def add_metrics(app: web.Application, metrics: Metrics, store: Store) -> None:
    """Serve `metrics` (reading gauges from `store`) at GET /metrics on `app`."""
    app[METRICS] = metrics
    app[STORE] = store
    app.router.add_get("/metrics", metrics_page)
