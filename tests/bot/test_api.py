"""The management API against a running in-process hookbot on 127.0.0.1 (issue 17, item 3)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import Running, running
from bot.config import ConfigError, Settings
from bot.intake import api as api_module
from bot.service import HookService
from bot.store import Hook, LogEntry
from formatters.message import message_to_json
from parsers.signatures import sign_hmac_sha256
from tests.conftest import RecordingSink, make_settings, sample

TOKEN = "api-token-" + "k" * 32


@dataclass
class Api:
    """A running hookbot with the API on, a recording sink and a client session."""

    app: Running
    sink: RecordingSink
    base: str
    session: aiohttp.ClientSession

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        """Send one request; return the status and the JSON answer (None when empty)."""
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(
            method, self.base + path, data=data, headers=headers
        ) as response:
            text = await response.text()
            if text:
                assert response.content_type == "application/json", text
            return response.status, json.loads(text) if text else None

    async def cli_view(self) -> dict[str, Hook]:
        """The hooks as `hookbot hook list` sees them (HookService.list_hooks)."""
        service = HookService(self.app.store, "http://127.0.0.1")
        return {h.id: h for h in await service.list_hooks()}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """hookbot with HOOKBOT_API_TOKEN set and every destination going to one recorder."""
    sink = RecordingSink()
    settings = make_settings(tmp_path, hookbot_api_token=TOKEN)
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        running(settings, sinks=lambda _key: sink) as app,
        aiohttp.ClientSession(timeout=timeout) as session,
    ):
        yield Api(app, sink, f"http://127.0.0.1:{app.port}", session)


async def test_api_off_answers_404_on_every_path(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path), sinks=lambda _key: RecordingSink()) as app:
        hook = await app.store.hooks.create(
            service="github", destination="console", token="t" * 32, secret="s" * 40, now=1.0
        )
        async with aiohttp.ClientSession() as session:
            client = Api(app, RecordingSink(), f"http://127.0.0.1:{app.port}", session)
            for method, path in [
                ("GET", "/api/hooks"),
                ("POST", "/api/hooks"),
                ("GET", f"/api/hooks/{hook.id}"),
                ("DELETE", f"/api/hooks/{hook.id}"),
                ("GET", f"/api/hooks/{hook.id}/deliveries"),
                ("GET", "/api/anything/else"),
            ]:
                for token in (None, TOKEN, ""):
                    status, answer = await client.call(method, path, {}, token=token)
                    assert status == 404, (method, path, token)
                    assert "error" in answer
        assert hook.id in {h.id for h in await app.store.hooks.find_all()}  # nothing deleted


async def test_auth_missing_wrong_and_right_token(api: Api) -> None:
    status, answer = await api.call("GET", "/api/hooks", token=None)
    assert status == 401
    assert "Bearer" in answer["error"]
    for wrong in ("nope", TOKEN[:-1], TOKEN + "x", ""):
        assert (await api.call("GET", "/api/hooks", token=wrong))[0] == 401
    async with api.session.get(
        api.base + "/api/hooks", headers={"Authorization": f"Token {TOKEN}"}
    ) as response:
        assert response.status == 401  # the right secret under another scheme
        assert response.headers["WWW-Authenticate"] == "Bearer"
    status, answer = await api.call("GET", "/api/hooks")
    assert status == 200
    assert answer == {"hooks": []}


async def test_the_token_is_compared_with_compare_digest(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def always_equal(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return True

    monkeypatch.setattr(api_module.hmac, "compare_digest", always_equal)
    # If the decision did not go through compare_digest, a wrong token would still fail.
    status, _ = await api.call("GET", "/api/hooks", token="wrong-token")
    assert status == 200
    assert compared
    assert all(len(a) == len(b) == 32 for a, b in compared)
    monkeypatch.undo()
    assert (await api.call("GET", "/api/hooks", token="wrong-token"))[0] == 401


async def test_crud_round_trip_is_what_the_cli_sees(api: Api) -> None:
    status, made = await api.call(
        "POST", "/api/hooks", {"service": "github", "target": "octo/repo", "events": "push"}
    )
    assert status == 201
    assert made["created"] is True
    hook_id = made["id"]
    cli = (await api.cli_view())[hook_id]
    assert made["secret"] == cli.secret
    assert made["url"].endswith(f"/webhook/github/{cli.token}")
    assert cli.target == "octo/repo"
    assert cli.events == ("push",)
    assert "Payload URL" in made["setup"]

    status, listed = await api.call("GET", "/api/hooks")
    assert status == 200
    assert [h["id"] for h in listed["hooks"]] == [hook_id]
    assert cli.token not in json.dumps(listed)
    assert cli.secret not in json.dumps(listed)

    status, patched = await api.call(
        "PATCH",
        f"/api/hooks/{hook_id}",
        {"events": ["push", "pr"], "filters": ["branch=main"], "aggregate": "5m", "enabled": False},
    )
    assert status == 200
    assert patched["state"] == "off"
    cli = (await api.cli_view())[hook_id]
    assert cli.events == ("push", "pull_request")
    assert cli.filters == ("branch=main",)
    assert cli.window_seconds == 300
    assert cli.enabled is False

    status, shown = await api.call("GET", f"/api/hooks/{hook_id}")
    assert status == 200
    assert shown["url"] == made["url"]
    assert shown["filters"] == ["branch=main"]
    assert shown["filter_counts"] == [{"filter": "branch=main", "kept": 0, "dropped": 0}]
    assert shown["aggregate_seconds"] == 300
    assert "secret" not in shown

    # The same service, target and destination again: re-enabled, not a second hook (like `on`).
    status, again = await api.call(
        "POST", "/api/hooks", {"service": "github", "target": "octo/repo"}
    )
    assert status == 200
    assert again["created"] is False
    assert again["id"] == hook_id
    assert (await api.cli_view())[hook_id].enabled is True

    status, answer = await api.call("DELETE", f"/api/hooks/{hook_id}")
    assert status == 204
    assert answer is None
    assert hook_id not in await api.cli_view()
    status, answer = await api.call("GET", f"/api/hooks/{hook_id}")
    assert status == 404
    assert hook_id in answer["error"]


async def test_a_hook_made_by_the_shell_is_listed_by_the_api(api: Api) -> None:
    service = HookService(api.app.store, "http://127.0.0.1")
    creds = await service.create("gitlab", "console", target="group/project")
    status, listed = await api.call("GET", "/api/hooks")
    assert status == 200
    assert [(h["id"], h["service"], h["target"]) for h in listed["hooks"]] == [
        (creds.hook.id, "gitlab", "group/project")
    ]


async def test_a_webhook_destination_is_shown_redacted(api: Api) -> None:
    url = "https://discord.example/api/webhooks/123/WEBHOOK-TOKEN-abc"
    status, made = await api.call("POST", "/api/hooks", {"service": "custom", "webhook_url": url})
    assert status == 201
    assert (await api.cli_view())[made["id"]].destination == f"webhook:{url}"
    status, listed = await api.call("GET", "/api/hooks")
    assert "WEBHOOK-TOKEN-abc" not in json.dumps(listed)
    assert listed["hooks"][0]["destination"].startswith("webhook:https://discord.example/")


async def test_deliveries_are_paged_newest_first_and_filtered_by_status(api: Api) -> None:
    _, made = await api.call("POST", "/api/hooks", {"service": "github"})
    hook_id = made["id"]
    outcomes = ["queued", "rejected", "queued", "ignored", "rejected", "queued", "rejected"]
    lines = [
        LogEntry(1000.0 + n, outcome, hook_id, f"d{n}", "push")
        for n, outcome in enumerate(outcomes)
    ]
    lines.append(LogEntry(2000.0, "rejected", "hook_999", "other-hook", "push"))
    await api.app.store.log.add(lines)

    pages: list[list[str]] = []
    page: int | None = 1
    while page is not None:
        status, answer = await api.call(
            "GET", f"/api/hooks/{hook_id}/deliveries?page={page}&per_page=3"
        )
        assert status == 200
        assert answer["page"] == page
        assert answer["per_page"] == 3
        pages.append([d["delivery_id"] for d in answer["deliveries"]])
        page = answer["next_page"]
    assert pages == [["d6", "d5", "d4"], ["d3", "d2", "d1"], ["d0"]]

    status, failed = await api.call("GET", f"/api/hooks/{hook_id}/deliveries?status=failed")
    assert status == 200
    assert failed["next_page"] is None
    assert [d["delivery_id"] for d in failed["deliveries"]] == ["d6", "d4", "d1"]
    assert all(d["failed"] and d["outcome"] == "rejected" for d in failed["deliveries"])
    status, second = await api.call(
        "GET", f"/api/hooks/{hook_id}/deliveries?status=failed&page=2&per_page=2"
    )
    assert [d["delivery_id"] for d in second["deliveries"]] == ["d1"]

    for query in ("status=bogus", "page=0", "page=x", "per_page=1000", "per_page=-1"):
        status, answer = await api.call("GET", f"/api/hooks/{hook_id}/deliveries?{query}")
        assert status == 400, query
        assert answer["error"], query


async def test_a_real_delivery_shows_in_the_hooks_ledger(api: Api) -> None:
    _, made = await api.call("POST", "/api/hooks", {"service": "github"})
    body = sample("github/push")
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "real-delivery-1",
        "X-Hub-Signature-256": sign_hmac_sha256(body, made["secret"]),
    }
    async with api.session.post(made["url"], data=body, headers=headers) as response:
        assert response.status == 202
    await api.sink.wait_for(1)
    async with asyncio.timeout(10):
        while True:
            _, answer = await api.call("GET", f"/api/hooks/{made['id']}/deliveries")
            seen = {(d["delivery_id"], d["direction"], d["outcome"]) for d in answer["deliveries"]}
            if ("real-delivery-1", "out", "sent") in seen:
                break
            await asyncio.sleep(0.05)
    assert ("real-delivery-1", "in", "queued") in seen


async def test_test_with_sample_data_posts_that_data(api: Api) -> None:
    _, made = await api.call("POST", "/api/hooks", {"service": "github"})
    data = json.loads(sample("github/push"))
    marker = "Commit message only the API test sends 4c1f"
    data["head_commit"]["message"] = marker
    for commit in data["commits"]:
        commit["message"] = marker
    status, answer = await api.call(
        "POST", f"/api/hooks/{made['id']}/test", {"kind": "push", "sample_data": data}
    )
    assert status == 202
    assert answer["hook"] == made["id"]
    assert "sample data" in answer["sent"]
    await api.sink.wait_for(1, timeout=15)
    message, _nonce = api.sink.sent[0]
    assert marker in json.dumps(message_to_json(message))


async def test_test_without_data_sends_the_bundled_sample_of_that_kind(api: Api) -> None:
    _, made = await api.call("POST", "/api/hooks", {"service": "github", "events": "*"})
    status, answer = await api.call(
        "POST", f"/api/hooks/{made['id']}/test", {"kind": "release.published"}
    )
    assert status == 202
    assert "release" in answer["sent"]
    await api.sink.wait_for(1, timeout=15)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("POST", "/api/hooks", b"{not json", 400, "not JSON"),
        ("POST", "/api/hooks", b"[1, 2]", 400, "JSON object"),
        ("POST", "/api/hooks", b"{}", 400, "service is required"),
        ("POST", "/api/hooks", b'{"service": "nope"}', 400, "known services"),
        ("POST", "/api/hooks", b'{"service": "github", "colour": 1}', 400, "colour"),
        ("POST", "/api/hooks", b'{"service": "github", "new": "yes"}', 400, "true or false"),
        ("POST", "/api/hooks", b'{"service": "github", "events": 5}', 400, "events"),
        ("POST", "/api/hooks", b'{"service": "github", "events": "nonsense"}', 400, "nonsense"),
        ("POST", "/api/hooks", b'{"service": "github", "webhook_url": "ftp://x"}', 400, "webhook"),
        ("POST", "/api/hooks", b'{"service": "github", "channel_id": "123"}', 400, "DISCORD"),
        ("GET", "/api/hooks/hook_404", None, 404, "hook_404"),
        ("GET", "/api/hooks/github", None, 404, "hook_001"),
        ("PATCH", "/api/hooks/hook_404", b'{"enabled": false}', 404, "hook_404"),
        ("PATCH", "/api/hooks/{id}", b"{}", 400, "nothing to change"),
        ("PATCH", "/api/hooks/{id}", b'{"enabled": "no"}', 400, "true or false"),
        ("PATCH", "/api/hooks/{id}", b'{"filters": "branch=main"}', 400, "list of strings"),
        ("PATCH", "/api/hooks/{id}", b'{"filters": ["nokey=1"]}', 400, "nokey"),
        ("PATCH", "/api/hooks/{id}", b'{"aggregate": "2d"}', 400, "24h"),
        ("DELETE", "/api/hooks/hook_404", None, 404, "hook_404"),
        ("GET", "/api/hooks/hook_404/deliveries", None, 404, "hook_404"),
        ("POST", "/api/hooks/{id}/test", b'{"sample_data": [1]}', 400, "JSON object"),
        ("POST", "/api/hooks/{id}/test", b'{"kind": "no_such_kind"}', 400, "no_such_kind"),
        ("PUT", "/api/hooks", b"{}", 405, "method not allowed"),
        ("POST", "/api/hooks/{id}/forwards", b"{}", 400, "url is required"),
        ("POST", "/api/hooks/{id}/forwards", b'{"url": "http://10.0.0.1/"}', 400, "public"),
        ("DELETE", "/api/hooks/{id}/forwards/1", None, 400, "0 forward(s)"),
        ("GET", "/api/nothing/here", None, 404, "not found"),
    ],
)
async def test_bad_requests_get_json_errors(
    api: Api, method: str, path: str, body: bytes | None, status: int, words: str
) -> None:
    _, made = await api.call("POST", "/api/hooks", {"service": "github"})
    got, answer = await api.call(method, path.replace("{id}", made["id"]), raw=body)
    assert got == status, answer
    assert words in answer["error"]
    after = (await api.cli_view())[made["id"]]
    assert after.filters == ()
    assert after.window_seconds is None
    assert after.enabled


async def test_a_patch_refused_halfway_names_what_was_applied(api: Api) -> None:
    _, made = await api.call("POST", "/api/hooks", {"service": "github"})
    status, answer = await api.call(
        "PATCH", f"/api/hooks/{made['id']}", {"events": "push", "filters": ["nokey=1"]}
    )
    assert status == 400
    assert answer["applied"] == ["events"]
    assert "nokey" in answer["error"]
    assert (await api.cli_view())[made["id"]].events == ("push",)


async def test_filters_are_replaced_all_or_nothing(api: Api) -> None:
    _, made = await api.call("POST", "/api/hooks", {"service": "github"})
    path = f"/api/hooks/{made['id']}"
    assert (await api.call("PATCH", path, {"filters": ["branch=main", "author!=bot*"]}))[0] == 200
    status, _ = await api.call("PATCH", path, {"filters": ["branch=dev", "nokey=1"]})
    assert status == 400
    assert (await api.cli_view())[made["id"]].filters == ("branch=main", "author!=bot*")
    assert (await api.call("PATCH", path, {"filters": []}))[0] == 200
    assert (await api.cli_view())[made["id"]].filters == ()


async def test_an_oversized_body_is_refused(api: Api) -> None:
    big = b'{"service": "github", "target": "' + b"x" * (api_module.MAX_BODY + 10) + b'"}'
    status, answer = await api.call("POST", "/api/hooks", raw=big)
    assert status == 413
    assert "limit" in answer["error"]
    assert await api.cli_view() == {}


def test_the_token_setting_is_read_and_checked() -> None:
    assert Settings.from_env({}, env_file=None).hookbot_api_token is None
    assert Settings.from_env({"HOOKBOT_API_TOKEN": "  "}, env_file=None).hookbot_api_token is None
    assert Settings.from_env({"HOOKBOT_API_TOKEN": TOKEN}, env_file=None).hookbot_api_token == TOKEN
    with pytest.raises(ConfigError, match="HOOKBOT_API_TOKEN must be at least 16"):
        Settings.from_env({"HOOKBOT_API_TOKEN": "short"}, env_file=None)
