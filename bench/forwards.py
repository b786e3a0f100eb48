"""Forwards benchmark: signed forward requests/s to 50 local endpoints, and their added latency.

    .venv/bin/python bench/forwards.py [--deliveries 2000] [--in-flight 32]
        [--rate 20] [--seconds 5]

`hookbot run` (console mode, stdout to /dev/null) runs pinned to CPU 0 with
HOOKBOT_FORWARD_ALLOW=127.0.0.1/32. Before it starts, this script creates the hooks and their
forwards in its database through `HookService` (`create`, `add_forward`): 50 forwards, spread
over 5 GitHub hooks because a hook takes at most 10 (`bot.delivery.forwarding.MAX_FORWARDS`).
The script itself, pinned to CPU 1, runs on one event loop an aiohttp receiver on 127.0.0.1
with one path per forward, which verifies every request's Standard Webhooks signature (the
standardwebhooks package, with the forward's secret) and its `X-Hookbot-Signature-256` HMAC,
and the load generator, which POSTs signed `push` deliveries (each with its own
`X-GitHub-Delivery`) to the hooks in turn, so each delivery gives 10 forward requests.

(a) Throughput: `--deliveries` POSTed with `--in-flight` requests outstanding; forward
requests/s is the count of verified requests over the time from the first POST to the last
arrival. (b) Added latency: `--rate` deliveries/s for `--seconds`, open loop; a forward's
latency is its arrival at the receiver minus the time its delivery's POST was answered 2xx
(both this process's clock). (a)'s latencies (backlog included) are on stderr.

Prints exactly one result line on stdout (diagnostics go to stderr); exits 1 when a POST is
not answered 2xx, a forward request fails a signature check, is for an unknown delivery or
endpoint, or a delivery does not reach each of its hook's 10 endpoints within the timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `bench` is not an installed package

from bench.e2e import cpu_seconds  # noqa: E402
from bench.ingest import (  # noqa: E402
    BenchError,
    free_port,
    hookbot_command,
    hookbot_env,
    spawned,
    stop_gracefully,
)
from bot.core.verbs import AddForward  # noqa: E402
from bot.delivery.guard import parse_allow  # noqa: E402
from bot.service import HookService  # noqa: E402
from bot.store import Store  # noqa: E402

SAMPLE = ROOT / "parsers" / "samples" / "github" / "push.json"
HOST = "127.0.0.1"
CLIENT_CPU = 1
ALLOW = "127.0.0.1/32"
ENDPOINTS = 50
PER_HOOK = 10  # bot.delivery.forwarding.MAX_FORWARDS
START_TIMEOUT = 30.0
DRAIN_TIMEOUT = 120.0
TARGET_PER_S = 1_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Endpoint:
    path: str
    secret: str
    hook: int


@dataclass(frozen=True)
class Target:
    """One hook: where to POST, its signing secret, and its forwards' endpoint paths."""

    path: str
    secret: str
    endpoints: tuple[str, ...]


@dataclass
class Tally:
    """What the receiver saw: arrival times per (delivery, endpoint), and every failure."""

    arrivals: dict[tuple[str, str], float] = field(default_factory=dict)
    duplicates: int = 0
    bad: list[str] = field(default_factory=list)
    answered: dict[str, float] = field(default_factory=dict)  # delivery → its POST's 2xx
    changed: asyncio.Event = field(default_factory=asyncio.Event)


# --------------------------------------------------------------------------- set-up


async def create_forwards(db: Path, receiver_port: int) -> tuple[list[Target], list[Endpoint]]:
    """Create 5 GitHub hooks with 10 forwards each through HookService; return them."""
    store = await Store.open(str(db))
    targets: list[Target] = []
    endpoints: list[Endpoint] = []
    try:
        service = HookService(store, "http://127.0.0.1:8080", forward_allow=parse_allow(ALLOW))
        for h in range(ENDPOINTS // PER_HOOK):
            created = await service.create("github", "console", new=True)
            paths: list[str] = []
            for f in range(PER_HOOK):
                path = f"/endpoint/{h * PER_HOOK + f}"
                url = f"http://{HOST}:{receiver_port}{path}"
                _, forward = await service.add_forward(created.hook.id, AddForward(url=url))
                endpoints.append(Endpoint(path, forward.secret, h))
                paths.append(path)
            hook = created.hook
            targets.append(Target(f"/webhook/github/{hook.token}", hook.secret, tuple(paths)))
    finally:
        await store.close()
    return targets, endpoints


@contextlib.contextmanager
def hookbot_running(db: Path, port: int, stderr_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`hookbot run` on the server CPU (bench/ingest.py's launcher), forwards to 127.0.0.1."""
    env = {**hookbot_env(db, port), "HOOKBOT_FORWARD_ALLOW": ALLOW}
    with (
        stderr_path.open("wb") as stderr,
        spawned([hookbot_command(), "run"], env=env, cwd=db.parent, stderr=stderr) as proc,
    ):
        yield proc


# --------------------------------------------------------------------------- receiver


def receiver_app(endpoints: list[Endpoint], tally: Tally) -> web.Application:
    """One POST route per forward; each request's two signatures are checked."""
    by_path = {e.path: (Webhook(e.secret), e.secret.encode()) for e in endpoints}
    clock = time.perf_counter

    async def hit(request: web.Request) -> web.Response:
        arrived = clock()
        body = await request.read()
        path = request.path
        verifier, key = by_path[path]
        headers = request.headers
        delivery = headers.get("X-Hookbot-Delivery", "")
        try:
            verifier.verify(body, dict(headers))
        except WebhookVerificationError as exc:
            tally.bad.append(f"{path} {delivery}: standard webhooks: {exc}")
            return web.Response(status=400)
        want = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, headers.get("X-Hookbot-Signature-256", "")):
            tally.bad.append(f"{path} {delivery}: X-Hookbot-Signature-256 does not match")
            return web.Response(status=400)
        if delivery not in tally.answered:
            tally.bad.append(f"{path}: unknown delivery {delivery!r}")
        elif (delivery, path) in tally.arrivals:
            tally.duplicates += 1
        else:
            tally.arrivals[(delivery, path)] = arrived
        tally.changed.set()
        return web.Response(status=204)

    app = web.Application()
    for path in by_path:
        app.router.add_post(path, hit)
    return app


# --------------------------------------------------------------------------- load


def signed_headers(target: Target, body: bytes, delivery: str) -> dict[str, str]:
    digest = hmac.new(target.secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={digest}",
    }


@dataclass(frozen=True)
class Post:
    delivery: str
    target: Target
    body: bytes
    headers: dict[str, str]


def build_posts(targets: list[Target], count: int, tag: str) -> list[Post]:
    """`count` distinct signed deliveries, to the hooks in turn (built before any timing)."""
    payload = orjson.loads(SAMPLE.read_bytes())
    posts: list[Post] = []
    for n in range(count):
        delivery = str(uuid.uuid5(uuid.NAMESPACE_URL, f"forwards-{tag}-{n}"))
        payload["head_commit"]["message"] = f"bench {tag}{n:06d}"
        body = orjson.dumps(payload)
        target = targets[n % len(targets)]
        posts.append(Post(delivery, target, body, signed_headers(target, body, delivery)))
    return posts


async def send(session: aiohttp.ClientSession, base: str, post: Post, tally: Tally) -> None:
    tally.answered[post.delivery] = float("nan")  # known before the forwards can arrive
    async with session.post(base + post.target.path, data=post.body, headers=post.headers) as r:
        await r.read()
        answered = time.perf_counter()
        if not 200 <= r.status < 300:
            raise BenchError(f"delivery {post.delivery}: answered {r.status}")
    tally.answered[post.delivery] = answered


async def closed_loop(
    session: aiohttp.ClientSession, base: str, posts: list[Post], in_flight: int, tally: Tally
) -> None:
    queue = iter(posts)

    async def worker() -> None:
        for post in queue:
            await send(session, base, post, tally)

    async with asyncio.TaskGroup() as group:
        for _ in range(in_flight):
            group.create_task(worker())


async def open_loop(
    session: aiohttp.ClientSession, base: str, posts: list[Post], rate: float, tally: Tally
) -> None:
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for n, post in enumerate(posts):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            group.create_task(send(session, base, post, tally))


async def drained(posts: list[Post], tally: Tally, within: float) -> float:
    """Wait until every delivery reached its hook's endpoints; return the last arrival."""
    wanted = [(p.delivery, path) for p in posts for path in p.target.endpoints]
    deadline = time.perf_counter() + within
    while True:
        missing = [key for key in wanted if key not in tally.arrivals]
        if not missing:
            return max(tally.arrivals[key] for key in wanted)
        if tally.bad:
            raise BenchError(f"{len(tally.bad)} bad forward requests, first: {tally.bad[0]}")
        left = deadline - time.perf_counter()
        if left <= 0:
            raise BenchError(
                f"{len(missing)} of {len(wanted)} forward requests not received within"
                f" {within:.0f} s (first: {missing[0]})"
            )
        tally.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.changed.wait(), min(left, 1.0))


def latencies_ms(posts: list[Post], tally: Tally) -> list[float]:
    return sorted(
        (tally.arrivals[(p.delivery, path)] - tally.answered[p.delivery]) * 1000
        for p in posts
        for path in p.target.endpoints
    )


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


@dataclass(frozen=True)
class Figures:
    forwards: int
    seconds: float
    deliveries: int
    intake_seconds: float
    throughput_ms: list[float]
    latency_ms: list[float]
    latency_deliveries: int
    rate: float
    duplicates: int


async def wait_accepting(session: aiohttp.ClientSession, base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"hookbot exited with {proc.returncode} during start-up")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(base + "/healthz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.05)
    raise BenchError(f"hookbot did not answer /healthz within {START_TIMEOUT:.0f} s")


async def run(args: argparse.Namespace, tmp: Path) -> Figures:
    tally = Tally()
    receiver_port, hookbot_port = free_port(), free_port()
    db = tmp / "hookbot.db"
    targets, endpoints = await create_forwards(db, receiver_port)
    log(f"{len(targets)} hooks, {len(endpoints)} forwards created through HookService")
    runner = web.AppRunner(receiver_app(endpoints, tally), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, receiver_port).start()
    warm = build_posts(targets, len(targets) * 2, "w")
    throughput = build_posts(targets, args.deliveries, "a")
    paced = build_posts(targets, max(1, int(args.rate * args.seconds)), "b")
    base = f"http://{HOST}:{hookbot_port}"
    stderr_path = tmp / "hookbot.stderr"
    try:
        with hookbot_running(db, hookbot_port, stderr_path) as proc:
            connector = aiohttp.TCPConnector(limit=max(args.in_flight, 100))
            async with aiohttp.ClientSession(connector=connector) as session:
                await wait_accepting(session, base, proc)
                await closed_loop(session, base, warm, 4, tally)
                await drained(warm, tally, DRAIN_TIMEOUT)
                log(f"warm-up: {len(warm)} deliveries forwarded to every endpoint")

                cpu_before = cpu_seconds(proc.pid), cpu_seconds(os.getpid())
                began = time.perf_counter()
                await closed_loop(session, base, throughput, args.in_flight, tally)
                intake = time.perf_counter() - began
                last = await drained(throughput, tally, DRAIN_TIMEOUT)
                seconds = last - began
                hookbot_cpu = cpu_seconds(proc.pid) - cpu_before[0]
                own_cpu = cpu_seconds(os.getpid()) - cpu_before[1]
                log(
                    f"(a) CPU from the first POST to the drain: hookbot {hookbot_cpu:.1f} s"
                    f" ({hookbot_cpu / seconds:.0%} of CPU 0), receiver + load"
                    f" {own_cpu:.1f} s ({own_cpu / seconds:.0%} of CPU {CLIENT_CPU})"
                )
                forwards = len(throughput) * PER_HOOK
                log(
                    f"(a) {len(throughput)} deliveries answered 2xx in {intake:.2f} s"
                    f" ({len(throughput) / intake:,.0f}/s); {forwards} forward requests"
                    f" verified by {seconds:.2f} s after the first POST"
                )
                through_ms = latencies_ms(throughput, tally)

                await asyncio.sleep(1.0)
                await open_loop(session, base, paced, args.rate, tally)
                await drained(paced, tally, DRAIN_TIMEOUT)
                paced_ms = latencies_ms(paced, tally)
            log(f"hookbot stopped by SIGTERM in {stop_gracefully(proc):.2f} s")
    except BaseException:
        tail = stderr_path.read_text(errors="replace")[-3000:] if stderr_path.exists() else ""
        if tail:
            log(f"hookbot stderr (tail):\n{tail}")
        raise
    finally:
        await runner.cleanup()
    if tally.bad:
        raise BenchError(f"{len(tally.bad)} bad forward requests, first: {tally.bad[0]}")
    return Figures(
        forwards,
        seconds,
        len(throughput),
        intake,
        through_ms,
        paced_ms,
        len(paced),
        args.rate,
        tally.duplicates,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="hookbot forwards benchmark (bench/README.md)")
    parser.add_argument("--deliveries", type=int, default=2000, help="(a) deliveries POSTed")
    parser.add_argument("--in-flight", type=int, default=32, help="(a) POSTs outstanding")
    parser.add_argument("--rate", type=float, default=20.0, help="(b) deliveries per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="(b) seconds of paced load")
    args = parser.parse_args()
    if args.deliveries < 1 or args.in_flight < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error("--deliveries, --in-flight, --rate and --seconds must be positive")
    if shutil.which("taskset") is None:
        log("forwards: FAILED: taskset (util-linux) is needed")
        return 1
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})
    except OSError as exc:
        log(f"forwards: FAILED: cannot pin to CPU {CLIENT_CPU}: {exc}")
        return 1
    try:
        with tempfile.TemporaryDirectory(prefix="hookbot-forwards-") as tmp:
            figures = asyncio.run(run(args, Path(tmp)))
    except BenchError as exc:
        log(f"forwards: FAILED: {exc}")
        return 1

    per_s = figures.forwards / figures.seconds
    a_ms, b_ms = figures.throughput_ms, figures.latency_ms
    log(
        f"(a) forward latency under the backlog: p50 {statistics.median(a_ms):.0f} ms,"
        f" p99 {percentile(a_ms, 0.99):.0f} ms, max {a_ms[-1]:.0f} ms;"
        f" duplicates (retried requests) {figures.duplicates}"
    )
    log(f"(b) latency: min {b_ms[0]:.1f} ms, max {b_ms[-1]:.1f} ms")
    print(
        f"forwards (hookbot on CPU 0; receiver + load on CPU 1): (a) {per_s:,.0f} signed"
        f" forward requests/s verified ({figures.deliveries:,} deliveries × {PER_HOOK} forwards"
        f" = {figures.forwards:,} requests to {ENDPOINTS} endpoints in {figures.seconds:.1f} s)"
        f" | (b) added latency per forward at {figures.rate:g} deliveries/s"
        f" ({len(b_ms):,} requests): p50 {statistics.median(b_ms):.1f} ms,"
        f" p99 {percentile(b_ms, 0.99):.1f} ms | 0 bad signatures",
        flush=True,
    )
    if per_s < TARGET_PER_S:
        log(f"(a) below the target of {TARGET_PER_S:,} signed deliveries/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
