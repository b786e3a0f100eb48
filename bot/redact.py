"""Keep secrets out of the log: one pure `redact`, and a logging filter applying it.

What is a secret here: the token of a Discord webhook URL (`/webhooks/<id>/<token>`),
the token of hookbot's own receiver URL (`/webhook/<service>/<token>`), a password in
a URL (`https://user:pass@host`) and query parameters named like a token, secret, key,
signature or password. Everything else passes through unchanged.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# The path segment after /webhooks/<id>/ (Discord) or /webhook/<service>/ (hookbot's
# receiver). A token never holds quotes, brackets, spaces or punctuation such as ":",
# so a URL quoted in a repr, wrapped in <…> or (…), or followed by ": …" keeps them.
_PATH_TOKEN = re.compile(r"(/webhooks?/[^/\s?#]+/)[^/\s?#&'\"<>()\[\]:,;]+", re.IGNORECASE)

# scheme://user:password@host: the user is kept, the password goes (up to the last @
# of the authority, so an unescaped @ inside the password does not leak its tail).
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s/?#@:]*:)[^\s/?#]*@", re.IGNORECASE)

_QUERY_PARAM = re.compile(r"([?&])([\w.\-\[\]%]+)=([^&#\s'\"<>]*)")
_SENSITIVE_NAME = re.compile(
    r"token|secret|key|signature|passw|pwd|credential|^sig$|^pass$", re.IGNORECASE
)


def redact(text: str) -> str:
    """Return `text` with webhook tokens, URL passwords and secret query values masked.

    Pure and idempotent: `redact(redact(t)) == redact(t)`; text with nothing secret
    in it comes back unchanged.
    """
    if "/webhook" in text.lower():
        text = _PATH_TOKEN.sub(rf"\1{MASK}", text)
    if "://" in text:
        text = _USERINFO.sub(rf"\1{MASK}@", text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_mask_param, text)
    return text


def _mask_param(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    if not value or not _SENSITIVE_NAME.search(name):
        return match.group(0)
    return f"{separator}{name}={MASK}"


_TRACEBACKS = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Apply `redact` to a record's final message, traceback and stack (never drops one).

    The message is formatted here (`msg % args`) and stored back with `args = None`,
    so every handler and formatter after this one sees only the redacted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; always let it through."""
        try:
            message = record.getMessage()
        except Exception:  # a bad `%` call: keep what there is, redacted, not the raw args
            message = f"{record.msg!s} (args: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction() -> None:
    """Attach a RedactingFilter to every handler of the root logger (once each)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
