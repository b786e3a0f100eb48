"""Receiver: every status, hostile input leaves no trace, dedupe, size limits, health."""

from __future__ import annotations

import asyncio
import json
import urllib.parse

import aiohttp
import pytest

from tests.conftest import Receiver, sample


async def _nothing_stored_or_sent(receiver: Receiver) -> None:
    await asyncio.sleep(0.2)  # give the pipeline a chance to (wrongly) post
    assert await receiver.app.store.inbox.count() == 0
    assert receiver.sink.sent == []


async def _rejections(receiver: Receiver) -> dict[str, int]:
    hook = await receiver.app.store.hooks.get(receiver.hook.id)
    assert hook is not None
    return dict(hook.rejections)


async def test_server_signed_push_is_accepted_and_posted(receiver: Receiver):
    """A signed push answers 202 and one message reaches the sink."""
    response = await receiver.post(sample("github/push"))
    assert response.status == 202
    await receiver.sink.wait_for(1)
    assert len(receiver.sink.sent) == 1
    assert await receiver.app.store.inbox.count() == 1


async def test_server_unknown_token_is_404(receiver: Receiver):
    """A token no hook has answers 404 and stores nothing."""
    async with receiver.session.post(
        f"{receiver.base}/webhook/github/nope", data=b"{}", headers={"X-GitHub-Event": "push"}
    ) as response:
        assert response.status == 404
        assert (await response.json())["error"] == "unknown hook"
    await _nothing_stored_or_sent(receiver)


async def test_server_unknown_service_is_404(receiver: Receiver):
    """A service hookbot does not know answers 404."""
    async with receiver.session.post(f"{receiver.base}/webhook/nosuch/x", data=b"{}") as response:
        assert response.status == 404
    await _nothing_stored_or_sent(receiver)


@pytest.mark.parametrize(
    ("headers", "secret"),
    [
        ({}, "wrong-secret"),
        ({"X-Hub-Signature-256": ""}, None),
        ({"X-Hub-Signature-256": "sha1=abcdef"}, None),
        ({"X-Hub-Signature-256": "sha256=zz"}, None),
    ],
    ids=["wrong-secret", "empty", "other-algorithm", "not-hex"],
)
async def test_server_bad_signature_is_401_and_counted(receiver: Receiver, headers, secret):
    """A missing or wrong signature answers 401, counts on the hook and stores nothing."""
    response = await receiver.post(sample("github/push"), secret=secret, headers=headers)
    assert response.status == 401
    await _nothing_stored_or_sent(receiver)
    assert await _rejections(receiver) == {"bad signature": 1}


async def test_server_missing_signature_header_is_401(receiver: Receiver):
    """No X-Hub-Signature-256 at all answers 401."""
    body = sample("github/push")
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    async with receiver.session.post(receiver.url, data=body, headers=headers) as response:
        assert response.status == 401
    await _nothing_stored_or_sent(receiver)


async def test_server_malformed_json_is_400_and_counted(receiver: Receiver):
    """A correctly signed body that is not JSON answers 400 and counts as bad json."""
    response = await receiver.post(b'{"ref": "refs/heads/main",')
    assert response.status == 400
    await _nothing_stored_or_sent(receiver)
    assert await _rejections(receiver) == {"bad json": 1}


async def test_server_other_content_type_is_415(receiver: Receiver):
    """text/plain answers 415 and counts on the hook."""
    response = await receiver.post(sample("github/push"), headers={"Content-Type": "text/plain"})
    assert response.status == 415
    await _nothing_stored_or_sent(receiver)
    assert await _rejections(receiver) == {"unsupported content type": 1}


async def test_server_missing_event_header_is_400(receiver: Receiver):
    """A delivery without X-GitHub-Event answers 400 naming the header."""
    body = sample("github/push")
    async with receiver.session.post(
        receiver.url,
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"},
    ) as response:
        assert response.status == 400
        assert "X-GitHub-Event" in (await response.json())["error"]
    await _nothing_stored_or_sent(receiver)


@pytest.mark.parametrize("value", ["", "   "], ids=["empty", "blank"])
async def test_server_empty_event_header_is_400_like_a_missing_one(receiver: Receiver, value):
    """`X-GitHub-Event:` with no value answers 400 naming the header, counted, nothing stored."""
    response = await receiver.post(sample("github/push"), event=value)
    assert response.status == 400
    await _nothing_stored_or_sent(receiver)
    assert await _rejections(receiver) == {"missing headers": 1}


async def test_server_form_encoded_payload_is_accepted(receiver: Receiver):
    """application/x-www-form-urlencoded with a payload= field is accepted (signed as sent)."""
    body = urllib.parse.urlencode({"payload": sample("github/push").decode()}).encode()
    response = await receiver.post(
        body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status == 202
    await receiver.sink.wait_for(1)


async def test_server_ping_is_200_and_recorded(receiver: Receiver):
    """GitHub's ping answers 200 and is stored like any delivery."""
    response = await receiver.post(sample("github/ping"), event="ping")
    assert response.status == 200
    assert await receiver.app.store.inbox.count() == 1


async def test_server_redelivery_gives_one_message(receiver: Receiver):
    """The same X-GitHub-Delivery twice answers 2xx twice and posts once."""
    first = await receiver.post(sample("github/push"), delivery="same-id")
    second = await receiver.post(sample("github/push"), delivery="same-id")
    assert (first.status, second.status) == (202, 202)
    await receiver.sink.wait_for(1)
    await asyncio.sleep(0.3)
    assert len(receiver.sink.sent) == 1
    hook = await receiver.app.store.hooks.get(receiver.hook.id)
    assert hook is not None
    assert hook.accepted == 1


async def test_server_five_megabyte_push_is_accepted(receiver: Receiver):
    """A valid 5 MB push is accepted: aiohttp's 1 MiB default does not apply."""
    payload = json.loads(sample("github/push"))
    payload["commits"][0]["message"] = "x" * (5 * 1024 * 1024)
    body = json.dumps(payload).encode()
    assert len(body) > 5 * 1024 * 1024
    response = await receiver.post(body)
    assert response.status == 202
    await receiver.sink.wait_for(1)


async def test_server_body_over_limit_is_413_and_counted(receiver: Receiver):
    """A body over HOOKBOT_MAX_BODY answers 413 and counts as too large."""
    body = b"{" + b" " * (26_214_400 + 10) + b"}"
    response = await receiver.post(body)
    assert response.status == 413
    await _nothing_stored_or_sent(receiver)
    assert await _rejections(receiver) == {"too large": 1}


async def test_server_chunked_body_over_limit_is_413(receiver: Receiver):
    """A chunked body (no Content-Length) is cut off at the limit with 413."""

    async def chunks():
        for _ in range(30):
            yield b" " * (1024 * 1024)

    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": "sha256=" + "0" * 64,
    }
    try:
        async with receiver.session.post(receiver.url, data=chunks(), headers=headers) as response:
            assert response.status == 413
    except aiohttp.ClientError:
        pass  # the server may close the connection before the client finishes writing
    await _nothing_stored_or_sent(receiver)
    assert await _rejections(receiver) == {"too large": 1}


async def test_server_healthz_reports_db_and_workers(receiver: Receiver):
    """GET /healthz answers 200 with db, workers and discord state."""
    async with receiver.session.get(f"{receiver.base}/healthz") as response:
        assert response.status == 200
        report = await response.json()
    assert report["db"] == "ok"
    assert report["discord"] == "off"
    assert report["workers"]["pipeline"] == "running"


async def test_server_unknown_event_kind_is_202_and_ignored(receiver: Receiver):
    """An event kind hookbot does not know is accepted, logged as ignored, not posted."""
    response = await receiver.post(b'{"zen": "x"}', event="made_up_event")
    assert response.status == 202
    for _ in range(50):
        entries = await receiver.app.store.log.recent(receiver.hook.id)
        if any(e.outcome == "ignored" for e in entries):
            break
        await asyncio.sleep(0.05)
    assert any(e.outcome == "ignored" for e in entries)
    assert receiver.sink.sent == []
