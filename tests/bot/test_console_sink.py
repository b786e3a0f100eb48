"""Console mode: payload text cannot drive the terminal (no escape or control characters)."""

from __future__ import annotations

import io
import re

import pytest

from bot.delivery.console import ConsoleSink, strip_controls
from formatters.message import Embed, EmbedField, Message

# Every C0 control but \n and \t, DEL, and every C1 control.
FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


async def test_console_sink_prints_no_terminal_control_sequences():
    """ESC/CSI/OSC, CR, BS, BEL, DEL, NUL and C1 are gone; newlines, tabs and Unicode stay."""
    login = "\x1b[2J\x1b]0;pwned by hookbot\x07octocat"
    message = Message(
        content="pushed by " + login,
        embeds=(
            Embed(
                author=login,
                title="Release\r v1\x08\x08\x07\x7f\x00 🚀 مرحبا בעולם",
                url="https://github.com/octo-org/octo-repo",
                description="line one\n\tindented\x1b[31m red\x1b[0m\x9b2Jend\x85\x1b]8;;http://evil\x1b\\link",
                fields=(EmbedField("Branch\x1b[1A", "main\x9d0;title\x9c ✅"),),
                footer="via \x1bPdevice\x1b\\ github",
            ),
        ),
    )
    stream = io.StringIO()
    await ConsoleSink(stream).send(message, nonce="n")
    printed = stream.getvalue()

    assert not FORBIDDEN.findall(printed), [hex(ord(c)) for c in FORBIDDEN.findall(printed)]
    assert "pushed by octocat" in printed
    assert "[octocat]" in printed
    assert "[2J" not in printed, "whole sequences go, not just their ESC"
    assert "pwned" not in printed, "an OSC title never shows"
    assert "Release v1 🚀 مرحبا בעולם <https://github.com/octo-org/octo-repo>" in printed
    assert "line one\n\tindented redendlink" in printed
    assert "Branch: main ✅" in printed
    assert "— via  github" in printed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "plain text, 🚀 emoji, مرحبا, \u202bRTL\u202c",
            "plain text, 🚀 emoji, مرحبا, \u202bRTL\u202c",
        ),
        ("a\nb\tc", "a\nb\tc"),
        ("\x1b[2J\x1b]0;title\x07x", "x"),
        ("\x1b]0;unterminated title", "]0;unterminated title"),
        ("\x1b]0;stops at\nthe line end\x07", "]0;stops at\nthe line end"),
        ("a\rb\x08c\x07d\x7fe\x00f\x1bg\x9b", "abcdefg"),
        ("\x9b31mred\x9b0m", "red"),
        ("crlf\r\nline", "crlf\nline"),
        (
            "".join(chr(c) for c in range(0x20))
            + "\x7f"
            + "".join(chr(c) for c in range(0x80, 0xA0)),
            "\t\n",
        ),
    ],
)
def test_strip_controls(text: str, expected: str):
    """Sequences go whole when well formed; any leftover control character goes alone."""
    assert strip_controls(text) == expected
