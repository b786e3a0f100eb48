"""Pure parsers, one module per service, and the registry every other part reads.

Nothing outside a service's own module knows that service by name: the receiver's
routes, the grammar's service words, selection defaults, filter keys, alert names, `on`
answers, samples, docs/events.md and the contract test all read `SERVICES`. A module
provides the names listed on `ServiceSpec` (see parsers/github.py for the fullest one);
`_spec` turns it into an entry, so adding a service is one module and one line here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from urllib.parse import parse_qs

import orjson

from parsers import ci, custom, docker, github, gitlab
from parsers._body import MAX_FORM_FIELDS
from parsers._headers import header, media_type
from parsers.errors import PayloadError, UnsupportedContentTypeError
from parsers.event import JSON, Event

__all__ = ["SERVICES", "Event", "ServiceSpec", "header", "service_words"]

Headers = Mapping[str, str]
Options = Mapping[str, JSON]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """Everything the receiver, the pipeline and the adapters know about one service.

    `http` is False for a service whose events do not arrive over HTTP (docker).
    `identify` returns (event name, delivery id) from headers or body; `verify` raises
    SignatureError; `parse` returns the Events (pure). `kinds` are the kinds known by
    name; `open_kinds`, when set, accepts other kinds of that shape too (custom).
    `attribute_events` names the events that set Event.branch / Event.status (default:
    all). `setup_hint` is filled with `url`, `secret` and `events` (the provider-side event
    names to tick, from `event_labels`). `samples` maps a bundled sample's name to its
    kind; `sample_headers(name, body, secret, delivery)` returns the headers a genuine
    sender sends with it, signed, its delivery id header (if any) set to `delivery`.

    Per-service behaviour the rest of hookbot reads as data, never by the service's name:
    `ok_events` are event names answered 200 rather than 202 (a sender's connection check,
    GitHub's `ping`, whose answer it shows as the test's result); `signature_optional`
    services accept unsigned posts unless the hook was made with `--signed` (options
    `{"signed": true}`); with `body_names`, a user template's top-level names come from
    the body first (custom: `{{event}}` is the body's `event`, not the kind); with
    `shorthand`, `<service> <target>` alone means `on <service> <target>` (`custom <url>`);
    `connection_kind` is the kind of the sender's connection check (GitHub's `ping`, from
    the module's CONNECTION_KIND), posted as "Connected" with the events the hook needs
    that the sender will not send.
    """

    name: str
    http: bool
    content_types: tuple[str, ...]
    identify: Callable[[Headers, bytes], tuple[str | None, str | None]]
    verify: Callable[[Headers, bytes, str, Options], None]
    parse: Callable[[Headers, bytes, Options], list[Event]]
    kinds: tuple[str, ...]
    field_docs: Mapping[str, Mapping[str, str]]
    default_selection: tuple[str, ...]
    aliases: Mapping[str, tuple[str, ...]]
    setup_hint: str
    samples: Mapping[str, str]
    sample_headers: Callable[[str, bytes, str, str], dict[str, str]]
    identify_hint: str = ""
    event_labels: Mapping[str, str] = field(default_factory=dict)
    attribute_events: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    open_kinds: re.Pattern[str] | None = None
    ok_events: frozenset[str] = frozenset()
    signature_optional: bool = False
    body_names: bool = False
    shorthand: bool = False
    connection_kind: str | None = None

    def check_content_type(self, content_type: str | None, *, empty: bool = False) -> None:
        """Raise UnsupportedContentTypeError unless the media type is one the service sends.

        An empty body needs no content type (a custom hook accepts an empty POST).
        """
        media = media_type(content_type)
        if not media and empty:
            return
        if media not in self.content_types:
            allowed = " or ".join(self.content_types)
            raise UnsupportedContentTypeError(f"content type {media or 'missing'}; send {allowed}")

    def check_body(self, content_type: str | None, body: bytes) -> None:
        """Raise PayloadError when a JSON body is not JSON (the receiver answers 400).

        Form bodies are checked by the service's parser; the pipeline records what it
        makes of them.
        """
        media = media_type(content_type)
        if media == "application/x-www-form-urlencoded" or (not body and not media):
            return
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise PayloadError(f"body is not JSON: {exc}") from None

    def payload_of(self, headers: Headers, body: bytes) -> JSON:
        """Return the raw JSON a delivery carried, for templates' `payload` (None if none).

        A form-encoded body's `payload=` field (GitHub's and others' legacy option) is
        decoded; an empty body, or one that is not JSON, gives None (never raises: the
        parser has already said what was wrong with it).
        """
        media = media_type(header(headers, "Content-Type"))
        text: bytes | str = body
        if media == "application/x-www-form-urlencoded":
            try:
                values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=MAX_FORM_FIELDS)
            except ValueError:  # more fields than a sender's form has
                return None
            found = values.get("payload", [])
            if len(found) != 1:
                return None
            text = found[0]
        if not text.strip():
            return None
        try:
            value: JSON = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        return value

    def knows_kind(self, kind: str) -> bool:
        """Return True for a kind this service produces (by name or by its open shape)."""
        if kind in self.kinds:
            return True
        return self.open_kinds is not None and self.open_kinds.fullmatch(kind) is not None


def _verify_plain(module: ModuleType) -> Callable[[Headers, bytes, str, Options], None]:
    """Adapt a module's `verify(headers, body, secret)` to the registry's signature."""
    verify: Callable[[Headers, bytes, str], None] = module.verify

    def check(headers: Headers, body: bytes, secret: str, options: Options) -> None:
        del options
        verify(headers, body, secret)

    return check


def _signed_sample(
    module: ModuleType, sign: Callable[[str, bytes, str], dict[str, str]]
) -> Callable[[str, bytes, str, str], dict[str, str]]:
    headers_of: Callable[[str], dict[str, str]] = module.sample_headers
    id_headers = {
        name.lower()
        for name in (
            getattr(module, "DELIVERY_HEADER", ""),
            *getattr(module, "DELIVERY_HEADERS", ()),
        )
        if name
    }

    def headers(name: str, body: bytes, secret: str, delivery: str) -> dict[str, str]:
        sent = {
            k: (delivery if k.lower() in id_headers else v) for k, v in headers_of(name).items()
        }
        return {**sent, **sign(name, body, secret)}

    return headers


def _spec(
    module: ModuleType,
    *,
    verify: Callable[[Headers, bytes, str, Options], None] | None = None,
    sign_sample: Callable[[str, bytes, str], dict[str, str]] | None = None,
    open_kinds: re.Pattern[str] | None = None,
    ok_events: frozenset[str] = frozenset(),
    signature_optional: bool = False,
    body_names: bool = False,
    shorthand: bool = False,
) -> ServiceSpec:
    """Build a registry entry from a service module's names (keywords: see ServiceSpec)."""
    sign: Callable[[bytes, str], dict[str, str]] = module.sign
    return ServiceSpec(
        name=module.SERVICE,
        http=getattr(module, "HTTP", True),
        content_types=module.CONTENT_TYPES,
        identify=module.identify,
        verify=verify or _verify_plain(module),
        parse=module.parse,
        kinds=tuple(module.KINDS),
        field_docs=module.FIELD_DOCS,
        default_selection=module.DEFAULT_SELECTION,
        aliases=module.ALIASES,
        setup_hint=module.SETUP_HINT,
        samples=module.SAMPLES,
        sample_headers=_signed_sample(
            module, sign_sample or (lambda _name, body, secret: sign(body, secret))
        ),
        identify_hint=getattr(module, "IDENTIFY_HINT", "its event could not be identified"),
        event_labels=getattr(module, "EVENT_LABELS", {}),
        attribute_events=getattr(module, "ATTRIBUTE_EVENTS", {}),
        open_kinds=open_kinds,
        ok_events=ok_events,
        signature_optional=signature_optional,
        body_names=body_names,
        shorthand=shorthand,
        connection_kind=getattr(module, "CONNECTION_KIND", None),
    )


def _verify_custom(headers: Headers, body: bytes, secret: str, options: Options) -> None:
    custom.verify_with_options(headers, body, secret, options)


def _sign_ci_sample(name: str, body: bytes, secret: str) -> dict[str, str]:
    return ci.sign_as(ci.sample_provider(name), body, secret)


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        _spec(github, ok_events=frozenset({"ping"})),
        _spec(gitlab),
        _spec(ci, sign_sample=_sign_ci_sample, ok_events=frozenset({"actions:ping"})),
        _spec(
            custom,
            verify=_verify_custom,
            open_kinds=custom.KIND_GRAMMAR,
            signature_optional=True,
            body_names=True,
            shorthand=True,
        ),
        _spec(docker),
    )
}
"""Every service hookbot knows, by name."""


def service_words() -> frozenset[str]:
    """Return the words that name a service in commands (`github`, `ci`, …)."""
    return frozenset(SERVICES)
