"""Decode delivery bodies into their JSON object (pure; shared by the service modules)."""

from __future__ import annotations

from urllib.parse import parse_qs

import orjson

from parsers.errors import PayloadError
from parsers.event import JSON

__all__ = ["MAX_FORM_FIELDS", "form_payload", "loads_object"]

# Form deliveries carry one field; a cap keeps a hostile body from allocating many.
MAX_FORM_FIELDS = 100


def loads_object(body: bytes | str) -> dict[str, JSON]:
    """Decode a JSON body that must hold an object.

    Args:
        body: The raw body (orjson refuses invalid UTF-8, NaN/Infinity and too-deep nesting).

    Returns:
        The top-level object.

    Raises:
        PayloadError: The body is not JSON or not an object.
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise PayloadError(f"body must be a JSON object, got {type(value).__name__}")
    return value


def form_payload(body: bytes | str) -> str:
    """Return the one `payload` field of a form-encoded body (GitHub's form deliveries).

    Args:
        body: The raw body, or its text already decoded from UTF-8.

    Returns:
        The field's value (the JSON text).

    Raises:
        PayloadError: The body is not UTF-8, the form is malformed or has too many
            fields, or it has not one `payload`.
    """
    try:
        form = parse_qs(
            body.decode("utf-8") if isinstance(body, bytes) else body,
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"form body is malformed: {exc}") from exc
    values = form.get("payload", [])
    if len(values) != 1:
        raise PayloadError(f"form body must have one 'payload' field, found {len(values)}")
    return values[0]
