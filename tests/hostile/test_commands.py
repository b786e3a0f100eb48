"""Template and filter abuse through the service commands (HookService and the CLI verbs).

Every template below is refused by `format` (the sandbox or a bound says why, in one
line) or, when it is harmless, stored and bounded: it renders nothing of Python's
internals and its message fits Discord. Patterns are capped at 256 characters; a glob
with many wildcards against a long name is matched in bounded time. Each command answers
within PER_REQUEST seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from bot.service import HookError, TemplateChange
from parsers.signatures import sign_hmac_sha256
from tests.bot.test_cli_ux import Run, hookbot  # noqa: F401 - the in-process CLI fixture
from tests.conftest import sample
from tests.hostile.conftest import PER_REQUEST, Watch

SSTI = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum.__globals__ }}",
    "{{ config.items() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ payload.__class__ }}",
    "{{ title.format_map({}) }}",
    "{{ '{0.__class__}'.format(title) }}",
    "{{ title|attr('__class__') }}",
    "{{ title|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{% set x = title.__class__ %}{{ x }}",
    "{{ event|map(attribute='__class__')|list }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{% import 'os' as os %}",
]
BOMBS = [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ range(10**9)|list }}",
    "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{{ ('x' * 100000) * 100000 }}",
    "{{ [1] * 10**9 }}",
    "{{ 10**100000 }}",
    "{{ 9**9**9 }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'|indent(10**9) }}",
    "{{ ('x' * 100000)|replace('x', 'yyyyyyyyyy') }}",
    "{{ ','.join(['x'] * 10**8) }}",
    "{{ title * 9999999 }}",
    "{{ 'x'|wordwrap(1) * 100000 }}",
    "{% set s = namespace(v='x') %}{% for i in range(40) %}{% set s.v = s.v ~ s.v %}"
    "{% endfor %}{{ s.v|length }}",
    "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "{{ 'x' ~ ('y' * 20000) }}" * 40,
    "x" * 30_000,
    "{{ title }}" * 10_000,
]
# What a template must never show of the Python it runs in.
INTERNALS = ("<class", "__globals__", "<function", "<built-in", "<module", "__builtins__")

CATASTROPHIC = "*a*a*a*a*a*a*a*a*a*a*b"
LONG = "a" * 10_000


async def timed(call: object) -> tuple[object | None, HookError | None, float]:
    """Await a command; return its answer or the HookError it raised, and the time taken."""
    started = time.perf_counter()
    try:
        answer, error = await call, None  # type: ignore[misc]
    except HookError as exc:
        answer, error = None, exc
    return answer, error, time.perf_counter() - started


def push(branch: str, repo: str = "octo-org/Hello-World", commits: int = 3) -> bytes:
    document = json.loads(sample("github/push"))
    document["ref"] = f"refs/heads/{branch}"
    document["repository"]["full_name"] = repo
    document["commits"] = (document["commits"] * commits)[:commits]
    return json.dumps(document).encode()


async def post_push(watch: Watch, creds: object, body: bytes) -> int:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign_hmac_sha256(body, creds.secret),  # type: ignore[attr-defined]
    }
    status, _ = await watch.request(creds, body, headers)  # type: ignore[arg-type]
    return status


@pytest.mark.parametrize("source", SSTI + BOMBS, ids=lambda s: s[:40])
async def test_template_abuse_is_refused_or_bounded(watch: Watch, source: str):
    creds = await watch.on("github")
    change, error, elapsed = await timed(watch.service.set_template(creds.hook.id, None, source))
    assert elapsed <= PER_REQUEST, f"format took {elapsed:.2f} s"
    if error is not None:
        assert str(error).startswith("template refused: ")
        assert "Traceback" not in str(error)
        assert "\n" not in str(error)
        hook = await watch.service.resolve(creds.hook.id)
        assert dict(hook.templates) == {}
        return
    # Accepted: harmless, and so is the message a real delivery makes with it.
    assert isinstance(change, TemplateChange)
    assert not any(word in change.summary for word in INTERNALS)
    assert await post_push(watch, creds, push("main")) == 202
    await watch.settle()
    (message,) = watch.posted()
    assert len(message.content) <= 2000
    assert not any(word in message.content for word in INTERNALS)
    watch.assert_clean()


async def test_a_template_bounded_only_by_real_data_falls_back_to_the_default(watch: Watch):
    """Fine on the 3-commit sample, a limit breach on 1,000 commits: the default is posted."""
    creds = await watch.on("github")
    source = "{% for i in range(payload.commits|length * 3000) %}x{% endfor %}"
    _change, error, _ = await timed(watch.service.set_template(creds.hook.id, None, source))
    assert error is None, error
    started = time.perf_counter()
    assert await post_push(watch, creds, push("main", commits=1000)) == 202
    await watch.settle()
    assert time.perf_counter() - started <= PER_REQUEST
    (message,) = watch.posted()
    assert message.embeds  # the default embed, not 6,000,000 x's
    watch.assert_clean()


async def test_filter_and_pattern_abuse_is_refused_or_bounded(watch: Watch):
    creds = await watch.on("github")
    ref = creds.hook.id
    refused = [
        watch.service.add_filter(ref, f"branch={LONG}"),
        watch.service.add_filter(ref, f"branch={'*a' * 5000}b"),
        watch.service.add_filter(ref, f"{LONG}=main"),
        watch.service.add_filter(ref, "branch=" + "[" * 300),
        watch.service.set_events(ref, LONG),
        watch.service.set_events(ref, ",".join(["push"] * 5000)),
        watch.service.set_events(ref, f"push.{'*a' * 200}"),
        watch.service.add_alert(ref, "''.__class__.__mro__"),
        watch.service.add_alert(ref, f"branch == '{LONG}'"),
    ]
    for call in refused:
        _answer, error, elapsed = await timed(call)
        assert elapsed <= PER_REQUEST
        assert error is not None
        assert "Traceback" not in str(error)
    # Catastrophic globs are accepted, and matched in bounded time against long names.
    for rule in (f"branch={CATASTROPHIC}", f"repo!={CATASTROPHIC}", f"author!={CATASTROPHIC}"):
        _answer, error, elapsed = await timed(watch.service.add_filter(ref, rule))
        assert error is None, error
        assert elapsed <= PER_REQUEST
    matching = "a" * 200 + "b"
    for branch in ("a" * 5000, "a" * 100_000, matching):
        started = time.perf_counter()
        assert (
            await post_push(watch, creds, push(branch, repo="a" * 5000 + "/" + "a" * 5000)) == 202
        )
        await watch.settle()
        assert time.perf_counter() - started <= PER_REQUEST, len(branch)
    # Only the branch ending in b passes `branch=*a…*b`.
    (message,) = watch.posted()
    assert "aaab" in json.dumps([e.title for e in message.embeds])
    watch.assert_clean()


async def test_cli_verbs_refuse_abuse_in_one_line(watch: Watch, hookbot: Run):  # noqa: F811
    """The shell adapter answers the same abuse with one ❌ line and no traceback."""
    creds = await watch.on("github")
    cases = [
        ("format", creds.hook.id, "{{ cycler.__init__.__globals__ }}"),
        ("format", creds.hook.id, "{% for i in range(10**9) %}x{% endfor %}"),
        ("format", creds.hook.id, "{{ 'x' * 10**9 }}"),
        ("filter", creds.hook.id, f"branch={LONG}"),
        ("events", creds.hook.id, LONG),
    ]
    for verb, ref, text in cases:
        started = time.perf_counter()
        code, out, err = await asyncio.to_thread(hookbot, "hook", verb, ref, text)
        elapsed = time.perf_counter() - started
        assert elapsed <= PER_REQUEST + 0.5, f"{verb}: {elapsed:.2f} s"  # + the CLI's start-up
        assert code == 1, (verb, out, err)
        assert err.startswith("❌ ")
        assert len(err.strip().splitlines()) <= 2, err
        assert "Traceback" not in err + out
        assert creds.secret not in err + out
    hook = await watch.service.resolve(creds.hook.id)
    assert (dict(hook.templates), list(hook.filters)) == ({}, [])
