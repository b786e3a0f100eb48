"""Conformance through the real receiver: every GitHub payload in ../shared/corpus.

Each corpus file is POSTed to a running hookbot (aiohttp server, store, pipeline, outbox)
with its own X-GitHub-Event and X-GitHub-Delivery, re-signed with the hook's secret
(the corpus README: its signatures use a documentation secret). Every answer is 2xx, the
pipeline logs no error, every file of a kind the parser knows is queued, and every message
that reaches the sink has a title.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from parsers import github
from tests.conftest import Receiver

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "github"
if not CORPUS.is_dir():
    pytest.skip(
        f"../shared/corpus is absent: the receiver conformance test needs {CORPUS}",
        allow_module_level=True,
    )

PAYLOADS = sorted(path for path in CORPUS.glob("*.json") if not path.name.endswith(".headers.json"))
FAILED_OUTCOMES = {"error", "template-error", "dead"}
DEADLINE = 25.0  # seconds for the pipeline and outbox to finish everything


def headers_of(path: Path) -> dict[str, str]:
    headers = json.loads(path.with_name(path.name[:-5] + ".headers.json").read_text())
    assert isinstance(headers, dict)
    return headers


async def wait_until_processed(receiver: Receiver, deadline: float) -> None:
    """Wait (bounded) until the inbox holds no pending delivery."""
    while await receiver.app.store.inbox.pending(1000):
        assert time.monotonic() < deadline, "the pipeline did not finish the corpus in time"
        await asyncio.sleep(0.05)


async def test_every_corpus_payload_through_the_receiver(receiver: Receiver) -> None:
    assert len(PAYLOADS) >= 50
    await receiver.app.store.hooks.update(receiver.hook.id, 2.0, events=["*"])  # every kind
    deadline = time.monotonic() + DEADLINE
    expected: dict[str, str] = {}  # delivery id → file, for files whose event is handled
    for path in PAYLOADS:
        headers = headers_of(path)
        event, delivery = headers["X-GitHub-Event"], headers["X-GitHub-Delivery"]
        response = await receiver.post(path.read_bytes(), event=event, delivery=delivery)
        assert 200 <= response.status < 300, f"{path.name}: HTTP {response.status}"
        if event in github.EVENT_NAMES:
            expected[delivery] = path.name
    assert len(set(expected)) == len(expected), "corpus delivery ids must be distinct"

    await wait_until_processed(receiver, deadline)
    log = await receiver.app.store.log.recent(receiver.hook.id, limit=1000)
    failed = [(e.outcome, e.kind, e.detail) for e in log if e.outcome in FAILED_OUTCOMES]
    assert not failed, f"failed deliveries: {failed}"

    queued = [e for e in log if e.outcome == "queued"]
    queued_ids = {e.delivery_id for e in queued}
    missing = sorted(name for delivery, name in expected.items() if delivery not in queued_ids)
    assert not missing, f"files of known kinds that queued nothing: {missing}"
    for entry in queued:
        assert entry.kind in github.KINDS, entry.kind
        assert entry.detail, f"queued {entry.kind} without a title"

    # Every queued message reaches the sink (several may share one post when coalesced).
    while sum(max(len(m.embeds), 1) for m, _ in receiver.sink.sent) < len(queued):
        assert time.monotonic() < deadline, "the outbox did not deliver everything in time"
        await asyncio.sleep(0.05)
    for message, _nonce in receiver.sink.sent:
        assert message.content.strip() or message.embeds, "an empty message was sent"
        for embed in message.embeds:
            assert (embed.title or "").strip(), f"an embed without a title: {embed}"
