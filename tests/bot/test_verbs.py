"""bot/core/verbs.py and wording.py: every `hook` command read once, for both adapters."""

from __future__ import annotations

import re

import pytest

from bot.core.verbs import (
    AddForward,
    Aggregate,
    AlertIf,
    Create,
    Delete,
    Disable,
    Enable,
    Events,
    Filter,
    Format,
    Forward,
    Help,
    Info,
    ListHooks,
    Logs,
    RemoveAll,
    RemoveOne,
    Replay,
    Rotate,
    SendTest,
    ShowAll,
    TryOne,
    VerbError,
    parse_command,
    parse_forward,
)
from bot.core.wording import (
    DurationError,
    format_duration,
    parse_duration,
    state_word,
    window_words,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("help", Help()),
        ("github on", Create("github")),
        ("on github", Create("github")),
        # The seed's own example, in both word orders: the selection is not a target.
        (
            "github on --events push,pr,release",
            Create("github", events="push,pr,release"),
        ),
        (
            "on github --events push,pr,release",
            Create("github", events="push,pr,release"),
        ),
        (
            "on github octo/b --events push, pr --new",
            Create("github", target="octo/b", events="push, pr", new=True),
        ),
        ("on github --events=push octo/a", Create("github", target="octo/a", events="push")),
        ("on custom alerts --signed", Create("custom", target="alerts", signed=True)),
        ("on hook_001", Enable("hook_001")),
        ("hook_001 on", Enable("hook_001")),
        ("off github", Disable("github")),
        ("list", ListHooks()),
        ("hook_001 info", Info("hook_001")),
        ("delete hook_001", Delete("hook_001")),
        ("delete hook_001 yes", Delete("hook_001", confirmed=True)),
        ("delete hook_001 --yes", Delete("hook_001", confirmed=True)),
        ("test hook_001", SendTest("hook_001")),
        ("test hook_001 pull_request", SendTest("hook_001", "pull_request")),
        ("rotate hook_001", Rotate("hook_001")),
        ("rotate hook_001 24h", Rotate("hook_001", "24h")),
        ("rotate hook_001 --grace 7d", Rotate("hook_001", "7d")),
        ("logs", Logs()),
        ("logs hook_001", Logs("hook_001")),
        ("logs --failed --page 3", Logs(None, failed=True, page=3)),
        ("github logs --page=2", Logs("github", page=2)),
        ("replay 7e1c-42", Replay("7e1c-42")),
        ("events hook_001", Events("hook_001")),
        ("events hook_001 push, pr -star", Events("hook_001", "push, pr -star")),
        ("filter hook_001 list", Filter("hook_001", ShowAll())),
        ("filter hook_001 remove 2", Filter("hook_001", RemoveOne(2))),
        ("github filter clear", Filter("github", RemoveAll())),
        (
            "filter hook_001 author!=dependabot[bot]",
            Filter("hook_001", rule="author!=dependabot[bot]"),
        ),
        (
            "filter hook_001 label=good first issue",
            Filter("hook_001", rule="label=good first issue"),
        ),
        ("aggregate github 5m", Aggregate("github", "5m")),
        ("aggregate github OFF", Aggregate("github", "off")),
        ("alert-if hook_001 list", AlertIf("hook_001", ShowAll())),
        ("alert-if hook_001 remove 1", AlertIf("hook_001", RemoveOne(1))),
        (
            'alert-if hook_001 "pr.reviews >= 2" --mention 123',
            AlertIf("hook_001", expression='"pr.reviews >= 2"', mention="123"),
        ),
        (
            "alert-if hook_001 --mention <@&9> pr.checks == 'failed'",
            AlertIf("hook_001", expression="pr.checks == 'failed'", mention="<@&9>"),
        ),
    ],
)
def test_verbs_read_each_command(text: str, expected: object):
    """Each command of DESIGN's grammar reads into its request, in either word order."""
    assert parse_command(text) == expected


def test_verbs_templates_keep_their_spacing_and_newlines():
    """A template typed over several lines (a code block) reaches the service as typed."""
    request = parse_command("format hook_001 push ```\n🚀 {{ author }}\n  {{ branch }}\n```")
    assert request == Format("hook_001", "push", "```\n🚀 {{ author }}\n  {{ branch }}\n```")
    assert parse_command("hook_001 format reset --preview") == Format(
        "hook_001", None, None, preview=True
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("github", "on github"),
        ("infi hook_001", "did you mean `info`"),
        ("hook_001", "info hook_001"),
        ("on", "needs a service"),
        ("on gitlub", "neither a service nor a hook id"),
        ("on github --bogus", "unknown option --bogus"),
        ("on github --events", "--events needs a value"),
        ("on github a b", "one target at most"),
        ("on hook_001 --new", "for creating a hook"),
        ("on github --new=yes", "takes no value"),
        ("on github --events push --events pr", "given twice"),
        ("info", "`info` needs a hook"),
        ("info hook_001 extra", "unexpected 'extra'"),
        ("list everything", "unexpected"),
        ("delete hook_001 now", "unexpected 'now'"),
        ("rotate hook_001 soon", "not a duration"),
        ("logs a b", "one hook at most"),
        ("logs --page 0", "--page takes a number"),
        ("replay", "needs a delivery id"),
        ("filter hook_001", "give a filter"),
        ("filter hook_001 remove", "remove <n>"),
        ("filter hook_001 remove two", "remove <n>"),
        ("filter hook_001 list all", "takes nothing after it"),
        ("format hook_001", "give a template"),
        ("aggregate hook_001", "give one window"),
        ("aggregate hook_001 5 minutes", "give one window"),
        ("aggregate hook_001 soon", "not a duration"),
        ("alert-if hook_001", "give a rule"),
        ("alert-if hook_001 pr.reviews > 1 --mention", "--mention needs a role"),
    ],
)
def test_verbs_refuse_with_what_to_type(text: str, words: str):
    """Words a verb does not take are refused with a message that says what to type."""
    with pytest.raises(VerbError) as caught:
        parse_command(text)
    assert words in str(caught.value)


def test_verbs_forward_reads_options_and_sub_verbs():
    """`forward` (for the forwards issue): endpoint options, ranges, and list/remove/test."""
    request = parse_forward(
        "hook_001 https://ci.example/hook --header X-Env:prod --retries 5 --timeout 60s "
        '--events push, pr --header X-Team:core --body {"text": {{ title|tojson }}}'
    )
    assert request == Forward(
        "hook_001",
        add=AddForward(
            url="https://ci.example/hook",
            events="push, pr",
            headers=(("X-Env", "prod"), ("X-Team", "core")),
            retries=5,
            timeout_seconds=60,
            body='{"text": {{ title|tojson }}}',
        ),
    )
    assert parse_forward("hook_001 https://a.example") == Forward(
        "hook_001", add=AddForward("https://a.example")
    )
    assert parse_forward("hook_001 list") == Forward("hook_001", ShowAll())
    assert parse_forward("hook_001 test 2") == Forward("hook_001", TryOne(2))
    for bad, words in [
        ("hook_001 ftp://x", "http(s) URL"),
        ("hook_001 https://a --retries 11", "--retries takes 0 to 10"),
        ("hook_001 https://a --timeout 2s", "--timeout takes 5s to 300s"),
        ("hook_001 https://a --timeout 6m", "--timeout takes 5s to 300s"),
        ("hook_001 https://a --header nocolon", "not Name:value"),
        ("hook_001 https://a --body", "--body needs a template"),
    ]:
        with pytest.raises(VerbError, match=re.escape(words)):
            parse_forward(bad)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("24h", 86400), ("7d", 604800), (" 2H ", 7200)]
)
def test_wording_durations_read(text: str, seconds: int):
    """Durations read in seconds, with any case and surrounding spaces."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "5 minutes", "-5m", "1.5h", "5w"])
def test_wording_durations_refused(text: str):
    """Anything but a whole number and one of s, m, h, d is refused with examples."""
    with pytest.raises(DurationError, match="24h"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (45, "45s"),
        (60, "1m"),
        (300, "5m"),
        (5400, "90m"),
        (3600, "1h"),
        (86400, "24h"),
        (604800, "7d"),
    ],
)
def test_wording_durations_written_in_the_largest_exact_unit(seconds: int, text: str):
    """Written back in the unit a person would type; round trips through parse_duration."""
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_wording_state_and_window():
    """One spelling of a hook's state and window for the CLI and the Cog."""
    assert state_word(True, None) == "on"
    assert state_word(False, None) == "off"
    assert state_word(True, "404 Unknown Channel") == "failing"
    assert window_words(None) == "off"
    assert window_words(86400) == "every 24h"
    assert window_words(300) == "every 5m"
