"""Big-push benchmark: how long /healthz takes while hookbot processes GitHub's largest push.

    .venv/bin/python bench/big_push.py [--commits 2048] [--files 100]

Starts `hookbot run` (console mode) on a fresh database, creates a github hook with the
CLI, posts one signed push of `--commits` commits × `--files` paths each, then polls
`/healthz` every 5 ms until the push's message is printed. Prints one result line: the
body size, the time from 202 to the message, and /healthz p50/p99/max while it was
processed. Exits 1 when a step fails or the message never comes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import BenchError, free_port, hookbot_command, hookbot_env
from parsers.signatures import sign_hmac_sha256
from tests.bot.test_big_push import big_push


def percentile(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def measure(commits: int, files: int) -> str:
    """Run the benchmark and return its result line."""
    with tempfile.TemporaryDirectory() as tmp:
        db, port = Path(tmp) / "hookbot.db", free_port()
        env = hookbot_env(db, port)
        created = subprocess.run(
            [hookbot_command(), "hook", "on", "github", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        hook = json.loads(created.stdout)
        out = Path(tmp) / "out.txt"
        with out.open("wb") as stdout:
            proc = subprocess.Popen([hookbot_command(), "run"], env=env, stdout=stdout)
        try:
            return asyncio.run(_post_and_poll(hook, port, out, commits, files))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


async def _post_and_poll(
    hook: dict[str, str], port: int, out: Path, commits: int, files: int
) -> str:
    base = f"http://127.0.0.1:{port}"
    body = big_push(commits, files)
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "big-push",
            "X-Hub-Signature-256": sign_hmac_sha256(body, hook["secret"]),
        }
        async with session.post(hook["url"], data=body, headers=headers) as response:
            if response.status != 202:
                raise BenchError(f"push answered {response.status}")
        accepted = time.monotonic()
        latencies: list[float] = []
        while f"{commits} commits".encode() not in await asyncio.to_thread(out.read_bytes):
            if time.monotonic() - accepted > 120:
                raise BenchError("no message within 120 s")
            started = time.monotonic()
            async with session.get(f"{base}/healthz") as response:
                await response.read()
            latencies.append((time.monotonic() - started) * 1000)
            await asyncio.sleep(0.005)
        processed = time.monotonic() - accepted
    return (
        f"big_push commits={commits} files={files} body_mb={len(body) / 1e6:.1f}"
        f" processed_s={processed:.2f} healthz_samples={len(latencies)}"
        f" healthz_p50_ms={percentile(latencies, 50):.1f}"
        f" healthz_p99_ms={percentile(latencies, 99):.1f} healthz_max_ms={max(latencies):.1f}"
    )


def main() -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2048)
    parser.add_argument("--files", type=int, default=100)
    args = parser.parse_args()
    try:
        print(measure(args.commits, args.files))
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"big_push: failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
