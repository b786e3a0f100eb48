"""Durability: kill -9 while messages are being printed; after a restart all N are delivered."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import sample
from tests.e2e.process import ROOT, create_hook, free_port, hookbot_env, post_signed, start, stop

pytestmark = pytest.mark.e2e

DELIVERIES = 200
MARKER = re.compile(r"durable-(\d{4})")


def _post(url: str, secret: str, index: int) -> int:
    payload = json.loads(sample("github/push"))
    payload["head_commit"]["message"] = f"durable-{index:04d} " + "padding " * 40
    payload["commits"][-1]["message"] = payload["head_commit"]["message"]
    return post_signed(url, secret, json.dumps(payload).encode())


def _messages(text: str) -> Counter[int]:
    """Count printed messages per delivery marker (a torn last message has none)."""
    counts: Counter[int] = Counter()
    for chunk in text.split("─" * 60):
        found = {int(m) for m in MARKER.findall(chunk)}
        if len(found) == 1:
            counts[found.pop()] += 1
    return counts


def test_kill_9_while_printing_loses_nothing(tmp_path: Path):
    """Accept N, kill -9 mid-printing (fewer than N out), restart: all N printed."""
    env = hookbot_env(tmp_path, free_port())
    created = create_hook(env, ROOT)
    # stdout is a pipe nobody reads yet: printing stalls once the pipe buffer is full,
    # while the receiver keeps accepting (the console writes off the event loop).
    first = start(env, ROOT, subprocess.PIPE)
    statuses = [_post(created["url"], created["secret"], i) for i in range(DELIVERIES)]
    assert statuses == [202] * DELIVERIES
    time.sleep(0.5)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert first.stdout is not None
    before = first.stdout.read().decode("utf-8", errors="replace")
    stop(first)
    printed_before = _messages(before)
    assert 0 < sum(printed_before.values()) < DELIVERIES, "the kill must land mid-printing"

    out = tmp_path / "second.txt"
    with out.open("wb") as stdout:
        second = start(env, ROOT, stdout)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            after = _messages(out.read_text(encoding="utf-8", errors="replace"))
            if set(printed_before) | set(after) >= set(range(DELIVERIES)):
                break
            time.sleep(0.2)
        logs = stop(second)
    total = printed_before + after
    assert set(total) == set(range(DELIVERIES)), "every accepted delivery is printed"
    duplicates = {k: n for k, n in total.items() if n > 1}
    # Only a message that was being printed at the kill may appear twice.
    assert len(duplicates) <= 1, duplicates
    if duplicates:
        assert "in flight at the last stop" in logs


def test_sigterm_exits_cleanly_and_loses_nothing(tmp_path: Path):
    """SIGTERM right after a burst exits 0; whatever was not printed is printed after restart."""
    env = hookbot_env(tmp_path, free_port())
    created = create_hook(env, ROOT)
    out = tmp_path / "out.txt"
    with out.open("wb") as stdout:
        process = start(env, ROOT, stdout)
        threads = [
            threading.Thread(target=_post, args=(created["url"], created["secret"], i))
            for i in range(20)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        logs = stop(process)
        assert process.returncode == 0, logs
        assert "stopped" in logs
        second = start(env, ROOT, stdout)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if set(_messages(out.read_text(encoding="utf-8"))) == set(range(20)):
                break
            time.sleep(0.1)
        stop(second)
    assert set(_messages(out.read_text(encoding="utf-8"))) == set(range(20))
