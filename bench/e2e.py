"""End-to-end benchmark: signed GitHub pushes → `hookbot run` → its Discord bot → a fake Discord.

    .venv/bin/python bench/e2e.py [--rate 200] [--seconds 10] [--channels 50]
                                  [--burst 1000] [--in-flight 20]

Two processes on 127.0.0.1. hookbot is a real `hookbot run` (receiver, inbox writer,
pipeline, outbox, the discord.py bot) started as `taskset -c 0 hookbot run`, with
DISCORD_TOKEN, DISCORD_API_BASE and DISCORD_GATEWAY_URL aimed at the fake Discord of the e2e
tests (`tests.e2e.fake_discord`), its database in a temporary directory and its stdout and
stderr in files there. This process, pinned to CPU 1 (`os.sched_setaffinity`), runs the fake
and the load generator on one event loop. Start-up waits (at most 60 s) for GET /healthz to
say `"discord": "ready"`; hooks are created with `hookbot hook on github --channel <id>
--json --new` (same environment) once the bot is ready.

(a) Latency: `--channels` text channels in the fake, one GitHub hook per channel, signed push
    deliveries POSTed open-loop at `--rate`/s for `--seconds`, round-robin over the hooks,
    no rate limits. Each delivery's commit message carries a unique marker
    (`bench-a000123`); its latency is (the time the fake recorded the message carrying the
    marker: the record's own `timestamp`, taken just before it is appended) minus (the time
    the POST was answered 2xx), both on the wall clock of this one machine. Lost: answered
    2xx, marker not seen within 30 s of the last answer.
(b) Coalescing under a rate limit: `--burst` deliveries POSTed as fast as `--in-flight`
    concurrent requests allow into one more channel, limited by the fake to 5 messages per
    5 s. Reports the messages used, events per message, the time from the first POST to the
    last marker's arrival against the floor the limit sets (ceil(burst / 10 embeds) messages
    at 1 message/s), and the events lost or posted out of acceptance order (the inbox table
    of hookbot's database, read after it stopped).

RSS is hookbot's VmRSS (/proc/<pid>/status): once idle after login, and at the end of (b).
hookbot is stopped with SIGTERM and must exit 0 within 60 s. Prints exactly one result line
on stdout (diagnostics go to stderr); exits 1 when an event was lost, posted out of order or
not answered 2xx, or when a step failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
# First on the path: `tests` is not an installed package, and the code measured is this tree's.
sys.path.insert(0, str(ROOT))

from bench.ingest import BenchError, free_port, hookbot_command, rss_mb  # noqa: E402
from parsers.signatures import sign_hmac_sha256  # noqa: E402
from tests.e2e.fake_discord import FakeDiscord  # noqa: E402

SAMPLE = ROOT / "parsers" / "samples" / "github" / "push.json"
MARKER = re.compile(r"bench-([ab]\d{6})")
HOST = "127.0.0.1"
HOOKBOT_CPU = "0"
BENCH_CPU = 1
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
CLI_TIMEOUT = 60.0
CLI_PARALLEL = 4
IDLE_SETTLE = 1.0
LOST_AFTER = 30.0  # seconds after the last 2xx before a missing marker counts as lost
SCAN_EVERY = 0.05
BURST_LIMIT = 5
BURST_PER = 5.0
EMBEDS_PER_POST = 10  # Discord's limit; a push renders to one ~530-character embed
CLIENT_CONNECTIONS = 64
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Settings hookbot must not inherit from the caller's environment (or the bench sets them).
CLEARED_ENV = ("DISCORD_", "HOOKBOT_", "GITHUB_")
CLEARED_NAMES = ("PUBLIC_URL", "NGROK_AUTHTOKEN", "DOCKER_HOSTS", "LOG_LEVEL")


@dataclass(frozen=True)
class Target:
    """One hook and the fake channel it posts to."""

    hook_id: str
    channel_id: str
    url: str
    secret: str


@dataclass(frozen=True)
class Arrival:
    """Where and when the fake first recorded a marker."""

    at: float  # wall-clock seconds
    channel_id: str


@dataclass
class Observer:
    """Reads the fake's message records as they come, marker by marker."""

    fake: FakeDiscord
    first: dict[str, Arrival] = field(default_factory=dict)
    order: dict[str, list[str]] = field(default_factory=dict)  # channel → first appearances
    messages: dict[str, int] = field(default_factory=dict)  # channel → records
    repeats: int = 0
    _cursor: int = 0

    def scan(self) -> None:
        records = self.fake.messages
        while self._cursor < len(records):
            record = records[self._cursor]
            self._cursor += 1
            channel = str(record["channel_id"])
            self.messages[channel] = self.messages.get(channel, 0) + 1
            at = datetime.fromisoformat(record["timestamp"]).timestamp()
            text = json.dumps(record.get("embeds")) + str(record.get("content") or "")
            for marker in dict.fromkeys(MARKER.findall(text)):
                if marker in self.first:
                    self.repeats += 1
                    continue
                self.first[marker] = Arrival(at, channel)
                self.order.setdefault(channel, []).append(marker)

    async def wait_for(self, markers: Iterable[str], deadline: float) -> list[str]:
        """Scan until every marker arrived or the monotonic `deadline`; return the missing."""
        wanted = list(markers)
        while True:
            self.scan()
            missing = [m for m in wanted if m not in self.first]
            if not missing or time.monotonic() >= deadline:
                return missing
            await asyncio.sleep(SCAN_EVERY)


@dataclass
class Hookbot:
    """The `hookbot run` subprocess and what it needs to be reached and driven."""

    command: str
    env: dict[str, str]
    tmp: Path
    port: int
    proc: asyncio.subprocess.Process | None = None

    @property
    def db(self) -> Path:
        return Path(self.env["HOOKBOT_DB"])

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise BenchError("hookbot is not running")
        return self.proc.pid

    @property
    def stderr_file(self) -> Path:
        return self.tmp / "hookbot.stderr"

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


@dataclass(frozen=True)
class LatencyResult:
    events: int
    channels: int
    p50_ms: float
    p99_ms: float
    lost: int  # answered 2xx, never posted
    refused: int  # not answered 2xx


@dataclass(frozen=True)
class BurstResult:
    events: int
    messages: int
    seconds: float
    floor_seconds: float
    lost: int  # answered 2xx, never posted
    refused: int  # not answered 2xx
    hook_id: str
    channel_id: str
    out_of_order: bool = False  # set once hookbot stopped and its inbox can be read


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def hookbot_env(fake: FakeDiscord, db: Path, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(CLEARED_ENV) and k not in CLEARED_NAMES
    }
    env.update(
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        HOOKBOT_DB=str(db),
        HOOKBOT_HOST=HOST,
        HOOKBOT_PORT=str(port),
        LOG_LEVEL="WARNING",
    )
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (from /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of non-empty `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def push_body(template: dict[str, Any], marker: str) -> bytes:
    """The sample push with `bench-<marker>` opening the head commit's message."""
    message = f"bench-{marker} benchmark push"
    template["head_commit"]["message"] = message
    template["commits"][-1]["message"] = message
    return json.dumps(template).encode()


async def post(
    session: aiohttp.ClientSession, target: Target, body: bytes, delivery: str
) -> float | None:
    """POST one signed push; return the wall-clock time of a 2xx answer, else None."""
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign_hmac_sha256(body, target.secret),
    }
    try:
        async with session.post(target.url, data=body, headers=headers) as response:
            await response.read()
            if 200 <= response.status < 300:
                return time.time()
            log(f"POST {delivery}: HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        log(f"POST {delivery}: {exc!r}")
    return None


async def start_hookbot(bot: Hookbot) -> None:
    """`taskset -c 0 hookbot run`, stdout and stderr to files (taskset execs: same pid)."""
    with (
        (bot.tmp / "hookbot.stdout").open("wb") as out,
        bot.stderr_file.open("wb") as err,
    ):
        bot.proc = await asyncio.create_subprocess_exec(
            "taskset", "-c", HOOKBOT_CPU, bot.command, "run",
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err, env=bot.env, cwd=bot.tmp,
        )  # fmt: skip


async def wait_ready(bot: Hookbot, session: aiohttp.ClientSession) -> float:
    """Poll GET /healthz until `"discord": "ready"`; return the seconds it took."""
    assert bot.proc is not None
    started = time.monotonic()
    state = "no answer"
    while time.monotonic() - started < READY_TIMEOUT:
        if bot.proc.returncode is not None:
            raise BenchError(f"hookbot exited with {bot.proc.returncode} during start-up")
        try:
            async with session.get(bot.url("/healthz")) as response:
                report = await response.json()
                state = f"HTTP {response.status}, discord {report.get('discord')!r}"
                if response.status == 200 and report.get("discord") == "ready":
                    return time.monotonic() - started
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        await asyncio.sleep(0.05)
    raise BenchError(f"hookbot was not ready within {READY_TIMEOUT:.0f} s ({state})")


async def stop_hookbot(bot: Hookbot) -> float:
    """SIGTERM and wait; return the seconds it took (BenchError on a hang or a bad exit)."""
    assert bot.proc is not None
    began = time.monotonic()
    bot.proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(bot.proc.wait(), STOP_TIMEOUT)
    except TimeoutError:
        raise BenchError(f"hookbot did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM") from None
    if code != 0:
        raise BenchError(f"hookbot exited with {code} after SIGTERM")
    return time.monotonic() - began


async def create_hook(bot: Hookbot, channel_id: int) -> Target:
    """`hookbot hook on github --channel <id> --json --new`, run from this (CPU 1) process."""
    proc = await asyncio.create_subprocess_exec(
        bot.command, "hook", "on", "github", "--channel", str(channel_id), "--json", "--new",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=bot.env, cwd=bot.tmp,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise BenchError(f"`hookbot hook on github` took over {CLI_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        raise BenchError(f"`hookbot hook on github --channel` failed:\n{err.decode().strip()}")
    created = json.loads(out)
    path = urlsplit(str(created["url"])).path
    return Target(str(created["id"]), str(channel_id), bot.url(path), str(created["secret"]))


async def create_hooks(bot: Hookbot, channels: Sequence[int]) -> list[Target]:
    limit = asyncio.Semaphore(CLI_PARALLEL)

    async def one(channel: int) -> Target:
        async with limit:
            return await create_hook(bot, channel)

    started = time.monotonic()
    targets = list(await asyncio.gather(*(one(c) for c in channels)))
    log(f"created {len(targets)} hook(s) with the CLI in {time.monotonic() - started:.1f} s")
    return targets


def describe(values: Sequence[float]) -> str:
    if not values:
        return "none"
    return (
        f"min {min(values):.1f} p50 {percentile(values, 50):.1f} p90 {percentile(values, 90):.1f}"
        f" p99 {percentile(values, 99):.1f} max {max(values):.1f} ms"
    )


async def bench_latency(
    args: argparse.Namespace,
    bot: Hookbot,
    fake: FakeDiscord,
    observer: Observer,
    session: aiohttp.ClientSession,
    run_id: str,
) -> LatencyResult:
    channels = [fake.add_text_channel(f"bench-{i:02d}") for i in range(args.channels)]
    targets = await create_hooks(bot, channels)
    total = args.rate * args.seconds
    template = json.loads(SAMPLE.read_bytes())
    bodies = [push_body(template, f"a{i:06d}") for i in range(total)]
    sent_at: list[float] = [0.0] * total
    answered: list[float | None] = [None] * total

    async def send(i: int) -> None:
        sent_at[i] = time.time()
        target = targets[i % len(targets)]
        answered[i] = await post(session, target, bodies[i], f"{run_id}-a{i:06d}")

    log(f"(a) {total} events at {args.rate}/s over {len(targets)} channels")
    tasks: list[asyncio.Task[None]] = []
    cpu_started = time.process_time()
    hookbot_cpu_started = cpu_seconds(bot.pid)
    started = time.monotonic()
    worst_lag = 0.0
    for i in range(total):
        delay = started + i / args.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            worst_lag = max(worst_lag, -delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)
    wall = time.monotonic() - started
    cpu = time.process_time() - cpu_started
    hookbot_cpu = cpu_seconds(bot.pid) - hookbot_cpu_started
    round_trips = [(a - s) * 1000 for s, a in zip(sent_at, answered, strict=True) if a is not None]
    log(
        f"(a) sent in {wall:.2f} s (worst pacing lag {worst_lag * 1000:.1f} ms); CPU meanwhile:"
        f" hookbot {hookbot_cpu:.1f} s, bench (fake + client) {cpu:.1f} s;"
        f" POST round trip: {describe(round_trips)}"
    )

    accepted = {f"a{i:06d}": at for i, at in enumerate(answered) if at is not None}
    if len(accepted) < total:
        log(f"(a) {total - len(accepted)} POSTs were not answered 2xx")
    drain_started = time.monotonic()
    hookbot_cpu_started = cpu_seconds(bot.pid)
    missing = await observer.wait_for(accepted, time.monotonic() + LOST_AFTER)
    log(
        f"(a) last marker {time.monotonic() - drain_started:.2f} s after the last answer;"
        f" hookbot CPU meanwhile {cpu_seconds(bot.pid) - hookbot_cpu_started:.1f} s"
    )
    latencies = [
        (observer.first[m].at - at) * 1000 for m, at in accepted.items() if m in observer.first
    ]
    if not latencies:
        raise BenchError("(a) no event reached the fake Discord")
    messages = sum(observer.messages.get(t.channel_id, 0) for t in targets)
    log(f"(a) latency: {describe(latencies)}; {messages} messages for {len(latencies)} events")
    by_second: dict[int, list[float]] = {}
    for m, at in accepted.items():
        if m in observer.first:
            second = int(int(m[1:]) / args.rate)
            by_second.setdefault(second, []).append((observer.first[m].at - at) * 1000)
    log(
        "(a) p50/p99 by second of sending: "
        + ", ".join(
            f"{s}s {percentile(v, 50):.0f}/{percentile(v, 99):.0f}"
            for s, v in sorted(by_second.items())
        )
    )
    if missing:
        log(f"(a) lost {len(missing)}, e.g. {', '.join(missing[:5])}")
    return LatencyResult(
        events=total,
        channels=len(targets),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        lost=len(missing),
        refused=total - len(accepted),
    )


def inbox_order(db: Path, hook_id: str) -> list[str]:
    """Delivery ids of a hook in the order the inbox accepted them (hookbot stopped)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT delivery_id FROM inbox WHERE hook_id = ? ORDER BY id", (hook_id,)
        ).fetchall()
    finally:
        conn.close()
    return [str(row[0]) for row in rows]


def check_order(observer: Observer, burst: BurstResult, expected: Sequence[str]) -> bool:
    """True when the channel shows the markers in inbox order (log where it does not)."""
    seen = observer.order.get(burst.channel_id, [])
    in_order = [m for m in expected if m in observer.first]
    if seen == in_order:
        return True
    pairs = enumerate(zip(seen, in_order, strict=False))
    first_bad = next((i for i, (a, b) in pairs if a != b), min(len(seen), len(in_order)))
    log(f"(b) posted out of acceptance order (first difference at position {first_bad})")
    return False


async def bench_burst(
    args: argparse.Namespace,
    bot: Hookbot,
    fake: FakeDiscord,
    observer: Observer,
    session: aiohttp.ClientSession,
    run_id: str,
) -> BurstResult:
    channel = fake.add_text_channel("bench-burst")
    (target,) = await create_hooks(bot, [channel])
    fake.rate_limit(channel, limit=BURST_LIMIT, per=BURST_PER)
    total = args.burst
    floor = math.ceil(total / EMBEDS_PER_POST) * BURST_PER / BURST_LIMIT
    template = json.loads(SAMPLE.read_bytes())
    bodies = [push_body(template, f"b{i:06d}") for i in range(total)]
    answered: list[float | None] = [None] * total
    queue = iter(range(total))

    async def worker() -> None:
        for i in queue:  # the shared iterator hands out deliveries in order
            answered[i] = await post(session, target, bodies[i], f"{run_id}-b{i:06d}")

    log(f"(b) {total} events, {args.in_flight} in flight, into one channel limited to 5 / 5 s")
    first_post = time.time()
    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(args.in_flight)))
    log(f"(b) all POSTs answered in {time.monotonic() - started:.2f} s")

    accepted = [f"b{i:06d}" for i, at in enumerate(answered) if at is not None]
    if len(accepted) < total:
        log(f"(b) {total - len(accepted)} POSTs were not answered 2xx")
    missing = await observer.wait_for(accepted, time.monotonic() + floor + LOST_AFTER)
    arrived = [observer.first[m].at for m in accepted if m in observer.first]
    seconds = (max(arrived) - first_post) if arrived else float("nan")
    messages = observer.messages.get(target.channel_id, 0)
    log(
        f"(b) {len(arrived)} events in {messages} messages, {seconds:.1f} s; 429s answered by"
        f" the fake: {fake.responses_429}; markers seen twice: {observer.repeats}"
    )
    if missing:
        log(f"(b) lost {len(missing)}, e.g. {', '.join(missing[:5])}")
    return BurstResult(
        events=total,
        messages=messages,
        seconds=seconds,
        floor_seconds=floor,
        lost=len(missing),
        refused=total - len(accepted),
        hook_id=target.hook_id,
        channel_id=target.channel_id,
    )


def stderr_tail(bot: Hookbot, lines: int = 15) -> None:
    with contextlib.suppress(OSError):
        tail = bot.stderr_file.read_text(errors="replace").strip()
        if tail:
            log("hookbot stderr (last lines):\n" + "\n".join(tail.splitlines()[-lines:]))


async def bench(
    args: argparse.Namespace, tmp: Path
) -> tuple[LatencyResult, BurstResult, float, float]:
    fake = FakeDiscord()
    await fake.start()
    port = free_port()
    bot = Hookbot(hookbot_command(), hookbot_env(fake, tmp / "hookbot.db", port), tmp, port)
    run_id = uuid.uuid4().hex[:12]
    observer = Observer(fake)
    connector = aiohttp.TCPConnector(limit=CLIENT_CONNECTIONS)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            await start_hookbot(bot)
            log(f"hookbot: pid {bot.pid} on CPU {HOOKBOT_CPU}, port {port}, db {bot.db}")
            log(f"hookbot: discord ready after {await wait_ready(bot, session):.2f} s")
            await asyncio.sleep(IDLE_SETTLE)
            idle = rss_mb(bot.pid)
            log(f"hookbot: idle RSS {idle:.1f} MB")
            latency = await bench_latency(args, bot, fake, observer, session, run_id)
            burst = await bench_burst(args, bot, fake, observer, session, run_id)
            end = rss_mb(bot.pid)
            log(f"hookbot: stopped {await stop_hookbot(bot):.1f} s after SIGTERM")
        prefix = f"{run_id}-"
        expected = [d.removeprefix(prefix) for d in inbox_order(bot.db, burst.hook_id)]
        burst = dataclasses.replace(burst, out_of_order=not check_order(observer, burst, expected))
    except BaseException:
        stderr_tail(bot)
        raise
    finally:
        if bot.proc is not None and bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
        await fake.stop()
    return latency, burst, idle, end


def refused(count: int) -> str:
    return f" ({count} not answered 2xx)" if count else ""


def main() -> int:
    parser = argparse.ArgumentParser(description="hookbot end-to-end benchmark (bench/README.md)")
    parser.add_argument("--rate", type=int, default=200, help="(a) deliveries per second")
    parser.add_argument("--seconds", type=int, default=10, help="(a) seconds of sending")
    parser.add_argument("--channels", type=int, default=50, help="(a) channels, one hook each")
    parser.add_argument("--burst", type=int, default=1000, help="(b) deliveries")
    parser.add_argument("--in-flight", type=int, default=20, help="(b) concurrent POSTs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    try:
        # Before any thread exists: threads (the resolver's executor) inherit the mask.
        os.sched_setaffinity(0, {BENCH_CPU})
    except OSError as exc:
        log(f"e2e: FAILED: cannot pin this process to CPU {BENCH_CPU} ({exc}); needs 2 CPUs")
        return 1
    try:
        with tempfile.TemporaryDirectory(prefix="hookbot-e2e-") as tmp_name:
            latency, burst, idle, end = asyncio.run(bench(args, Path(tmp_name)))
    except BenchError as exc:
        log(f"e2e: FAILED: {exc}")
        return 1
    print(
        f"e2e (hookbot in its own process on CPU {HOOKBOT_CPU}; fake Discord + load on CPU"
        f" {BENCH_CPU}): (a) {latency.events} events/{latency.channels} channels"
        f" p50 {latency.p50_ms:.1f}ms p99 {latency.p99_ms:.1f}ms lost {latency.lost}"
        f"{refused(latency.refused)}"
        f" | (b) {burst.events} events in {burst.messages} msgs"
        f" ({burst.events / max(burst.messages, 1):.1f}/msg)"
        f" {burst.seconds:.1f}s vs {burst.floor_seconds:.0f}s, lost {burst.lost}"
        f"{refused(burst.refused)}{', OUT OF ORDER' if burst.out_of_order else ''}"
        f" | RSS idle {idle:.1f}MB end {end:.1f}MB",
        flush=True,
    )
    if latency.lost or burst.lost or burst.out_of_order or latency.refused or burst.refused:
        log("e2e: FAILED: events were lost, posted out of order or not accepted")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
