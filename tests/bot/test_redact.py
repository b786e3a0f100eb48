"""Secrets never reach a log line: `redact`, its logging filter, and the outbox's warnings."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.cli import _configure_logging
from bot.delivery.base import TransientSinkError
from bot.delivery.destinations import sink_factory
from bot.delivery.discord_webhook import DiscordWebhookSink
from bot.delivery.outbox import Outbox
from bot.redact import RedactingFilter, install_redaction, redact
from bot.store import DEAD, Completion, NewDelivery, NewOutbox, Store
from formatters.message import Message, message_to_json

# A Discord-shaped webhook token (68 url-safe characters).
TOKEN = "Xk3_9fQ-vLr2ZpT8wYh1MbN4cJ7dSgE0aUoKiW5xRtV6nB-yH_qAlPzFjC2eD9sGmO1u"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Discord channel webhooks, every way they get written.
        (
            "https://discord.com/api/webhooks/123456789012345678/" + TOKEN,
            "https://discord.com/api/webhooks/123456789012345678/***",
        ),
        (
            "https://discord.com/api/v10/webhooks/1/" + TOKEN + "?wait=true",
            "https://discord.com/api/v10/webhooks/1/***?wait=true",
        ),
        (
            "https://canary.discord.com/api/webhooks/1/" + TOKEN + "/messages/@original",
            "https://canary.discord.com/api/webhooks/1/***/messages/@original",
        ),
        (
            "webhook:http://127.0.0.1:8080/api/webhooks/1/tok",
            "webhook:http://127.0.0.1:8080/api/webhooks/1/***",
        ),
        (
            "outbox webhook:http://x/webhooks/1/t: HTTP 404",
            "outbox webhook:http://x/webhooks/1/***: HTTP 404",
        ),
        ("URL('http://h/api/webhooks/12/aBc-_9')", "URL('http://h/api/webhooks/12/***')"),
        ("<http://h/api/webhooks/12/abc>", "<http://h/api/webhooks/12/***>"),
        ('{"url": "https://h/api/webhooks/1/abc"}', '{"url": "https://h/api/webhooks/1/***"}'),
        ("HTTPS://DISCORD.COM/API/WEBHOOKS/1/ABC", "HTTPS://DISCORD.COM/API/WEBHOOKS/1/***"),
        (
            "a https://h/api/webhooks/1/aaa and https://h/api/webhooks/2/bbb",
            "a https://h/api/webhooks/1/*** and https://h/api/webhooks/2/***",
        ),
        # hookbot's own receiver URLs.
        (
            "POST http://localhost:8080/webhook/github/" + TOKEN,
            "POST http://localhost:8080/webhook/github/***",
        ),
        ("/webhook/github/abc123 HTTP/1.1", "/webhook/github/*** HTTP/1.1"),
        (
            "https://hooks.example/webhook/gitlab/abc?x=1",
            "https://hooks.example/webhook/gitlab/***?x=1",
        ),
        # Passwords in URLs.
        ("https://user:pa55@example.com/x", "https://user:***@example.com/x"),
        ("postgres://app:s3cret@db:5432/hookbot", "postgres://app:***@db:5432/hookbot"),
        ("https://:only-password@host/", "https://:***@host/"),
        ("https://u:p@ss@host/", "https://u:***@host/"),
        ("proxy http://u:p%40ss@proxy:3128 down", "proxy http://u:***@proxy:3128 down"),
        # Query parameters named like secrets.
        ("https://x/?token=abc&page=2", "https://x/?token=***&page=2"),
        ("https://x/cb?access_token=abc#frag", "https://x/cb?access_token=***#frag"),
        ("https://x/?a=1&api_key=abc&b=2", "https://x/?a=1&api_key=***&b=2"),
        ("https://x/?apikey=abc", "https://x/?apikey=***"),
        ("https://x/?client_secret=abc", "https://x/?client_secret=***"),
        (
            "https://s3/o?X-Amz-Signature=deadbeef&X-Amz-Date=1",
            "https://s3/o?X-Amz-Signature=***&X-Amz-Date=1",
        ),
        ("https://x/?sig=abc", "https://x/?sig=***"),
        ("https://x/?password=hunter2 then", "https://x/?password=*** then"),
        ("https://x/?Password=a&TOKEN=b", "https://x/?Password=***&TOKEN=***"),
        # All of it at once.
        (
            "https://u:p@h/api/webhooks/1/abc?token=t&wait=true",
            "https://u:***@h/api/webhooks/1/***?token=***&wait=true",
        ),
    ],
)
def test_redact_masks_secrets_in_urls(text: str, expected: str):
    """Tokens, passwords and secret parameters become ***; the rest of the text stays."""
    assert redact(text) == expected
    assert redact(expected) == expected, "idempotent"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hookbot receiving on http://127.0.0.1:8080 in console mode; ready in 12 ms",
        "outbox console: row(s) 1, 2 (hook hook_001, delivery abc) failed, retry in 1.5s: HTTP 502",
        "https://github.com/octo-org/octo-repo/pull/42?diff=split#discussion_r1",
        "https://github.com/octo-org/octo-repo/compare/abc...def",
        "mail octocat@github.com about key: value, 50% done, a=b",
        "http://host:8080/path?next=a@b",
        "user@host:22",
        "see /webhooks/ and /webhook/github/ docs",
        "https://x/?page=2&per_page=100&q=token",
        "https://x/?token=",
        "🚀 Push to main — 3 commits — مرحبا",
        "percent %s and %(name)s stay as written",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str):
    """Text without a secret in it comes back exactly as it was."""
    assert redact(text) == text


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("t", logging.WARNING, __file__, 1, msg, args or None, exc_info)


def test_filter_redacts_the_formatted_message_and_the_traceback():
    """The %-formatted message, the exception text and the stack are redacted in place."""
    url = "https://discord.com/api/webhooks/1/" + TOKEN
    try:
        raise RuntimeError(f"cannot post to {url}")
    except RuntimeError as exc:
        record = _record("posting %s to %s failed", "3 rows", url, exc=exc)
    record.stack_info = f"Stack:\n  send({url!r})"
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "posting 3 rows to https://discord.com/api/webhooks/1/*** failed"
    assert record.args is None
    text = logging.Formatter().format(record)
    assert TOKEN not in text
    assert "RuntimeError: cannot post to https://discord.com/api/webhooks/1/***" in text
    assert "send('https://discord.com/api/webhooks/1/***')" in text


def test_filter_survives_a_bad_format_call():
    """A log call whose arguments do not fit its format still goes out, redacted."""
    record = _record("posting %s %s", "http://h/webhook/github/" + TOKEN)
    assert RedactingFilter().filter(record)
    assert TOKEN not in record.getMessage()
    assert "/webhook/github/***" in record.getMessage()


def test_install_redaction_covers_every_root_handler_once(monkeypatch: pytest.MonkeyPatch):
    """Every root handler gets one filter, so child loggers' records are redacted too."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    install_redaction()
    install_redaction()
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    logging.getLogger("bot.somewhere").warning(
        "sending to %s", "webhook:https://discord.com/api/webhooks/1/" + TOKEN
    )
    assert stream.getvalue() == "sending to webhook:https://discord.com/api/webhooks/1/***\n"


def test_cli_logging_setup_installs_redaction(monkeypatch: pytest.MonkeyPatch):
    """`hookbot run` configures logging with the redacting filter on its handler."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    _configure_logging("INFO")
    assert root.handlers, "basicConfig added a handler"
    assert all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in root.handlers)


@pytest.fixture
async def failing_webhook() -> AsyncIterator[tuple[str, list[web.Response], list[str]]]:
    """A local stand-in for a Discord webhook answering as scripted (default: 404)."""
    answers: list[web.Response] = []
    paths: list[str] = []

    async def execute(request: web.Request) -> web.Response:
        paths.append(request.path)
        if answers:
            return answers.pop(0)
        return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)

    app = web.Application()
    app.router.add_post("/api/webhooks/{id}/{token}", execute)
    runner = web.AppRunner(app, access_log=None)  # the fake's own log is not hookbot's
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/api/webhooks/1/{TOKEN}", answers, paths
    await runner.cleanup()


class SteppingClock:
    """A clock the test moves forward, so retries are due without real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_outbox_warnings_on_429_500_404_never_show_the_token(
    store: Store, failing_webhook, caplog: pytest.LogCaptureFixture
):
    """The real Outbox and webhook sink meet 429, 500, then 404: no log line holds the token."""
    url, answers, paths = failing_webhook
    answers.append(web.json_response({"retry_after": 0.01, "global": False}, status=429))
    answers.append(web.Response(status=500, text="internal error"))
    destination = f"webhook:{url}"
    hook = await store.hooks.create(
        service="github", destination=destination, token="t", secret="s", now=1.0
    )
    await store.inbox.write_batch([NewDelivery(hook.id, "github", "d", "push", {}, b"{}", 1.0)], [])
    (row,) = await store.inbox.pending(1)
    payload = json.dumps(message_to_json(Message(content="hello")))
    await store.inbox.complete(
        [Completion(row.id, [NewOutbox(destination, payload, "n0", hook.id, "d", 0.0)])]
    )

    clock = SteppingClock()
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as session:
        outbox = Outbox(store, sink_factory(session), clock, rng=lambda: 0.0)
        await outbox.start()
        try:
            async with asyncio.timeout(10.0):
                while [r.status for r in await store.outbox.rows()] != [DEAD]:
                    clock.now += 60.0  # every retry is due at once
                    await asyncio.sleep(0.01)
        finally:
            await outbox.stop(grace=1.0)

    assert paths == [f"/api/webhooks/1/{TOKEN}"] * 3, "429, 500 and 404 were all met"
    lines = [r.getMessage() for r in caplog.records] + [caplog.text]
    assert not [line for line in lines if TOKEN in line]
    shown = caplog.text
    assert "/api/webhooks/1/***" in shown
    assert "429" in shown
    assert "500" in shown
    assert "404" in shown


async def test_webhook_unreachable_error_does_not_carry_the_token():
    """aiohttp errors whose repr holds the URL (here, a redirect loop) are redacted."""

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect(str(request.url))

    app = web.Application()
    app.router.add_post("/api/webhooks/{id}/{token}", loop)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            sink = DiscordWebhookSink(f"http://127.0.0.1:{port}/api/webhooks/1/{TOKEN}", session)
            with pytest.raises(TransientSinkError) as caught:
                await sink.send(Message(content="x"), nonce="n")
    finally:
        await runner.cleanup()
    assert TOKEN not in str(caught.value)
    assert "/api/webhooks/1/***" in str(caught.value)
