"""Sustained-intake benchmark: does the pipeline keep up with a fixed rate of signed pushes?

    .venv/bin/python bench/sustained.py [--rate 3000] [--seconds 60] [--connections 64]
        [--threads 2] [--ceiling-seconds 10]

One run, three servers, each pinned to CPU 0 while wrk (and this script) run on CPU 1, all
with bench/ingest.py's signed ~7 KB GitHub push and a unique X-GitHub-Delivery per request:

1. bare ceiling: wrk at full load (bench/ingest.lua) on bench/bare_server.py → req/s.
2. intake-only ceiling: wrk at full load on bench/intake_server.py, hookbot's real receiver
   and group-commit inbox writer with no pipeline → req/s and ack p99.
3. sustained: a fresh `hookbot run` (console mode, stdout to /dev/null) under a fixed
   offered rate for --seconds (bench/sustained.lua paces wrk's connections to a timetable).
   Every 0.5 s a read-only SQLite connection to hookbot's database (WAL: readers do not
   block its writer) reads the pending inbox rows (status 0) and the age of the oldest one
   (now - received_at), the pipeline lag. After the load, the script waits (≤ 60 s) for
   the backlog to drain, then stops hookbot with SIGTERM.

The result line:

    sustained: offered <rate>/s for <s> s (sent <n>/s, <n> late) → accepted <n> 2xx/s,
    processed <n>/s | ack p50/p99 | lag p50/p99/max | backlog at end, drained in <s> (rate
    and hookbot CPU per row with no intake) | ceilings: bare, intake-only | processed/bare,
    processed/intake | hookbot CPU (per accepted delivery; other jobs' time on CPU 0), RSS
    peak | targets met or missed | loadavg

"processed" counts the inbox rows that left status 0 (parsed, rendered, their messages
queued in the outbox, in one transaction) between the start and the end of the load,
divided by the load's wall time. Targets (issue 19): ≥ 3,000 processed/s, lag p99 ≤ 1 s,
ack p99 ≤ 50 ms. The lag percentiles are over the 0.5 s samples (about 120 in 60 s, so p99
is close to the max). Ack latency is wrk's, which times a request from its send: when every
connection is busy, the requests whose slot has passed wait for a connection and that wait
is not counted (coordinated omission); the line's `late` (sends more than 10 ms after their
slot) says how often it happened, and a large count means the offered rate was not held.

Exits 1 when a step fails or when a 2xx-acknowledged delivery (intake-only or sustained) is
not in the inbox.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `bench` is not an installed package

from bench.e2e import CLK_TCK, cpu_seconds, percentile  # noqa: E402
from bench.ingest import (  # noqa: E402
    BARE_SERVER,
    HOST,
    BenchError,
    Payload,
    WrkResult,
    build_body,
    count_rows,
    create_hook,
    free_port,
    hookbot_command,
    hookbot_env,
    log,
    rss_mb,
    run_wrk,
    sign,
    spawned,
    stop_gracefully,
    wait_until_accepting,
)

BENCH = Path(__file__).resolve().parent
PACED_SCRIPT = BENCH / "sustained.lua"
INTAKE_SERVER = BENCH / "intake_server.py"
BENCH_CPUS = {1}  # with wrk; the servers run on CPU 0
SERVER_CPU_STAT = "cpu0"  # the servers' CPU in /proc/stat
SAMPLE_EVERY = 0.5
DRAIN_TIMEOUT = 60.0
DRAIN_POLL = 0.1
SETTLE = 1.0  # after start-up, before the load: the probe delivery goes through
TARGET_PROCESSED = 3000.0
TARGET_LAG_P99 = 1.0
TARGET_ACK_P99_MS = 50.0
PENDING_QUERY = (
    "SELECT (SELECT count(*) FROM inbox WHERE status = 0),"
    " (SELECT received_at FROM inbox WHERE status = 0 ORDER BY id LIMIT 1),"
    " (SELECT count(*) FROM inbox WHERE status > 0)"
)


@dataclass(frozen=True)
class Sample:
    """The inbox as one read saw it."""

    at: float  # time.monotonic() of the read
    pending: int
    lag_s: float  # age of the oldest pending row; 0 with none pending
    finished: int  # rows no longer pending (done, or set aside after failures)


class Probe:
    """A read-only connection to hookbot's database, reading the inbox backlog."""

    def __init__(self, db: Path) -> None:
        self._conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)

    def read(self) -> Sample:
        """Return the pending count, the pipeline lag and the finished count (one snapshot)."""
        pending, oldest, finished = self._conn.execute(PENDING_QUERY).fetchone()
        now = time.time()
        lag = 0.0 if oldest is None else max(0.0, now - float(oldest))
        return Sample(time.monotonic(), int(pending), lag, int(finished))

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class Sampler(threading.Thread):
    """Reads the backlog every SAMPLE_EVERY seconds, on its own connection, until stopped."""

    def __init__(self, db: Path) -> None:
        super().__init__(name="backlog-sampler", daemon=True)
        self._db = db
        self._stop_event = threading.Event()
        self.samples: list[Sample] = []
        self.error: Exception | None = None

    def run(self) -> None:
        """Sample until `finish` is called; a failed read ends the thread and is kept."""
        probe = Probe(self._db)
        try:
            while True:
                self.samples.append(probe.read())
                if self._stop_event.wait(SAMPLE_EVERY):
                    return
        except sqlite3.Error as exc:
            self.error = exc
        finally:
            probe.close()

    def finish(self) -> list[Sample]:
        """Stop sampling and return the samples (BenchError when a read failed)."""
        self._stop_event.set()
        self.join()
        if self.error is not None:
            raise BenchError(f"reading the backlog failed: {self.error}")
        return self.samples


@dataclass(frozen=True)
class Ceiling:
    """One full-load wrk run on a server."""

    wrk: WrkResult
    rows: int | None  # inbox rows of the run (None for the bare server: no inbox)


@dataclass(frozen=True)
class SustainedRun:
    """What the fixed-rate run on `hookbot run` measured."""

    wrk: WrkResult
    load_s: float
    paced: int
    late: int
    processed: int  # rows that left status 0 during the load
    samples: list[Sample]  # taken during the load
    backlog_at_end: int
    drained_s: float | None  # None: not drained within DRAIN_TIMEOUT
    left_after_drain: int
    cpu_load_s: float
    cpu0_busy_s: float  # CPU 0 time spent by anyone (hookbot and other jobs) during the load
    cpu_drain_s: float
    drain_rate: float  # rows processed per second after the load, the pipeline alone
    rss_peak_mb: float
    rows: int


def server_cpu_busy_seconds() -> float:
    """Time CPU 0 has spent on anything but idle and I/O wait since boot (/proc/stat)."""
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name == SERVER_CPU_STAT:
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(t) for t in ticks[:8])
            return (user + nice + system + irq + softirq + steal) / CLK_TCK
    raise BenchError(f"no {SERVER_CPU_STAT} line in /proc/stat")


def wrk_settings(args: argparse.Namespace, seconds: int) -> argparse.Namespace:
    """The namespace bench.ingest.run_wrk reads: threads, connections, seconds."""
    return argparse.Namespace(threads=args.threads, connections=args.connections, seconds=seconds)


def show_stderr_tail(path: Path, name: str, lines: int = 15) -> None:
    """Log the last lines a server wrote to stderr, if any."""
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    if text:
        log(f"{name} stderr (last lines):\n" + "\n".join(text.splitlines()[-lines:]))


def full_load(
    name: str,
    pid: int,
    url: str,
    args: argparse.Namespace,
    body_file: Path,
    payload: Payload,
) -> tuple[WrkResult, str]:
    """Run wrk at full load for --ceiling-seconds; log the CPU the server and other jobs used."""
    server_before = cpu_seconds(pid)
    cpu0_before = server_cpu_busy_seconds()
    began = time.monotonic()
    result, prefix = run_wrk(url, wrk_settings(args, args.ceiling_seconds), body_file, payload)
    wall = time.monotonic() - began
    server = cpu_seconds(pid) - server_before
    others = max(0.0, server_cpu_busy_seconds() - cpu0_before - server)
    log(
        f"{name}: server CPU {server:.1f} s ({result.requests / max(server, 0.01):,.0f} requests"
        f" per CPU second), other jobs on CPU 0 {others:.1f} s in {wall:.1f} s;"
        f" loadavg {os.getloadavg()}"
    )
    return result, prefix


def bare_ceiling(args: argparse.Namespace, tmp: Path, body: bytes) -> Ceiling:
    """Full load on the bare aiohttp server."""
    port = free_port()
    path = "/webhook/bare"
    payload = Payload(body, sign(body, "bare"))
    body_file = tmp / "bare-body.json"
    body_file.write_bytes(payload.body)
    command = [sys.executable, str(BARE_SERVER), "--host", HOST, "--port", str(port)]
    with spawned(command) as proc:
        ready = wait_until_accepting(
            proc, port, path, payload, health=None, started=time.monotonic()
        )
        log(f"bare: port {port}, accepting after {ready:.0f} ms")
        url = f"http://{HOST}:{port}{path}"
        result, _ = full_load("bare", proc.pid, url, args, body_file, payload)
    return Ceiling(result, None)


def intake_ceiling(args: argparse.Namespace, tmp: Path, body: bytes) -> Ceiling:
    """Full load on the intake-only server (receiver + inbox writer, no pipeline)."""
    work = tmp / "intake"
    work.mkdir()
    db = work / "hookbot.db"
    port = free_port()
    path, secret = create_hook(hookbot_command(), hookbot_env(db, port), work)
    payload = Payload(body, sign(body, secret))
    body_file = work / "body.json"
    body_file.write_bytes(payload.body)
    server_log = work / "intake.stderr"
    command = [
        sys.executable, str(INTAKE_SERVER), "--db", str(db), "--host", HOST, "--port", str(port)
    ]  # fmt: skip
    with server_log.open("wb") as err, spawned(command, stderr=err, cwd=work) as proc:
        try:
            ready = wait_until_accepting(
                proc, port, path, payload, health="/healthz", started=time.monotonic()
            )
            log(f"intake-only: port {port}, accepting after {ready:.0f} ms")
            url = f"http://{HOST}:{port}{path}"
            result, prefix = full_load("intake-only", proc.pid, url, args, body_file, payload)
            stop_gracefully(proc)
        finally:
            show_stderr_tail(server_log, "intake-only")
    rows = count_rows(db, prefix)[0]
    log(f"intake-only: inbox {rows} rows from wrk / {result.ok} 2xx")
    return Ceiling(result, rows)


def pacing_counts(wrk: WrkResult) -> tuple[int, int]:
    """Return (paced sends, late sends) from bench/sustained.lua's line."""
    match = re.search(r"^sustained-lua: paced=(\d+) late=(\d+)$", wrk.output, re.MULTILINE)
    if match is None:
        raise BenchError("wrk's output has no sustained-lua line")
    return int(match.group(1)), int(match.group(2))


def wait_drained(probe: Probe) -> tuple[float | None, int]:
    """Poll until no row is pending (≤ DRAIN_TIMEOUT); return (seconds taken or None, left)."""
    began = time.monotonic()
    while True:
        sample = probe.read()
        if sample.pending == 0:
            return sample.at - began, 0
        if sample.at - began >= DRAIN_TIMEOUT:
            return None, sample.pending
        time.sleep(DRAIN_POLL)


def sustained(args: argparse.Namespace, tmp: Path, body: bytes) -> SustainedRun:
    """The fixed-rate run on a fresh `hookbot run`, sampling the backlog while it lasts."""
    hookbot = hookbot_command()
    work = tmp / "sustained"
    work.mkdir()
    db = work / "hookbot.db"
    port = free_port()
    env = hookbot_env(db, port)
    path, secret = create_hook(hookbot, env, work)
    payload = Payload(body, sign(body, secret))
    body_file = work / "body.json"
    body_file.write_bytes(payload.body)
    server_log = work / "hookbot.stderr"
    slot_ms = args.threads * 1000.0 / args.rate
    log(f"sustained: port {port}, db {db}, {args.rate}/s = one send per {slot_ms:.3f} ms a thread")

    with (
        server_log.open("wb") as err,
        spawned([hookbot, "run"], stderr=err, env=env, cwd=work) as proc,
    ):
        try:
            ready = wait_until_accepting(
                proc, port, path, payload, health="/healthz", started=time.monotonic()
            )
            time.sleep(SETTLE)
            log(f"sustained: first accept {ready:.0f} ms; loadavg {os.getloadavg()}")
            probe = Probe(db)
            try:
                before = probe.read()
                cpu_before = cpu_seconds(proc.pid)
                cpu0_before = server_cpu_busy_seconds()
                sampler = Sampler(db)
                sampler.start()
                began = time.monotonic()
                try:
                    result, prefix = run_wrk(
                        f"http://{HOST}:{port}{path}",
                        wrk_settings(args, args.seconds),
                        body_file,
                        payload,
                        script=PACED_SCRIPT,
                        lua_args=[f"{slot_ms:.6f}"],
                    )
                finally:
                    load_s = time.monotonic() - began
                    samples = sampler.finish()
                at_end = probe.read()
                cpu_load = cpu_seconds(proc.pid) - cpu_before
                cpu0_busy = server_cpu_busy_seconds() - cpu0_before
                log(
                    f"sustained: load over after {load_s:.1f} s, {at_end.pending} pending,"
                    f" oldest {at_end.lag_s:.2f} s; loadavg {os.getloadavg()}"
                )
                drain_began = time.monotonic()
                drained_s, left = wait_drained(probe)
                drain_wall = time.monotonic() - drain_began
                drain_rate = (at_end.pending - left) / max(drain_wall, 1e-3)
                cpu_drain = cpu_seconds(proc.pid) - cpu_before - cpu_load
                others_drain = server_cpu_busy_seconds() - cpu0_before - cpu0_busy - cpu_drain
                log(
                    f"sustained: drain {drain_wall:.1f} s, hookbot CPU {cpu_drain:.1f} s,"
                    f" other jobs on CPU 0 {max(0.0, others_drain):.1f} s"
                )
            finally:
                probe.close()
            rss_peak = rss_mb(proc.pid, "VmHWM")
            stopped_in = stop_gracefully(proc)
            log(f"sustained: hookbot stopped {stopped_in:.1f} s after SIGTERM")
        finally:
            show_stderr_tail(server_log, "hookbot")

    rows, total, pending, _ = count_rows(db, prefix)
    log(f"sustained: inbox {rows} rows from wrk ({total} in all), {pending} pending at exit")
    paced, late = pacing_counts(result)
    return SustainedRun(
        wrk=result,
        load_s=load_s,
        paced=paced,
        late=late,
        processed=at_end.finished - before.finished,
        samples=[s for s in samples if s.at <= began + load_s],
        backlog_at_end=at_end.pending,
        drained_s=drained_s,
        left_after_drain=left,
        cpu_load_s=cpu_load,
        cpu0_busy_s=cpu0_busy,
        cpu_drain_s=cpu_drain,
        drain_rate=drain_rate,
        rss_peak_mb=rss_peak,
        rows=rows,
    )


def log_timeline(samples: list[Sample], began: float) -> None:
    """Log the backlog every 5 s of the load (every tenth sample)."""
    for sample in samples[::10]:
        log(
            f"  t={sample.at - began:5.1f}s pending {sample.pending:7d}"
            f" lag {sample.lag_s:6.2f}s finished {sample.finished:7d}"
        )


def result_line(args: argparse.Namespace, run: SustainedRun, bare: Ceiling, intake: Ceiling) -> str:
    """The one line on stdout."""
    lags = [s.lag_s for s in run.samples] or [0.0]
    accepted_rate = run.wrk.ok / run.load_s
    processed_rate = run.processed / run.load_s
    sent_rate = run.wrk.requests / run.load_s
    lag_p99 = percentile(lags, 99)
    cpu_per_delivery_ms = run.cpu_load_s * 1000 / max(run.wrk.ok, 1)
    met = (
        processed_rate >= TARGET_PROCESSED
        and lag_p99 <= TARGET_LAG_P99
        and run.wrk.p99_ms <= TARGET_ACK_P99_MS
    )
    drained = (
        f"drained in {run.drained_s:.1f} s"
        if run.drained_s is not None
        else f"{run.left_after_drain:,} still pending {DRAIN_TIMEOUT:.0f} s later"
    )
    drained_rows = run.backlog_at_end - run.left_after_drain
    if drained_rows > 0:
        drain_cpu_ms = run.cpu_drain_s * 1000 / drained_rows
        drained += f" ({run.drain_rate:,.0f}/s with no intake, {drain_cpu_ms:.2f} ms CPU each)"
    others = max(0.0, run.cpu0_busy_s - run.cpu_load_s)
    load1, load5, _ = os.getloadavg()
    return (
        f"sustained: offered {args.rate:,}/s for {args.seconds} s"
        f" (sent {sent_rate:,.0f}/s, {run.late:,} of {run.paced:,} sends late)"
        f" → accepted {accepted_rate:,.0f} 2xx/s, processed {processed_rate:,.0f}/s"
        f" | ack p50 {run.wrk.p50_ms:.1f}ms p99 {run.wrk.p99_ms:.1f}ms"
        f" | lag p50 {percentile(lags, 50):.2f}s p99 {lag_p99:.2f}s max {max(lags):.2f}s"
        f" | backlog at end {run.backlog_at_end:,}, {drained}"
        f" | ceilings: bare {bare.wrk.requests_per_second:,.0f} req/s,"
        f" intake-only {intake.wrk.requests_per_second:,.0f} req/s"
        f" (ack p99 {intake.wrk.p99_ms:.1f}ms)"
        f" | processed/bare {processed_rate / bare.wrk.requests_per_second:.2f},"
        f" processed/intake {processed_rate / intake.wrk.requests_per_second:.2f}"
        f" | hookbot CPU {run.cpu_load_s:.1f} s in {run.load_s:.1f} s of load"
        f" ({cpu_per_delivery_ms:.2f} ms per accepted delivery; other jobs on CPU 0 {others:.1f} s)"
        f" (+{run.cpu_drain_s:.1f} s draining), RSS peak {run.rss_peak_mb:.1f} MB"
        f" | targets (≥{TARGET_PROCESSED:,.0f}/s, lag p99 ≤{TARGET_LAG_P99:.0f}s,"
        f" ack p99 ≤{TARGET_ACK_P99_MS:.0f}ms) {'met' if met else 'missed'}"
        f" | loadavg {load1:.2f} {load5:.2f}"
    )


def main() -> int:
    """Run the three parts and print the line; 1 on a failed step or a lost delivery."""
    parser = argparse.ArgumentParser(description="hookbot sustained-intake benchmark")
    parser.add_argument("--rate", type=int, default=3000, help="offered deliveries/s")
    parser.add_argument("--seconds", type=int, default=60, help="length of the sustained load")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--ceiling-seconds", type=int, default=10, help="length of each full-load ceiling run"
    )
    args = parser.parse_args()
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if args.rate <= 0 or args.seconds <= 0 or args.ceiling_seconds <= 0:
        parser.error("--rate, --seconds and --ceiling-seconds must be positive")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            log(f"sustained: FAILED: `{tool}` is not installed")
            return 1
    os.sched_setaffinity(0, BENCH_CPUS)  # the sampler and the CLI stay off hookbot's core
    log(f"sustained: loadavg at start {os.getloadavg()}")

    try:
        with tempfile.TemporaryDirectory(prefix="hookbot-sustained-") as tmp_name:
            tmp = Path(tmp_name)
            body = build_body()
            bare = bare_ceiling(args, tmp, body)
            intake = intake_ceiling(args, tmp, body)
            run = sustained(args, tmp, body)
    except BenchError as exc:
        log(f"sustained: FAILED: {exc}")
        return 1

    if run.samples:
        log("sustained: backlog during the load (every 5 s):")
        log_timeline(run.samples, run.samples[0].at)
    print(result_line(args, run, bare, intake), flush=True)
    lost = []
    if intake.rows is not None and intake.rows < intake.wrk.ok:
        lost.append(f"intake-only: {intake.wrk.ok - intake.rows} answered 2xx but not in the inbox")
    if run.rows < run.wrk.ok:
        lost.append(f"sustained: {run.wrk.ok - run.rows} answered 2xx but not in the inbox")
    for message in lost:
        log(f"sustained: FAILED: {message}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
