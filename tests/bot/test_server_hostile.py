"""Receiver against hostile clients: undecodable bodies, malformed requests, slow clients.

Malformed and slow requests go over raw sockets (asyncio.open_connection) to a real server
on 127.0.0.1; slow-client tests start the server with timeouts of about a second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.intake.http import (
    HookCache,
    HttpServer,
    LogThrottle,
    QuietHostileRequests,
    ServerDeps,
    start_server,
)
from bot.intake.writer import GroupCommitWriter
from bot.store import Hook, Store
from parsers.signatures import sign_hmac_sha256
from tests.conftest import Receiver, sample

HEADER_TIMEOUT = 0.5
BODY_TIMEOUT = 1.0


# --- raw HTTP over a socket ----------------------------------------------------------


def request_bytes(
    path: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    extra: bytes = b"",
    method: str = "POST",
    content_length: int | None = None,
) -> bytes:
    """An HTTP/1.1 request as bytes; `extra` is spliced in raw (for malformed headers)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    length = len(body) if content_length is None else content_length
    lines.append(f"Content-Length: {length}")
    return "\r\n".join(lines).encode() + b"\r\n" + extra + b"\r\n" + body


def signed_headers(body: bytes, secret: str, event: str = "push") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": f"d-{time.monotonic_ns()}",
        "X-Hub-Signature-256": sign_hmac_sha256(body, secret),
    }


async def exchange(port: int, data: bytes, *, within: float = 3.0) -> bytes:
    """Send `data`, then read until the server closes the connection (bounded)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(within):
            return await reader.read()
    finally:
        writer.close()


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def json_body(response: bytes) -> dict[str, object]:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Read until the server closes; fail if it keeps the connection open `seconds`."""
    received = b""
    async with asyncio.timeout(seconds):
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def rejections(store: Store, hook: Hook) -> dict[str, int]:
    found = await store.hooks.get(hook.id)
    assert found is not None
    return dict(found.rejections)


# --- a receiver with short timeouts --------------------------------------------------


@dataclass
class Fast:
    """The receiver alone (store, writer, server), with timeouts of about a second."""

    server: HttpServer
    store: Store
    hook: Hook

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def path(self) -> str:
        return f"/webhook/github/{self.hook.token}"

    async def health(self) -> dict[str, object]:
        response = await exchange(self.port, request_bytes("/healthz", method="GET"))
        assert status_of(response) == 200
        return json_body(response)


@pytest.fixture
async def fast(store: Store) -> AsyncIterator[Fast]:
    writer = GroupCommitWriter(store)
    writer.start()
    hook = await store.hooks.create(
        service="github", destination="console", token="t" * 32, secret="s" * 40, now=1.0
    )

    async def health() -> dict[str, object]:
        return {"db": "ok"}

    deps = ServerDeps(store, writer, HookCache(store), max_body=1024 * 1024, health=health)
    server = await start_server(
        deps,
        "127.0.0.1",
        0,
        shutdown_timeout=1.0,
        header_timeout=HEADER_TIMEOUT,
        body_timeout=BODY_TIMEOUT,
    )
    try:
        yield Fast(server, store, hook)
    finally:
        await server.close()
        await writer.stop()


# --- 5: a body that does not decode --------------------------------------------------


async def test_gzip_header_on_a_body_that_is_not_gzip_is_400_and_counted(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
):
    """Content-Encoding: gzip on plain JSON: 400 JSON, counted as bad encoding, no traceback."""
    caplog.set_level(logging.INFO)
    response = await receiver.post(sample("github/push"), headers={"Content-Encoding": "gzip"})
    assert response.status == 400
    assert response.content_type == "application/json"
    await asyncio.sleep(0.2)  # aiohttp drains the rest of the body after the answer
    hook = await receiver.app.store.hooks.get(receiver.hook.id)
    assert hook is not None
    assert dict(hook.rejections) == {"bad encoding": 1}
    assert await receiver.app.store.inbox.count() == 0
    assert errors_logged(caplog) == []


async def test_gzip_error_body_names_the_reason(fast: Fast):
    """The 400 carries the same JSON shape as every other rejection."""
    body = sample("github/push")
    headers = signed_headers(body, fast.hook.secret) | {"Content-Encoding": "gzip"}
    response = await exchange(fast.port, request_bytes(fast.path, body, headers=headers))
    assert status_of(response) == 400
    answer = json_body(response)
    assert answer["reason"] == "bad encoding"
    assert "gzip" in str(answer["error"])


# --- 6: malformed requests aiohttp refuses itself ------------------------------------

MALFORMED = {
    "header-over-8k": {"extra": b"X-Long: " + b"a" * 9000 + b"\r\n"},
    "url-over-8k": {"query": "?" + "a" * 9000},
    "200-headers": {"extra": b"".join(b"X-H%d: 1\r\n" % i for i in range(200))},
    "control-character": {"extra": b"X-Bad: pu\x01sh\r\n"},
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_request_is_400_with_one_info_line(
    fast: Fast, caplog: pytest.LogCaptureFixture, case: dict[str, object]
):
    """aiohttp still answers 400; the log gets one INFO line, no ERROR, no traceback."""
    caplog.set_level(logging.INFO)
    body = b'{"zen": "x"}'
    path = fast.path + str(case.get("query", ""))
    extra = case.get("extra", b"")
    assert isinstance(extra, bytes)
    data = request_bytes(path, body, headers=signed_headers(body, "x"), extra=extra)
    response = await exchange(fast.port, data)
    assert status_of(response) == 400
    assert errors_logged(caplog) == []
    lines = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
    assert "\n" not in lines[0].getMessage()


async def test_malformed_request_flood_logs_one_line_per_period(
    fast: Fast, caplog: pytest.LogCaptureFixture
):
    """Twenty over-long headers in a row: one log line, the other nineteen left out."""
    caplog.set_level(logging.INFO)
    data = request_bytes(fast.path, extra=b"X-Long: " + b"a" * 9000 + b"\r\n")
    for _ in range(20):
        assert status_of(await exchange(fast.port, data)) == 400
    assert len([r for r in caplog.records if r.name == "aiohttp.server"]) == 1
    assert errors_logged(caplog) == []


async def test_client_leaving_mid_body_logs_one_info_line(
    fast: Fast, caplog: pytest.LogCaptureFixture
):
    """A client that disconnects halfway through its body leaves one INFO line, no traceback."""
    caplog.set_level(logging.INFO)
    body = b" " * 200_000
    headers = signed_headers(body, fast.hook.secret)
    for _ in range(3):
        _, writer = await asyncio.open_connection("127.0.0.1", fast.port)
        half = request_bytes(fast.path, body[:50_000], headers=headers, content_length=len(body))
        writer.write(half)
        await writer.drain()
        await asyncio.sleep(0.1)  # the handler is reading the body now
        writer.close()
        await writer.wait_closed()
    await asyncio.sleep(0.3)
    assert errors_logged(caplog) == []
    gone = [r for r in caplog.records if "mid-body" in r.getMessage()]
    assert len(gone) == 1
    assert gone[0].levelno == logging.INFO
    assert await rejections(fast.store, fast.hook) == {}


def test_log_throttle_counts_what_it_left_out():
    """One line per reason per period; the next line reports how many were left out."""
    now = [100.0]
    throttle = LogThrottle(period=10.0, clock=lambda: now[0])
    assert throttle.admit("LineTooLong") == 0
    assert throttle.admit("LineTooLong") is None
    assert throttle.admit("LineTooLong") is None
    assert throttle.admit("BadHttpMessage") == 0  # another reason has its own budget
    now[0] += 10.0
    assert throttle.admit("LineTooLong") == 2
    assert throttle.admit("LineTooLong") is None


def test_quiet_filter_leaves_our_own_bugs_alone():
    """An exception that is not a client's doing keeps its ERROR level and traceback."""
    try:
        raise ValueError("a bug in a handler")
    except ValueError:
        record = logging.getLogger("aiohttp.server").makeRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request",
            (),
            sys.exc_info(),
        )
    assert QuietHostileRequests().filter(record) is True
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None


# --- 7: slow clients -----------------------------------------------------------------


async def test_slow_headers_are_cut_off_and_counted(fast: Fast):
    """One header byte every 0.2 s: the connection is closed after HEADER_TIMEOUT, counted."""
    reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
    data = request_bytes(fast.path, b"{}", headers={"X-GitHub-Event": "push"})
    started = time.monotonic()

    async def drip() -> None:
        for byte in data:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.2)

    dripping = asyncio.create_task(drip())
    try:
        assert await closed_within(reader, HEADER_TIMEOUT + 2.0) == b""
    finally:
        dripping.cancel()
        writer.close()
    assert time.monotonic() - started < HEADER_TIMEOUT + 1.0
    assert (await fast.health())["timeouts"] == {"headers": 1, "body": 0}


async def test_many_slow_header_connections_are_all_cut_off(fast: Fast):
    """Twenty connections that never finish their headers are all closed, all counted."""
    connections = [await asyncio.open_connection("127.0.0.1", fast.port) for _ in range(20)]
    for _, writer in connections:
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
    async with asyncio.timeout(HEADER_TIMEOUT + 2.0):
        for reader, _ in connections:
            assert await closed_within(reader, HEADER_TIMEOUT + 2.0) == b""
    for _, writer in connections:
        writer.close()
    assert (await fast.health())["timeouts"] == {"headers": 20, "body": 0}


async def test_idle_kept_alive_connection_is_not_a_header_timeout(fast: Fast):
    """A connection idle between two prompt requests stays usable past HEADER_TIMEOUT."""
    reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    async def healthz() -> int:
        writer.write(get)
        await writer.drain()
        async with asyncio.timeout(2.0):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        return status_of(head)

    try:
        assert await healthz() == 200
        await asyncio.sleep(HEADER_TIMEOUT * 2)
        assert await healthz() == 200
    finally:
        writer.close()
    assert (await fast.health())["timeouts"]["headers"] == 0  # type: ignore[index]


async def test_slow_body_gets_408_then_close_and_is_counted(fast: Fast):
    """Headers at once, then one body byte every 0.2 s: 408 after BODY_TIMEOUT, then closed."""
    body = b'{"zen": "' + b"x" * 100 + b'"}'
    headers = signed_headers(body, fast.hook.secret)
    reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
    writer.write(request_bytes(fast.path, b"", headers=headers, content_length=len(body)))
    started = time.monotonic()

    async def drip() -> None:
        for byte in body:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.2)

    dripping = asyncio.create_task(drip())
    try:
        response = await closed_within(reader, BODY_TIMEOUT + 2.0)
    finally:
        dripping.cancel()
        writer.close()
    assert time.monotonic() - started < BODY_TIMEOUT + 1.0
    assert status_of(response) == 408
    assert json_body(response)["reason"] == "body timeout"
    assert (await fast.health())["timeouts"] == {"headers": 0, "body": 1}
    assert await rejections(fast.store, fast.hook) == {"body timeout": 1}


async def test_prompt_delivery_is_untouched_by_the_limits(fast: Fast):
    """A normal signed delivery still answers 202 and counts no timeout."""
    body = sample("github/push")
    data = request_bytes(fast.path, body, headers=signed_headers(body, fast.hook.secret))
    assert status_of(await exchange(fast.port, data)) == 202
    assert (await fast.health())["timeouts"] == {"headers": 0, "body": 0}
