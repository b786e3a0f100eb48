"""Ingest benchmark: signed ~7 KB GitHub pushes into `hookbot run`, against a bare aiohttp.

    .venv/bin/python bench/ingest.py [--seconds 20] [--connections 64] [--threads 2]

Steps: create a github hook in a fresh database, start `hookbot run` pinned to CPU 0
(console mode, stdout to /dev/null), time spawn → first 2xx POST, read its idle RSS, load it
with wrk pinned to CPU 1 (bench/ingest.lua: a unique X-GitHub-Delivery per request, exact
2xx count), stop it with SIGTERM, then count the inbox rows this run wrote. The same wrk
run against bench/bare_server.py (also on CPU 0) gives the baseline.

Prints exactly one result line on stdout (diagnostics go to stderr); exits 1 when the inbox
holds fewer rows than wrk saw 2xx answers (a 2xx must mean "stored"), or when a step fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "parsers" / "samples" / "github" / "push.json"
LUA_SCRIPT = Path(__file__).resolve().parent / "ingest.lua"
BARE_SERVER = Path(__file__).resolve().parent / "bare_server.py"

HOST = "127.0.0.1"
BODY_SIZE = 7 * 1024
SERVER_CPU = "0"
CLIENT_CPU = "1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0
IDLE_SETTLE = 1.0
# Settings that would send messages elsewhere than the console or change the hook URL.
CLEARED_ENV = (
    "DISCORD_TOKEN",
    "DISCORD_WEBHOOK_URL",
    "DISCORD_API_BASE",
    "DISCORD_GATEWAY_URL",
    "PUBLIC_URL",
    "NGROK_AUTHTOKEN",
    "GITHUB_TOKEN",
    "GITHUB_API_BASE",
    "DOCKER_HOSTS",
)
FILLER = "Pad the bench payload to a realistic size with plain words. "


class BenchError(Exception):
    """A step of the benchmark failed; the message says which."""


@dataclass(frozen=True)
class Payload:
    """The one request every wrk connection repeats (bar the delivery id)."""

    body: bytes
    signature: str

    def headers(self, delivery: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": self.signature,
        }


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_second: float
    p99_ms: float
    requests: int
    ok: int
    other: int
    p50_ms: float = 0.0
    output: str = ""  # wrk's whole stdout, for lines a paced script adds


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_body(size: int = BODY_SIZE) -> bytes:
    """Return the sample push grown to exactly `size` bytes of compact JSON.

    Extra commits (copies of the sample's, with new ids) go before the sample's own, so
    head_commit stays the last commit; the first extra commit's message takes the rest.
    """
    payload = json.loads(SAMPLE.read_bytes())
    originals: list[dict[str, object]] = payload["commits"]
    repo_url = str(payload["repository"]["html_url"])

    def encode(extra: list[dict[str, object]]) -> bytes:
        payload["commits"] = [*extra, *originals]
        return json.dumps(payload, separators=(",", ":")).encode()

    extra: list[dict[str, object]] = []
    while True:
        template = originals[len(extra) % len(originals)]
        sha = hashlib.sha256(f"bench-{len(extra)}".encode()).hexdigest()[:40]  # commit-id sized
        commit = {**template, "id": sha, "url": f"{repo_url}/commit/{sha}"}
        if len(encode([*extra, commit])) > size - 16:  # room for the padding paragraph
            break
        extra.append(commit)
    if not extra:
        raise BenchError(f"the sample alone is over {size} bytes")
    message = f"{extra[0]['message']}\n\n"  # the padding is the message's second paragraph
    extra[0] = {**extra[0], "message": message}
    missing = size - len(encode(extra))
    extra[0]["message"] = message + (FILLER * (missing // len(FILLER) + 1))[:missing]
    body = encode(extra)
    assert len(body) == size, len(body)
    json.loads(body)  # still valid JSON
    return body


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def hookbot_command() -> str:
    beside = Path(sys.executable).parent / "hookbot"
    if beside.exists():
        return str(beside)
    found = shutil.which("hookbot")
    if found is None:
        raise BenchError("no `hookbot` command: run with the project venv's python")
    return found


def hookbot_env(db: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(HOOKBOT_DB=str(db), HOOKBOT_PORT=str(port), HOOKBOT_HOST=HOST, LOG_LEVEL="WARNING")
    return env


def create_hook(hookbot: str, env: Mapping[str, str], cwd: Path) -> tuple[str, str]:
    """Run `hookbot hook on github --json`; return the webhook path and its secret."""
    done = subprocess.run(
        [hookbot, "hook", "on", "github", "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"`hookbot hook on github --json` failed:\n{done.stderr.strip()}")
    created = json.loads(done.stdout)
    return urlsplit(created["url"]).path, str(created["secret"])


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Send one request on a fresh connection; return the status (OSError when refused)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_until_accepting(
    proc: subprocess.Popen[bytes],
    port: int,
    path: str,
    payload: Payload,
    *,
    health: str | None,
    started: float,
) -> float:
    """Poll (GET `health` until 200, then) a signed POST until 2xx; return ms since `started`."""
    healthy = health is None
    deadline = started + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the server exited with {proc.returncode} during start-up")
        try:
            if not healthy:
                healthy = request(port, "GET", health or "/") == 200
            if healthy:
                delivery = f"probe-{uuid.uuid4()}"
                status = request(port, "POST", path, payload.body, payload.headers(delivery))
                if 200 <= status < 300:
                    return (time.monotonic() - started) * 1000
                raise BenchError(f"the first signed POST got {status}, not 2xx")
        except (ConnectionError, TimeoutError, http.client.HTTPException):
            pass
        time.sleep(0.005)
    raise BenchError(f"the server did not accept a POST within {START_TIMEOUT:.0f} s")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """The process's resident set in MB: now (VmRSS) or its peak so far (VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB$", status, re.MULTILINE)
    if match is None:
        raise BenchError(f"no {field} for pid {pid}")
    return int(match.group(1)) / 1024


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk(output: str) -> WrkResult:
    """Read req/s and the 99% latency from wrk's text, the exact 2xx count from the Lua line."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in ", output, re.MULTILINE)
    lua = re.search(r"^ingest-lua: 2xx=(\d+) other=(\d+) p99_us=(\d+)$", output, re.MULTILINE)
    if rps is None or p50 is None or p99 is None or total is None or lua is None:
        raise BenchError(f"cannot read wrk's output:\n{output}")
    result = WrkResult(
        requests_per_second=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _UNIT_MS[p99.group(2)],
        requests=int(total.group(1)),
        ok=int(lua.group(1)),
        other=int(lua.group(2)),
        p50_ms=float(p50.group(1)) * _UNIT_MS[p50.group(2)],
        output=output,
    )
    if result.ok + result.other != result.requests:
        log(f"warning: Lua counted {result.ok + result.other} answers, wrk {result.requests}")
    if result.other:
        log(f"warning: {result.other} answers were not 2xx (req/s counts them too)")
    return result


def run_wrk(
    url: str,
    args: argparse.Namespace,
    body_file: Path,
    payload: Payload,
    *,
    script: Path = LUA_SCRIPT,
    lua_args: Sequence[str] = (),
) -> tuple[WrkResult, str]:
    """Load `url` with wrk on the client CPU; return the result and the delivery-id prefix.

    `script` must take bench/ingest.lua's three arguments first; `lua_args` follow them.
    """
    prefix = uuid.uuid4().hex[:12]
    command = [
        "taskset", "-c", CLIENT_CPU,
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
        "-s", str(script), url,
        "--", str(body_file), payload.signature, prefix, *lua_args,
    ]  # fmt: skip
    shown = command[: len(command) - 3 - len(lua_args)]
    log("$ " + " ".join([*shown, "<body file> <signature> <prefix>", *lua_args]))
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=args.seconds + 120, check=False
    )
    log(done.stdout.rstrip())
    if done.returncode != 0:
        raise BenchError(f"wrk exited with {done.returncode}:\n{done.stderr.strip()}")
    return parse_wrk(done.stdout), prefix


@contextlib.contextmanager
def spawned(
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stderr: IO[bytes] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` pinned to the server CPU, stdout to /dev/null; kill it on the way out.

    taskset execs the command, so the process's pid is the server's own.
    """
    proc = subprocess.Popen(
        ["taskset", "-c", SERVER_CPU, *command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env=env,
        cwd=cwd,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop_gracefully(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM and wait; return the seconds it took (BenchError on a hang or a bad exit)."""
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BenchError(f"hookbot did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM") from None
    if code != 0:
        raise BenchError(f"hookbot exited with {code} after SIGTERM")
    return time.monotonic() - began


def count_rows(db: Path, prefix: str) -> tuple[int, int, int, str]:
    """Return (rows of this wrk run, all inbox rows, rows still pending, journal_mode)."""
    conn = sqlite3.connect(db)
    try:
        mine = conn.execute(
            "SELECT count(*) FROM inbox WHERE substr(delivery_id, 1, ?) = ?",
            (len(prefix) + 1, prefix + "-"),
        ).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM inbox WHERE status = 0").fetchone()[0]
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    return int(mine), int(total), int(pending), str(journal)


def configured_synchronous(db: Path) -> str:
    """Return `PRAGMA synchronous` on a connection opened the way hookbot opens its own.

    synchronous is per connection, so the server's cannot be read from outside; opening
    through bot.store.Store runs the same configuration code and reads the value back.
    """

    async def read() -> str:
        store = await Store.open(str(db))
        try:
            return (await store.pragmas())["synchronous"]
        finally:
            await store.close()

    return asyncio.run(read())


@dataclass(frozen=True)
class HookbotRun:
    """What the hookbot half of the benchmark measured."""

    wrk: WrkResult
    rows: int
    journal_mode: str
    synchronous: str
    idle_rss_mb: float
    first_accept_ms: float


def bench_hookbot(args: argparse.Namespace, tmp: Path, payload_body: bytes) -> HookbotRun:
    hookbot = hookbot_command()
    db = tmp / "hookbot.db"
    port = free_port()
    env = hookbot_env(db, port)
    path, secret = create_hook(hookbot, env, tmp)
    payload = Payload(payload_body, sign(payload_body, secret))
    body_file = tmp / "body.json"
    body_file.write_bytes(payload.body)
    server_log = tmp / "hookbot.stderr"
    log(f"hookbot: port {port}, db {db}, body {len(payload.body)} bytes")

    with server_log.open("wb") as err:
        started = time.monotonic()
        with spawned([hookbot, "run"], stderr=err, env=env, cwd=tmp) as proc:
            try:
                first_accept = wait_until_accepting(
                    proc, port, path, payload, health="/healthz", started=started
                )
                time.sleep(IDLE_SETTLE)
                idle_rss = rss_mb(proc.pid)
                log(f"hookbot: first accept {first_accept:.0f} ms, idle RSS {idle_rss:.1f} MB")
                result, prefix = run_wrk(f"http://{HOST}:{port}{path}", args, body_file, payload)
                stopped_in = stop_gracefully(proc)
                log(f"hookbot: stopped {stopped_in:.1f} s after SIGTERM")
            finally:
                tail = server_log.read_text(errors="replace").strip()
                if tail:
                    log("hookbot stderr (last lines):\n" + "\n".join(tail.splitlines()[-15:]))

    rows, total, pending, journal = count_rows(db, prefix)
    log(
        f"hookbot: inbox {rows} rows from wrk, {total} in all (incl. the start-up probe),"
        f" {pending} not yet through the pipeline at shutdown"
    )
    return HookbotRun(
        wrk=result,
        rows=rows,
        journal_mode=journal,
        synchronous=configured_synchronous(db),
        idle_rss_mb=idle_rss,
        first_accept_ms=first_accept,
    )


def bench_bare(args: argparse.Namespace, tmp: Path, payload_body: bytes) -> WrkResult:
    port = free_port()
    path = "/webhook/bare"
    payload = Payload(payload_body, sign(payload_body, "bare"))
    body_file = tmp / "body.json"
    body_file.write_bytes(payload.body)
    command = [sys.executable, str(BARE_SERVER), "--host", HOST, "--port", str(port)]
    with spawned(command) as proc:
        started = time.monotonic()
        ready = wait_until_accepting(proc, port, path, payload, health=None, started=started)
        log(f"bare: port {port}, accepting after {ready:.0f} ms")
        result, _ = run_wrk(f"http://{HOST}:{port}{path}", args, body_file, payload)
    return result  # leaving `spawned` kills the bare server


def main() -> int:
    parser = argparse.ArgumentParser(description="hookbot ingest benchmark (see bench/README.md)")
    parser.add_argument("--seconds", type=int, default=20, help="wrk duration per server")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args()
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            log(f"ingest: FAILED: `{tool}` is not installed")
            return 1

    try:
        with tempfile.TemporaryDirectory(prefix="hookbot-bench-") as tmp_name:
            tmp = Path(tmp_name)
            body = build_body()
            hook = bench_hookbot(args, tmp, body)
            bare = bench_bare(args, tmp, body)
    except BenchError as exc:
        log(f"ingest: FAILED: {exc}")
        return 1

    ratio = hook.wrk.requests_per_second / bare.requests_per_second
    print(
        f"ingest: hookbot {hook.wrk.requests_per_second:.0f} req/s p99 {hook.wrk.p99_ms:.1f}ms"
        f" | bare {bare.requests_per_second:.0f} req/s p99 {bare.p99_ms:.1f}ms"
        f" | ratio {ratio:.2f}"
        f" | journal_mode={hook.journal_mode} synchronous={hook.synchronous}"
        f" | inbox {hook.rows} rows / {hook.wrk.ok} 2xx"
        f" | idle RSS {hook.idle_rss_mb:.1f} MB"
        f" | first accept {hook.first_accept_ms:.0f} ms",
        flush=True,
    )
    if hook.rows < hook.wrk.ok:
        log(f"ingest: FAILED: {hook.wrk.ok - hook.rows} answered 2xx but are not in the inbox")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
