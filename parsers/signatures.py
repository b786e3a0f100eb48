"""Sign and verify HMAC-SHA256 webhook signatures over the raw request body.

GitHub sends `X-Hub-Signature-256: sha256=<hex>`; other providers use the same digest
with another prefix (`v1=` for CircleCI, none for Gitea), hence the `prefix` argument.
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
import hmac
import string

from parsers.errors import SignatureError

_DIGEST_SIZE = hashlib.sha256().digest_size


def sign_hmac_sha256(body: bytes, secret: str) -> str:
    """Return the GitHub-style signature header value for `body`.

    Args:
        body: The exact request body bytes.
        secret: The shared signing secret.

    Returns:
        `sha256=` followed by the lowercase hex HMAC-SHA256 digest.
    """
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_hmac_sha256(
    body: bytes, header: str | None, secret: str, *, prefix: str = "sha256="
) -> None:
    """Check that `header` carries the HMAC-SHA256 of `body` under `secret`.

    The comparison is constant-time over the raw digest bytes.

    Args:
        body: The exact request body bytes, as received.
        header: The signature header's value, or None when the request had none.
        secret: The shared signing secret; an empty secret never verifies.
        prefix: The algorithm prefix before the hex digest ("" when there is none).

    Raises:
        SignatureError: The header is missing, names another algorithm, is not hex of
            the right length, the secret is empty, or the digest does not match.
    """
    if not secret:
        raise SignatureError("no signing secret is configured")
    if header is None or not header.strip():
        raise SignatureError("missing signature header")
    value = header.strip()
    if prefix:
        if value[: len(prefix)].lower() != prefix.lower():
            algorithm, sep, _ = value.partition("=")
            if sep:
                raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
            raise SignatureError(f"signature does not start with {prefix!r}")
        value = value[len(prefix) :]
    # bytes.fromhex tolerates spaces between pairs; a signature has none.
    if not value or any(char not in string.hexdigits for char in value) or len(value) % 2:
        raise SignatureError("signature is not hexadecimal")
    given = bytes.fromhex(value)
    if len(given) != _DIGEST_SIZE:
        raise SignatureError(
            f"signature has {len(given)} bytes, expected {_DIGEST_SIZE} for HMAC-SHA256"
        )
    expected = hmac.digest(secret.encode("utf-8"), body, "sha256")  # one-shot C path
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature does not match the body and secret")
