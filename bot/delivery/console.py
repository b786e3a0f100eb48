"""The console destination: messages printed readably, without terminal control codes."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import TextIO

from formatters.message import Message

RULE = "─" * 60

# Terminal control: whole escape sequences first (CSI like ESC[2J, and OSC/DCS/APC/PM/SOS
# strings like ESC]0;title BEL, when terminated), so no debris like "[2J" is left; then
# every remaining C0 control but newline and tab, DEL, and every C1 control.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI … final byte
    # OSC/DCS/SOS/PM/APC string … BEL or ST, within one line
    r"|(?:\x1b[\]P^_X]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """Return `text` without terminal control characters (newline and tab stay).

    Removes C0 controls (NUL, BEL, BS, CR, ESC, …) except newline and tab, DEL and the C1
    range (U+0080-U+009F), along with whole CSI/OSC escape sequences. Other Unicode,
    emoji and right-to-left text included, is untouched.
    """
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


def describe_message(message: Message) -> str:
    """Render a Message as readable plain text (the console's format)."""
    lines: list[str] = []
    if message.content:
        lines.append(message.content)
    for embed in message.embeds:
        if embed.author:
            lines.append(f"[{embed.author}]")
        if embed.title:
            lines.append(embed.title if not embed.url else f"{embed.title} <{embed.url}>")
        if embed.description:
            lines.append(embed.description)
        lines.extend(f"{f.name}: {f.value}" for f in embed.fields)
        if embed.footer:
            lines.append(f"— {embed.footer}")
    return "\n".join(lines)


class ConsoleSink:
    """Print messages readably; the default destination when no Discord is configured."""

    key = "console"
    coalesces = False  # nothing to save locally; one message per print reads best

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, message: Message, *, nonce: str) -> str | None:
        """Print the message and flush, so it is out before the row is marked done.

        The write runs in a thread: a slow terminal or a full pipe must not stall the loop.
        """
        stream = self._stream or sys.stdout
        # Payload text is untrusted: no escape sequence reaches the terminal.
        text = f"{RULE}\n{strip_controls(describe_message(message))}\n"

        def write() -> None:
            stream.write(text)
            stream.flush()

        await asyncio.to_thread(write)
        return None
