"""Docker hooks from Discord and from the shell: `docker on`, `docker hosts`, every verb.

hookbot runs with its bot logged in to the fake Discord and watches a fake Engine (the
real docker-py reads it); `!hook docker on` in the channel, then a container crashing in
the Engine, posts the seed's crash report in that channel.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import Running, running
from bot.config import DockerHost
from tests.conftest import ROOT, make_settings
from tests.e2e.fake_discord import FakeDiscord, pointed_at
from tests.e2e.fake_docker import FakeDocker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@dataclass
class World:
    """hookbot with its bot in the fake Discord, watching the fake Engine as `local`."""

    app: Running
    fake: FakeDiscord
    engine: FakeDocker

    def channel(self) -> list[dict]:
        return [m for m in self.fake.messages if str(m["channel_id"]) == str(self.fake.channel_id)]

    async def command(self, content: str, replies: int = 1) -> list[dict]:
        """Type in the channel; return the bot's next replies there."""
        before = len(self.channel())
        await self.fake.send_user_message(content, author="admin")
        return await self.posts(before, replies)

    async def posts(self, start: int, count: int = 1, timeout: float = 15) -> list[dict]:
        """Wait for `count` messages after the first `start` ones; return them."""
        async with asyncio.timeout(timeout):
            while len(self.channel()) < start + count:
                await asyncio.sleep(0.02)
        return self.channel()[start : start + count]


def text(message: dict) -> str:
    return json.dumps(message.get("embeds") or message.get("content"), ensure_ascii=False)


@pytest.fixture
def sockets() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="hbc"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def world(tmp_path: Path, sockets: Path) -> AsyncIterator[World]:
    fake = FakeDiscord()
    await fake.start()
    with FakeDocker(sockets / "d.sock") as engine:
        settings = make_settings(
            tmp_path,
            discord_token=fake.token,
            discord_api_base=fake.api_base,
            discord_gateway_url=fake.gateway_url,
            docker_hosts=(DockerHost("local", f"unix://{engine.path}"),),
        )
        try:
            with pointed_at(fake):
                async with running(settings) as app:
                    assert app.bot is not None
                    assert app.docker is not None
                    async with asyncio.timeout(20):
                        while app.bot.state != "ready" or any(
                            s.state != "connected" for s in app.docker.statuses()
                        ):
                            await asyncio.sleep(0.05)
                    yield World(app, fake, engine)
        finally:
            await fake.stop()


async def test_docker_on_then_a_crash_posts_the_seed_report(world: World) -> None:
    (reply,) = await world.command("!hook docker on")
    answer = text(reply)
    assert "🐳 Docker Monitoring Active" in answer
    assert "Watching: All containers on every host (local)" in answer
    assert "Secret" not in answer
    assert "/webhook/" not in answer
    assert not world.fake.dms  # no secret to send
    world.engine.run("phigen-bot", "phigen/bot:2.4")
    world.engine.die("phigen-bot", 137, oom=True, logs=["MemoryError: Out of memory"])
    (crash,) = await world.posts(len(world.channel()))
    (embed,) = crash["embeds"]
    assert embed["title"] == "🚨 Container Stopped: phigen-bot"
    assert "**Exit code:** 137 (OOM-killed)" in embed["description"]
    assert "**Uptime:** " in embed["description"]
    assert "MemoryError: Out of memory" in embed["description"]
    assert crash["allowed_mentions"] == {"parse": []}


async def test_docker_hosts_shows_each_stream(world: World) -> None:
    world.engine.run("api")
    world.engine.die("api", 1)
    async with asyncio.timeout(10):
        while world.app.docker is not None and not world.app.docker.statuses()[0].last_event:
            await asyncio.sleep(0.02)
    (reply,) = await world.command("!hook docker hosts")
    answer = text(reply)
    assert "🐳 docker hosts" in answer
    assert "`local` unix://" in answer
    assert "connected for" in answer
    assert "last event die api" in answer
    assert "0 reconnects" in answer


async def test_every_verb_works_for_a_docker_hook(world: World) -> None:
    """events, filter (container, label.<name>), alert-if, format, test and logs."""
    await world.command("!hook docker on --containers api*,web --events die,oom,restart")
    assert "container.die, container.oom" in text((await world.command("!hook events docker"))[0])
    (reply,) = await world.command("!hook filter docker label.tier=backend")
    assert "filter `label.tier=backend` added" in text(reply)
    (reply,) = await world.command(
        "!hook alert-if docker \"exit_code != 0 and container == 'api'\""
    )
    assert "alert rule added" in text(reply)
    (reply,) = await world.command(
        '!hook format docker container.die "💥 {{container}}: {{exit_cause}}"'
    )
    assert "Template set" in text(reply)
    before = len(world.channel())
    world.engine.run("api", labels={"tier": "backend"})
    world.engine.die("api", 3)  # kept: alert + formatted message
    world.engine.run("worker", labels={"tier": "backend"})
    world.engine.die("worker", 3)  # not one of --containers
    world.engine.run("web", labels={"tier": "frontend"})
    world.engine.die("web", 3)  # dropped by the label filter
    posted = await world.posts(before, 2)
    contents = sorted(m["content"] for m in posted)
    assert any(c.startswith("⚡") and "api" in c for c in contents), contents
    assert "💥 api: error" in contents
    await asyncio.sleep(0.5)
    assert len(world.channel()) == before + 2
    (reply,) = await world.command("!hook test docker")
    assert "Sent the last delivery" in text(reply)
    (reply,) = await world.command("!hook logs docker")
    assert "dropped" in text(reply)
    (reply,) = await world.command("!hook aggregate docker 5m")
    assert "one digest every 5m" in text(reply)


def test_shell_docker_on_hosts_and_bad_host(tmp_path: Path) -> None:
    env = {
        "HOOKBOT_DB": str(tmp_path / "h.db"),
        "DOCKER_HOSTS": "local=unix:///nonexistent.sock,prod=tcp://10.0.0.5:2376",
        "PATH": "/usr/bin:/bin",
    }

    def hook(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "hook", *words],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    created = hook("docker", "on", "prod", "--containers", "api*")
    assert created.returncode == 0, created.stderr
    assert "Watching: containers api* on prod" in created.stdout
    assert "Secret" not in created.stdout
    hosts = hook("docker", "hosts")
    assert hosts.stdout.splitlines()[1].startswith("prod tcp://10.0.0.5:2376 · ")
    bad = hook("on", "docker", "staging")
    assert bad.returncode != 0
    assert "no Docker host named 'staging'; DOCKER_HOSTS has local, prod" in bad.stderr
    env["DOCKER_HOSTS"] = "prod=ftp://x"
    refused = hook("list")
    assert refused.returncode != 0
    assert refused.stderr.strip().count("\n") == 0
    assert "DOCKER_HOSTS" in refused.stderr
