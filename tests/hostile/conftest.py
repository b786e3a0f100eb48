"""A running hookbot for the hostile suite, and the checks every hostile class makes.

The server is the real one (receiver, store, pipeline, outbox) with a RecordingSink,
started by `bot.app.running` with short slow-client limits (HEADER_TIMEOUT, BODY_TIMEOUT).
Hooks are made through HookService, deliveries posted over 127.0.0.1 with the `Services`
helper of tests/bot/test_services_receiver.py.

Every class asserts, through `Watch`: the status, never a 5xx, each request answered within
PER_REQUEST seconds (measured), peak memory growth under PEAK_GROWTH (tracemalloc is too
slow for thousands of requests, so ru_maxrss, the process's peak RSS, is read before and
after), no record at ERROR or with a traceback in the log, and, once the pipeline and the
outbox are idle, nothing posted for rejected input and nothing live in what was posted.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import resource
import time
import unicodedata
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

import bot.app
from bot.app import running
from bot.intake import http as intake_http
from bot.service import HookCredentials, HookService
from formatters.message import Message
from tests.bot.test_services_receiver import Services
from tests.conftest import RecordingSink, make_settings

HEADER_TIMEOUT = 3.0  # slow headers: tests/bot/test_server_hostile.py; 2,000 at once need more
BODY_TIMEOUT = 0.8
PER_REQUEST = 1.0  # seconds: every hostile request is answered within this
PEAK_GROWTH = 100 * 1024 * 1024  # peak RSS growth per class; measured alone: 57 MB at most
MAX_BODY = 4 * 1024 * 1024  # HOOKBOT_MAX_BODY here: a 1 MB mutant fits, a bomb does not
SETTLE = 10.0  # seconds the pipeline and outbox may take to finish what was accepted

# What must never reach a channel live.
LIVE_MENTION = re.compile(r"@(everyone|here)\b|<@[!&]?\d+>|<#\d+>")
# An unescaped masked link `[text](target)`: the `[` and `]` not preceded by a backslash.
MASKED_LINK = re.compile(r"(?<!\\)\[((?:[^\]\\]|\\.)*)(?<!\\)\]\(\s*<?([^)\s>]*)")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def peak_rss() -> int:
    """The process's peak resident set size so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def message_texts(message: Message) -> list[tuple[str, str]]:
    """Every piece of text a Discord user would read in `message`, with where it is."""
    texts = [("content", message.content or "")]
    for embed in message.embeds:
        texts += [("title", embed.title or ""), ("author", embed.author or "")]
        texts += [("description", embed.description or ""), ("footer", embed.footer or "")]
        for item in embed.fields:
            texts += [("field", item.name), ("field", item.value)]
    return [(where, text) for where, text in texts if text]


# Where Discord renders markdown and mentions; an embed's author and footer are plain text.
MARKDOWN_PARTS = frozenset({"content", "description", "field"})
CODE = re.compile(r"```.*?```|``[^`]*``|`[^`\n]*`", re.DOTALL)
# Markup the injection tests send, live when it starts a line outside code.
LIVE_BLOCK = re.compile(r"(?m)^\s*(#+ Heading|> quote)")


def outside_code(text: str) -> str:
    """`text` without its code blocks and spans (where Discord renders nothing)."""
    return CODE.sub(" ", text)


def problems_in(
    text: str, where: str = "content", foreign: Iterable[str] = ("evil.example",)
) -> list[str]:
    """What is wrong with posted text: live mentions, foreign links, live injected markup
    (in parts that render markdown, outside code) and raw controls or bidi overrides."""
    found = []
    if where in MARKDOWN_PARTS:
        live = outside_code(text)
        found += [f"live mention {m.group(0)!r}" for m in LIVE_MENTION.finditer(live)]
        found += [f"live markup {m.group(0)!r}" for m in LIVE_BLOCK.finditer(live)]
        for match in MASKED_LINK.finditer(live):
            target = match.group(2).lower()
            # A target without a scheme is shown as text; another scheme or host is live.
            scheme = re.match(r"[a-z][a-z0-9+.-]*:", target)
            other_scheme = scheme is not None and scheme.group(0) not in ("http:", "https:")
            host = urlsplit(target).hostname or "" if scheme is not None else ""
            if other_scheme or any(host == f or host.endswith("." + f) for f in foreign):
                found.append(f"masked link {match.group(0)!r}")
    for char in text:
        if char in "\n\t":
            continue
        if unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS:
            found.append(f"raw control U+{ord(char):04X}")
    return found


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records at ERROR or above, or carrying a traceback."""
    return [
        f"{r.name}: {r.getMessage()[:200]}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info
    ]


@dataclass
class Watch(Services):
    """`Services` plus the suite's measurements and checks."""

    caplog: pytest.LogCaptureFixture | None = None
    slowest: float = 0.0
    statuses: list[int] = field(default_factory=list)

    async def timed(self, send: object) -> int:
        """Await a request coroutine returning a status; measure it, record the status."""
        started = time.perf_counter()
        status = await send  # type: ignore[misc]
        elapsed = time.perf_counter() - started
        self.slowest = max(self.slowest, elapsed)
        self.statuses.append(status)
        assert elapsed <= PER_REQUEST, f"answered {status} after {elapsed:.2f} s"
        assert status < 500, f"answered {status}"
        return status

    async def request(
        self, creds: HookCredentials, body: bytes, headers: dict[str, str], *, url: str = ""
    ) -> tuple[int, str]:
        """POST to the hook (or `url`), measured; return the status and the answer's text."""
        started = time.perf_counter()
        async with self.session.post(url or creds.url, data=body, headers=headers) as response:
            text = await response.text(errors="replace")
        elapsed = time.perf_counter() - started
        self.slowest = max(self.slowest, elapsed)
        self.statuses.append(response.status)
        assert elapsed <= PER_REQUEST, f"answered {response.status} after {elapsed:.2f} s"
        assert response.status < 500, f"answered {response.status}: {text[:200]}"
        return response.status, text

    async def settle(self) -> None:
        """Wait (bounded) until nothing is pending in the inbox or ready in the outbox."""
        store = self.app.store
        async with asyncio.timeout(SETTLE):
            while True:
                # Inbox first: a delivery is marked done in the transaction that queues
                # its messages, so once none is pending, the outbox holds all of them.
                pending = await store.inbox.pending(1)
                counts = await store.outbox.counts()
                if not pending and counts["ready"] == 0 and counts["in-flight"] == 0:
                    return
                await asyncio.sleep(0.05)

    def posted(self) -> list[Message]:
        return [message for message, _nonce in self.sink.sent]

    def assert_clean(self, foreign: Iterable[str] = ("evil.example",)) -> None:
        """Every posted message is free of live mentions, foreign links, raw controls."""
        bad = [
            (where, problem, text[:300])
            for message in self.posted()
            for where, text in message_texts(message)
            for problem in problems_in(text, where, foreign)
        ]
        assert bad == []

    def assert_no_tracebacks(self) -> None:
        assert self.caplog is not None
        assert tracebacks(self.caplog) == []


@pytest.fixture
async def watch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Watch]:
    """hookbot running in-process with short header/body timeouts; checks after the test."""
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(
        bot.app,
        "start_server",
        functools.partial(
            intake_http.start_server, header_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT
        ),
    )
    sink = RecordingSink()
    peak_before = peak_rss()
    async with running(
        make_settings(tmp_path, hookbot_max_body=MAX_BODY), sinks=lambda _key: sink
    ) as app:
        service = HookService(app.store, f"http://127.0.0.1:{app.port}")
        async with aiohttp.ClientSession() as session:
            world = Watch(app, service, sink, session, caplog)
            yield world
    growth = peak_rss() - peak_before
    assert growth <= PEAK_GROWTH, f"peak RSS grew {growth / 2**20:.0f} MB"
    assert tracebacks(caplog) == []
