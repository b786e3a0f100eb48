"""Run hookbot as a real subprocess (`python -m bot …`) for end-to-end tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import IO, Any

from parsers.signatures import sign_hmac_sha256

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hookbot_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """An environment for hookbot with its own database and port, and no .env influence."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "HOOKBOT_"))}
    env.update(
        HOOKBOT_DB=str(tmp_path / "hookbot.db"),
        HOOKBOT_PORT=str(port),
        HOOKBOT_HOST="127.0.0.1",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot <args>` and return its result (bounded in time)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create_hook(env: dict[str, str], cwd: Path, *extra: str) -> dict[str, Any]:
    """Create a GitHub hook through the CLI and return its JSON answer."""
    result = cli(env, "hook", "on", "github", "--json", *extra, cwd=cwd)
    assert result.returncode == 0, result.stderr
    created: dict[str, Any] = json.loads(result.stdout)
    return created


def start(env: dict[str, str], cwd: Path, stdout: IO[Any] | int) -> subprocess.Popen[bytes]:
    """Start `hookbot run` and wait until /healthz answers (at most 30 s)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{env['HOOKBOT_PORT']}/healthz"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"hookbot exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("hookbot did not start within 30 s")


def stop(process: subprocess.Popen[bytes]) -> str:
    """Stop hookbot with SIGTERM (bounded) and return what it logged."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.stderr.read().decode() if process.stderr else ""


def post_signed(url: str, secret: str, body: bytes, event: str = "push") -> int:
    """POST a GitHub delivery signed with `secret` (a fresh delivery id); return the status."""
    request = urllib.request.Request(  # noqa: S310 - local test URL
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign_hmac_sha256(body, secret),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return int(response.status)
