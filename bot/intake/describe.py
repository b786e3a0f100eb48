"""GET /webhook/{service}: what a service sends and how hookbot checks it, as JSON (no token).

Everything comes from the registry (parsers/__init__.py `SERVICES`). The signature is
found by asking the service itself: its bundled samples are signed twice with two
secrets, and the headers that change are the credential headers; a header that equals
the secret carries the secret itself, one that changes with the body is a signature of
the body; dropping them and calling `verify` tells whether an unsigned post passes.
Nothing here knows a service by name.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from aiohttp import web

from bot.service import HookCredentials, setup_hint
from bot.store import Hook
from parsers import SERVICES, ServiceSpec
from parsers.errors import ParseError

URL_PLACEHOLDER = "<this hook's URL, from `on`>"
SECRET_PLACEHOLDER = "<this hook's secret, shown once by `on`>"  # noqa: S105 - words, not a secret
_PROBE_SECRETS = ("probe-secret-" + "a" * 32, "probe-secret-" + "b" * 32)


def _sample_body(service: str, name: str) -> bytes:
    return (resources.files("parsers") / "samples" / service / f"{name}.json").read_bytes()


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _probe(spec: ServiceSpec, name: str) -> tuple[dict[str, str], bool]:
    """Return one sample's credential headers (name → what it carries) and if unsigned passes."""
    body = _sample_body(spec.name, name)
    first, second = (spec.sample_headers(name, body, s, "probe") for s in _PROBE_SECRETS)
    other_body = spec.sample_headers(name, body + b" ", _PROBE_SECRETS[0], "probe")
    carried: dict[str, str] = {}
    for header, value in first.items():
        if second.get(header) == value:
            continue
        if value == _PROBE_SECRETS[0] or value.endswith(_PROBE_SECRETS[0]):
            carried[header] = "the hook's secret itself, compared in constant time"
        elif other_body.get(header) != value:
            carried[header] = "a signature of the body made with the hook's secret"
        else:
            carried[header] = "a credential made from the hook's secret"
    unsigned = {k: v for k, v in first.items() if k not in carried}
    try:
        spec.verify(unsigned, body, _PROBE_SECRETS[0], {})
    except ParseError:
        return carried, False
    return carried, True


@functools.cache
def signature_of(service: str) -> dict[str, Any]:
    """Describe how a service's deliveries are checked: headers, what they carry, in words."""
    spec = SERVICES[service]
    headers: dict[str, str] = {}
    unsigned_passes: list[bool] = []
    for name in spec.samples:
        carried, passes = _probe(spec, name)
        for header, what in carried.items():
            headers.setdefault(header, what)
        unsigned_passes.append(passes)
    if not headers:
        words = "Deliveries are not signed: the token in the URL is the credential."
    else:
        parts = [f"{header} carries {what}" for header, what in headers.items()]
        words = "Checked with the hook's secret: " + "; ".join(parts) + "."
        if all(unsigned_passes):
            words += " Unsigned posts are accepted unless the hook requires a signature."
        elif any(unsigned_passes):
            words += (
                " Senders that sign nothing are accepted: the token in the URL is then the"
                " credential."
            )
        else:
            words += " A post without it is refused."
        words += " A credential that does not verify is answered 401."
    return {
        "headers": list(headers),
        "carries": headers,
        "unsigned": "accepted"
        if all(unsigned_passes)
        else "accepted from some senders"
        if any(unsigned_passes)
        else "refused",
        "words": words,
    }


def describe(spec: ServiceSpec) -> dict[str, Any]:
    """Return the JSON that describes one service (no hook, no secret)."""
    example = Hook(id="hook_000", service=spec.name, destination="console", token="", secret="")
    credentials = HookCredentials(example, URL_PLACEHOLDER, SECRET_PLACEHOLDER, created=False)
    return {
        "service": spec.name,
        "path": f"/webhook/{spec.name}/<token>",
        "content_types": list(spec.content_types),
        "kinds": list(spec.kinds),
        "other_kinds": None if spec.open_kinds is None else spec.open_kinds.pattern,
        "default_selection": list(spec.default_selection),
        "aliases": {alias: list(names) for alias, names in spec.aliases.items()},
        "signature": signature_of(spec.name),
        "setup_hint": setup_hint(credentials),
        "samples": sorted(spec.samples),
    }


async def describe_service(request: web.Request) -> web.Response:
    """Answer GET /webhook/{service}: 200 with the description, 404 for an unknown service."""
    spec = SERVICES.get(request.match_info["service"])
    if spec is None or not spec.http:
        known = sorted(name for name, s in SERVICES.items() if s.http)
        return web.json_response({"error": "unknown service", "services": known}, status=404)
    return web.json_response(describe(spec))


def add_describe(app: web.Application) -> None:
    """Serve GET /webhook/{service} on `app`."""
    app.router.add_get("/webhook/{service}", describe_service)
