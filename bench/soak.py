"""Soak benchmark: a minute of mixed signed webhooks through faults, and nothing acknowledged lost.

    .venv/bin/python bench/soak.py [--seconds 60] [--rate 100] [--burst 300] [--burst-every 15]
        [--channels 6] [--outage-at 15] [--outage 20] [--kill-at 40] [--drain 120]
        [--keep-db DIR]

hookbot is a real `hookbot run` pinned to CPU 0 (`taskset -c 0`, bench/e2e.py's launcher) whose
Discord is the e2e tests' fake (`tests.e2e.fake_discord.FakeDiscord`, through DISCORD_API_BASE
and DISCORD_GATEWAY_URL); this process, pinned to CPU 1, runs the fake and the load generator
on one event loop. Before start-up the script creates, through `HookService` in hookbot's
database, `--channels` hooks (events `*`) per service — github, gitlab, ci and custom — each
posting to its own fake channel, and every channel is limited by the fake to 5 messages per
5 s without advertising it (as Discord's per-channel limit: only 429s tell).

Load: signed deliveries open-loop at `--rate`/s for `--seconds`, plus a burst of `--burst`
deliveries every `--burst-every` seconds, in turn over the services, their hooks and their
bundled samples (`parsers/samples/<service>`, headers and signature from the spec's
`sample_headers` with the hook's secret). Each delivery carries a unique marker
(`soakgh000123`) appended to a string of the payload that shows in the message (found as
bench/pipeline.py (c) finds it) and its own delivery id. Faults: the fake is unreachable from
`--outage-at` for `--outage` seconds (connections reset, gateway dropped); at `--kill-at`
hookbot gets SIGKILL and is started again at once on the same database, while the load goes
on: a POST refused, reset or unanswered meanwhile is retried by the generator (same body and
delivery id, every 0.25 s) until it is answered 2xx, as a sender would. The outbox rows that
were in flight (status 1) at the kill are read from the database before the restart
(`--keep-db` also copies the database as the kill left it, for a start-up study).

At the end the script waits (at most `--drain` seconds) until every acknowledged delivery's
marker reached the fake, then stops hookbot with SIGTERM (it must exit 0). Prints exactly one
result line on stdout (diagnostics on stderr): deliveries acknowledged (and how many only
after retries), lost (acknowledged but never posted), duplicates (a marker in more than one
message; allowed only for rows in flight at the kill), hookbot's RSS at start (idle, after
login), peak (VmRSS sampled every 0.5 s over both processes' lives) and end, and the invalid
requests hookbot made to Discord (401, 403 and 429 answers; Discord bans an IP at 10,000 per
10 minutes) scaled to 10 minutes of this run, and the seconds from spawn to GET /healthz 200
at the start and after the restart. Exits 1 on a loss, an unexplained duplicate, a
delivery never answered 2xx (or answered 4xx), or a failed step.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
# First on the path: `tests` is not an installed package, and the code measured is this tree's.
sys.path.insert(0, str(ROOT))

from bench.e2e import (  # noqa: E402
    BENCH_CPU,
    HOOKBOT_CPU,
    Hookbot,
    cpu_seconds,
    describe,
    hookbot_env,
    log,
    rss_mb,
    start_hookbot,
    stderr_tail,
    stop_hookbot,
    wait_ready,
)
from bench.ingest import BenchError, free_port, hookbot_command  # noqa: E402
from bench.pipeline import ServiceSource, swap_leaf, with_marker  # noqa: E402
from bot.service import HookService  # noqa: E402
from bot.store import Store  # noqa: E402
from parsers import SERVICES, ServiceSpec  # noqa: E402
from parsers.errors import SignatureError  # noqa: E402
from tests.e2e.fake_discord import FakeDiscord  # noqa: E402

HOST = "127.0.0.1"
SERVICE_TAGS = {"github": "gh", "gitlab": "gl", "ci": "ci", "custom": "cu"}
MARKER = re.compile(r"soak(?:gh|gl|ci|cu)\d{6}")
CHANNEL_LIMIT = 5  # messages per CHANNEL_PER seconds, Discord's per-channel pace
CHANNEL_PER = 5.0
RETRY_EVERY = 0.25
GIVE_UP_AFTER = 90.0  # seconds a delivery is retried before it counts as never answered
POST_TIMEOUT = 10.0
CLIENT_CONNECTIONS = 64
RSS_EVERY = 0.5
SCAN_EVERY = 0.1
SETTLE = 2.0  # seconds to look for late resends once every marker arrived
IDLE_SETTLE = 1.0
BAN_THRESHOLD = 10_000  # invalid requests per 10 minutes
PROBE_SECRET = "soak-probe-secret"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Source:
    """One bundled sample of a service, with the string varied per delivery.

    `id_in_body`: the service reads the delivery id from the body's `id` (CircleCI), so
    each delivery gets its own there. `idempotency_key`: the sample's headers carry no
    delivery id, so the generator adds `Idempotency-Key`, as a sender that retries would.
    """

    spec: ServiceSpec
    sample: ServiceSource
    id_in_body: bool = False
    idempotency_key: bool = False


@dataclass(frozen=True)
class Target:
    """One hook and the fake channel it posts to."""

    url: str
    secret: str
    channel_id: str


@dataclass(frozen=True)
class Delivery:
    """One signed request, ready to be sent (and resent) as is."""

    marker: str
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Sender:
    """What the load generator saw: acknowledged markers and the retries it needed."""

    acknowledged: dict[str, float] = field(default_factory=dict)  # marker → wall clock of 2xx
    retried: set[str] = field(default_factory=set)  # acknowledged only after a retry
    failed_attempts: Counter[str] = field(default_factory=Counter)  # reason → attempts
    rejected: dict[str, int] = field(default_factory=dict)  # marker → 4xx status
    unanswered: list[str] = field(default_factory=list)  # gave up after GIVE_UP_AFTER
    sent: int = 0
    first_after_restart: float | None = None  # wall clock of the first 2xx after the restart


@dataclass
class Observer:
    """Reads the fake's message records as they come: how often each marker was posted."""

    fake: FakeDiscord
    first: dict[str, float] = field(default_factory=dict)  # marker → wall clock of first post
    posts: Counter[str] = field(default_factory=Counter)  # marker → messages carrying it
    unmarked: int = 0  # messages with no marker (e.g. a "Connected" notice)
    cursor: int = 0

    def scan(self) -> None:
        """Read the records added since the last scan."""
        records = self.fake.messages
        while self.cursor < len(records):
            record = records[self.cursor]
            self.cursor += 1
            text = json.dumps(record.get("embeds")) + str(record.get("content") or "")
            markers = dict.fromkeys(MARKER.findall(text))
            if not markers:
                self.unmarked += 1
            at = datetime.fromisoformat(record["timestamp"]).timestamp()
            for marker in markers:
                self.posts[marker] += 1
                self.first.setdefault(marker, at)

    async def wait_for(self, markers: Sequence[str], deadline: float) -> list[str]:
        """Scan until every marker arrived or the monotonic `deadline`; return the missing."""
        while True:
            self.scan()
            missing = [m for m in markers if m not in self.first]
            if not missing or time.monotonic() >= deadline:
                return missing
            await asyncio.sleep(SCAN_EVERY)


@dataclass
class Faults:
    """When the faults happened (wall clock) and what the kill left in flight."""

    outage: tuple[float, float] | None = None
    killed_at: float | None = None
    restarted_at: float | None = None
    in_flight_markers: set[str] = field(default_factory=set)
    in_flight_rows: int = 0
    pending_inbox: int = 0
    ready_outbox: int = 0
    accepting_after: float | None = None  # seconds from the restart to GET /healthz 200
    cpu_before_kill: float = 0.0  # CPU seconds of the first process when it was killed


@dataclass
class RssSamples:
    """VmRSS of whichever hookbot process is running, every RSS_EVERY seconds."""

    values: list[float] = field(default_factory=list)

    async def sample(self, bot: Hookbot) -> None:
        """Sample until cancelled; a process that just died is skipped."""
        while True:
            proc = bot.proc
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(OSError, BenchError):
                    self.values.append(rss_mb(proc.pid))
            await asyncio.sleep(RSS_EVERY)


@dataclass(frozen=True)
class Result:
    """What the result line reports."""

    acknowledged: int
    retried: int
    lost: int
    duplicates: int
    unexplained_duplicates: int
    in_flight_at_kill: int
    nonce_replays: int
    accepting_after: float | None
    first_accepting: float
    rss_start: float
    rss_peak: float
    rss_end: float
    invalid: int
    invalid_per_10min: float
    responses_429: int
    soak_seconds: float
    drained_after: float
    bursts: int
    unanswered: int
    rejected: int


# --------------------------------------------------------------------------- deliveries


def sample_headers(source: Source, body: bytes, secret: str, delivery: str) -> dict[str, str]:
    """The headers a genuine sender sends with this body, signed with `secret`."""
    headers = source.spec.sample_headers(source.sample.name, body, secret, delivery)
    if source.idempotency_key:
        headers[IDEMPOTENCY_HEADER] = delivery
    return headers


def build(source: Source, marker: str, delivery: str) -> bytes:
    """The sample with its varied string carrying `marker` (and the delivery id if in body)."""
    sample = source.sample
    payload = swap_leaf(sample.payload, sample.marker, f"{sample.marker}-{marker}")
    if source.id_in_body and isinstance(payload, dict):
        payload["id"] = delivery
    return orjson.dumps(payload)


def problem_with(source: Source) -> str | None:
    """Why deliveries built from `source` cannot be used here, or None when they can.

    Usable: they verify with the hook's secret, give exactly one event each (so a marker
    posted twice is a duplicate), and hookbot reads the sender's delivery id from each (it
    dedupes the generator's retries by it).
    """
    spec = source.spec
    for number in range(2):
        delivery = str(uuid.uuid4())
        body = build(source, f"soak{SERVICE_TAGS[spec.name]}{number:06d}", delivery)
        headers = sample_headers(source, body, PROBE_SECRET, delivery)
        try:
            spec.verify(headers, body, PROBE_SECRET, {})
        except SignatureError as exc:
            return f"signature refused: {exc}"
        events = spec.parse(headers, body, {})
        if len(events) != 1:
            return f"{len(events)} events per delivery"
        _, identified = spec.identify(headers, body)
        if identified != delivery:
            return f"delivery id {identified!r}, not the sender's"
    return None


def usable(spec: ServiceSpec, name: str) -> tuple[Source | None, str]:
    """Return the sample as a Source, or None and why it cannot be used.

    A string that shows in its event must be able to carry a marker (bench/pipeline.py's
    search); when the sample's delivery id is not the sender's, the id is tried in the
    body's `id` (CircleCI) and as an `Idempotency-Key` header.
    """
    payload = orjson.loads((ROOT / "parsers" / "samples" / spec.name / f"{name}.json").read_bytes())
    found = with_marker(spec, name, {}, payload, True)
    if found is None:
        return None, "nothing shown to vary"
    variants = (
        Source(spec, found),
        Source(spec, found, id_in_body=True),
        Source(spec, found, idempotency_key=True),
    )
    first_problem = ""
    for source in variants:
        problem = problem_with(source)
        if problem is None:
            return source, ""
        first_problem = first_problem or problem
    return None, first_problem


def load_sources() -> dict[str, list[Source]]:
    """The usable bundled samples of every service in SERVICE_TAGS (the rest said on stderr)."""
    sources: dict[str, list[Source]] = {}
    for service in SERVICE_TAGS:
        spec = SERVICES[service]
        sources[service] = []
        skipped: list[str] = []
        for name in spec.samples:
            source, why = usable(spec, name)
            if source is None:
                skipped.append(f"{name} ({why})")
            else:
                sources[service].append(source)
        if not sources[service]:
            raise BenchError(f"{service}: no usable sample")
        log(
            f"{service}: {len(sources[service])} samples"
            + (f"; skipped {len(skipped)}: {', '.join(skipped)}" if skipped else "")
        )
    return sources


class Deliveries:
    """Hands out the next delivery, in turn over the services, their hooks and samples."""

    def __init__(self, sources: dict[str, list[Source]], targets: dict[str, list[Target]]):
        self.sources = sources
        self.targets = targets
        self.services = itertools.cycle(SERVICE_TAGS)
        self.per_service: Counter[str] = Counter()
        self.number = 0

    def next(self) -> Delivery:
        """Build the next signed delivery with its own marker and delivery id."""
        service = next(self.services)
        turn = self.per_service[service]
        self.per_service[service] += 1
        targets = self.targets[service]
        target = targets[turn % len(targets)]
        samples = self.sources[service]
        source = samples[(turn // len(targets)) % len(samples)]
        marker = f"soak{SERVICE_TAGS[service]}{self.number:06d}"
        self.number += 1
        delivery = str(uuid.uuid4())
        body = build(source, marker, delivery)
        headers = sample_headers(source, body, target.secret, delivery)
        return Delivery(marker, target.url, body, headers)


# --------------------------------------------------------------------------- set-up


async def create_hooks(
    db: Path, port: int, fake: FakeDiscord, per_service: int
) -> dict[str, list[Target]]:
    """Create `per_service` hooks per service through HookService, each to its own channel."""
    store = await Store.open(str(db))
    targets: dict[str, list[Target]] = {}
    try:
        service = HookService(store, f"http://{HOST}:{port}")
        for name in SERVICE_TAGS:
            targets[name] = []
            for i in range(per_service):
                channel = fake.add_text_channel(f"soak-{name}-{i}", announce=False)
                fake.rate_limit(channel, limit=CHANNEL_LIMIT, per=CHANNEL_PER, advertise=False)
                created = await service.create(
                    name, f"discord:channel:{channel}", new=True, events="*"
                )
                targets[name].append(Target(created.url, created.secret, str(channel)))
    finally:
        await store.close()
    return targets


def read_in_flight(db: Path) -> tuple[set[str], int, int, int]:
    """Markers of the outbox rows in flight (status 1), their count, pending inbox rows and
    ready outbox rows (status 0).

    Read while hookbot is down after the kill: what it may have posted without recording it.
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT payload FROM outbox WHERE status = 1").fetchall()
        pending = conn.execute("SELECT count(*) FROM inbox WHERE status = 0").fetchone()[0]
        ready = conn.execute("SELECT count(*) FROM outbox WHERE status = 0").fetchone()[0]
    finally:
        conn.close()
    markers = {m for (payload,) in rows for m in MARKER.findall(str(payload))}
    return markers, len(rows), int(pending), int(ready)


# --------------------------------------------------------------------------- load and faults


async def send(
    session: aiohttp.ClientSession, delivery: Delivery, sender: Sender, faults: Faults
) -> None:
    """POST until answered 2xx (retrying refusals, resets, timeouts, 5xx and 429), or give up."""
    sender.sent += 1
    started = time.monotonic()
    attempts = 0
    while time.monotonic() - started < GIVE_UP_AFTER:
        attempts += 1
        try:
            async with session.post(
                delivery.url, data=delivery.body, headers=delivery.headers
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            sender.failed_attempts[type(exc).__name__] += 1
        else:
            if 200 <= status < 300:
                now = time.time()
                sender.acknowledged[delivery.marker] = now
                if attempts > 1:
                    sender.retried.add(delivery.marker)
                if faults.restarted_at is not None and sender.first_after_restart is None:
                    sender.first_after_restart = now
                return
            if status != 429 and status < 500:
                sender.rejected[delivery.marker] = status
                log(f"POST {delivery.marker}: HTTP {status}")
                return
            sender.failed_attempts[f"HTTP {status}"] += 1
        await asyncio.sleep(RETRY_EVERY)
    sender.unanswered.append(delivery.marker)


async def generate(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    deliveries: Deliveries,
    sender: Sender,
    faults: Faults,
    started: float,
) -> int:
    """Open-loop load: `--rate`/s plus a burst every `--burst-every` s; return the bursts."""
    tasks: list[asyncio.Task[None]] = []
    steady = args.rate * args.seconds
    burst_times = (
        list(range(args.burst_every, args.seconds, args.burst_every)) if args.burst else []
    )
    next_burst = iter(burst_times)
    burst_at = next(next_burst, None)
    worst_lag = 0.0
    for i in range(steady):
        offset = i / args.rate
        if burst_at is not None and offset >= burst_at:
            log(f"t={time.monotonic() - started:5.1f}s burst of {args.burst}")
            tasks.extend(
                asyncio.create_task(send(session, deliveries.next(), sender, faults))
                for _ in range(args.burst)
            )
            burst_at = next(next_burst, None)
        delay = started + offset - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            worst_lag = max(worst_lag, -delay)
        tasks.append(asyncio.create_task(send(session, deliveries.next(), sender, faults)))
    log(f"load: {len(tasks)} deliveries scheduled (worst pacing lag {worst_lag * 1000:.0f} ms)")
    await asyncio.gather(*tasks)
    return len(burst_times)


async def sleep_until(started: float, offset: float) -> None:
    await asyncio.sleep(max(0.0, started + offset - time.monotonic()))


async def outage(
    args: argparse.Namespace, fake: FakeDiscord, faults: Faults, started: float
) -> None:
    """Make the fake unreachable for `--outage` seconds from `--outage-at`."""
    await sleep_until(started, args.outage_at)
    fake.set_unreachable(True)
    began = time.time()
    log(f"t={time.monotonic() - started:5.1f}s fake Discord unreachable")
    await sleep_until(started, args.outage_at + args.outage)
    fake.set_unreachable(False)
    faults.outage = (began, time.time())
    log(f"t={time.monotonic() - started:5.1f}s fake Discord reachable again")


async def wait_accepting(bot: Hookbot, session: aiohttp.ClientSession) -> float:
    """Poll GET /healthz every 0.05 s until 200; return the seconds it took (call at spawn)."""
    began = time.monotonic()
    while time.monotonic() - began < GIVE_UP_AFTER:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(bot.url("/healthz")) as response:
                if response.status == 200:
                    return time.monotonic() - began
        await asyncio.sleep(0.05)
    raise BenchError(f"hookbot did not answer GET /healthz within {GIVE_UP_AFTER:.0f} s")


async def wait_port_open(bot: Hookbot) -> str:
    """Try a TCP connection every 0.02 s until one succeeds; say when, and the CPU used.

    CPU seconds well below the wall time mean that hookbot's core was busy with other
    processes while it started (Python's imports are most of a start-up).
    """
    began = time.monotonic()
    pid = bot.pid
    while time.monotonic() - began < GIVE_UP_AFTER:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection(HOST, bot.port)
            writer.close()
            return f"{time.monotonic() - began:.2f} s (CPU {cpu_seconds(pid):.2f} s)"
        await asyncio.sleep(0.02)
    raise BenchError(f"hookbot's port did not open within {GIVE_UP_AFTER:.0f} s")


def keep_database(db: Path, folder: Path) -> None:
    """Copy the database files as the kill left them (for a start-up study), said on stderr."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in db.parent.glob(db.name + "*"):
        shutil.copy2(path, folder / path.name)
    log(f"kept the database as the kill left it in {folder}")


async def kill_and_restart(
    args: argparse.Namespace,
    bot: Hookbot,
    session: aiohttp.ClientSession,
    faults: Faults,
    started: float,
) -> None:
    """SIGKILL hookbot at `--kill-at`, read what was in flight, start it again at once."""
    await sleep_until(started, args.kill_at)
    assert bot.proc is not None
    old_pid = bot.proc.pid
    faults.cpu_before_kill = cpu_seconds(old_pid)
    bot.proc.kill()
    await bot.proc.wait()
    faults.killed_at = time.time()
    if args.keep_db is not None:
        keep_database(bot.db, args.keep_db)
    left = read_in_flight(bot.db)
    faults.in_flight_markers, faults.in_flight_rows, faults.pending_inbox, faults.ready_outbox = (
        left
    )
    bot.stderr_file.rename(bot.tmp / "hookbot.first.stderr")
    await start_hookbot(bot)
    faults.restarted_at = time.time()
    port_task = asyncio.create_task(wait_port_open(bot))
    log(
        f"t={time.monotonic() - started:5.1f}s SIGKILL pid {old_pid}: {faults.in_flight_rows}"
        f" outbox rows in flight ({len(faults.in_flight_markers)} markers),"
        f" {faults.pending_inbox} inbox rows pending, {faults.ready_outbox} outbox rows ready;"
        f" restarted as pid {bot.pid}"
    )
    faults.accepting_after = await wait_accepting(bot, session)
    log(
        f"restarted hookbot: port open after {await port_task},"
        f" GET /healthz 200 after {faults.accepting_after:.2f} s"
    )


# --------------------------------------------------------------------------- the run


def report_tracebacks(bot: Hookbot) -> int:
    """Log where each traceback in both processes' stderr ended; return how many there were."""
    count = 0
    for path in (bot.tmp / "hookbot.first.stderr", bot.stderr_file):
        with contextlib.suppress(OSError):
            lines = path.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                if line.startswith("Traceback"):
                    count += 1
                    context = lines[max(0, i - 1) : i + 1]
                    ending = next(
                        (x for x in lines[i + 1 :] if x and not x.startswith((" ", "Traceback"))),
                        "?",
                    )
                    log(f"{path.name}: {' / '.join(context)} … {ending}")
    return count


async def soak(args: argparse.Namespace, tmp: Path) -> Result:
    sources = load_sources()
    fake = FakeDiscord()
    await fake.start()
    port = free_port()
    bot = Hookbot(hookbot_command(), hookbot_env(fake, tmp / "hookbot.db", port), tmp, port)
    observer = Observer(fake)
    sender = Sender()
    faults = Faults()
    rss = RssSamples()
    sampler: asyncio.Task[None] | None = None
    connector = aiohttp.TCPConnector(limit=CLIENT_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT)
    try:
        targets = await create_hooks(bot.db, port, fake, args.channels)
        log(
            f"{sum(map(len, targets.values()))} hooks, each to its own channel limited to"
            f" {CHANNEL_LIMIT} / {CHANNEL_PER:.0f} s (hidden)"
        )
        deliveries = Deliveries(sources, targets)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await start_hookbot(bot)
            sampler = asyncio.create_task(rss.sample(bot))
            log(f"hookbot: pid {bot.pid} on CPU {HOOKBOT_CPU}, port {port}, db {bot.db}")
            port_task = asyncio.create_task(wait_port_open(bot))
            first_accepting = await wait_accepting(bot, session)
            log(
                f"hookbot: port open after {await port_task}, GET /healthz 200 after"
                f" {first_accepting:.2f} s (empty database)"
            )
            log(f"hookbot: discord ready after {await wait_ready(bot, session):.2f} s")
            await asyncio.sleep(IDLE_SETTLE)
            rss_start = rss_mb(bot.pid)
            log(f"hookbot: idle RSS {rss_start:.1f} MB")

            soak_started = time.time()
            started = time.monotonic()
            cpu_before = cpu_seconds(bot.pid)
            fault_tasks = [
                asyncio.create_task(outage(args, fake, faults, started)),
                asyncio.create_task(kill_and_restart(args, bot, session, faults, started)),
            ]
            bursts = await generate(args, session, deliveries, sender, faults, started)
            await asyncio.gather(*fault_tasks)
            last_ack = max(sender.acknowledged.values(), default=time.time())
            log(
                f"t={time.monotonic() - started:5.1f}s load done: {sender.sent} sent,"
                f" {len(sender.acknowledged)} acknowledged ({len(sender.retried)} after retries;"
                f" failed attempts {dict(sender.failed_attempts)}), {len(sender.rejected)} 4xx,"
                f" {len(sender.unanswered)} never answered"
            )
            if faults.restarted_at and sender.first_after_restart:
                log(
                    f"first 2xx {sender.first_after_restart - faults.restarted_at:.2f} s"
                    " after the restart"
                )

            acknowledged = list(sender.acknowledged)
            missing = await observer.wait_for(acknowledged, time.monotonic() + args.drain)
            drained_after = time.time() - last_ack
            await asyncio.sleep(SETTLE)
            observer.scan()
            soak_seconds = time.time() - soak_started
            rss_end = rss_mb(bot.pid)
            log(
                f"t={time.monotonic() - started:5.1f}s drained: {len(acknowledged) - len(missing)}"
                f" of {len(acknowledged)} markers posted {drained_after:.1f} s after the last ack;"
                f" hookbot CPU: {faults.cpu_before_kill - cpu_before:.1f} s before the kill,"
                f" {cpu_seconds(bot.pid):.1f} s after the restart"
            )
            sampler.cancel()
            log(f"hookbot: stopped {await stop_hookbot(bot):.1f} s after SIGTERM")
    except BaseException:
        stderr_tail(bot)
        raise
    finally:
        if sampler is not None:
            sampler.cancel()
        if bot.proc is not None and bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
        await fake.stop()

    latencies = [
        (observer.first[m] - at) * 1000
        for m, at in sender.acknowledged.items()
        if m in observer.first
    ]
    log(f"ack → post: {describe(latencies)}")
    log(f"messages: {len(fake.messages)} ({observer.unmarked} without a marker)")
    duplicated = {m: n for m, n in observer.posts.items() if n > 1}
    unexplained = {m: n for m, n in duplicated.items() if m not in faults.in_flight_markers}
    if duplicated:
        log(
            f"duplicates: {len(duplicated)}, e.g. {list(duplicated.items())[:5]};"
            f" unexplained {len(unexplained)}"
        )
    if missing:
        log(f"lost {len(missing)}, e.g. {', '.join(missing[:5])}")
    invalid = sum(fake.invalid_responses.values())
    log(f"invalid requests by (status, route): {dict(fake.invalid_responses)}")
    log(f"tracebacks in hookbot's stderr: {report_tracebacks(bot)}")
    return Result(
        acknowledged=len(acknowledged),
        retried=len(sender.retried),
        lost=len(missing),
        duplicates=len(duplicated),
        unexplained_duplicates=len(unexplained),
        in_flight_at_kill=faults.in_flight_rows,
        nonce_replays=fake.nonce_replays,
        accepting_after=faults.accepting_after,
        first_accepting=first_accepting,
        rss_start=rss_start,
        rss_peak=max(rss.values, default=rss_start),
        rss_end=rss_end,
        invalid=invalid,
        invalid_per_10min=invalid / soak_seconds * 600,
        responses_429=fake.responses_429,
        soak_seconds=soak_seconds,
        drained_after=drained_after,
        bursts=bursts,
        unanswered=len(sender.unanswered),
        rejected=len(sender.rejected),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="hookbot soak benchmark (bench/README.md)")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of load")
    parser.add_argument("--rate", type=int, default=100, help="steady deliveries per second")
    parser.add_argument("--burst", type=int, default=300, help="deliveries per burst (0: none)")
    parser.add_argument("--burst-every", type=int, default=15, help="seconds between bursts")
    parser.add_argument("--channels", type=int, default=6, help="hooks (channels) per service")
    parser.add_argument("--outage-at", type=float, default=15.0, help="second the outage starts")
    parser.add_argument("--outage", type=float, default=20.0, help="seconds of outage")
    parser.add_argument("--kill-at", type=float, default=40.0, help="second of the SIGKILL")
    parser.add_argument(
        "--keep-db", type=Path, help="copy the database as the kill left it to this folder"
    )
    parser.add_argument("--drain", type=float, default=120.0, help="max seconds to wait for posts")
    args = parser.parse_args()
    if args.rate < 1 or args.seconds < 1 or args.channels < 1 or args.burst_every < 1:
        parser.error("--rate, --seconds, --channels and --burst-every must be positive")
    log(f"soak: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
    try:
        # Before any thread exists: threads (the resolver's executor) inherit the mask.
        os.sched_setaffinity(0, {BENCH_CPU})
    except OSError as exc:
        log(f"soak: FAILED: cannot pin this process to CPU {BENCH_CPU} ({exc}); needs 2 CPUs")
        return 1
    try:
        with tempfile.TemporaryDirectory(prefix="hookbot-soak-") as tmp_name:
            result = asyncio.run(soak(args, Path(tmp_name)))
    except BenchError as exc:
        log(f"soak: FAILED: {exc}")
        return 1
    print(
        f"soak ({args.seconds}s, github/gitlab/ci/custom at {args.rate}/s + {result.bursts} bursts"
        f" of {args.burst}; 429s, {args.outage:.0f}s outage, kill -9 at {args.kill_at:.0f}s):"
        f" {result.acknowledged} acknowledged ({result.retried} after retries), lost {result.lost},"
        f" duplicates {result.duplicates} ({result.in_flight_at_kill} rows in flight at the kill,"
        f" {result.nonce_replays} resends answered by their nonce)"
        f" | accepting {result.first_accepting:.1f}s after start,"
        f" {result.accepting_after or float('nan'):.1f}s after the restart"
        f" | RSS start {result.rss_start:.1f}MB peak {result.rss_peak:.1f}MB"
        f" end {result.rss_end:.1f}MB"
        f" | invalid requests {result.invalid} ({result.responses_429} 429s) ="
        f" {result.invalid_per_10min:.0f} per 10 min (ban at {BAN_THRESHOLD:,})"
        + (
            f" | {result.lost} not posted {result.drained_after:.1f}s after the last ack"
            if result.lost
            else f" | all posted {result.drained_after:.1f}s after the last ack"
        ),
        flush=True,
    )
    failures = []
    if result.lost:
        failures.append(f"{result.lost} acknowledged deliveries never posted")
    if result.unexplained_duplicates:
        failures.append(f"{result.unexplained_duplicates} duplicates not in flight at the kill")
    if result.unanswered or result.rejected:
        failures.append(f"{result.unanswered} never answered 2xx, {result.rejected} answered 4xx")
    if failures:
        log("soak: FAILED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
