"""HMAC-SHA256 signing and verification over raw bodies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.errors import SignatureError
from parsers.signatures import sign_hmac_sha256, verify_hmac_sha256

SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
# GitHub's documented test vector (validating-webhook-deliveries).
VECTOR = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_sign_hmac_sha256_github_vector_matches_docs() -> None:
    """Signing GitHub's documented body and secret gives the documented header."""
    assert sign_hmac_sha256(BODY, SECRET) == VECTOR


def test_verify_hmac_sha256_github_vector_passes() -> None:
    """The documented header verifies against the documented body and secret."""
    verify_hmac_sha256(BODY, VECTOR, SECRET)


def test_verify_hmac_sha256_uppercase_hex_passes() -> None:
    """Hex digits compare by value, so an uppercase digest verifies."""
    verify_hmac_sha256(BODY, "sha256=" + VECTOR.removeprefix("sha256=").upper(), SECRET)


def test_verify_hmac_sha256_surrounding_whitespace_passes() -> None:
    """Whitespace around the header value (as some proxies add) is ignored."""
    verify_hmac_sha256(BODY, f"  {VECTOR}\t", SECRET)


@pytest.mark.parametrize(
    ("header", "secret", "body", "reason"),
    [
        (None, SECRET, BODY, "missing"),
        ("", SECRET, BODY, "missing"),
        ("   ", SECRET, BODY, "missing"),
        ("sha1=" + "0" * 40, SECRET, BODY, "algorithm 'sha1'"),
        ("md5=" + "0" * 32, SECRET, BODY, "algorithm 'md5'"),
        (VECTOR.removeprefix("sha256="), SECRET, BODY, "does not start with"),
        ("sha256=" + "zz" * 32, SECRET, BODY, "not hexadecimal"),
        ("sha256=", SECRET, BODY, "not hexadecimal"),
        ("sha256=" + "ab " * 32, SECRET, BODY, "not hexadecimal"),
        ("sha256=abc", SECRET, BODY, "not hexadecimal"),
        ("sha256=" + "ab" * 20, SECRET, BODY, "20 bytes"),
        (VECTOR, "another secret", BODY, "does not match"),
        (VECTOR, SECRET, BODY + b" ", "does not match"),
        (VECTOR, "", BODY, "no signing secret"),
    ],
    ids=[
        "none",
        "empty",
        "blank",
        "sha1",
        "md5",
        "no-prefix",
        "non-hex",
        "no-digest",
        "spaced-hex",
        "odd-length",
        "short-digest",
        "wrong-secret",
        "tampered-body",
        "empty-secret",
    ],
)
def test_verify_hmac_sha256_bad_signature_raises(
    header: str | None, secret: str, body: bytes, reason: str
) -> None:
    """Every missing, malformed or mismatched signature raises SignatureError with a reason."""
    with pytest.raises(SignatureError, match=reason):
        verify_hmac_sha256(body, header, secret)


def test_verify_hmac_sha256_empty_prefix_accepts_bare_hex() -> None:
    """With prefix "" (Gitea style) the header is the bare hex digest."""
    verify_hmac_sha256(BODY, VECTOR.removeprefix("sha256="), SECRET, prefix="")


def test_verify_hmac_sha256_custom_prefix_accepts_it() -> None:
    """With prefix "v1=" (CircleCI style) the header must carry that prefix."""
    verify_hmac_sha256(BODY, "v1=" + VECTOR.removeprefix("sha256="), SECRET, prefix="v1=")
    with pytest.raises(SignatureError, match="algorithm 'sha256'"):
        verify_hmac_sha256(BODY, VECTOR, SECRET, prefix="v1=")


@given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=64))
def test_verify_hmac_sha256_round_trip_passes(body: bytes, secret: str) -> None:
    """Whatever the body and secret, a body's own signature verifies."""
    verify_hmac_sha256(body, sign_hmac_sha256(body, secret), secret)


@given(body=st.binary(min_size=1, max_size=256), data=st.data())
def test_verify_hmac_sha256_any_flipped_byte_raises(body: bytes, data: st.DataObject) -> None:
    """Changing any single byte of the body makes verification fail."""
    signature = sign_hmac_sha256(body, SECRET)
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    tampered = bytearray(body)
    tampered[index] ^= data.draw(st.integers(min_value=1, max_value=255))
    with pytest.raises(SignatureError):
        verify_hmac_sha256(bytes(tampered), signature, SECRET)
