"""The secret never appears in logs, `list`, `info`, `logs` or errors.

Hooks are made and rotated through the CLI verbs (in-process, against the running
server's database), then sent deliveries with bad credentials, some of which carry text
near the secret (the secret with a character appended as a GitLab token, the secret
itself as a Basic user name). `on` and `rotate` print the secret on purpose (stdout, for
the user who asked); every other output, the HTTP answers and the whole log must not
contain any secret the hooks ever had. Chat: the secret goes by DM only
(tests/e2e/test_discord_bot.py::test_bot_hook_on_replies_url_and_dms_the_secret, and the
ephemeral follow-up of ::test_bot_slash_on_gives_secret_ephemerally).
"""

from __future__ import annotations

import asyncio
import base64
import uuid

from parsers import SERVICES
from parsers.signatures import sign_hmac_sha256
from tests.bot.test_cli_ux import Run, hookbot  # noqa: F401 - the in-process CLI fixture
from tests.conftest import sample
from tests.hostile.conftest import Watch


def near_misses(service: str, secret: str) -> list[tuple[str, dict[str, str]]]:
    """(sample, headers replacing its credential) with text close to the secret."""
    hub = {"X-Hub-Signature-256": sign_hmac_sha256(b"", secret)}
    basic = base64.b64encode(f"{secret}:x".encode()).decode()
    return {
        "github": [("push", hub), ("push", {"X-Hub-Signature-256": f"sha256={secret}"})],
        "gitlab": [
            ("push", {"X-Gitlab-Token": secret + "x"}),
            ("push", {"X-Gitlab-Token": secret[:-1]}),
        ],
        "custom": [
            ("server_alert", hub),
            ("server_alert", {"webhook-signature": f"v1,{secret}", "webhook-id": "1"}),
        ],
        "ci": [
            ("jenkins_failed", {"Authorization": f"Basic {basic}"}),
            ("circleci_workflow_failed", {"circleci-signature": f"v1={secret}"}),
            ("actions_run_failed", hub),
        ],
    }[service]


async def test_the_secret_is_never_shown_after_it_is_given(watch: Watch, hookbot: Run):  # noqa: F811
    async def cli(*argv: str) -> tuple[int, str, str]:
        return await asyncio.to_thread(hookbot, "hook", *argv)

    given = []  # what `on` and `rotate` printed on purpose
    for argv in (
        ("on", "github"),
        ("on", "gitlab"),
        ("on", "custom", "alerts", "--signed"),
        ("on", "ci"),
    ):
        code, out, err = await cli(*argv)
        assert code == 0, err
        given.append(out)
    hooks = await watch.app.store.hooks.find_all()
    assert len(hooks) == 4
    secrets = {hook.secret for hook in hooks}
    assert all(any(secret in out for out in given) for secret in secrets)
    code, out, err = await cli("rotate", hooks[0].id, "--grace", "1h")
    assert code == 0, err
    hooks = await watch.app.store.hooks.find_all()
    secrets |= {hook.secret for hook in hooks}
    assert len(secrets) == 5

    answers: list[str] = []
    base = f"http://127.0.0.1:{watch.app.port}/webhook"
    for hook in hooks:
        url = f"{base}/{hook.service}/{hook.token}"
        for kind, change in near_misses(hook.service, hook.secret):
            body = sample(f"{hook.service}/{kind}")
            spec = SERVICES[hook.service]
            headers = spec.sample_headers(kind, body, hook.secret, str(uuid.uuid4())) | change
            status, text = await watch.request(None, body, headers, url=url)  # type: ignore[arg-type]
            assert status == 401, (hook.service, kind, status, text)
            answers.append(text)
    refused = [
        ("info", "hook_999"),
        ("rotate", hooks[0].id, "--grace", "30d"),
        ("format", hooks[0].id, "{{ secret }}"),
        ("format", hooks[0].id, "{{ hook.secret }}"),
        ("test", hooks[0].id, "no_such_kind"),
    ]
    shown = []
    for argv in refused:
        code, out, err = await cli(*argv)
        assert code == 1, (argv, out, err)
        shown.append(out + err)
    for argv in (("list",), *[("info", hook.id) for hook in hooks], ("logs",)):
        code, out, err = await cli(*argv)
        assert code == 0, (argv, err)
        assert out.strip()
        shown.append(out + err)
    assert any("bad signature" in text for text in shown)  # `info` shows the rejections
    await watch.settle()
    assert watch.sink.sent == []
    log = watch.caplog.text  # type: ignore[union-attr]
    assert "rejected delivery" in log
    for secret in secrets:
        assert secret not in log
        assert all(secret not in text for text in shown + answers)
