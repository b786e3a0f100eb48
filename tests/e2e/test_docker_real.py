"""Against a real dockerd, started by the tests themselves (PROTOCOLS B1).

dockerd runs as root with its own data root, exec root and socket (vfs storage, no
bridge, no iptables, `--live-restore` so that containers outlive a daemon restart), and
a busybox image is made offline (`import` of a rootfs with Debian's busybox-static).
Containers run with `--network none`. `.ci/run` installs docker.io and busybox-static
when missing; without them (or without root) these tests are skipped with that reason.

Each case checks that every death is reported exactly once, with the right cause.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from bot.app import Running, running
from bot.config import DockerHost
from tests.conftest import RecordingSink, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

BUSYBOX = Path("/usr/bin/busybox")
APPLETS = ("sh", "echo", "sleep", "head", "tr", "test", "touch", "rm", "cat", "true", "false")
IMAGE = "bb:local"


@dataclass
class Daemon:
    """A dockerd of the tests' own."""

    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> str:
        return str(self.folder / "d.sock")

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 30, *, skip: bool = True) -> None:
        """Start dockerd; when it cannot start, skip (the first time) or fail (a restart)."""
        log = (self.folder / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            [
                "dockerd",
                f"--data-root={self.folder / 'root'}",
                f"--exec-root={self.folder / 'exec'}",
                f"--pidfile={self.folder / 'd.pid'}",
                f"--host={self.url}",
                "--storage-driver=vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--live-restore",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with suppress(Exception):
                client = docker.APIClient(base_url=self.url, timeout=2)
                client.ping()
                client.close()
                return
            time.sleep(0.1)
        tail = (self.folder / "dockerd.log").read_text(errors="replace")[-800:]
        self.stop()
        if not skip:
            raise AssertionError(f"dockerd did not start again:\n{tail}")
        pytest.skip(f"dockerd did not start here, the real-engine tests did not run:\n{tail}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def unmount(self) -> None:
        """Unmount what dockerd left mounted in its folder (its data root), deepest first."""
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        inside = [
            line.split()[1] for line in mounts if line.split()[1].startswith(str(self.folder))
        ]
        for point in sorted(inside, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def _busybox_tar() -> bytes:
    """A root filesystem with busybox and a few applets, as a tar (made offline)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for folder in ("bin", "tmp", "proc", "sys", "dev", "etc"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(BUSYBOX), "bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return data.getvalue()


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    missing = [name for name in ("dockerd", "containerd", "runc") if shutil.which(name) is None]
    if missing or not BUSYBOX.is_file():
        pytest.skip(
            f"no real Docker engine here ({', '.join(missing) or 'busybox-static'} missing): "
            "the real-engine tests did not run; `.ci/run` installs docker.io and busybox-static"
        )
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root: the real-engine tests did not run")
    folder = Path(tempfile.mkdtemp(prefix="hbdk"))
    engine = Daemon(folder)
    engine.start()
    client = docker.APIClient(base_url=engine.url, timeout=30)
    client.import_image_from_data(_busybox_tar(), repository="bb", tag="local")
    client.close()
    try:
        yield engine
    finally:
        with suppress(Exception):
            client = docker.APIClient(base_url=engine.url, timeout=30)
            for box in client.containers(all=True):
                client.remove_container(box["Id"], force=True)
            client.close()
        engine.stop()
        engine.unmount()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def client(daemon: Daemon) -> Iterator[docker.DockerClient]:
    made = docker.DockerClient(base_url=daemon.url, timeout=30)
    yield made
    for box in made.containers.list(all=True):
        with suppress(Exception):
            box.remove(force=True)
    made.close()


@asynccontextmanager
async def watching(tmp_path: Path, daemon: Daemon) -> AsyncIterator[tuple[Running, RecordingSink]]:
    sink = RecordingSink()
    settings = make_settings(tmp_path, docker_hosts=(DockerHost("real", daemon.url),))
    async with running(settings, sinks=lambda _key: sink) as app:
        await app.store.hooks.create(
            service="docker", destination="console", token="t" * 32, secret="s" * 40, now=1.0
        )
        await connected(app)
        yield app, sink


async def connected(app: Running, reconnects: int = 0, timeout: float = 30) -> None:
    assert app.docker is not None
    (status,) = app.docker.statuses()
    async with asyncio.timeout(timeout):
        while status.state != "connected" or status.reconnects < reconnects:
            await asyncio.sleep(0.05)


async def settled(sink: RecordingSink, count: int, quiet: float = 1.5) -> list[str]:
    """Wait for `count` messages, then for quiet; return each as `title\\ndescription`."""
    await sink.wait_for(count, timeout=60)
    seen = -1
    while seen != len(sink.sent):
        seen = len(sink.sent)
        await asyncio.sleep(quiet)
    texts = [f"{m.embeds[0].title}\n{m.embeds[0].description}" for m, _ in sink.sent]
    return [text.replace("\\_", "_") for text in texts]  # names are markdown-escaped


def run(client: docker.DockerClient, name: str, command: str, **options: Any) -> Any:
    return client.containers.run(
        IMAGE, ["sh", "-c", command], name=name, network_mode="none", detach=True, **options
    )


async def test_exit_oom_kill_and_unhealthy_each_reported_once(
    tmp_path: Path, daemon: Daemon, client: docker.DockerClient
) -> None:
    async with watching(tmp_path, daemon) as (_, sink):
        run(client, "t_exit3", "echo hello; exit 3")
        run(
            client,
            "t_oom",
            "x=$(head -c 200000000 /dev/zero | tr '\\0' a)",
            mem_limit="16m",
            memswap_limit="16m",
        )
        killed = run(client, "t_kill", "sleep 300")
        run(
            client,
            "t_health",
            "sleep 300",
            healthcheck={
                "test": ["CMD", "test", "-f", "/ready"],
                "interval": 300_000_000,
                "retries": 1,
            },
        )
        await asyncio.sleep(1)
        killed.kill()
        texts = await settled(sink, 4)
    by_name = {text.splitlines()[0].rsplit(": ", 1)[1]: text for text in texts}
    assert sorted(by_name) == ["t_exit3", "t_health", "t_kill", "t_oom"], texts
    assert len(texts) == 4
    assert "**Exit code:** 3 (error)" in by_name["t_exit3"]
    assert "hello" in by_name["t_exit3"]
    assert "**Exit code:** 137 (OOM-killed)" in by_name["t_oom"]
    assert "**Exit code:** 137 (SIGKILL, sent by docker kill)" in by_name["t_kill"]
    assert by_name["t_health"].startswith("🩺 Container Unhealthy: t_health")


async def test_a_restart_loop_is_one_message_then_counted(
    tmp_path: Path, daemon: Daemon, client: docker.DockerClient
) -> None:
    async with watching(tmp_path, daemon) as (app, sink):
        run(
            client,
            "t_loop",
            "echo crash; exit 1",
            restart_policy={"Name": "on-failure", "MaximumRetryCount": 5},
        )
        texts = await settled(sink, 3)
        assert app.docker is not None
        (status,) = app.docker.statuses()
        async with asyncio.timeout(30):  # Docker's restart delays double: 0.1 s, 0.2 s, …
            while status.loops.get("t_loop", 0) < 6:
                await asyncio.sleep(0.1)
        texts = await settled(sink, 3)
    assert [t.splitlines()[0] for t in texts] == [
        "🚨 Container Stopped: t_loop",
        "🚨 Container Stopped: t_loop",
        "🔁 Restart Loop: t_loop",
    ]
    assert status.loops == {"t_loop": 6}  # the first run and its 5 restarts: 6 deaths


async def test_a_death_while_dockerd_restarts_is_reported_once(
    tmp_path: Path, daemon: Daemon, client: docker.DockerClient
) -> None:
    async with watching(tmp_path, daemon) as (app, sink):
        run(client, "t_before", "exit 4")
        await settled(sink, 1)
        run(client, "t_gap", "sleep 2; exit 5")  # its output, if any, would be lost meanwhile
        await asyncio.sleep(0.5)
        began = time.monotonic()
        daemon.stop()  # live-restore: t_gap goes on running, and dies while dockerd is down
        await asyncio.sleep(3)
        daemon.start(skip=False)
        await connected(app, reconnects=1, timeout=60)
        reconnected = time.monotonic() - began - 3
        texts = await settled(sink, 2, quiet=2.0)
    assert len(texts) == 2, texts
    assert texts[0].startswith("🚨 Container Stopped: t_before")
    gap = texts[1]
    assert gap.startswith("🚨 Container Stopped: t_gap")
    assert "**Exit code:** 5 (error)" in gap
    assert "Found when the event stream came back" in gap
    assert reconnected < 35


async def test_docker_on_in_discord_then_a_real_crash_posts_the_report(
    tmp_path: Path, daemon: Daemon, client: docker.DockerClient
) -> None:
    """The issue's "done when": `!hook docker on` in the fake Discord, a real container dies."""
    from tests.e2e.fake_discord import FakeDiscord, pointed_at

    fake = FakeDiscord()
    await fake.start()
    settings = make_settings(
        tmp_path,
        discord_token=fake.token,
        discord_api_base=fake.api_base,
        discord_gateway_url=fake.gateway_url,
        docker_hosts=(DockerHost("local", daemon.url),),
    )

    def channel() -> list[dict[str, Any]]:
        return [m for m in fake.messages if str(m["channel_id"]) == str(fake.channel_id)]

    try:
        with pointed_at(fake):
            async with running(settings) as app:
                assert app.bot is not None
                async with asyncio.timeout(20):
                    while app.bot.state != "ready":
                        await asyncio.sleep(0.05)
                await connected(app)
                await fake.send_user_message("!hook docker on", author="admin")
                async with asyncio.timeout(10):
                    while not channel():
                        await asyncio.sleep(0.02)
                assert "Docker Monitoring Active" in str(channel()[0]["embeds"])
                grow = "echo loading the model; sleep 1; echo allocating 200 MB;"
                grow += " x=$(head -c 200000000 /dev/zero | tr '\\0' a)"
                run(client, "phigen-bot", grow, mem_limit="16m", memswap_limit="16m")
                async with asyncio.timeout(30):
                    while len(channel()) < 2:
                        await asyncio.sleep(0.05)
                await asyncio.sleep(1.5)
                posted = channel()[1:]
    finally:
        await fake.stop()
    assert len(posted) == 1, [m.get("embeds") or m.get("content") for m in posted]
    (embed,) = posted[0]["embeds"]
    report = embed["title"] + "\n" + embed["description"]
    (tmp_path / "report.txt").write_text(report)  # kept for the issue note
    assert embed["title"] == "🚨 Container Stopped: phigen-bot"
    assert "**Exit code:** 137 (OOM-killed)" in embed["description"]
    assert "**Uptime:** 1s" in embed["description"]
    assert "loading the model\nallocating 200 MB" in embed["description"]
