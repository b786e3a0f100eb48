"""clamp() keeps every Discord limit, and Messages survive storage and Discord's JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from formatters.message import (
    BLANK,
    LIMITS,
    Embed,
    EmbedField,
    Message,
    clamp,
    embed_size,
    message_from_json,
    message_to_discord_payload,
    message_to_json,
)

T = TypeVar("T")

HIGH, LOW = "\ud83d", "\ude00"  # the UTF-16 halves of 😀, as lone code points

# Pieces that make cuts interesting: surrogate pairs, lone halves, astral chars, blanks.
pieces = st.one_of(
    st.characters(exclude_categories=()),
    st.sampled_from([HIGH + LOW, HIGH, LOW, "😀", " ", "\n", "a", "…"]),
)
short_text = st.lists(pieces, max_size=40).map("".join)
# Long strings cheaply: a short text repeated, up to several times any limit.
long_text = st.builds(lambda text, times: text * times, short_text, st.integers(0, 400))
any_text = st.one_of(short_text, long_text)


def repeated(
    items: st.SearchStrategy[T], most: int, times: int
) -> st.SearchStrategy[tuple[T, ...]]:
    """Up to `most` distinct items, repeated up to `times` times: long tuples, cheaply."""
    return st.builds(
        lambda some, n: tuple(some) * n, st.lists(items, max_size=most), st.integers(1, times)
    )


fields = st.builds(EmbedField, name=any_text, value=any_text, inline=st.booleans())
embeds = st.builds(
    Embed,
    title=st.none() | any_text,
    description=st.none() | any_text,
    url=st.none() | st.just("https://example.com"),
    color=st.none() | st.integers(0, 0xFFFFFF),
    author=st.none() | any_text,
    footer=st.none() | any_text,
    fields=repeated(fields, most=3, times=12),
)
messages = st.builds(Message, content=any_text, embeds=repeated(embeds, most=3, times=5))


def limit_violations(message: Message) -> list[str]:
    """List every Discord limit the message breaks."""
    found = []
    if len(message.content) > LIMITS.content:
        found.append("content")
    if len(message.embeds) > LIMITS.embeds:
        found.append("embeds")
    for embed in message.embeds:
        for name in ("title", "description", "author", "footer"):
            text = getattr(embed, name)
            if text is not None and len(text) > getattr(LIMITS, name):
                found.append(name)
        if len(embed.fields) > LIMITS.fields:
            found.append("fields")
        for field in embed.fields:
            if len(field.name) > LIMITS.field_name or not field.name.strip():
                found.append("field name")
            if len(field.value) > LIMITS.field_value or not field.value.strip():
                found.append("field value")
    if sum(embed_size(e) for e in message.embeds) > LIMITS.total:
        found.append("total")
    return found


def splits_pair(original: str, clamped: str) -> bool:
    """Say whether `clamped` is a cut of `original` that kept half a surrogate pair."""
    if clamped == original or not clamped.endswith("…"):
        return False
    kept = clamped[:-1]
    assert original.startswith(kept)
    return bool(kept) and is_high(kept[-1]) and is_low(original[len(kept)])


def is_high(char: str) -> bool:
    """Say whether a character is a UTF-16 high surrogate code point."""
    return "\ud800" <= char <= "\udbff"


def is_low(char: str) -> bool:
    """Say whether a character is a UTF-16 low surrogate code point."""
    return "\udc00" <= char <= "\udfff"


def string_pairs(before: Message, after: Message) -> list[tuple[str, str]]:
    """Pair each clamped string with the one it came from."""
    pairs = [(before.content, after.content)]
    for old, new in zip(before.embeds, after.embeds, strict=False):
        for name in ("title", "description", "author", "footer"):
            if getattr(old, name) is not None and getattr(new, name) is not None:
                pairs.append((getattr(old, name), getattr(new, name)))
        for old_field, new_field in zip(old.fields, new.fields, strict=False):
            pairs += [(old_field.name, new_field.name), (old_field.value, new_field.value)]
    return pairs


@given(messages)
def test_clamp_any_message_respects_every_limit(message: Message) -> None:
    """clamp() never raises and its result breaks no Discord limit."""
    assert limit_violations(clamp(message)) == []


@given(messages)
def test_clamp_any_message_never_splits_a_surrogate_pair(message: Message) -> None:
    """No cut string keeps the high half of a pair whose low half was cut off."""
    clamped = clamp(message)
    assert not any(splits_pair(old, new) for old, new in string_pairs(message, clamped))


@given(messages)
def test_clamp_twice_same_as_once(message: Message) -> None:
    """clamp() is idempotent."""
    once = clamp(message)
    assert clamp(once) == once


@given(messages)
def test_clamp_message_within_limits_unchanged(message: Message) -> None:
    """A message that already fits (and has no blank fields) comes back as it was."""
    if limit_violations(message) == []:
        assert clamp(message) == message


def test_clamp_content_over_limit_cut_with_ellipsis() -> None:
    """Content past 2000 characters is cut to exactly 2000, ending in "…"."""
    clamped = clamp(Message(content="x" * 5000))
    assert len(clamped.content) == LIMITS.content
    assert clamped.content.endswith("…")


def test_clamp_cut_at_surrogate_pair_drops_whole_pair() -> None:
    """A cut that would fall between the halves of a pair drops the high half too."""
    content = "a" * 1998 + HIGH + LOW + "tail"
    assert clamp(Message(content=content)).content == "a" * 1998 + "…"


def test_clamp_astral_character_at_cut_kept_whole() -> None:
    """An astral character is one Python character and is never split."""
    content = "a" * 1998 + "😀" + "tail"
    assert clamp(Message(content=content)).content == "a" * 1998 + "😀…"


def test_clamp_blank_field_name_and_value_become_zero_width_space() -> None:
    """Empty or whitespace-only field names and values become "\\u200b"."""
    embed = Embed(fields=(EmbedField(name="", value="  \n"),))
    (field,) = clamp(Message(embeds=(embed,))).embeds[0].fields
    assert (field.name, field.value) == (BLANK, BLANK)


def test_clamp_extra_embeds_and_fields_dropped() -> None:
    """Only the first 10 embeds and the first 25 fields of each survive."""
    embed = Embed(title="t", fields=tuple(EmbedField(f"n{i}", "v") for i in range(30)))
    clamped = clamp(Message(embeds=(embed,) * 12))
    assert len(clamped.embeds) == LIMITS.embeds
    assert {len(e.fields) for e in clamped.embeds} == {LIMITS.fields}
    assert clamped.embeds[0].fields[-1].name == "n24"


def test_clamp_total_over_6000_shrinks_then_drops_trailing_embeds() -> None:
    """Embeds over the 6000 total: the first is kept, the next shrunk, the rest dropped."""
    embed = Embed(title="t", description="d" * 4000)
    clamped = clamp(Message(embeds=(embed,) * 3))
    assert [len(e.description or "") for e in clamped.embeds] == [4000, 1998]
    assert sum(embed_size(e) for e in clamped.embeds) == LIMITS.total


def test_clamp_huge_push_like_message_fits_quickly() -> None:
    """A 2,000-commit digest with many fields and embeds is clamped, fast."""
    lines = "\n".join(f"[`{n:07x}`](https://x/{n}) commit {n} 😀 — alice" for n in range(2000))
    many = tuple(EmbedField(f"commit {n}", lines[:5000]) for n in range(40))
    embed = Embed(title="🚀 " * 300, description=lines, footer=lines, author=lines, fields=many)
    message = Message(content=lines, embeds=(embed,) * 15)
    clamped = clamp(message)
    assert limit_violations(clamped) == []
    assert clamped.embeds[0].description is not None
    assert clamped.embeds[0].description.startswith("[`0000000`]")


def test_message_json_round_trip_keeps_everything() -> None:
    """message_from_json(message_to_json(m)) == m, timestamps included."""
    message = Message(
        content="hi",
        embeds=(
            Embed(
                title="t",
                description="d",
                url="https://x",
                color=0x2EA043,
                author="alice",
                author_icon_url="https://a",
                footer="f",
                timestamp=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
                fields=(EmbedField("n", "v", inline=True),),
            ),
            Embed(description="second"),
        ),
    )
    stored = message_to_json(message)
    assert stored["embeds"][0]["timestamp"] == "2024-05-01T12:30:00+00:00"
    assert message_from_json(stored) == message


@given(messages)
def test_message_json_round_trip_any_message(message: Message) -> None:
    """Any message survives a JSON round trip unchanged."""
    assert message_from_json(message_to_json(message)) == message


@pytest.mark.parametrize(
    "data",
    [{"content": 3}, {"embeds": [{"color": "red"}]}, {"embeds": [{"fields": [{"x": 1}]}]}],
)
def test_message_from_json_malformed_raises_value_error(data: dict[str, object]) -> None:
    """Malformed stored data raises ValueError, not a KeyError from deep inside."""
    with pytest.raises(ValueError, match=r"\w"):
        message_from_json(data)


def test_discord_payload_omits_empty_keys_and_disables_mentions() -> None:
    """The REST payload drops empty keys and always sends allowed_mentions parse []."""
    message = Message(
        embeds=(Embed(title="t", author="alice", footer="f", fields=(EmbedField("n", "v"),)),)
    )
    assert message_to_discord_payload(message) == {
        "embeds": [
            {
                "title": "t",
                "author": {"name": "alice"},
                "footer": {"text": "f"},
                "fields": [{"name": "n", "value": "v", "inline": False}],
            }
        ],
        "allowed_mentions": {"parse": []},
    }


def test_discord_payload_is_clamped() -> None:
    """The payload is clamped, so an oversized message cannot be rejected by Discord."""
    payload = message_to_discord_payload(Message(content="@everyone " * 500))
    assert len(payload["content"]) == LIMITS.content
    assert payload["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://github.com/octo-org/Hello-World/pull/45", True),
        ("http://127.0.0.1:8080/x?y=1", True),
        ("javascript:alert(1)", False),
        ("https://exa mple.com", False),
        ("https://example.com/\nnext", False),
        ("ftp://example.com/file", False),
        ("https://example.com/" + "a" * 3000, False),
    ],
)
def test_clamp_drops_urls_discord_would_refuse(url: str, kept: bool):
    """Embed and icon URLs that are not plain http(s) are dropped, not sent to fail the post."""
    clamped = clamp(Message(embeds=(Embed(title="t", url=url, author="a", author_icon_url=url),)))
    assert (clamped.embeds[0].url == url) is kept
    assert (clamped.embeds[0].author_icon_url == url) is kept
