"""GET /metrics (prometheus-client text, parsed by its own parser) and GET /webhook/{service}."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import running
from bot.delivery.base import TransientSinkError
from bot.intake.describe import SECRET_PLACEHOLDER, URL_PLACEHOLDER
from bot.intake.metrics import Metrics
from bot.store import Store
from formatters.message import Message
from parsers import SERVICES
from parsers.signatures import sign_hmac_sha256
from tests.conftest import Receiver, make_settings, sample

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, keyed by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """One sample's value, or None when the series is absent."""
    return samples.get((name, frozenset(labels.items())))


async def scrape(session: aiohttp.ClientSession, base: str) -> str:
    """GET /metrics; check it is Prometheus text."""
    async with session.get(base + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


async def scrape_until(
    session: aiohttp.ClientSession, base: str, name: str, **labels: str
) -> tuple[str, Samples]:
    """Scrape until a series is present (bounded)."""
    async with asyncio.timeout(10):
        while True:
            text = await scrape(session, base)
            samples = parse(text)
            if value(samples, name, **labels):
                return text, samples
            await asyncio.sleep(0.05)


async def test_metrics_after_deliveries_and_rejections(receiver: Receiver) -> None:
    body = sample("github/push")
    assert (await receiver.post(body, delivery="m-1")).status == 202
    assert (await receiver.post(body, delivery="m-1")).status == 202  # a redelivery
    assert (await receiver.post(body, secret="wrong-secret")).status == 401
    unknown = f"{receiver.base}/webhook/github/{'x' * 32}"
    async with receiver.session.post(unknown, data=body) as response:
        assert response.status == 404
    await receiver.sink.wait_for(1)

    text, samples = await scrape_until(
        receiver.session, receiver.base, "hookbot_sends_total", sink="console", outcome="sent",
        status="none",
    )  # fmt: skip
    assert value(samples, "hookbot_deliveries_total", service="github", outcome="accepted") == 1
    assert value(samples, "hookbot_deliveries_total", service="github", outcome="duplicate") == 1
    assert value(samples, "hookbot_deliveries_total", service="github", outcome="rejected") == 2
    assert value(samples, "hookbot_deliveries_total", service="gitlab", outcome="accepted") == 0
    assert value(samples, "hookbot_rejections_total", service="github", reason="bad_signature") == 1
    assert value(samples, "hookbot_rejections_total", service="github", reason="unknown_hook") == 1
    assert value(samples, "hookbot_pipeline_pending") is not None
    assert value(samples, "hookbot_pipeline_lag_seconds") is not None
    assert value(samples, "process_cpu_seconds_total") is not None
    for secret in (receiver.hook.token, receiver.hook.secret, "m-1"):
        assert secret not in text


async def test_sends_are_counted_once_each(receiver: Receiver) -> None:
    for n in range(3):
        assert (await receiver.post(sample("github/push"), delivery=f"s-{n}")).status == 202
    await receiver.sink.wait_for(3)
    labels = {"sink": "console", "outcome": "sent", "status": "none"}
    async with asyncio.timeout(10):
        while True:
            samples = parse(await scrape(receiver.session, receiver.base))
            if (value(samples, "hookbot_sends_total", **labels) or 0) >= len(receiver.sink.sent):
                break
            await asyncio.sleep(0.05)
    samples = parse(await scrape(receiver.session, receiver.base))  # a second scrape: no recount
    assert value(samples, "hookbot_sends_total", **labels) == len(receiver.sink.sent)


class FailingSink:
    """A sink that always fails, for now: its messages stay queued, retried with backoff."""

    key = "failing"
    coalesces = False

    async def send(self, message: Message, *, nonce: str) -> str | None:
        raise TransientSinkError("down for maintenance")


@pytest.fixture
async def stuck(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession, str, str]]:
    """hookbot whose one hook posts to a Discord webhook URL that keeps failing."""
    webhook = "https://discord.example/api/webhooks/123/WEBHOOKTOKENsecret42"
    async with running(make_settings(tmp_path), sinks=lambda _key: FailingSink()) as app:
        hook = await app.store.hooks.create(
            service="github", destination=f"webhook:{webhook}", token="u" * 32,
            secret="v" * 40, now=1.0,
        )  # fmt: skip
        async with aiohttp.ClientSession() as session:
            yield f"http://127.0.0.1:{app.port}", session, hook.token, hook.secret


async def test_outbox_depth_and_age_per_destination_are_redacted(
    stuck: tuple[str, aiohttp.ClientSession, str, str],
) -> None:
    base, session, token, secret = stuck
    body = sample("github/push")
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "stuck-1",
        "X-Hub-Signature-256": sign_hmac_sha256(body, secret),
    }
    async with session.post(f"{base}/webhook/github/{token}", data=body, headers=headers) as r:
        assert r.status == 202
    shown = "webhook:https://discord.example/api/webhooks/123/***"
    text, samples = await scrape_until(
        session, base, "hookbot_sends_total", sink="webhook", outcome="retry", status="none"
    )
    assert value(samples, "hookbot_outbox_depth", destination=shown) == 1
    age = value(samples, "hookbot_outbox_oldest_age_seconds", destination=shown)
    assert age is not None
    assert 0 <= age < 60
    assert "WEBHOOKTOKENsecret42" not in text
    assert token not in text
    assert secret not in text


def test_each_app_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.delivered("github", "accepted")
    first.rejected("nonsense-service", "bad signature")
    one, two = parse(first.render().decode()), parse(second.render().decode())
    assert value(one, "hookbot_deliveries_total", service="github", outcome="accepted") == 1
    assert value(two, "hookbot_deliveries_total", service="github", outcome="accepted") == 0
    # A service name not in the registry never becomes a label of its own.
    assert value(one, "hookbot_rejections_total", service="unknown", reason="bad_signature") == 1


async def test_docker_streams_are_read_from_the_health_report(store: Store) -> None:
    report: dict[str, Any] = {
        "db": "ok",
        "docker": [
            {"name": "local", "state": "connected", "reconnects": 2},
            {"name": "prod", "state": "reconnecting", "reconnects": 5,
             "url": "ssh://deploy:hunter2@prod.example"},
        ],
    }  # fmt: skip

    async def health() -> dict[str, Any]:
        return report

    metrics = Metrics()
    await metrics.refresh(store, health)
    text = metrics.render().decode()
    samples = parse(text)
    assert value(samples, "hookbot_docker_stream_connected", host="local") == 1
    assert value(samples, "hookbot_docker_stream_connected", host="prod") == 0
    assert value(samples, "hookbot_docker_stream_reconnects_total", host="prod") == 5
    assert "hunter2" not in text
    report["docker"] = []  # hosts no longer watched leave no series behind
    await metrics.refresh(store, health)
    samples = parse(metrics.render().decode())
    assert value(samples, "hookbot_docker_stream_connected", host="local") is None


async def test_every_registered_service_is_described(receiver: Receiver) -> None:
    described = [name for name, spec in SERVICES.items() if spec.http]
    assert described
    for name in described:
        spec = SERVICES[name]
        async with receiver.session.get(f"{receiver.base}/webhook/{name}") as response:
            assert response.status == 200, name
            about = await response.json()
        assert about["service"] == name
        assert about["kinds"] == list(spec.kinds)
        assert about["default_selection"] == list(spec.default_selection)
        assert about["samples"] == sorted(spec.samples)
        assert about["signature"]["words"]
        hint = about["setup_hint"]
        assert URL_PLACEHOLDER in hint
        assert "{url}" not in hint
        assert "{secret}" not in hint
        assert "{events}" not in hint
        if "{secret}" in spec.setup_hint:
            assert SECRET_PLACEHOLDER in hint
        assert receiver.hook.token not in json.dumps(about)


async def test_signatures_are_described_as_the_services_check_them(receiver: Receiver) -> None:
    async def signature(name: str) -> dict[str, object]:
        async with receiver.session.get(f"{receiver.base}/webhook/{name}") as response:
            about: dict[str, dict[str, object]] = await response.json()
            return about["signature"]

    github = await signature("github")
    assert github["headers"] == ["X-Hub-Signature-256"]
    assert github["unsigned"] == "refused"
    gitlab = await signature("gitlab")
    assert gitlab["headers"] == ["X-Gitlab-Token"]
    assert "secret itself" in str(gitlab["words"])
    custom = await signature("custom")
    assert custom["unsigned"] == "accepted"  # unless the hook was made --signed
    ci = await signature("ci")
    assert ci["unsigned"] == "accepted from some senders"  # Jenkins: the URL is the credential


@pytest.mark.parametrize("name", ["nope", "docker", "GITHUB", "github.json"])
async def test_an_unknown_service_is_404(receiver: Receiver, name: str) -> None:
    if name in SERVICES and SERVICES[name].http:
        pytest.fail(f"{name} is a receiving service now; pick another unknown name")
    async with receiver.session.get(f"{receiver.base}/webhook/{name}") as response:
        assert response.status == 404
        about = await response.json()
    assert about["error"] == "unknown service"
    assert "github" in about["services"]
