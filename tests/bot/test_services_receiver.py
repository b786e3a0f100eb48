"""Every service end to end through the real receiver, pipeline and outbox (127.0.0.1).

Hooks are made as users make them (HookService.create, so their options are stored), each
delivery is POSTed as its provider sends it, and the message that reaches the sink is
compared with the golden file of that sample (tests/golden/) or with the user's template.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import aiohttp
import pytest

from bot.app import Running, running
from bot.service import HookCredentials, HookService
from formatters.message import Message, message_to_text
from parsers import SERVICES
from parsers.signatures import sign_hmac_sha256
from tests.conftest import RecordingSink, make_settings, sample

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SEED_BODY = b'{"event": "Server Alert", "message": "CPU usage at 95%"}'


@dataclass
class Services:
    """A running hookbot, its HookService and a recording sink for every destination."""

    app: Running
    service: HookService
    sink: RecordingSink
    session: aiohttp.ClientSession

    async def on(self, service: str, target: str | None = None, **flags: bool) -> HookCredentials:
        """`on <service> [target] [--signed]`, posting to the console (the recorder)."""
        return await self.service.create(service, "console", target=target, **flags)

    async def post(
        self, creds: HookCredentials, body: bytes, headers: dict[str, str], *, user: str = ""
    ) -> int:
        """POST a delivery to the hook's URL (optionally with `user:password@` userinfo)."""
        url = creds.url
        if user:
            url = url.replace("http://", f"http://{user}@", 1)
        async with self.session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def post_sample(self, creds: HookCredentials, name: str) -> int:
        """POST a bundled sample with the headers its sender signs it with (send-sample's)."""
        service = creds.hook.service
        body = sample(f"{service}/{name}")
        headers = SERVICES[service].sample_headers(name, body, creds.secret, str(uuid.uuid4()))
        return await self.post(creds, body, headers)

    async def next_message(self) -> Message:
        """Wait (bounded) for the next message at the sink."""
        count = len(self.sink.sent) + 1
        await self.sink.wait_for(count)
        return self.sink.sent[count - 1][0]

    async def next_text(self) -> str:
        """Wait (bounded) for the next message at the sink and return it as text."""
        return message_to_text(await self.next_message())

    async def next_content(self) -> str | None:
        """Wait (bounded) for the next message and return its content (a user template's)."""
        message = await self.next_message()
        assert not message.embeds
        return message.content

    async def nothing_posted(self) -> bool:
        """Return True when the pipeline finished and nothing reached the sink."""
        await self.app.pipeline.idle.wait()
        return not self.sink.sent


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    sink = RecordingSink()
    async with running(make_settings(tmp_path), sinks=lambda _key: sink) as app:
        service = HookService(app.store, f"http://127.0.0.1:{app.port}")
        async with aiohttp.ClientSession() as session:
            yield Services(app, service, sink, session)


def golden(name: str) -> str:
    return (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")


async def test_gitlab_push_and_a_failed_merge_request_pipeline(services: Services) -> None:
    creds = await services.on("gitlab", "acme/web-shop")
    assert await services.post_sample(creds, "push") == 202
    assert await services.next_text() == golden("gitlab_push")

    body = sample("gitlab/pipeline.failed")
    assert json.loads(body)["object_attributes"]["source"] == "merge_request_event"
    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": "Pipeline Hook",
        "X-Gitlab-Token": creds.secret,
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
    }
    assert await services.post(creds, body, headers) == 202
    text = await services.next_text()
    assert text == golden("gitlab_pipeline_failed")
    assert "❌ Pipeline #1043 failed" in text


async def test_gitlab_wrong_token_is_401_and_posts_nothing(services: Services) -> None:
    creds = await services.on("gitlab")
    body = sample("gitlab/push")
    headers = {"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook"}
    assert await services.post(creds, body, {**headers, "X-Gitlab-Token": "not-it"}) == 401
    assert await services.post(creds, body, headers) == 401
    assert await services.nothing_posted()


async def test_jenkins_build_needs_no_signature_and_checks_basic_auth(services: Services) -> None:
    creds = await services.on("ci")
    body = sample("ci/jenkins_failed")
    headers = {"Content-Type": "application/json;charset=UTF-8"}
    assert await services.post(creds, body, headers, user="jenkins:wrong") == 401
    assert await services.post(creds, body, headers) == 202
    text = await services.next_text()
    assert text == golden("ci_jenkins_failed")
    assert "❌ Pipeline Failed" in text


async def test_circleci_bad_v1_signature_is_refused_and_a_good_one_posts(
    services: Services,
) -> None:
    creds = await services.on("ci")
    body = sample("ci/circleci_workflow_success")
    headers = {
        "content-type": "application/json",
        "circleci-event-type": "workflow-completed",
    }
    bad = "v1=" + "0" * 64
    assert await services.post(creds, body, {**headers, "circleci-signature": bad}) == 401
    only_v2 = sign_hmac_sha256(body, creds.secret).replace("sha256=", "v2=")
    assert await services.post(creds, body, {**headers, "circleci-signature": only_v2}) == 401
    assert await services.nothing_posted()
    good = sign_hmac_sha256(body, creds.secret).replace("sha256=", "v1=")
    assert await services.post(creds, body, {**headers, "circleci-signature": good}) == 202
    assert await services.next_text() == golden("ci_circleci_workflow_success")
    hook = await services.service.resolve(creds.hook.id)
    assert hook.rejections == {"bad signature": 2}


async def test_github_actions_workflow_run_on_the_ci_hook(services: Services) -> None:
    creds = await services.on("ci")
    body = sample("ci/actions_run_failed")
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "workflow_run",
        "X-GitHub-Delivery": str(uuid.uuid4()),
    }
    assert await services.post(creds, body, headers) == 401  # unsigned
    signed = {**headers, "X-Hub-Signature-256": sign_hmac_sha256(body, creds.secret)}
    assert await services.post(creds, body, signed) == 202
    assert await services.next_text() == golden("ci_actions_run_failed")


async def test_a_ping_is_answered_200_on_github_and_ci_hooks(services: Services) -> None:
    body = sample("github/ping")
    for service in ("github", "ci"):
        creds = await services.on(service)
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign_hmac_sha256(body, creds.secret),
        }
        assert await services.post(creds, body, headers) == 200, service
    creds = await services.on("gitlab")
    assert await services.post_sample(creds, "push") == 202


async def test_custom_seed_event_with_the_seed_template(services: Services) -> None:
    creds = await services.on("custom", "https://api.monitoring.com/events")
    assert creds.hook.options == {"target": "https://api.monitoring.com/events"}
    change = await services.service.set_template(creds.hook.id, None, '"🔔 {{event}}: {{message}}"')
    assert change.preview is not None
    headers = {"Content-Type": "application/json"}
    assert await services.post(creds, SEED_BODY, headers) == 202
    assert await services.next_content() == "🔔 Server Alert: CPU usage at 95%"


async def test_custom_without_a_template_names_the_sender(services: Services) -> None:
    creds = await services.on("custom", "uptime-monitor")
    assert await services.post(creds, SEED_BODY, {"Content-Type": "application/json"}) == 202
    text = await services.next_text()
    assert "title: CPU usage at 95%" in text  # the title-like field, then the body
    assert '{"event":"Server Alert","message":"CPU usage at 95%"}' in text
    assert "custom · custom.server_alert" in text


async def test_custom_signed_hook_refuses_an_unsigned_post(services: Services) -> None:
    creds = await services.on("custom", "billing", signed=True)
    assert creds.hook.options == {"target": "billing", "signed": True}
    headers = {"Content-Type": "application/json"}
    assert await services.post(creds, SEED_BODY, headers) == 401
    assert await services.nothing_posted()
    signed = {**headers, "X-Hub-Signature-256": sign_hmac_sha256(SEED_BODY, creds.secret)}
    assert await services.post(creds, SEED_BODY, signed) == 202
    assert "Server Alert" in await services.next_text()


async def test_an_unsigned_custom_hook_still_checks_a_signature_it_is_sent(
    services: Services,
) -> None:
    creds = await services.on("custom", "billing")
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign_hmac_sha256(SEED_BODY, "another secret"),
    }
    assert await services.post(creds, SEED_BODY, headers) == 401
    assert await services.nothing_posted()


async def test_a_github_template_reads_the_raw_payload(services: Services) -> None:
    creds = await services.on("github", "octo-org/Hello-World")
    await services.service.set_template(
        creds.hook.id, None, "{{ payload.repository.full_name }} by {{ payload.pusher.name }}"
    )
    assert await services.post_sample(creds, "push") == 202
    expected = json.loads(sample("github/push"))
    want = f"{expected['repository']['full_name']} by {expected['pusher']['name']}"
    assert await services.next_content() == want


async def test_a_form_encoded_github_delivery_gives_templates_its_payload(
    services: Services,
) -> None:
    creds = await services.on("github")
    await services.service.set_template(creds.hook.id, None, "{{ payload.ref }}")
    body_json = sample("github/push")
    body = ("payload=" + quote_plus(body_json.decode())).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign_hmac_sha256(body, creds.secret),
    }
    assert await services.post(creds, body, headers) == 202
    assert await services.next_content() == json.loads(body_json)["ref"]
