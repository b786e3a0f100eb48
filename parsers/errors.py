"""Typed errors raised by the pure parsers; the edges map them to answers."""

from __future__ import annotations


class ParseError(Exception):
    """Base of every error a parser raises."""


class SignatureError(ParseError):
    """The delivery's signature is missing or does not match the secret."""


class PayloadError(ParseError):
    """The payload is malformed or misses a required value.

    `path` names the dotted location in the payload (`pull_request.user.login`), or is
    empty when the body itself could not be decoded.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{message} at {path!r}" if path else message)
        self.path = path


class UnsupportedContentTypeError(ParseError):
    """The request's Content-Type is not one the provider sends."""


class UnsupportedEventError(ParseError):
    """The event kind is not one hookbot understands; it is recorded as ignored."""
