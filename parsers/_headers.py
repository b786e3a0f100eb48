"""Read HTTP headers by name, case-insensitively (pure; shared by the service modules).

Headers reach the parsers as plain mappings whose key case depends on who built them
(aiohttp keeps the sender's case, the inbox stores them lower-cased, tests write
`X-Gitlab-Token`), so every lookup ignores case.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["header", "media_type", "nonblank_header"]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Return a header's value, matching its name case-insensitively.

    Args:
        headers: The request headers.
        name: The header name in any case.

    Returns:
        The value, or None when the header is absent.
    """
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def nonblank_header(headers: Mapping[str, str], name: str) -> str | None:
    """Return a header's value with surrounding whitespace stripped; None when absent or blank.

    Args:
        headers: The request headers.
        name: The header name in any case.

    Returns:
        The stripped value, or None.
    """
    stripped = (header(headers, name) or "").strip()
    return stripped or None


def media_type(content_type: str | None) -> str:
    """Return a Content-Type's media type, lower-cased, without parameters such as charset.

    Args:
        content_type: The Content-Type header's value, or None when absent.

    Returns:
        The media type (`application/json`), or "" when there is none.
    """
    return (content_type or "").split(";", 1)[0].strip().lower()
