"""Message / Embed types, Discord's limits, and clamp()."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

__all__ = [
    "LIMITS",
    "Embed",
    "EmbedField",
    "Limits",
    "Message",
    "clamp",
    "embed_size",
    "message_from_json",
    "message_to_discord_payload",
    "message_to_json",
    "message_to_text",
    "truncate_text",
]

ELLIPSIS = "…"
DESCRIPTION_FLOOR = 1024  # when the 6000 total bites, fields go before this much description
BLANK = "\u200b"  # Discord rejects empty field names/values; a zero-width space is "blank".


@dataclass(frozen=True, slots=True)
class EmbedField:
    """One name/value pair of an embed."""

    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True, slots=True)
class Embed:
    """A Discord embed, as plain data (sinks turn it into discord.py or JSON)."""

    title: str | None = None
    description: str | None = None
    url: str | None = None
    color: int | None = None
    author: str | None = None
    author_icon_url: str | None = None
    footer: str | None = None
    timestamp: datetime | None = None
    fields: tuple[EmbedField, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    """What one post carries: content plus up to 10 embeds.

    `mention_roles` are the role ids this message may ping (an alert-if rule's
    `--mention`); every other mention is neutralised.
    """

    content: str = ""
    embeds: tuple[Embed, ...] = ()
    mention_roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Limits:
    """Discord's message limits, in characters (len() of the Python str)."""

    content: int = 2000
    embeds: int = 10
    title: int = 256
    description: int = 4096
    fields: int = 25
    field_name: int = 256
    field_value: int = 1024
    footer: int = 2048
    author: int = 256
    total: int = 6000  # title + description + field names/values + footer + author, all embeds


# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
LIMITS = Limits()


def _is_high_surrogate(char: str) -> bool:
    return "\ud800" <= char <= "\udbff"


def _is_low_surrogate(char: str) -> bool:
    return "\udc00" <= char <= "\udfff"


def truncate_text(text: str, limit: int) -> str:
    """Return text cut to at most `limit` characters, ending in "…" when it was cut.

    A str holding UTF-16 surrogate code points is never cut between a high and a
    low surrogate: the high half is dropped with the rest.
    """
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    keep = limit - len(ELLIPSIS)
    if keep > 0 and _is_high_surrogate(text[keep - 1]) and _is_low_surrogate(text[keep]):
        keep -= 1
    return text[:keep] + ELLIPSIS


def _cut_optional(text: str | None, limit: int) -> str | None:
    return None if text is None else truncate_text(text, limit)


def _non_blank(text: str) -> str:
    return text if text.strip() else BLANK


def _clamp_field(field: EmbedField) -> EmbedField:
    return EmbedField(
        name=truncate_text(_non_blank(field.name), LIMITS.field_name),
        value=truncate_text(_non_blank(field.value), LIMITS.field_value),
        inline=field.inline,
    )


_URL = re.compile(r"https?://[^\s<>\x00-\x1f\x7f]{1,2040}")


def safe_url(url: str | None) -> str | None:
    """Return an http(s) URL Discord accepts in an embed, or None (a bad URL fails the post)."""
    return url if url is not None and _URL.fullmatch(url) else None


def _clamp_embed(embed: Embed) -> Embed:
    return replace(
        embed,
        url=safe_url(embed.url),
        author_icon_url=safe_url(embed.author_icon_url),
        title=_cut_optional(embed.title, LIMITS.title),
        description=_cut_optional(embed.description, LIMITS.description),
        author=_cut_optional(embed.author, LIMITS.author),
        footer=_cut_optional(embed.footer, LIMITS.footer),
        fields=tuple(_clamp_field(f) for f in embed.fields[: LIMITS.fields]),
    )


def embed_size(embed: Embed) -> int:
    """Return the characters an embed counts towards Discord's 6000 total."""
    parts = (embed.title, embed.description, embed.author, embed.footer)
    size = sum(len(part) for part in parts if part)
    return size + sum(len(f.name) + len(f.value) for f in embed.fields)


def _has_text(embed: Embed) -> bool:
    return bool(embed.title or embed.description or embed.fields)


def _cut_description(embed: Embed, budget: int, floor: int = 0) -> Embed:
    over = embed_size(embed) - budget
    if over <= 0 or not embed.description:
        return embed
    keep = max(len(embed.description) - over, min(floor, len(embed.description)))
    return replace(embed, description=truncate_text(embed.description, keep) or None)


def _shrink_embed(embed: Embed, budget: int) -> Embed:
    """Return the embed shrunk to at most `budget` counted characters.

    Order: cut the description (keeping up to DESCRIPTION_FLOOR of it), drop trailing
    fields, cut the description further, then cut footer, author and title.
    """
    budget = max(budget, 0)
    embed = _cut_description(embed, budget, floor=DESCRIPTION_FLOOR)
    fields = list(embed.fields)
    while fields and embed_size(replace(embed, fields=tuple(fields))) > budget:
        fields.pop()
    embed = _cut_description(replace(embed, fields=tuple(fields)), budget)
    if embed_size(embed) > budget and embed.footer:
        embed = replace(embed, footer=_cut_to_fit(embed, embed.footer, budget))
    if embed_size(embed) > budget and embed.author:
        embed = replace(embed, author=_cut_to_fit(embed, embed.author, budget))
    if embed_size(embed) > budget and embed.title:
        embed = replace(embed, title=_cut_to_fit(embed, embed.title, budget))
    return embed


def _cut_to_fit(embed: Embed, text: str, budget: int) -> str | None:
    """Return `text`, one part of the embed, cut so the embed fits `budget`."""
    return truncate_text(text, len(text) - (embed_size(embed) - budget)) or None


def clamp(message: Message) -> Message:
    """Return the message cut to fit every Discord limit; total, never raises.

    Strings are cut at a character boundary with "…" (never inside a surrogate pair),
    blank field names and values become a zero-width space, extra fields and embeds
    are dropped, and the 6000-character total is met by shrinking descriptions and
    fields first, then dropping trailing embeds.
    """
    embeds = [_clamp_embed(e) for e in message.embeds[: LIMITS.embeds]]
    kept: list[Embed] = []
    budget = LIMITS.total
    for embed in embeds:
        if embed_size(embed) > budget:
            shrunk = _shrink_embed(embed, budget)
            # A later embed that lost all its text is dropped, with every one after it.
            if kept and not _has_text(shrunk):
                break
            embed = shrunk
        kept.append(embed)
        budget -= embed_size(embed)
    return Message(
        content=truncate_text(message.content, LIMITS.content),
        embeds=tuple(kept),
        mention_roles=message.mention_roles,
    )


def _field_to_json(field: EmbedField) -> dict[str, Any]:
    return {"name": field.name, "value": field.value, "inline": field.inline}


def _embed_to_json(embed: Embed) -> dict[str, Any]:
    return {
        "title": embed.title,
        "description": embed.description,
        "url": embed.url,
        "color": embed.color,
        "author": embed.author,
        "author_icon_url": embed.author_icon_url,
        "footer": embed.footer,
        "timestamp": embed.timestamp.isoformat() if embed.timestamp else None,
        "fields": [_field_to_json(f) for f in embed.fields],
    }


def message_to_json(message: Message) -> dict[str, Any]:
    """Return the message as plain JSON data for storage (see message_from_json)."""
    data: dict[str, Any] = {
        "content": message.content,
        "embeds": [_embed_to_json(e) for e in message.embeds],
    }
    if message.mention_roles:
        data["mention_roles"] = list(message.mention_roles)
    return data


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"embed {key} must be a string, got {type(value).__name__}")


def _embed_from_json(data: Mapping[str, Any]) -> Embed:
    color = data.get("color")
    if color is not None and (not isinstance(color, int) or isinstance(color, bool)):
        raise ValueError(f"embed color must be an integer, got {color!r}")
    timestamp = _optional_str(data, "timestamp")
    return Embed(
        title=_optional_str(data, "title"),
        description=_optional_str(data, "description"),
        url=_optional_str(data, "url"),
        color=color,
        author=_optional_str(data, "author"),
        author_icon_url=_optional_str(data, "author_icon_url"),
        footer=_optional_str(data, "footer"),
        timestamp=datetime.fromisoformat(timestamp) if timestamp else None,
        fields=tuple(
            EmbedField(name=str(f["name"]), value=str(f["value"]), inline=bool(f.get("inline")))
            for f in data.get("fields") or ()
        ),
    )


def message_from_json(data: Mapping[str, Any]) -> Message:
    """Rebuild a Message stored by message_to_json; raises ValueError on malformed data."""
    content = data.get("content") or ""
    if not isinstance(content, str):
        raise ValueError(f"content must be a string, got {type(content).__name__}")
    try:
        embeds = tuple(_embed_from_json(e) for e in data.get("embeds") or ())
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed embed: {exc}") from exc
    roles = data.get("mention_roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) and r.isdigit() for r in roles):
        raise ValueError("mention_roles must be a list of role ids")
    return Message(content=content, embeds=embeds, mention_roles=tuple(roles))


def _embed_to_discord(embed: Embed) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": embed.title,
        "description": embed.description,
        "url": embed.url,
        "color": embed.color,
        "timestamp": embed.timestamp.isoformat() if embed.timestamp else None,
    }
    if embed.author:
        payload["author"] = {"name": embed.author, "icon_url": embed.author_icon_url}
    if embed.footer:
        payload["footer"] = {"text": embed.footer}
    payload["fields"] = [_field_to_json(f) for f in embed.fields]
    return _without_empty(payload)


def _without_empty(data: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            value = _without_empty(value)
        if value is None or value == "" or value == [] or value == {}:
            continue
        cleaned[key] = value
    return cleaned


def message_to_discord_payload(message: Message) -> dict[str, Any]:
    """Return Discord's REST JSON for the message, clamped, with every mention disabled.

    Empty keys are omitted; `allowed_mentions` is always `{"parse": []}` so nothing
    a template produced can ping anyone.
    """
    clamped = clamp(message)
    payload: dict[str, Any] = {}
    if clamped.content:
        payload["content"] = clamped.content
    embeds = [_embed_to_discord(e) for e in clamped.embeds]
    if embeds:
        payload["embeds"] = embeds
    payload["allowed_mentions"] = {"parse": [], "roles": list(message.mention_roles)}
    if not message.mention_roles:
        payload["allowed_mentions"] = {"parse": []}
    return payload


def message_to_text(message: Message) -> str:
    """Return a readable plain-text dump of the message (console sink, golden files)."""
    lines: list[str] = []
    if message.content:
        lines.append("content:")
        lines.extend(f"  | {line}" for line in message.content.split("\n"))
    for number, embed in enumerate(message.embeds, start=1):
        lines.append(f"embed {number}:")
        if embed.title is not None:
            lines.append(f"  title: {embed.title}")
        if embed.url is not None:
            lines.append(f"  url: {embed.url}")
        if embed.color is not None:
            lines.append(f"  color: #{embed.color:06x}")
        if embed.author is not None:
            icon = f" <{embed.author_icon_url}>" if embed.author_icon_url else ""
            lines.append(f"  author: {embed.author}{icon}")
        if embed.description is not None:
            lines.append("  description:")
            lines.extend(f"    | {line}" for line in embed.description.split("\n"))
        for field in embed.fields:
            inline = " (inline)" if field.inline else ""
            lines.append(f"  field{inline}: {field.name} = {field.value}")
        if embed.footer is not None:
            lines.append(f"  footer: {embed.footer}")
        if embed.timestamp is not None:
            lines.append(f"  timestamp: {embed.timestamp.isoformat()}")
    return "\n".join(lines) + "\n"
