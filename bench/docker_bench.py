"""Docker benchmark: events/s from a fake Engine to messages; death → message and reconnect
times with a real dockerd.

    .venv/bin/python bench/docker_bench.py [--events 5000] [--deaths 30] [--no-real]

(a) One process pinned to CPU 0 holds the fake Engine (tests/e2e/fake_docker.py, on a unix
socket, in a thread of this process) and hookbot. First the watcher alone (the real
docker-py reading the stream, one docker hook, the inbox and the cursor; no pipeline):
`--events` `start` events, then `--events / 5` deaths, each inspected and its last logs
read (three docker-py calls, as docker-py inspects again to read logs). Then the whole
hookbot (`bot.app.running`: watcher, pipeline, outbox) with a hook selecting every
container kind and a counting sink: `--events` starts, from the first emitted to the last
message; every one must arrive exactly once.

(b) With dockerd installed and root (unless `--no-real`): a dockerd of its own (as
tests/e2e/test_docker_real.py starts it), `--deaths` containers that exit 1 one after the
other; the latency is the time from State.FinishedAt to the message reaching the sink
(p50, p99). Then dockerd is restarted while a container dies in the gap: the reconnect time
runs from dockerd answering again to the stream being connected, and the death must be
reported once.

Prints one result line on stdout; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from bot.app import running  # noqa: E402
from bot.config import DockerHost  # noqa: E402
from bot.intake.docker_watch import DockerWatch  # noqa: E402
from bot.store import Store  # noqa: E402
from formatters.message import Message  # noqa: E402
from parsers import docker as engine_parser  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.e2e.fake_docker import FakeDocker  # noqa: E402


class CountingSink:
    """Counts messages by title and remembers when each arrived."""

    key = "console"
    coalesces = False

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.count = 0
        self.changed = asyncio.Event()

    async def send(self, message: Message, *, nonce: str) -> str | None:
        title = (message.embeds[0].title if message.embeds else message.content) or ""
        self.arrivals.setdefault(title.replace("\\_", "_"), []).append(time.time())
        self.count += 1
        self.changed.set()
        return None

    async def wait(self, count: int, within: float) -> None:
        async with asyncio.timeout(within):
            while self.count < count:
                self.changed.clear()
                await self.changed.wait()


async def _hook(store: Store) -> None:
    await store.hooks.create(
        service="docker", destination="console", token="t" * 32, secret="s" * 40, now=1.0
    )


async def _connected(app, reconnects: int = 0) -> float:
    (status,) = app.docker.statuses()
    async with asyncio.timeout(60):
        while status.state != "connected" or status.reconnects < reconnects:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return time.monotonic()


async def watcher_intake(events: int, action: str, folder: Path) -> float:
    """Events/s the watcher alone stores (no pipeline): stream → inspect/logs → inbox."""
    with FakeDocker(folder / f"{action}.sock") as fake:
        boxes = [fake.run(f"w{n:05d}", events=False, logs=["x"]) for n in range(events)]
        store = await Store.open(str(folder / f"{action}.db"))
        await _hook(store)
        watch = DockerWatch((DockerHost("fake", f"unix://{fake.path}"),), store, lambda: None)
        watch.start()
        try:
            async with asyncio.timeout(30):
                while watch.statuses()[0].state != "connected":  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            began = time.monotonic()

            def emit() -> None:
                for box in boxes:
                    extra = {"exitCode": "1"} if action == "die" else {}
                    box.status, box.finished_at = "exited", fake.now()
                    fake.emit("container", action, box.id, {"name": box.name, **extra})

            await asyncio.to_thread(emit)
            async with asyncio.timeout(600):
                while await store.inbox.count() < events:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            rate = events / (time.monotonic() - began)
        finally:
            await watch.stop()
            await store.close()
    print(f"watcher: {events} {action} events stored at {rate:.0f}/s", file=sys.stderr)
    return rate


async def fake_throughput(events: int, folder: Path) -> tuple[float, str]:
    """Events/s from the fake Engine to the sink: every `start` selected and posted."""
    with FakeDocker(folder / "f.sock") as fake:
        boxes = [fake.run(f"c{n:05d}", events=False) for n in range(events)]
        sink = CountingSink()
        settings = make_settings(
            folder / "a", docker_hosts=(DockerHost("fake", f"unix://{fake.path}"),)
        )
        (folder / "a").mkdir()
        async with running(settings, sinks=lambda _key: sink) as app:
            await app.store.hooks.create(
                service="docker",
                destination="console",
                token="t" * 32,
                secret="s" * 40,
                now=1.0,
                events=("container.*",),
            )
            await _connected(app)
            began = time.monotonic()

            def emit() -> None:
                for box in boxes:
                    fake.emit("container", "start", box.id, {"name": box.name})

            await asyncio.to_thread(emit)
            await sink.wait(events, within=600)
            spent = time.monotonic() - began
            await asyncio.sleep(1)
        doubles = [t for t, at in sink.arrivals.items() if len(at) != 1]
        if sink.count != events or doubles:
            print(
                f"fake: {sink.count} messages for {events} events; doubles {doubles[:3]}",
                file=sys.stderr,
            )
            raise SystemExit(1)
        return events / spent, f"{events} starts → {sink.count} messages"


async def real_latency(deaths: int, folder: Path) -> str:
    from tests.e2e.test_docker_real import IMAGE, Daemon, _busybox_tar

    daemon = Daemon(folder / "d")
    (folder / "d").mkdir()
    daemon.start()
    client = docker.DockerClient(base_url=daemon.url, timeout=30)
    client.api.import_image_from_data(_busybox_tar(), repository="bb", tag="local")
    sink = CountingSink()
    settings = make_settings(folder / "b", docker_hosts=(DockerHost("real", daemon.url),))
    (folder / "b").mkdir()
    try:
        async with running(settings, sinks=lambda _key: sink) as app:
            await _hook(app.store)
            await _connected(app)
            latencies = []
            for n in range(deaths):
                box = client.containers.run(
                    IMAGE, ["sh", "-c", "exit 1"], name=f"d{n}", network_mode="none", detach=True
                )
                await sink.wait(n + 1, within=60)
                box.reload()
                finished = engine_parser.time_nanos(box.attrs["State"]["FinishedAt"]) or 0
                (arrived,) = sink.arrivals[f"🚨 Container Stopped: d{n}"]
                latencies.append(arrived - finished / 1e9)
            box = client.containers.run(
                IMAGE,
                ["sh", "-c", "sleep 2; exit 5"],
                name="gap",
                network_mode="none",
                detach=True,
            )
            await asyncio.sleep(0.3)
            await asyncio.to_thread(daemon.stop)
            await asyncio.sleep(3)
            await asyncio.to_thread(daemon.start, skip=False)
            ready = time.monotonic()
            connected = await _connected(app, reconnects=1)
            await sink.wait(deaths + 1, within=60)
            await asyncio.sleep(2)
            gap = sink.arrivals.get("🚨 Container Stopped: gap", [])
            if len(gap) != 1 or sink.count != deaths + 1:
                print(
                    f"real: gap death posted {len(gap)} times, {sink.count} messages",
                    file=sys.stderr,
                )
                raise SystemExit(1)
    finally:
        for box in client.containers.list(all=True):
            box.remove(force=True)
        client.close()
        daemon.stop()
        daemon.unmount()
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000
    return (
        f"real dockerd: death→message p50 {p50:.0f} ms p99 {p99:.0f} ms ({deaths} deaths) | "
        f"reconnect {(connected - ready) * 1000:.0f} ms after dockerd answered again, "
        "the death in the gap posted once"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--deaths", type=int, default=30)
    parser.add_argument("--no-real", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbb", ignore_cleanup_errors=True) as name:
        folder = Path(name)
        starts = await watcher_intake(args.events, "start", folder)
        deaths = await watcher_intake(max(args.events // 5, 100), "die", folder)
        rate, what = await fake_throughput(args.events, folder)
        line = (
            f"docker (one core): watcher stores {starts:.0f} start/s, {deaths:.0f} die/s "
            f"(inspect + last logs each) | fake Engine → pipeline → sink {rate:.0f} events/s "
            f"({what})"
        )
        if args.no_real:
            line += " | real dockerd: not run (--no-real)"
        elif shutil.which("dockerd") is None or os.geteuid() != 0:
            line += " | real dockerd: not run (no dockerd, or not root)"
        else:
            line += " | " + await real_latency(args.deaths, folder)
    print(line)


if __name__ == "__main__":
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    asyncio.run(main())
