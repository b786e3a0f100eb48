"""Digests: the seed's summary lines, escaping, Discord's limits under hostile input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from formatters.digest import MAX_LATEST, HeldEvent, format_window, render_digest
from formatters.message import LIMITS, Embed, Message, embed_size
from formatters.render import COLORS
from parsers.github import KINDS
from tests.formatters.conftest import build_event
from tests.formatters.test_limits import HOSTILE, assert_within_discord_limits

END = datetime(2024, 5, 1, 12, 35, tzinfo=UTC)
REPO = "https://github.com/octo/hello-world"
MORE = re.compile(r"\n…and (\d+) more$")
# One "Latest" item: a bullet, then escaped text, optionally linked to a URL without
# spaces, parentheses or angle brackets, optionally followed by the source.
ITEM = re.compile(r"• (?:\[(?:[^\[\]\\]|\\.)+\]\(https?://[^\s()<>\[\]]+\)|[^\n]+)(?: · .+)?")


def held(
    kind: str,
    title: str,
    *,
    branch: str | None = None,
    status: str | None = None,
    url: str | None = REPO,
    service: str = "github",
    source: str = "octo/hello-world",
) -> HeldEvent:
    return HeldEvent(
        service=service,
        kind=kind,
        title=title,
        url=url,
        status=status,
        branch=branch,
        actor="alice",
        source=source,
    )


def seed_window() -> list[HeldEvent]:
    """The seed's example: 3 pushes to 3 branches, PR opened + 2 updates, 2 issues closed."""
    return [
        held("push", "Pushed 2 commits to main", branch="main"),
        held("pull_request.opened", "PR #45 opened: Add OAuth", branch="main", status="open"),
        held("push", "Pushed 1 commit to feature-oauth", branch="feature-oauth"),
        held("pull_request.synchronize", "PR #45 updated: Add OAuth", status="open"),
        held("issues.closed", "Issue #12 closed: Login fails", status="closed"),
        held("push", "Pushed 3 commits to dev", branch="dev"),
        held("pull_request.synchronize", "PR #45 updated: Add OAuth", status="open"),
        held("issues.closed", "Issue #13 closed: Typo", url=f"{REPO}/issues/13"),
    ]


def only_embed(message: Message) -> Embed:
    assert message.content == ""
    (embed,) = message.embeds
    return embed


def description(message: Message) -> str:
    text = only_embed(message).description
    assert text is not None
    return text


def latest_items(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.startswith("• ")]


def hidden_count(text: str) -> int:
    match = MORE.search(text)
    return int(match[1]) if match else 0


# --- golden-ish ------------------------------------------------------------------------


def test_render_digest_seed_window_has_the_seed_lines() -> None:
    """Pushes, PRs and issues are summarised exactly as the seed shows them."""
    message = render_digest(seed_window(), 300, END)
    embed = only_embed(message)
    assert embed.title == "📊 GitHub Activity (last 5m)"
    assert description(message).split("\n")[:4] == [
        "**Pushes:** 3 (main, feature-oauth, dev)",
        "**PRs:** 1 opened, 2 updated",
        "**Issues:** 2 closed",
        "",
    ]
    assert embed.footer == "8 events · window ending 12:35 UTC"
    assert embed.color == COLORS["blue"]
    assert embed.timestamp == END


def test_render_digest_seed_window_lists_newest_first() -> None:
    """Every item of a small window is linked under "Latest", newest first, with no "more"."""
    text = description(render_digest(seed_window(), 300, END))
    assert "\n\n**Latest**\n" in text
    items = latest_items(text)
    assert items[0] == f"• [Issue #13 closed: Typo]({REPO}/issues/13)"
    assert items[-1] == f"• [Pushed 2 commits to main]({REPO})"
    assert len(items) == 8
    assert "more" not in text


def test_render_digest_workflow_runs_counts_passed_and_failed_and_is_red() -> None:
    """Workflow runs are counted by status in words, and a failure turns the embed red."""
    events = [held("workflow_run.completed", f"CI #{n}", status="success") for n in range(4)]
    events.insert(2, held("workflow_run.completed", "CI #9 failed", status="failure"))
    message = render_digest(events, 3600, END)
    assert description(message).startswith("**Workflow runs:** 4 passed, 1 failed\n")
    assert only_embed(message).color == COLORS["red"]


def test_render_digest_ci_service_pipelines_counts_by_status() -> None:
    """Another service's pipelines are counted by status too, under its own name."""
    events = [held("pipeline", "Pipeline", status="success", service="gitlab")] * 4
    events.append(held("pipeline", "Pipeline", status="failed", service="gitlab"))
    message = render_digest(events, 300, END)
    assert only_embed(message).title == "📊 GitLab Activity (last 5m)"
    assert description(message).startswith("**Pipelines:** 4 passed, 1 failed\n")
    assert only_embed(message).color == COLORS["red"]


def test_render_digest_releases_and_unknown_kinds_use_labels_and_fallback() -> None:
    """Releases count by action; a kind with no label falls back to its name and a count."""
    events = [
        held("release.published", "Release v1.0"),
        held("member.added", "bob added"),
        held("custom_thing.happened", "Something"),
        held("custom_thing.happened", "Something else"),
    ]
    lines = description(render_digest(events, 300, END)).split("\n")
    assert "**Releases:** 1 published" in lines
    assert "**Members:** 1 added" in lines
    assert "**Custom thing:** 2" in lines


def test_render_digest_create_counts_branches_and_tags() -> None:
    """Created branches and tags read as nouns, pluralised."""
    events = [held("create.tag", "Tag v1"), held("create.tag", "Tag v2")]
    events.append(held("create.branch", "Branch x"))
    assert description(render_digest(events, 60, END)).startswith("**Created:** 1 branch, 2 tags\n")


def test_render_digest_many_branches_shows_five_then_ellipsis() -> None:
    """A push line names at most five distinct branches, in first-seen order, then "…"."""
    events = [held("push", "p", branch=f"b{n % 7}") for n in range(20)]
    text = description(render_digest(events, 300, END))
    assert text.startswith("**Pushes:** 20 (b0, b1, b2, b3, b4, …)\n")


def test_render_digest_several_services_drops_the_service_from_the_title() -> None:
    """A window holding several services is titled "Activity" and names each item's source."""
    events = [
        held("push", "p", branch="main"),
        held("container.die", "web died", service="docker", source="host-1", url=None),
    ]
    message = render_digest(events, 5400, END)
    assert only_embed(message).title == "📊 Activity (last 1h 30m)"
    assert latest_items(description(message)) == [
        "• web died · host-1",
        f"• [p]({REPO}) · octo/hello-world",
    ]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(60, "1m"), (300, "5m"), (3600, "1h"), (5400, "1h 30m"), (86_400, "24h"), (90, "1m 30s")],
)
def test_format_window_seconds_reads_as_hours_and_minutes(seconds: int, expected: str) -> None:
    """Windows read as 5m / 1h / 24h / 1h 30m."""
    assert format_window(seconds) == expected


def test_render_digest_empty_list_raises_value_error() -> None:
    """The caller never renders an empty window; asking to is an error."""
    with pytest.raises(ValueError, match="at least one event"):
        render_digest([], 300, END)


def test_render_digest_window_end_in_other_zone_prints_utc() -> None:
    """The footer shows the window's end in UTC whatever zone it was given in."""
    end = datetime(2024, 5, 1, 14, 35, tzinfo=timezone(timedelta(hours=2)))
    message = render_digest(seed_window()[:1], 300, end)
    assert only_embed(message).footer == "1 event · window ending 12:35 UTC"


# --- escaping --------------------------------------------------------------------------


def test_render_digest_markdown_and_mentions_in_titles_are_escaped() -> None:
    """`**`, links and @everyone in titles and branches can neither break layout nor ping."""
    events = [
        held("push", "p", branch="**main**"),
        held("issues.opened", "**Boom** @everyone <@123> [x](https://evil) `code`\n# head"),
    ]
    text = description(render_digest(events, 300, END))
    assert text.startswith("**Pushes:** 1 (\\*\\*main\\*\\*)\n")
    item = latest_items(text)[0]
    assert ITEM.fullmatch(item)
    assert "\\*\\*Boom\\*\\*" in item
    assert "@everyone" not in text
    assert "<@123>" not in text
    assert "\\[x\\](https://evil)" in item
    assert "\n#" not in text


def test_render_digest_hostile_url_is_encoded_or_unlinked() -> None:
    """A URL that would end the link early is percent-encoded; a non-http one is not linked."""
    events = [
        held("issues.opened", "one", url="https://x.test/a)b (c)"),
        held("issues.opened", "two", url="javascript:alert(1)"),
    ]
    items = latest_items(description(render_digest(events, 300, END)))
    assert items == ["• two", "• [one](https://x.test/a%29b%20%28c%29)"]


# --- limits ----------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from([HOSTILE, HOSTILE * 40, "x" * 5000, "[", "](", "\n", ""]),
)
urls = st.one_of(
    st.none(),
    st.just(REPO),
    st.just(f"{REPO}/{'a' * 470}"),  # long but linkable: the budget, not the cap, bites
    st.builds(lambda tail: f"{REPO}/{tail}", st.text(max_size=2000)),
    hostile_text,
)
held_events = st.builds(
    HeldEvent,
    service=st.one_of(st.sampled_from(["github", "gitlab", "docker", "ci"]), hostile_text),
    kind=st.one_of(st.sampled_from(KINDS), hostile_text),
    title=hostile_text,
    url=urls,
    status=st.one_of(st.none(), st.sampled_from(["success", "failure", "open"]), hostile_text),
    branch=st.one_of(st.none(), hostile_text),
    actor=st.one_of(st.none(), hostile_text),
    source=hostile_text,
)


@st.composite
def windows(draw: st.DrawFn) -> list[HeldEvent]:
    """1–300 held events, drawn from a pool of up to 40 (so long windows are common)."""
    pool = draw(st.lists(held_events, min_size=1, max_size=40))
    size = draw(st.integers(min_value=1, max_value=300))
    picks = st.integers(min_value=0, max_value=len(pool) - 1)
    return [pool[i] for i in draw(st.lists(picks, min_size=size, max_size=size))]


@given(
    events=windows(),
    seconds=st.integers(min_value=60, max_value=86_400),
    end=st.datetimes(timezones=st.just(UTC)),
)
def test_render_digest_random_windows_fit_discord_limits(
    events: list[HeldEvent], seconds: int, end: datetime
) -> None:
    """Any window renders within every Discord limit and accounts for every event."""
    message = render_digest(events, seconds, end)
    assert_within_discord_limits(message)
    embed = only_embed(message)
    assert len(message.content) <= LIMITS.content
    assert embed.description is not None
    assert len(embed.description) <= LIMITS.description
    assert embed_size(embed) <= LIMITS.total
    text = embed.description
    items = latest_items(text)
    hidden = hidden_count(text)
    assert hidden + len(items) == len(events)
    assert (hidden > 0) == (len(items) < len(events))
    assert len(items) <= MAX_LATEST
    assert all(ITEM.fullmatch(item) for item in items)
    assert "@everyone" not in text
    assert embed.footer is not None
    assert embed.footer.startswith(f"{len(events)} event")


def test_render_digest_300_worst_case_events_fit_and_fold_the_rest() -> None:
    """300 events with distinct hostile kinds and huge text still fit, with "Other events"."""
    events = [
        HeldEvent(
            service="x" + HOSTILE * 9,
            kind=f"{HOSTILE * 3}{n}.{HOSTILE * 4}{n % 9}",
            title=HOSTILE * 20,
            url="https://a.test/" + "()" * 150,
            status="failure",
            branch=HOSTILE * 5 + str(n),
            actor=HOSTILE,
            source=HOSTILE * 5 + str(n % 3),
        )
        for n in range(300)
    ]
    message = render_digest(events, 86_399, END)
    assert_within_discord_limits(message)
    text = description(message)
    assert "\n**Other events:** " in text
    items = latest_items(text)
    assert items
    assert hidden_count(text) + len(items) == 300
    assert all(ITEM.fullmatch(item) for item in items)
    assert only_embed(message).color == COLORS["red"]


def test_render_digest_naive_window_end_is_taken_as_utc() -> None:
    """A naive window end is read as UTC, never as the machine's local time."""
    message = render_digest(seed_window(), 300, datetime(2024, 5, 1, 12, 35))  # noqa: DTZ001
    assert only_embed(message).footer == "8 events · window ending 12:35 UTC"
    assert only_embed(message).timestamp == END


@given(events=windows())
def test_render_digest_random_windows_never_cut_a_link(events: list[HeldEvent]) -> None:
    """Items are whole: each ends its link (or text) before the next line starts."""
    text = description(render_digest(events, 300, END))
    for item in latest_items(text):
        if item.startswith("• ["):
            assert re.search(r"\]\(https?://[^\s()<>]+\)", item)


# --- held events -----------------------------------------------------------------------


@given(held_events)
def test_held_event_json_round_trip_is_identity(event: HeldEvent) -> None:
    """A held event survives to_json → JSON text → from_json unchanged."""
    data = json.loads(json.dumps(event.to_json()))
    assert HeldEvent.from_json(data) == event


def test_held_event_from_event_keeps_what_a_digest_reads() -> None:
    """from_event copies the digest's fields and bounds the title."""
    event = build_event(
        "pull_request.opened", title="t" * 1000, status="open", branch="main", url=REPO
    )
    held_event = HeldEvent.from_event(event)
    assert held_event.kind == "pull_request.opened"
    assert held_event.service == "github"
    assert held_event.source == "octo/hello-world"
    assert (held_event.status, held_event.branch, held_event.actor) == ("open", "main", "alice")
    assert held_event.url == REPO
    assert len(held_event.title) == 256
    assert held_event.title.endswith("…")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"service": "github", "kind": "push", "title": 3, "source": "o/r"},
        {"service": "github", "kind": "push", "title": "t", "source": "o/r", "url": 1},
    ],
)
def test_held_event_from_json_malformed_raises_value_error(data: dict[str, object]) -> None:
    """Missing required keys or wrong types are a ValueError, not a bad digest later."""
    with pytest.raises(ValueError, match="held event"):
        HeldEvent.from_json(data)


def test_held_event_from_json_missing_optional_keys_are_none() -> None:
    """Optional keys may be absent."""
    event = HeldEvent.from_json({"service": "github", "kind": "push", "title": "t", "source": "o"})
    assert (event.url, event.status, event.branch, event.actor) == (None, None, None, None)
