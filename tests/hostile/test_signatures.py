"""Bad and missing credentials, per provider: 401, counted, nothing posted, secret unseen.

Each provider's bundled sample is signed as its sender signs it (the registry's
`sample_headers`), then the credential is removed, blanked, forged or broken. A genuine
delivery at the end proves the hook itself works (so the 401s are about the credential).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable

import pytest

from parsers import SERVICES
from parsers.custom import sign_standard
from parsers.gitlab import sign_standard_webhooks
from parsers.signatures import sign_hmac_sha256
from tests.conftest import sample
from tests.hostile.conftest import Watch

Headers = dict[str, str]
Break = Callable[[Headers, bytes, str], Headers]


def without(*names: str) -> Break:
    def change(headers: Headers, body: bytes, secret: str) -> Headers:
        return {k: v for k, v in headers.items() if k.lower() not in {n.lower() for n in names}}

    return change


def setting(name: str, value: str) -> Break:
    def change(headers: Headers, body: bytes, secret: str) -> Headers:
        return {**without(name)(headers, body, secret), name: value}

    return change


def both(first: Break, then: Break) -> Break:
    def change(headers: Headers, body: bytes, secret: str) -> Headers:
        return then(first(headers, body, secret), body, secret)

    return change


def hub_signed_with(other: str, prefix: str = "sha256=") -> Break:
    def change(headers: Headers, body: bytes, secret: str) -> Headers:
        value = sign_hmac_sha256(body, other).replace("sha256=", prefix)
        return setting("X-Hub-Signature-256", value)(headers, body, secret)

    return change


def standard(sign: Callable[[bytes, str, str, int], Headers], key: str, drop: str = "") -> Break:
    """Standard Webhooks headers signed with `key` ("" = the hook's secret), `drop` removed."""

    def change(headers: Headers, body: bytes, secret: str) -> Headers:
        signed = sign(body, key or secret, str(uuid.uuid4()), int(time.time()))
        return without(drop)({**headers, **signed}, body, secret) if drop else headers | signed

    return change


def tampered_standard(sign: Callable[[bytes, str, str, int], Headers]) -> Break:
    """A genuine Standard Webhooks signature of another body."""

    def change(headers: Headers, body: bytes, secret: str) -> Headers:
        return headers | sign(body + b" ", secret, str(uuid.uuid4()), int(time.time()))

    return change


def basic(credentials: bytes, scheme: str = "Basic") -> Break:
    return setting("Authorization", f"{scheme} {base64.b64encode(credentials).decode()}")


HUB = "X-Hub-Signature-256"
# (service, sample, `on` flags, how the credential is broken)
CASES: dict[str, tuple[str, str, dict[str, bool], Break]] = {
    "github-missing": ("github", "push", {}, without(HUB)),
    "github-blank": ("github", "push", {}, setting(HUB, "")),
    "github-wrong-secret": ("github", "push", {}, hub_signed_with("not the secret")),
    "github-sha1-only": (
        "github",
        "push",
        {},
        both(without(HUB), setting("X-Hub-Signature", "sha1=" + "0" * 40)),
    ),
    "github-not-hex": ("github", "push", {}, setting(HUB, "sha256=" + "zz" * 32)),
    "github-short": ("github", "push", {}, setting(HUB, "sha256=" + "ab" * 31)),
    "github-huge": ("github", "push", {}, setting(HUB, "sha256=" + "ab" * 3000)),
    "github-other-algorithm": ("github", "push", {}, setting(HUB, "md5=" + "ab" * 16)),
    "gitlab-token-missing": ("gitlab", "push", {}, without("X-Gitlab-Token")),
    "gitlab-token-blank": ("gitlab", "push", {}, setting("X-Gitlab-Token", "")),
    "gitlab-token-wrong": ("gitlab", "push", {}, setting("X-Gitlab-Token", "guess")),
    "gitlab-token-non-ascii": ("gitlab", "push", {}, setting("X-Gitlab-Token", "é\u202e")),
    "gitlab-standard-wrong-key": (
        "gitlab",
        "push",
        {},
        standard(
            sign_standard_webhooks,
            "whsec_" + base64.b64encode(b"k" * 32).decode(),
            "X-Gitlab-Token",
        ),
    ),
    "gitlab-standard-tampered": ("gitlab", "push", {}, tampered_standard(sign_standard_webhooks)),
    "gitlab-standard-malformed": (
        "gitlab",
        "push",
        {},
        setting("webhook-signature", "v1,!!!not base64"),
    ),
    "custom-signed-missing": ("custom", "server_alert", {"signed": True}, without(HUB)),
    "custom-signed-wrong": ("custom", "server_alert", {"signed": True}, hub_signed_with("x")),
    "custom-signed-standard-wrong": (
        "custom",
        "server_alert",
        {"signed": True},
        standard(sign_standard, "another secret", HUB),
    ),
    "custom-signed-standard-tampered": (
        "custom",
        "server_alert",
        {"signed": True},
        tampered_standard(sign_standard),
    ),
    "custom-signed-standard-blank": (
        "custom",
        "server_alert",
        {"signed": True},
        setting("webhook-signature", ""),
    ),
    "custom-unsigned-wrong": ("custom", "server_alert", {}, hub_signed_with("x")),
    "custom-unsigned-standard-wrong": (
        "custom",
        "server_alert",
        {},
        standard(sign_standard, "another secret", HUB),
    ),
    "circleci-missing": ("ci", "circleci_workflow_failed", {}, without("circleci-signature")),
    "circleci-zero": (
        "ci",
        "circleci_workflow_failed",
        {},
        setting("circleci-signature", "v1=" + "0" * 64),
    ),
    "circleci-v2-only": ("ci", "circleci_workflow_failed", {}, hub_signed_with("", "v2=")),
    "circleci-wrong-secret": (
        "ci",
        "circleci_workflow_failed",
        {},
        setting("circleci-signature", sign_hmac_sha256(b"", "x").replace("sha256=", "v1=")),
    ),
    "jenkins-wrong-password": ("ci", "jenkins_failed", {}, basic(b"jenkins:wrong")),
    "jenkins-no-password": ("ci", "jenkins_failed", {}, basic(b"jenkins")),
    "jenkins-bearer": ("ci", "jenkins_failed", {}, setting("Authorization", "Bearer abc")),
    "jenkins-not-base64": ("ci", "jenkins_failed", {}, setting("Authorization", "Basic %%%")),
    "actions-missing": ("ci", "actions_run_failed", {}, without(HUB)),
}


@pytest.mark.parametrize("service", ["github", "gitlab", "custom", "ci"])
async def test_bad_credentials_are_401_counted_and_leave_no_trace(watch: Watch, service: str):
    cases = {name: case for name, case in CASES.items() if case[0] == service}
    hooks = {}
    for _name, (_service, kind, flags, _break) in cases.items():
        key = (kind, tuple(sorted(flags)))
        if key not in hooks:
            # A separate target per policy: `on` reuses a hook of the same target.
            target = f"alerts-{len(hooks)}" if service == "custom" else None
            hooks[key] = await watch.on(service, target, **flags)
    answers = []
    for name, (_service, kind, flags, breaks) in cases.items():
        creds = hooks[(kind, tuple(sorted(flags)))]
        body = sample(f"{service}/{kind}")
        genuine = SERVICES[service].sample_headers(kind, body, creds.secret, str(uuid.uuid4()))
        if "v2-only" in name:
            genuine = without("circleci-signature")(genuine, body, creds.secret)
            genuine["circleci-signature"] = sign_hmac_sha256(body, creds.secret).replace(
                "sha256=", "v2="
            )
        else:
            genuine = breaks(genuine, body, creds.secret)
        status, text = await watch.request(creds, body, genuine)
        assert status == 401, (name, status, text)
        answers.append(text)
    await watch.settle()
    assert watch.sink.sent == []
    assert await watch.app.store.inbox.count() == 0
    counted = 0
    for creds in {c.hook.id: c for c in hooks.values()}.values():  # `on ci` reuses its hook
        hook = await watch.service.resolve(creds.hook.id)
        counted += hook.rejections.get("bad signature", 0)
        assert creds.secret not in watch.caplog.text  # type: ignore[union-attr]
        assert all(creds.secret not in answer for answer in answers)
    assert counted == len(cases)
    # The same hooks take a genuine delivery: the 401s were about the credential only.
    for (kind, _flags), creds in hooks.items():
        body = sample(f"{service}/{kind}")
        headers = SERVICES[service].sample_headers(kind, body, creds.secret, str(uuid.uuid4()))
        status, _text = await watch.request(creds, body, headers)
        assert status in (200, 202), kind
    await watch.settle()
    assert len(watch.sink.sent) == len(hooks)
    watch.assert_clean()
