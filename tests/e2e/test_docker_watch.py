"""Docker watched directly: a fake Engine on a unix socket, read by the real docker-py.

The whole hookbot runs in-process (`bot.app.running`): the watcher stores each event in
the inbox for every docker hook of the host, the pipeline renders it, and a recording
sink receives the messages. The fake Engine (tests/e2e/fake_docker.py) drops its
streams, goes down and comes back having forgotten its events, as dockerd does.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.app import Running, running
from bot.config import DockerHost
from bot.intake.docker_watch import HostWatcher
from bot.store import Hook
from formatters.message import Message
from tests.conftest import RecordingSink, make_settings
from tests.e2e.fake_docker import FakeDocker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


@pytest.fixture
def sockets() -> Iterator[Path]:
    """A short folder for unix sockets (their paths are limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="hbd"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def engine(sockets: Path) -> Iterator[FakeDocker]:
    with FakeDocker(sockets / "a.sock") as fake:
        yield fake


@asynccontextmanager
async def hookbot(
    tmp_path: Path, *engines: tuple[str, FakeDocker]
) -> AsyncIterator[tuple[Running, RecordingSink]]:
    """hookbot watching the fake engines, posting to a recording sink."""
    sink = RecordingSink()
    hosts = tuple(DockerHost(name, f"unix://{fake.path}") for name, fake in engines)
    settings = make_settings(tmp_path, docker_hosts=hosts)
    async with running(settings, sinks=lambda _key: sink) as app:
        yield app, sink


async def add_hook(app: Running, target: str | None = None, **options: str) -> Hook:
    return await app.store.hooks.create(
        service="docker",
        destination="console",
        token=f"t{time.time_ns()}",
        secret="s" * 40,
        now=time.time(),
        target=target,
        options=options,
    )


def watcher(app: Running, name: str = "local") -> HostWatcher:
    assert app.docker is not None
    return next(w for w in app.docker if w.host.name == name)


async def until(condition, timeout: float = 10.0, what: str = "condition") -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def connected(app: Running, name: str = "local", reconnects: int = 0) -> None:
    w = watcher(app, name)
    await until(
        lambda: w.status.state == "connected" and w.status.reconnects >= reconnects,
        what=f"{name} connected",
    )


async def quiet(sink: RecordingSink, seconds: float = 0.6) -> int:
    """Wait until nothing more arrives for `seconds`; return how many messages came."""
    count = -1
    while count != len(sink.sent):
        count = len(sink.sent)
        await asyncio.sleep(seconds)
    return count


def readers() -> list[threading.Thread]:
    """The watcher's event-reading threads still alive."""
    return [t for t in threading.enumerate() if t.name.startswith("docker-events-")]


def titles(sink: RecordingSink) -> list[str]:
    return [embed_of(m).title or "" for m, _ in sink.sent]


def embed_of(message: Message):
    (embed,) = message.embeds
    return embed


def text_of(message: Message) -> str:
    embed = embed_of(message)
    return f"{embed.title}\n{embed.description}"


# --------------------------------------------------------------------------- flow


async def test_a_crash_becomes_the_seed_report(tmp_path: Path, engine: FakeDocker) -> None:
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        engine.run("phigen-bot", "phigen/bot:2.4", logs=["loading model"])
        await asyncio.sleep(1.1)  # an uptime of at least a second
        engine.die("phigen-bot", 137, oom=True, logs=["MemoryError: Out of memory"])
        await sink.wait_for(1)
        assert await quiet(sink) == 1  # the oom events fold into the death's report
        message, _ = sink.sent[0]
        embed = embed_of(message)
        assert embed.title == "🚨 Container Stopped: phigen-bot"
        assert "**Exit code:** 137 (OOM-killed)" in (embed.description or "")
        assert "**Uptime:** 1s" in (embed.description or "")
        assert (embed.description or "").endswith("loading model\nMemoryError: Out of memory\n```")


async def test_default_selection_and_noise(tmp_path: Path, engine: FakeDocker) -> None:
    """Starts, clean exits and health probes' exec_* events post nothing; unhealthy does."""
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        engine.run("job")
        engine.die("job", 0)
        engine.run("web", "nginx:1.27")
        engine.set_health("web", "unhealthy", "curl: (7) connection refused")
        await sink.wait_for(1)
        engine.set_health("web", "healthy", "ok")
        assert await quiet(sink) == 1
        assert titles(sink) == ["🩺 Container Unhealthy: web"]
        assert "curl: (7) connection refused" in text_of(sink.sent[0][0])
        assert not [q for q in engine.calls("/events") if "exec" in q.get("filters", "")]


async def test_137_without_oom_is_a_kill_not_oom(tmp_path: Path, engine: FakeDocker) -> None:
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        engine.run("killed")
        engine.die("killed", 137, signals=[9])
        engine.run("plain")
        engine.die("plain", 137)
        engine.run("stopped")
        engine.die("stopped", 143, signals=[15])
        await sink.wait_for(3)
        texts = [text_of(m) for m, _ in sink.sent]
        assert "**Exit code:** 137 (SIGKILL, sent by docker kill)" in texts[0]
        assert "**Exit code:** 137 (SIGKILL)" in texts[1]
        assert "**Exit code:** 143 (SIGTERM, sent by docker stop)" in texts[2]
        assert not any("OOM" in text for text in texts)


async def test_fan_out_by_host_and_container_glob(tmp_path: Path, sockets: Path) -> None:
    with FakeDocker(sockets / "a.sock") as a, FakeDocker(sockets / "b.sock") as b:
        async with hookbot(tmp_path, ("a", a), ("b", b)) as (app, sink):
            every = await add_hook(app)
            only_b_web = await add_hook(app, "b", containers="web*")
            await connected(app, "a")
            await connected(app, "b")
            a.run("web-1")
            a.die("web-1", 1)
            b.run("api")
            b.die("api", 2)
            b.run("web-2")
            b.die("web-2", 3)
            await sink.wait_for(4)
            assert await quiet(sink) == 4
            assert await app.store.inbox.pending(100) == []
            by_hook: dict[str, list[str]] = {}
            for entry in await app.store.ledger.recent(None, 50):
                if entry.outcome == "queued" and entry.hook_id:
                    by_hook.setdefault(entry.hook_id, []).append(entry.detail or "")
            assert len(by_hook[every.id]) == 3
            assert by_hook[only_b_web.id] == ["Container web-2 stopped: exit code 3 (error)"]


# --------------------------------------------------------------------------- stream drops


async def test_a_dropped_stream_resumes_since_the_cursor_without_loss_or_double(
    tmp_path: Path, engine: FakeDocker
) -> None:
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        engine.run("api")
        first = engine.die("api", 1)
        await sink.wait_for(1)
        w = watcher(app)
        await until(lambda: w.cursor == first["timeNano"], what="cursor on the first death")
        assert await app.store.sources.cursor("local") == first["timeNano"]
        engine.drop_streams()  # the stream ends quietly; the daemon still has its events
        await until(lambda: w.status.state == "reconnecting", what="a disconnect")
        engine.run("worker")
        engine.die("worker", 2)  # while the stream is down
        await connected(app, reconnects=1)
        await sink.wait_for(2)
        assert await quiet(sink) == 2
        assert titles(sink) == ["🚨 Container Stopped: api", "🚨 Container Stopped: worker"]
        since = [q.get("since") for q in engine.calls("/events")]
        nanos = first["timeNano"]
        assert since[1] == f"{nanos // 10**9}.{nanos % 10**9:09d}"
        assert w.status.reconnects == 1
        assert w.status.last_error is not None
        assert "ended" in w.status.last_error


async def test_a_death_while_dockerd_was_down_is_reconciled_once(
    tmp_path: Path, engine: FakeDocker
) -> None:
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        engine.run("api", logs=["serving"])
        engine.run("db")
        engine.die("db", 1)  # streamed, reported
        await sink.wait_for(1)
        engine.down()  # dockerd stops: the stream ends, connections are refused
        engine.die("api", 3, events=False, logs=["fatal: lost the database"])
        await asyncio.sleep(0.3)
        engine.up()  # back, having forgotten every event
        await connected(app, reconnects=1)
        await sink.wait_for(2)
        assert await quiet(sink) == 2
        text = text_of(sink.sent[1][0])
        assert "🚨 Container Stopped: api" in text
        assert "**Exit code:** 3 (error)" in text
        assert "Found when the event stream came back" in text
        assert "fatal: lost the database" in text
        # Another reconnect reconciles again: nothing is reported twice.
        engine.drop_streams()
        await connected(app, reconnects=2)
        # "connected" is set before the reconciliation that follows it has listed containers.
        await until(
            lambda: len(engine.calls("/containers/json")) >= 2, what="the second reconciliation"
        )
        assert len(engine.calls("/containers/json")) == 2
        assert await quiet(sink) == 2


async def test_hookbot_restarted_resumes_from_its_stored_cursor(
    tmp_path: Path, engine: FakeDocker
) -> None:
    """Deaths while hookbot itself was stopped: replayed (or reconciled), each once."""
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        engine.run("api")
        engine.die("api", 1)
        await sink.wait_for(1)
    engine.run("web")
    engine.die("web", 4)  # hookbot is down; the daemon keeps the event
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await connected(app)
        await sink.wait_for(1)
        assert await quiet(sink) == 1
        assert titles(sink) == ["🚨 Container Stopped: web"]


# --------------------------------------------------------------------------- loops, builds


async def test_a_restart_loop_is_one_message_then_counted(
    tmp_path: Path, engine: FakeDocker
) -> None:
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        engine.run("api")
        for _ in range(6):
            engine.die("api", 1, restart=True, logs=["Error: Cannot find module"])
        await sink.wait_for(3)
        assert await quiet(sink) == 3
        assert titles(sink) == [
            "🚨 Container Stopped: api",
            "🚨 Container Stopped: api",
            "🔁 Restart Loop: api",
        ]
        assert "**Died 3 times in" in text_of(sink.sent[2][0])
        assert watcher(app).status.loops == {"api": 6}


async def test_a_new_image_tagged_is_a_build(tmp_path: Path, engine: FakeDocker) -> None:
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        built = engine.add_image("shop/api:1.9", size=152_300_000, layers=7)
        old = engine.add_image("alpine:3.20", age=86400)
        engine.tag(built, "shop/api:1.9")
        engine.tag(old, "mirror/alpine:3.20")  # an old image re-tagged: not a build
        engine.tag(built, "shop/api:latest")  # the same build tagged again: reported once
        await sink.wait_for(1)
        assert await quiet(sink) == 1
        embed = embed_of(sink.sent[0][0])
        assert embed.title == "🏗️ Image Built: shop/api:1.9"
        assert "**Size:** 152.3MB · **Layers:** 7" in (embed.description or "")


# --------------------------------------------------------------------------- health, stop


async def test_healthz_shows_each_stream(tmp_path: Path, engine: FakeDocker) -> None:
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        engine.run("api")
        engine.die("api", 1)
        await sink.wait_for(1)
        engine.drop_streams()
        await connected(app, reconnects=1)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{app.port}/healthz") as response,
        ):
            report = await response.json()
        (stream,) = report["docker"]
        assert stream["name"] == "local"
        assert stream["state"] == "connected"
        assert stream["reconnects"] == 1
        assert stream["last_event"] == "die api"
        assert stream["last_event_at"] > time.time() - 60


async def test_stop_is_prompt_mid_stream_mid_fetch_and_mid_backoff(
    tmp_path: Path, engine: FakeDocker
) -> None:
    async with hookbot(tmp_path, ("local", engine)) as (app, _):
        await add_hook(app)
        await connected(app)
        engine.inspect_delay = 5.0  # the Engine hangs on the death's inspect
        box = engine.run("api")
        engine.die("api", 1)
        await until(lambda: bool(engine.calls(f"/containers/{box.id}/json")), what="inspect")
        began = time.monotonic()
        assert app.docker is not None
        await app.docker.stop()
        assert time.monotonic() - began < 1.0
        assert watcher(app).status.state == "stopped"
        await until(lambda: not readers(), what="the stream reader ended")
    engine.inspect_delay = 0.0
    async with hookbot(tmp_path, ("local", engine)) as (app, _):
        await connected(app)
        engine.down()
        await until(lambda: watcher(app).status.state == "reconnecting", what="backoff")
        began = time.monotonic()
        assert app.docker is not None
        await app.docker.stop()
        assert time.monotonic() - began < 1.0


async def test_what_no_hook_watches_is_not_fetched(tmp_path: Path, engine: FakeDocker) -> None:
    """Deaths of containers outside every hook's glob cost no inspect and no log read."""
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app, containers="api*")
        await connected(app)
        other = engine.run("worker")
        engine.die("worker", 1)
        watched = engine.run("api-1")
        engine.die("api-1", 1)
        await sink.wait_for(1)
        assert await quiet(sink) == 1
        paths = [path for path, _ in engine.requests]
        assert not [p for p in paths if other.id in p]
        assert [p for p in paths if watched.id in p]
        assert watcher(app).cursor is not None
        assert watcher(app).status.last_event == "die api-1"


async def test_an_oom_kill_the_container_survives_is_posted_after_the_grace(
    tmp_path: Path, engine: FakeDocker
) -> None:
    """A child killed by the OOM killer, the container still up: one 🧠 message, ~2 s later."""
    async with hookbot(tmp_path, ("local", engine)) as (app, sink):
        await add_hook(app)
        await connected(app)
        box = engine.run("worker", logs=["resizing 48 images"])
        oom = engine.emit("container", "oom", box.id, {"name": "worker", "image": box.image})
        began = time.monotonic()
        await sink.wait_for(1)
        waited = time.monotonic() - began
        assert await quiet(sink) == 1
        assert titles(sink) == ["🧠 Out of Memory: worker"]
        assert "resizing 48 images" in text_of(sink.sent[0][0])
        assert 1.5 < waited < 6
        await until(lambda: watcher(app).cursor == oom["timeNano"], what="cursor past the oom")
