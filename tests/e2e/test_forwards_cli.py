"""Forwards from the shell: `hookbot hook forward …` with `hookbot run` as a subprocess.

The endpoint is a small HTTP server on 127.0.0.1 (a thread) that verifies each request
with the standardwebhooks package and a plain HMAC of the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.conftest import SAMPLES
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

pytestmark = pytest.mark.e2e


class Endpoint(ThreadingHTTPServer):
    """Answers scripted statuses (then 200) and keeps each verified request."""

    secret = ""
    answers: list[int]
    verified: list[dict]
    refused: list[str]


class Handler(BaseHTTPRequestHandler):
    server: Endpoint

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = dict(self.headers.items())
        try:
            parsed = Webhook(self.server.secret).verify(body, headers)
            digest = hmac.new(self.server.secret.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Hookbot-Signature-256"] == f"sha256={digest}"
        except Exception as exc:  # any failure to verify is recorded
            self.server.refused.append(repr(exc))
            status = 401
        else:
            status = self.server.answers.pop(0) if self.server.answers else 200
            self.server.verified.append({"body": parsed, "status": status})
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint(("127.0.0.1", 0), Handler)
    server.answers, server.verified, server.refused = [], [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _wait(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_forward_verbs_and_delivery_from_the_shell(tmp_path: Path, endpoint: Endpoint) -> None:
    """Refused without the allow list; with it: add, deliver (signed), logs, test, remove."""
    url = f"http://127.0.0.1:{endpoint.server_address[1]}/in"
    closed = hookbot_env(tmp_path, free_port())
    create_hook(closed, ROOT)
    refused = cli(closed, "hook", "forward", "github", url, cwd=ROOT)
    assert refused.returncode == 1
    assert "not a public address" in refused.stderr
    named = cli(
        closed, "hook", "forward", "github", url.replace("127.0.0.1", "localhost"), cwd=ROOT
    )
    assert named.returncode == 1
    assert "loopback" in named.stderr

    env = hookbot_env(tmp_path, free_port(), HOOKBOT_FORWARD_ALLOW="127.0.0.1/32")
    added = cli(env, "hook", "forward", "github", url, "--retries", "2", cwd=ROOT)
    assert added.returncode == 0, added.stderr
    endpoint.secret = added.stdout.split("Secret: ", 1)[1].split()[0]
    by_name = cli(env, "hook", "github", "forward", url.replace("127.0.0.1", "localhost"), cwd=ROOT)
    assert by_name.returncode == 0, by_name.stderr
    listed = cli(env, "hook", "forward", "github", "list", cwd=ROOT)
    assert listed.stdout.startswith(f"1. {url}")
    assert "2 retries" in listed.stdout
    removed = cli(env, "hook", "forward", "github", "remove", "2", cwd=ROOT)
    assert removed.returncode == 0, removed.stderr

    hook = json.loads(cli(env, "hook", "on", "github", "--json", cwd=ROOT).stdout)
    endpoint.answers += [500, 500]  # the first delivery needs three tries
    process = start(env, ROOT, (tmp_path / "out.txt").open("wb"))
    try:
        body = (SAMPLES / "github" / "push.json").read_bytes()
        assert post_signed(hook["url"], hook["secret"], body) == 202
        assert _wait(lambda: any(v["status"] == 200 for v in endpoint.verified))
        assert endpoint.refused == []
        assert [v["status"] for v in endpoint.verified] == [500, 500, 200]
        assert endpoint.verified[-1]["body"]["type"] == "push"

        def logged() -> str:
            return cli(env, "hook", "logs", "github", cwd=ROOT).stdout

        assert _wait(lambda: "→ forward:1 HTTP 200" in logged())
        failed = cli(env, "hook", "logs", "github", "--failed", cwd=ROOT).stdout
        assert "→ forward:1 HTTP 500" in failed
        assert "try 1" in failed
        assert "try 2" in failed

        tested = cli(env, "hook", "forward", "github", "test", "1", cwd=ROOT)
        assert tested.returncode == 0, tested.stderr
        assert "HTTP 200" in tested.stdout
        info = cli(env, "hook", "info", "github", cwd=ROOT).stdout
        assert "Forwards:" in info
        assert url in info
    finally:
        stop(process)
    gone = cli(env, "hook", "forward", "github", "remove", "1", cwd=ROOT)
    assert gone.returncode == 0, gone.stderr
    assert "has no forwards" in cli(env, "hook", "forward", "github", "list", cwd=ROOT).stdout
