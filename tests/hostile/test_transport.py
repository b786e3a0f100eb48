"""Bodies and headers as a hostile client sends them: gzip, chunked, slow, form, huge, many.

Raw requests use the socket helpers of tests/bot/test_server_hostile.py. Cases already
covered there are referenced, not repeated: gzip on a body that is not gzip
(test_gzip_header_on_a_body_that_is_not_gzip_is_400_and_counted), a header or URL over
8 KB, 200 headers and a control character in a header
(test_malformed_request_is_400_with_one_info_line), slow headers
(test_slow_headers_are_cut_off_and_counted).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from urllib.parse import quote_plus

import aiohttp

from parsers.signatures import sign_hmac_sha256
from tests.bot.test_server_hostile import (
    closed_within,
    exchange,
    json_body,
    request_bytes,
    signed_headers,
    status_of,
)
from tests.conftest import sample
from tests.hostile.conftest import BODY_TIMEOUT, MAX_BODY, PER_REQUEST, Watch

PUSH = sample("github/push")


async def refused(port: int, data: bytes) -> bytes:
    """Send a request the server refuses before reading all of it; return what it answered.

    The server answers and closes while the request is still arriving, so the write may
    fail: the answer is read as it comes (exchange() drains first, and would raise).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    received = b""
    try:
        async with asyncio.timeout(PER_REQUEST):
            while chunk := await reader.read(65536):
                received += chunk
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    return received


def github_headers(body: bytes, secret: str, **extra: str) -> dict[str, str]:
    return signed_headers(body, secret) | {"X-GitHub-Delivery": str(uuid.uuid4())} | extra


async def test_gzip_bodies(watch: Watch):
    """Valid gzip is decoded and posted; truncated gzip and a gzip bomb are refused."""
    creds = await watch.on("github")
    zipped = {"Content-Encoding": "gzip"}
    status, _ = await watch.request(
        creds, gzip.compress(PUSH), github_headers(PUSH, creds.secret, **zipped)
    )
    assert status == 202
    truncated = gzip.compress(PUSH)[:-40]
    status, text = await watch.request(
        creds, truncated, github_headers(PUSH, creds.secret, **zipped)
    )
    # aiohttp's decoder ends quietly at a truncated stream: what it gives is not what was
    # signed, so the signature check refuses it.
    assert (status, json.loads(text)["reason"]) == (401, "bad signature")
    # 16 MB of zeros in 16 KB: refused once the decoded size passes MAX_BODY.
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    packed = bomb.compress(b"0" * (16 * 1024 * 1024)) + bomb.flush()
    assert len(packed) < 100_000
    status, text = await watch.request(creds, packed, github_headers(b"", creds.secret, **zipped))
    assert (status, json.loads(text)["reason"]) == (413, "too large")
    await watch.settle()
    assert len(watch.sink.sent) == 1
    assert await watch.app.store.inbox.count() == 1
    watch.assert_clean()


async def test_chunked_bodies(watch: Watch):
    """A chunked body is read whole; bad chunk framing is 400; an endless one is 413."""
    creds = await watch.on("github")

    async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    headers = github_headers(PUSH, creds.secret)
    started = time.perf_counter()
    async with watch.session.post(creds.url, data=chunks(PUSH), headers=headers) as response:
        assert response.status == 202
        assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert time.perf_counter() - started <= PER_REQUEST

    path = creds.url.split(str(watch.app.port), 1)[1]
    head = "\r\n".join(
        [f"POST {path} HTTP/1.1", "Host: x", "Connection: close", "Transfer-Encoding: chunked"]
        + [f"{k}: {v}" for k, v in github_headers(PUSH, creds.secret).items()]
    ).encode()
    bad = head + b"\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    assert status_of(await exchange(watch.app.port, bad, within=PER_REQUEST)) == 400
    # Chunks past MAX_BODY: refused with 413 before the whole body is read.
    big = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    endless = head + b"\r\n\r\n" + big * (MAX_BODY // 65536 + 2) + b"0\r\n\r\n"
    started = time.perf_counter()
    answer = await exchange(watch.app.port, endless, within=PER_REQUEST)
    assert time.perf_counter() - started <= PER_REQUEST
    assert status_of(answer) == 413
    await watch.settle()
    assert len(watch.sink.sent) == 1
    watch.assert_clean()


async def test_slow_body_is_cut_off_at_the_body_timeout(watch: Watch):
    """One byte every 0.1 s: 408 after BODY_TIMEOUT, nothing stored."""
    creds = await watch.on("github")
    path = creds.url.split(str(watch.app.port), 1)[1]
    headers = github_headers(PUSH, creds.secret)
    reader, writer = await asyncio.open_connection("127.0.0.1", watch.app.port)
    writer.write(request_bytes(path, b"", headers=headers, content_length=len(PUSH)))
    started = time.perf_counter()

    async def drip() -> None:
        for byte in PUSH:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.1)

    dripping = asyncio.create_task(drip())
    try:
        response = await closed_within(reader, BODY_TIMEOUT + 1.0)
    finally:
        dripping.cancel()
        writer.close()
    assert time.perf_counter() - started <= BODY_TIMEOUT + 0.3
    assert status_of(response) == 408
    assert json_body(response)["reason"] == "body timeout"
    await watch.settle()
    assert await watch.app.store.inbox.count() == 0
    assert watch.sink.sent == []


async def test_form_encoded_payload(watch: Watch):
    """`payload=` JSON is accepted; a form without it, or not JSON in it, posts nothing."""
    creds = await watch.on("github")
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    async def post_form(body: bytes) -> tuple[int, str]:
        return await watch.request(creds, body, github_headers(body, creds.secret, **form))

    good = ("payload=" + quote_plus(PUSH.decode())).encode()
    assert (await post_form(good))[0] == 202
    hostile = [
        b"payload=not%20json",
        b"payload=",
        b"other=1",
        b"payload=%7B%7D&payload=%7B%7D",
        b"&".join(b"f%d=1" % i for i in range(5000)),
        b"payload=" + b"%5B" * 10_000 + b"%5D" * 10_000,
        b"payload=%ff%fe%00",
    ]
    for body in hostile:
        status, text = await post_form(body)
        assert status in (202, 400), (body[:40], status, text)
    await watch.settle()
    assert len(watch.sink.sent) == 1
    watch.assert_clean()


async def test_huge_and_many_headers(watch: Watch):
    """Headers past aiohttp's limits are 400 at once; big ones within them are bounded."""
    creds = await watch.on("github")
    path = creds.url.split(str(watch.app.port), 1)[1]
    body = PUSH
    # (extra raw header lines, expected status)
    cases = {
        "1 MB header": (b"X-Big: " + b"a" * 1_000_000 + b"\r\n", 400),
        "10,000 headers": (b"".join(b"X-H%d: 1\r\n" % i for i in range(10_000)), 400),
        "1 MB signature": (b"X-Hub-Signature-256: sha256=" + b"ab" * 500_000 + b"\r\n", 400),
        # Each line under aiohttp's 8 KB, fewer than its 128: 800 KB in all, bounded, and
        # the signature is good, so the delivery is taken.
        "100 headers of 8000 bytes": (
            b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 8000) for i in range(100)),
            202,
        ),
    }
    for name, (extra, expected) in cases.items():
        headers = signed_headers(body, creds.secret)
        started = time.perf_counter()
        answer = await refused(
            watch.app.port, request_bytes(path, body, headers=headers, extra=extra)
        )
        assert time.perf_counter() - started <= PER_REQUEST, name
        assert status_of(answer) == expected, name
    await watch.settle()
    assert await watch.app.store.inbox.count() == 1
    assert len(watch.sink.sent) == 1
    watch.assert_clean()


async def test_2000_concurrent_small_requests(watch: Watch):
    """2,000 at once (one in ten badly signed): all answered, none 5xx, the good ones stored."""
    creds = await watch.on("custom", "load")
    connector = aiohttp.TCPConnector(limit=0)
    body = b'{"event": "tick", "message": "ok"}'
    good = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign_hmac_sha256(body, creds.secret),
    }
    bad = good | {"X-Hub-Signature-256": sign_hmac_sha256(body, "wrong")}
    statuses: list[int] = []

    async def one(number: int, session: aiohttp.ClientSession) -> None:
        headers = (bad if number % 10 == 0 else good) | {"webhook-id": f"load-{number}"}
        async with session.post(creds.url, data=body, headers=headers) as response:
            await response.read()
            statuses.append(response.status)

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        async with asyncio.timeout(20):
            await asyncio.gather(*(one(n, session) for n in range(2000)))
    elapsed = time.perf_counter() - started
    assert len(statuses) == 2000
    assert sorted(set(statuses)) == [202, 401]
    assert statuses.count(401) == 200
    assert await watch.app.store.inbox.count() == 1800
    assert elapsed < 15, f"2,000 requests took {elapsed:.1f} s"
