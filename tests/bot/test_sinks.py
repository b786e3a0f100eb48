"""Sinks: the channel-webhook sink against a local HTTP server; the console format."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.delivery.base import PermanentSinkError, RejectedMessageError, TransientSinkError
from bot.delivery.console import ConsoleSink
from bot.delivery.discord_webhook import DiscordWebhookSink
from formatters.message import Embed, EmbedField, Message


@pytest.fixture
async def webhook_server() -> AsyncIterator[tuple[str, list[web.Response], list[dict]]]:
    """A local stand-in for a Discord channel webhook; answers are scripted per request."""
    answers: list[web.Response] = []
    received: list[dict] = []

    async def execute(request: web.Request) -> web.Response:
        received.append({"query": dict(request.query), "json": await request.json()})
        return answers.pop(0) if answers else web.json_response({"id": "1"})

    app = web.Application()
    app.router.add_post("/api/webhooks/{id}/{token}", execute)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/api/webhooks/1/tok", answers, received
    await runner.cleanup()


async def test_webhook_sink_posts_with_wait_and_no_mentions(webhook_server):
    """The sink posts ?wait=true with allowed_mentions empty and returns the message id."""
    url, answers, received = webhook_server
    answers.append(web.json_response({"id": "777"}))
    async with aiohttp.ClientSession() as session:
        receipt = await DiscordWebhookSink(url, session).send(
            Message(content="@everyone hi", embeds=(Embed(title="T"),)), nonce="n"
        )
    assert receipt == "777"
    (request,) = received
    assert request["query"] == {"wait": "true"}
    assert request["json"]["allowed_mentions"] == {"parse": []}
    assert request["json"]["embeds"][0]["title"] == "T"


@pytest.mark.parametrize(
    ("answer", "error", "retry_after"),
    [
        (
            lambda: web.json_response({"retry_after": 2.5, "global": False}, status=429),
            TransientSinkError,
            2.5,
        ),
        (lambda: web.Response(status=502, text="bad gateway"), TransientSinkError, None),
        (
            lambda: web.json_response({"message": "Unknown Webhook"}, status=404),
            PermanentSinkError,
            None,
        ),
        (
            lambda: web.json_response({"message": "Invalid Webhook Token"}, status=401),
            PermanentSinkError,
            None,
        ),
        (
            lambda: web.json_response({"message": "Missing Access"}, status=403),
            PermanentSinkError,
            None,
        ),
        (
            lambda: web.json_response({"message": "Invalid Form Body"}, status=400),
            RejectedMessageError,
            None,
        ),
    ],
    ids=["429", "502", "404", "401", "403", "400"],
)
async def test_webhook_sink_classifies_failures(webhook_server, answer, error, retry_after):
    """429/5xx are transient (with retry_after); 401/403/404 are permanent; 400 refuses one."""
    url, answers, _ = webhook_server
    answers.append(answer())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(error) as caught:
            await DiscordWebhookSink(url, session).send(Message(content="x"), nonce="n")
    if retry_after is not None:
        assert caught.value.retry_after == retry_after


async def test_webhook_sink_unreachable_is_transient():
    """A closed port is a transient failure (the destination may come back)."""
    async with aiohttp.ClientSession() as session:
        sink = DiscordWebhookSink("http://127.0.0.1:9/api/webhooks/1/t", session)
        with pytest.raises(TransientSinkError):
            await sink.send(Message(content="x"), nonce="n")


async def test_console_sink_prints_readably_and_flushes():
    """The console shows title, link, description and fields."""
    stream = io.StringIO()
    message = Message(
        embeds=(
            Embed(
                title="🚀 Push to main",
                url="https://example/compare",
                description="3 commits",
                fields=(EmbedField("Latest", "Fix encryption bug"),),
            ),
        )
    )
    await ConsoleSink(stream).send(message, nonce="n")
    text = stream.getvalue()
    assert "🚀 Push to main <https://example/compare>" in text
    assert "3 commits" in text
    assert "Latest: Fix encryption bug" in text
