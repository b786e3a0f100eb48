"""Pure parsers: (headers, body) → list[Event]; the registry of services lives here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from parsers import github
from parsers.errors import UnsupportedContentTypeError
from parsers.event import JSON, Event
from parsers.signatures import sign_hmac_sha256

__all__ = ["PARSERS", "Event", "ParserSpec", "header"]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Look a header up case-insensitively (stored headers are lower-cased)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class ParserSpec:
    """Everything the receiver and the pipeline need to know about one service."""

    name: str
    content_types: tuple[str, ...]
    required_headers: tuple[str, ...]
    event_header: str
    delivery_header: str
    verify: Callable[[Mapping[str, str], bytes, str], None]
    decode: Callable[[str | None, bytes], dict[str, JSON]]
    parse: Callable[[Mapping[str, str], bytes], list[Event]]
    sign: Callable[[bytes, str], dict[str, str]]
    kinds: frozenset[str]

    def check_content_type(self, content_type: str | None) -> None:
        """Raise UnsupportedContentTypeError unless the media type is one the service sends."""
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media not in self.content_types:
            allowed = " or ".join(self.content_types)
            raise UnsupportedContentTypeError(f"content type {media or 'missing'}; send {allowed}")

    def event_name(self, headers: Mapping[str, str]) -> str | None:
        """Return the provider's event name for a delivery."""
        return header(headers, self.event_header)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """Return the provider's delivery id (the dedupe key), if it sent one."""
        return header(headers, self.delivery_header)


def _github_signature(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign_hmac_sha256(body, secret)}


PARSERS: dict[str, ParserSpec] = {
    "github": ParserSpec(
        name="github",
        content_types=("application/json", "application/x-www-form-urlencoded"),
        required_headers=("X-GitHub-Event",),
        event_header="X-GitHub-Event",
        delivery_header="X-GitHub-Delivery",
        verify=github.verify,
        decode=github.decode,
        parse=github.parse,
        sign=_github_signature,
        kinds=frozenset(github.KINDS),
    ),
}
