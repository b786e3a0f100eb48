"""The channel-webhook destination (`webhook:<url>`): a Discord webhook URL executed."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import aiohttp

from bot.delivery.base import PermanentSinkError, RejectedMessageError, TransientSinkError
from bot.redact import redact
from bot.store import AttemptResult
from formatters.message import Message, message_to_discord_payload

SEND_TIMEOUT = aiohttp.ClientTimeout(total=30)


class DiscordWebhookSink:
    """Post to a Discord channel webhook URL (as given, so proxies and fakes work).

    Channel webhooks take no nonce: this sink is at-least-once; `?wait=true` makes
    Discord answer with the created message, whose id is the receipt. The status code
    and response time of the last send are kept in `last_result` for the ledger.
    """

    coalesces = True

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.key = f"webhook:{url}"
        self._session = session
        self.last_result: AttemptResult | None = None

    async def send(self, message: Message, *, nonce: str) -> str | None:
        """Execute the webhook with mentions disabled."""
        payload = message_to_discord_payload(message)  # mentions off, but an alert's role
        started = time.monotonic()
        self.last_result = None
        try:
            async with self._session.post(
                self.url,
                params={"wait": "true"},
                json=payload,
                timeout=SEND_TIMEOUT,
            ) as response:
                text = await response.text()
                elapsed = (time.monotonic() - started) * 1000
                self.last_result = AttemptResult(response.status, round(elapsed, 1))
                if response.status < 300:
                    return _message_id(text)
                raise classify(response.status, response.headers, text, self.last_result)
        except (TimeoutError, aiohttp.ClientError) as exc:
            elapsed = (time.monotonic() - started) * 1000
            error = f"webhook unreachable: {redact(repr(exc))}"
            raise TransientSinkError(
                error, result=AttemptResult(None, round(elapsed, 1), error)
            ) from exc


def _message_id(text: str) -> str | None:
    try:
        answer = json.loads(text)
    except ValueError:
        return None
    return str(answer.get("id")) if isinstance(answer, dict) and "id" in answer else None


def classify(
    status: int, headers: Mapping[str, str], text: str, result: AttemptResult | None = None
) -> TransientSinkError | PermanentSinkError | RejectedMessageError:
    """Map a Discord HTTP failure to retry-later, this-message-dies or give-up."""
    detail = text[:200]
    if status == 429:
        retry_after: float | None = None
        try:
            retry_after = float(json.loads(text).get("retry_after"))
        except (ValueError, TypeError, AttributeError):
            retry_after = retry_after_header(headers)
        return TransientSinkError(f"rate limited (429): {detail}", retry_after, result)
    if status >= 500 or status == 408:
        return TransientSinkError(f"HTTP {status}: {detail}", result=result)
    if status == 400:
        return RejectedMessageError(f"HTTP 400: {detail}", result)
    return PermanentSinkError(f"HTTP {status}: {detail}", result)


def retry_after_header(headers: Mapping[str, str]) -> float | None:
    """Return a `Retry-After` header's seconds (a number; an HTTP date is not honoured)."""
    header = headers.get("Retry-After")
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None
