"""End to end: `hookbot run` as a subprocess, a hook made with the CLI, a signed push, output."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

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


def _wait_for_text(path: Path, text: str, timeout: float = 20.0) -> str:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text(encoding="utf-8", errors="replace")
        if text in content:
            return content
        time.sleep(0.1)
    return path.read_text(encoding="utf-8", errors="replace")


def test_cli_hook_and_send_sample_print_on_console(tmp_path: Path):
    """A hook made by the CLI in a running server receives send-sample's push, printed."""
    env = hookbot_env(tmp_path, free_port())
    out = tmp_path / "stdout.txt"
    with out.open("wb") as stdout:
        process = start(env, ROOT, stdout)
        try:
            created = create_hook(env, ROOT)
            assert created["id"] == "hook_001"
            assert created["url"].endswith(f"/webhook/github/{created['url'].rsplit('/', 1)[1]}")
            assert len(created["secret"]) >= 32
            sent = cli(env, "send-sample", "github", "push", cwd=ROOT)
            assert sent.returncode == 0, sent.stderr
            assert sent.stdout.startswith("202 ")
            printed = _wait_for_text(out, "Fix encryption bug")
        finally:
            logs = stop(process)
    assert "Push" in printed
    assert "main" in printed
    assert "Fix encryption bug" in printed
    assert "PUBLIC_URL is unset" in logs


def test_cli_plain_output_has_id_url_secret_lines_last(tmp_path: Path):
    """`hook github on` (seed order) prints ID:, URL:, Secret: lines, the secret last."""
    env = hookbot_env(tmp_path, free_port())
    result = cli(env, "hook", "github", "on", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-3].startswith("ID: hook_001")
    assert lines[-2].startswith("URL: http://127.0.0.1:")
    assert lines[-1].startswith("Secret: ")
    again = cli(env, "hook", "on", "github", cwd=ROOT)
    assert "ID: hook_001" in again.stdout, "the channel's only github hook is shown again"


def test_cli_send_sample_without_hook_names_the_command(tmp_path: Path):
    """send-sample with no github hook says which command creates one."""
    env = hookbot_env(tmp_path, free_port())
    result = cli(env, "send-sample", "github", "push", cwd=ROOT)
    assert result.returncode == 1
    assert "hookbot hook on github" in result.stderr


def test_cli_invalid_setting_stops_with_one_line(tmp_path: Path):
    """An invalid HOOKBOT_PORT stops start-up with one line naming the variable."""
    env = hookbot_env(tmp_path, free_port())
    env["HOOKBOT_PORT"] = "eighty"
    result = cli(env, "run", cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "HOOKBOT_PORT" in result.stderr


def test_cli_channel_webhook_receives_discord_json(tmp_path: Path):
    """A hook with --webhook-url posts Discord webhook JSON (embeds, no mentions) to it."""
    received: list[dict[str, object]] = []
    queries: list[str] = []

    async def execute(request: web.Request) -> web.Response:
        queries.append(request.query_string)
        received.append(await request.json())
        return web.json_response({"id": "9001", "channel_id": "42"})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_post("/api/webhooks/{id}/{token}", execute)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        env = hookbot_env(tmp_path, free_port())
        webhook = f"http://127.0.0.1:{port}/api/webhooks/123/abc"
        process = await asyncio.to_thread(start, env, ROOT, asyncio.subprocess.DEVNULL)
        try:
            await asyncio.to_thread(create_hook, env, ROOT, "--webhook-url", webhook)
            sent = await asyncio.to_thread(cli, env, "send-sample", "github", "push", cwd=ROOT)
            assert sent.returncode == 0, sent.stderr
            async with asyncio.timeout(20):
                while not received:
                    await asyncio.sleep(0.05)
        finally:
            await asyncio.to_thread(stop, process)
            await runner.cleanup()

    asyncio.run(scenario())
    (payload,) = received
    assert queries == ["wait=true"]
    assert payload["allowed_mentions"] == {"parse": []}
    embeds = payload["embeds"]
    assert isinstance(embeds, list)
    assert "Push" in json.dumps(embeds, ensure_ascii=False)


def _push(login: str, message: str) -> bytes:
    from tests.conftest import sample

    payload = json.loads(sample("github/push"))
    payload["sender"]["login"] = login
    payload["head_commit"]["message"] = message
    payload["commits"][-1]["message"] = message
    return json.dumps(payload).encode()


def test_cli_filter_and_format_shape_a_running_server(tmp_path: Path):
    """Through the CLI: a filter drops dependabot's push; a template formats the next one."""
    env = hookbot_env(tmp_path, free_port())
    out = tmp_path / "stdout.txt"
    with out.open("wb") as stdout:
        process = start(env, ROOT, stdout)
        try:
            created = create_hook(env, ROOT)
            added = cli(env, "hook", "github", "filter", "author!=dependabot[bot]", cwd=ROOT)
            assert added.returncode == 0, added.stderr
            assert "applies to" in added.stdout
            assert (
                post_signed(created["url"], created["secret"], _push("dependabot[bot]", "bot-bump"))
                == 202
            )
            assert post_signed(created["url"], created["secret"], _push("mona", "human-one")) == 202
            _wait_for_text(out, "human-one")
            formatted = cli(
                env,
                "hook",
                "format",
                "hook_001",
                "🔔 {{event}}: {{message}} by {{author}}",
                cwd=ROOT,
            )
            assert formatted.returncode == 0, formatted.stderr
            assert "🔔 push: Push to main" in formatted.stdout
            assert post_signed(created["url"], created["secret"], _push("mona", "human-two")) == 202
            printed = _wait_for_text(out, "🔔 push: Push to main: 3 commits by mona")
        finally:
            stop(process)
    assert "bot-bump" not in printed
    assert "human-one" in printed
    assert "🔔 push: Push to main: 3 commits by mona" in printed
    info = cli(env, "hook", "info", "hook_001", cwd=ROOT)
    assert "1. author!=dependabot[bot]  (kept 2, dropped 1)" in info.stdout


def test_cli_events_aggregate_alerts_and_logs(tmp_path: Path):
    """The shaping verbs through the CLI: events, aggregate, alert-if, logs, info."""
    env = hookbot_env(tmp_path, free_port())
    create_hook(env, ROOT)

    def run(*words: str) -> str:
        result = cli(env, "hook", *words, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "star" in run("events", "hook_001", "*,-star")
    assert "digest every 5m" in run("aggregate", "hook_001", "5m")
    added = run("alert-if", "hook_001", "pr.status == 'approved' and pr.reviews >= 2")
    assert "pull_request_review" in added, "it says which GitHub events to tick"
    assert "1. pr.status == 'approved' and pr.reviews >= 2" in run("alert-if", "hook_001", "list")
    info = run("info", "hook_001")
    assert "every 5m" in info
    assert "pr.reviews >= 2" in info
    assert "released" in run("aggregate", "hook_001", "off")
    assert "Removed rule" in run("alert-if", "hook_001", "remove", "1")
    refused = cli(env, "hook", "aggregate", "hook_001", "90d", cwd=ROOT)
    assert refused.returncode == 1
    assert "1m to 24h" in refused.stderr
    unknown = cli(env, "hook", "alert-if", "hook_001", "nosuch.thing > 1", cwd=ROOT)
    assert unknown.returncode == 1
    assert "nosuch" in unknown.stderr
    assert run("logs") == "", "no deliveries yet: an empty ledger"
