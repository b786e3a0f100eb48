"""Shared test fixtures: hypothesis profiles, a store on tmp_path, samples."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from hypothesis import settings

from bot.app import Running, running
from bot.config import Settings
from bot.store import Hook, Store
from formatters.message import Message
from parsers.signatures import sign_hmac_sha256

settings.register_profile("ci", deadline=None, max_examples=100)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "parsers" / "samples"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real SQLite store in a temporary folder."""
    opened = await Store.open(str(tmp_path / "hookbot.db"))
    yield opened
    await opened.close()


class RecordingSink:
    """A Sink that keeps what it was given (our own seam, for tests)."""

    def __init__(self, key: str = "console", coalesces: bool = False) -> None:
        self.key = key
        self.coalesces = coalesces
        self.sent: list[tuple[Message, str]] = []
        self.arrived = asyncio.Event()

    async def send(self, message: Message, *, nonce: str) -> str | None:
        self.sent.append((message, nonce))
        self.arrived.set()
        return None

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Wait until `count` messages arrived (bounded)."""
        async with asyncio.timeout(timeout):
            while len(self.sent) < count:
                self.arrived.clear()
                await self.arrived.wait()


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a test server on a free port with its own database."""
    values: dict[str, object] = {"hookbot_db": str(tmp_path / "hookbot.db"), "hookbot_port": 0}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Receiver:
    """A running hookbot (real server, store, pipeline, outbox) with a recording sink."""

    app: Running
    sink: RecordingSink
    hook: Hook
    base: str
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"{self.base}/webhook/github/{self.hook.token}"

    async def post(
        self,
        body: bytes,
        *,
        event: str = "push",
        delivery: str | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """POST a GitHub delivery signed with the hook's secret (or `secret`)."""
        sent = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": sign_hmac_sha256(body, secret or self.hook.secret),
        }
        sent.update(headers or {})
        async with self.session.post(self.url, data=body, headers=sent) as response:
            await response.read()
            return response


@pytest.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[Receiver]:
    """Start hookbot in-process on 127.0.0.1 with one GitHub hook posting to a recorder."""
    sink = RecordingSink()
    async with running(make_settings(tmp_path), sinks=lambda _key: sink) as app:
        hook = await app.store.hooks.create(
            service="github", destination="console", token="t" * 32, secret="s" * 40, now=1.0
        )
        async with aiohttp.ClientSession() as session:
            yield Receiver(app, sink, hook, f"http://127.0.0.1:{app.port}", session)


def sample(name: str) -> bytes:
    """Return a bundled sample payload, e.g. sample("github/push")."""
    return (SAMPLES / f"{name}.json").read_bytes()
