"""The ngrok tunnel through the real pyngrok, with the fake agent as NGROK_PATH."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import Running, running
from bot.integrations import wiring
from bot.integrations.tunnel import Tunnel
from bot.store.integrations import IntegrationRepo
from tests.conftest import RecordingSink, make_settings, sample
from tests.e2e.ngrok_agent import FakeAgent, alive, fake_agent
from tests.e2e.process import cli, hookbot_env, post_signed

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


async def _health(app: Running) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{app.port}/healthz") as response,
    ):
        assert response.status == 200
        health: dict[str, Any] = await response.json()
        return health


async def _until(check: Any, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[FakeAgent]:
    made = fake_agent(tmp_path)
    yield made
    for pid in made.pids():  # nothing outlives its test
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


async def test_tunnel_url_is_the_public_base_everywhere(tmp_path: Path, agent: FakeAgent):
    """Open at start-up: hook URLs, /healthz, the store and the CLI all use the tunnel's URL."""
    sink = RecordingSink()
    settings = make_settings(tmp_path, ngrok_authtoken="ngrok-token", ngrok_path=str(agent.path))
    async with running(settings, sinks=lambda _key: sink) as app:
        assert app.tunnel is not None
        url = app.tunnel.public_url
        assert url is not None
        assert url.startswith("http://127.0.0.1:")
        assert url != f"http://127.0.0.1:{app.port}"
        args = json.loads(agent.args())
        assert args[:4] == ["start", "--none", "--log", "stdout"]
        assert args[args.index("--authtoken") + 1] == "ngrok-token"
        assert not args[args.index("--config") + 1].startswith(str(Path.home()))
        endpoint = json.loads((agent.state / "endpoints").read_text().splitlines()[-1])
        assert endpoint["upstream"]["url"] == f"http://127.0.0.1:{app.port}"

        health = await _health(app)
        assert health["tunnel"]["state"] == "open"
        assert health["tunnel"]["url"] == url
        assert await IntegrationRepo(app.store).tunnel_url() == url
        assert await wiring.shown_base_url(settings, app.store) == url

        # The real CLI, in its own process, shows the running tunnel's URL.
        env = hookbot_env(tmp_path, app.port, NGROK_AUTHTOKEN="ngrok-token")
        result = await asyncio.to_thread(cli, env, "hook", "on", "github", "--json", cwd=ROOT)
        assert result.returncode == 0, result.stderr
        created = json.loads(result.stdout)
        assert created["url"].startswith(f"{url}/webhook/github/")

        # …and a delivery sent to that URL crosses the tunnel to the receiver.
        status = await asyncio.to_thread(
            post_signed, created["url"], created["secret"], sample("github/push")
        )
        assert status == 202
        await sink.wait_for(1)


async def test_the_url_is_withdrawn_at_stop(tmp_path: Path, agent: FakeAgent):
    """After a clean stop the store holds no tunnel URL and the agent is gone."""
    settings = make_settings(tmp_path, ngrok_authtoken="t", ngrok_path=str(agent.path))
    async with running(settings, sinks=lambda _key: RecordingSink()) as app:
        assert app.tunnel is not None
        assert app.tunnel.public_url is not None
        store_path = settings.hookbot_db
    (pid,) = agent.pids()
    await _until(lambda: not alive(pid), 5)
    from bot.store import Store

    store = await Store.open(store_path)
    try:
        assert await IntegrationRepo(store).tunnel_url() is None
        assert await wiring.shown_base_url(settings, store) == settings.base_url
    finally:
        await store.close()


async def test_a_dead_agent_is_reopened(tmp_path: Path, agent: FakeAgent):
    """The agent dies: within seconds a new one runs, and its URL is the base again."""
    settings = make_settings(tmp_path, ngrok_authtoken="t", ngrok_path=str(agent.path))
    async with running(settings, sinks=lambda _key: RecordingSink()) as app:
        tunnel = app.tunnel
        assert tunnel is not None
        first = tunnel.public_url
        (pid,) = agent.pids()
        os.kill(pid, signal.SIGKILL)
        await _until(lambda: tunnel.reopens == 1 and tunnel.state == "open")
        assert len(agent.pids()) == 2
        assert alive(agent.pids()[1])
        second = tunnel.public_url
        assert second is not None
        assert second != first  # a new agent, a new address (ngrok's free plan does the same)
        health = await _health(app)
        assert health["tunnel"] == {"state": "open", "url": second, "reopens": 1, "error": None}
        assert await IntegrationRepo(app.store).tunnel_url() == second
        assert await wiring.shown_base_url(settings, app.store) == second


async def test_auth_failure_is_one_line_and_the_receiver_runs(
    tmp_path: Path, agent: FakeAgent, caplog: pytest.LogCaptureFixture
):
    """A refused authtoken: one ERROR line naming NGROK_AUTHTOKEN, no retry, /healthz 200."""
    agent.set_mode("auth")
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path, ngrok_authtoken="bad", ngrok_path=str(agent.path))
    sink = RecordingSink()
    async with running(settings, sinks=lambda _key: sink) as app:
        assert app.tunnel is not None
        assert app.tunnel.public_url is None
        await asyncio.sleep(2.5)  # longer than the first backoff: no second try
        assert len(agent.pids()) == 1
        health = await _health(app)
        assert health["tunnel"]["state"] == "failed"
        assert "NGROK_AUTHTOKEN" in health["tunnel"]["error"]
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert [r.name for r in errors] == ["bot.integrations.tunnel"]
        assert "ngrok refused NGROK_AUTHTOKEN (ERR_NGROK_105)" in errors[0].getMessage()
        assert not [r for r in caplog.records if r.name.startswith("pyngrok")]
        hook = await app.store.hooks.create(
            service="github", destination="console", token="k" * 32, secret="s" * 40, now=1.0
        )
        local = f"http://127.0.0.1:{app.port}/webhook/github/{hook.token}"
        status = await asyncio.to_thread(post_signed, local, hook.secret, sample("github/push"))
        assert status == 202
        await sink.wait_for(1)


async def test_a_stuck_agent_is_killed_and_tried_again(tmp_path: Path, agent: FakeAgent):
    """An agent that logs an error and hangs: our timeout kills it; the retry opens."""
    agent.set_mode("hang")
    urls: list[str | None] = []

    async def on_url(url: str | None) -> None:
        urls.append(url)

    tunnel = Tunnel(
        "t", ngrok_path=str(agent.path), on_url=on_url, open_timeout=1.5, backoff=(0.5, 1.0)
    )
    started = time.monotonic()
    try:
        assert await tunnel.start("127.0.0.1", 9) is None
        assert time.monotonic() - started < 5
        (stuck,) = agent.pids()
        await _until(lambda: not alive(stuck), 5)
        assert tunnel.state == "reopening"
        assert tunnel.last_error == "the ngrok agent did not start within 1.5 s"
        agent.set_mode("ok")
        await _until(lambda: tunnel.state == "open")
        assert urls
        assert urls[-1] == tunnel.public_url
    finally:
        await tunnel.stop()
    assert urls[-1] is None, "the URL is withdrawn at stop"


async def test_public_url_wins_over_the_tunnel(tmp_path: Path, agent: FakeAgent):
    """With PUBLIC_URL set no agent starts and the hook URLs use PUBLIC_URL."""
    settings = make_settings(
        tmp_path,
        public_url="https://hooks.example",
        ngrok_authtoken="t",
        ngrok_path=str(agent.path),
    )
    async with running(settings, sinks=lambda _key: RecordingSink()) as app:
        assert app.tunnel is None
        assert (await _health(app))["tunnel"] == "off"
    assert agent.pids() == []
    assert "PUBLIC_URL is set: no ngrok tunnel is opened" in " ".join(settings.startup_warnings())


async def test_a_missing_agent_is_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """NGROK_PATH names nothing: one line, no download, the receiver runs on its address."""
    missing = tmp_path / "no-such-ngrok"
    settings = make_settings(tmp_path, ngrok_authtoken="t", ngrok_path=str(missing))
    async with running(settings, sinks=lambda _key: RecordingSink()) as app:
        health = await _health(app)
        assert health["tunnel"]["state"] == "failed"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert f"NGROK_PATH={missing} does not exist" in errors[0]
    assert not missing.exists()
