"""kill -9 with forwards queued loses none: after a restart each event reaches the endpoint."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import sample
from tests.e2e.process import (
    ROOT,
    cli,
    create_hook,
    free_port,
    hookbot_env,
    post_signed,
    start,
    stop,
)
from tests.e2e.test_forwards_cli import Endpoint, Handler

pytestmark = pytest.mark.e2e

EVENTS = 20


def _post(url: str, secret: str, index: int) -> int:
    payload = json.loads(sample("github/push"))
    payload["head_commit"]["message"] = f"forwarded-{index:03d}"
    return post_signed(url, secret, json.dumps(payload).encode())


def test_kill_9_with_forwards_queued_loses_none(tmp_path: Path) -> None:
    """The endpoint is down: requests queue and retry; kill -9; endpoint up, restart: all N."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/in"
    env = hookbot_env(tmp_path, free_port(), HOOKBOT_FORWARD_ALLOW="127.0.0.1/32")
    hook = create_hook(env, ROOT)
    added = cli(env, "hook", "forward", "github", url, "--retries", "10", cwd=ROOT)
    assert added.returncode == 0, added.stderr
    secret = added.stdout.split("Secret: ", 1)[1].split()[0]

    first = start(env, ROOT, subprocess.DEVNULL)
    try:
        assert [_post(hook["url"], hook["secret"], i) for i in range(EVENTS)] == [202] * EVENTS
        deadline = time.monotonic() + 20
        while "→ forward:1" not in cli(env, "hook", "logs", "github", cwd=ROOT).stdout:
            assert time.monotonic() < deadline, "no try was made while the endpoint was down"
            time.sleep(0.2)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        stop(first)

    server = Endpoint(("127.0.0.1", port), Handler)
    server.secret, server.answers, server.verified, server.refused = secret, [], [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    second = start(env, ROOT, subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len({v["body"]["id"] for v in server.verified}) < EVENTS:
            assert time.monotonic() < deadline, f"{len(server.verified)} of {EVENTS} arrived"
            time.sleep(0.2)
    finally:
        stop(second)
        server.shutdown()
        server.server_close()
    assert server.refused == []
    ids = {v["body"]["id"] for v in server.verified}
    assert len(ids) == EVENTS
