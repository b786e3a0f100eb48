"""Hostile text in every free-text field: mentions, masked links, markdown, controls.

Each sample's free-text strings (names, titles, messages, branches, repositories: every
string leaf except structural enums, URLs, timestamps and hashes) get a hostile suffix,
and the delivery is posted, signed, to two hooks: one with the default embeds, one with a
user template that prints the names and the whole raw payload. Every delivery is posted
(2xx, one message per hook), the hostile text reached the message (its visible part is
there), and the checks of conftest.py find no live mention, no masked link to a foreign
URL or another scheme, and no raw control character or bidi override.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

from bot.service import HookCredentials
from formatters.message import message_to_text
from parsers import SERVICES
from tests.conftest import sample
from tests.hostile.conftest import Watch

# Keys whose values are enums or identifiers the parsers branch on, not free text.
STRUCTURAL = frozenset(
    {
        "action", "state", "status", "object_kind", "event_type", "event_name", "type",
        "phase", "kind", "ref_type", "conclusion", "id", "sha", "after", "before",
        "checkout_sha", "commit", "merge_status", "detailed_merge_status", "noteable_type",
        "visibility", "severity", "event", "timestamp", "source",
    }
)  # fmt: skip
NOT_FREE_TEXT = re.compile(r"^(https?://|git@|\d{4}-\d\d-\d\d|[0-9a-f]{7,40}$)|\.git$")

SAMPLES = {
    "github": ["push", "pull_request", "issues", "release"],
    "gitlab": ["push", "merge_request"],
    "ci": ["jenkins_failed", "circleci_workflow_failed"],
    "custom": ["server_alert"],
}

# name -> (suffix, a visible part the message must still show)
HOSTILE = {
    "mentions": ("@everyone @here <@&123> <@123> <@!456> <#789>", "everyone"),
    "links": (
        "[https://github.com/x](http://evil.example) [a](javascript:alert(1)) "
        "x](javascript:alert(2)) <http://evil.example>",
        "github.com/x",
    ),
    "fence-break": ("``` @everyone [x](http://evil.example) ``` `` <@&1> ``", "x"),
    "markdown": ("```\n# Heading\n> quote\n**b** __u__ ~~s~~ ||spoiler|| `c`", "Heading"),
    "controls": ("\x1b[2J\x1b]0;title\x07 CR\r BS\b DEL\x7f NUL\x00 C1\x85\x9b end", "end"),
    "bidi": ("\u202egnp.exe \u202dltr \u2066iso\u2069 \u202ax\u202c", "gnp"),
    "zero-width": ("a\u200bb\u200cc\u200dd\ufeffe\u2060f", "f"),
}

TEMPLATE = (
    "{{ title }} by {{ actor }} on {{ branch }} in {{ repo }} ({{ status }})\n"
    "{{ fields }}\n{{ payload }}"
)


def hostile(value: object, suffix: str, key: str = "") -> object:
    """`value` with `suffix` added to every free-text string in it."""
    if isinstance(value, dict):
        return {k: hostile(v, suffix, k) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile(v, suffix, key) for v in value]
    if isinstance(value, str) and key not in STRUCTURAL and not NOT_FREE_TEXT.search(value):
        return f"{value} {suffix}"
    return value


def unique(document: dict[str, object], number: int) -> None:
    """A body-identified delivery (CircleCI, Jenkins) gets its own id."""
    if "happened_at" in document:
        document["id"] = str(uuid.uuid4())
    build = document.get("build")
    if isinstance(build, dict):
        build["number"] = 1000 + number


@pytest.mark.parametrize("service", list(SAMPLES))
async def test_hostile_text_is_neutralised_in_embeds_and_templates(watch: Watch, service: str):
    target = "alerts" if service == "custom" else None
    plain = await watch.on(service, target)
    templated = await watch.service.create(service, "console", target=target, new=True)
    change = await watch.service.set_template(templated.hook.id, None, TEMPLATE)
    assert change.preview is not None
    spec = SERVICES[service]
    posts: list[tuple[HookCredentials, str]] = []
    for name in SAMPLES[service]:
        for label, (suffix, visible) in HOSTILE.items():
            document = hostile(json.loads(sample(f"{service}/{name}")), suffix)
            assert isinstance(document, dict)
            for creds in (plain, templated):
                unique(document, len(posts))
                body = json.dumps(document).encode()
                headers = spec.sample_headers(name, body, creds.secret, str(uuid.uuid4()))
                status, text = await watch.request(creds, body, headers)
                assert status == 202, (name, label, text)
                posts.append((creds, visible))
    await watch.settle()
    assert len(watch.sink.sent) == len(posts)
    texts = sorted(message_to_text(message) for message in watch.posted())
    for _creds, visible in posts:
        assert any(visible in text for text in texts), visible
    assert any(not message.embeds and message.content for message in watch.posted())
    watch.assert_clean()
    watch.assert_no_tracebacks()


async def test_a_url_field_cannot_open_a_masked_link_to_another_host(watch: Watch):
    """A payload URL holding `)` stays one link to its own host (the `href` filter)."""
    creds = await watch.on("ci")
    document = json.loads(sample("ci/jenkins_failed"))
    document["build"]["full_url"] = "https://jenkins.example.com/1/) [log in](http://evil.example/x"
    body = json.dumps(document).encode()
    headers = SERVICES["ci"].sample_headers("jenkins_failed", body, creds.secret, "")
    status, _ = await watch.request(creds, body, headers)
    assert status == 202
    await watch.settle()
    assert len(watch.sink.sent) == 1
    watch.assert_clean()
