"""The registry's contract, checked for every registered service (parsers.SERVICES).

Over each spec's bundled samples, and over ../shared/corpus for the provider folders of
the services that receive them:

* a sample of a service that receives HTTP, sent with its signed sample headers,
  verifies; with another secret, a sample whose headers carry a credential does not;
* it parses, and gives the kind `samples` says (among the kinds it gives);
* `identify` agrees with `parse`: the same delivery id, and the event name is the kinds'
  event (`push` for `push`, `merge_request` for `merge_request.open`) or, for a service
  with several providers, `<provider>:<the provider's event>` with that provider;
* every kind it gives is one the spec knows (`knows_kind`);
* `field_docs` document every top-level field its events carry;
* the default selection and every alias expand to kinds the spec knows.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from bot.core.selection import selects
from parsers import SERVICES, ServiceSpec
from parsers.errors import SignatureError
from parsers.event import Event

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
CORPUS_SECRET = "It's a Secret to Everybody"  # what the corpus signs with (its README)
SECRET = "contract-secret-" + "s" * 32
OTHER_SECRET = "another-secret-" + "o" * 32

# Which corpus folders each service receives. A registered HTTP service must appear here;
# an empty tuple says that no provider-written corpus exists for it.
CORPUS_FOLDERS: dict[str, tuple[str, ...]] = {
    "github": ("github",),
    "gitlab": ("gitlab",),
    "ci": ("circleci", "jenkins/notification-plugin"),
    "custom": (),
}

SAMPLES = [(spec.name, name) for spec in SERVICES.values() for name in spec.samples]


def _carries_credential(service: str, name: str) -> bool:
    """Whether a sample's sender sends a credential header (Jenkins' is the URL token)."""
    spec = SERVICES[service]
    body = _sample_body(service, name)
    signed = spec.sample_headers(name, body, SECRET, "contract")
    return spec.http and signed != spec.sample_headers(name, body, OTHER_SECRET, "contract")


NO_CORPUS = f"../shared/corpus is absent ({CORPUS}): the corpus half of the contract needs it"


def _corpus_cases() -> list[object]:
    if not CORPUS.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=NO_CORPUS))]
    return [
        pytest.param(service, path, id=f"{service}:{path.relative_to(CORPUS)}")
        for service, folders in CORPUS_FOLDERS.items()
        for folder in folders
        for path in sorted((CORPUS / folder).glob("*.json"))
        if not path.name.endswith(".headers.json")
    ]


def _sample_body(service: str, name: str) -> bytes:
    return (resources.files("parsers") / "samples" / service / f"{name}.json").read_bytes()


SIGNED_SAMPLES = [
    (service, name) for service, name in SAMPLES if _carries_credential(service, name)
]


def _check_delivery(spec: ServiceSpec, headers: dict[str, str], body: bytes) -> list[Event]:
    """Identify and parse one verified delivery; check what every delivery must satisfy."""
    event_name, delivery = spec.identify(headers, body)
    assert event_name, "identify found no event name"
    events = spec.parse(headers, body, {})
    assert events, "parse gave no event"
    provider, colon, _ = event_name.rpartition(":")
    for event in events:
        assert event.service == spec.name
        assert event.delivery_id == (delivery or ""), "identify and parse name other ids"
        if colon:
            assert event.provider == provider, f"{event_name} parsed as {event.provider}"
        else:
            assert event.kind.split(".", 1)[0] == event_name, f"{event_name} → {event.kind}"
        assert spec.knows_kind(event.kind), f"{event.kind} is not a known {spec.name} kind"
        _check_documented(spec, event)
    return events


def _check_documented(spec: ServiceSpec, event: Event) -> None:
    """Every top-level field of the event has a doc line (a path at or under it)."""
    docs = {**spec.field_docs.get("*", {}), **spec.field_docs.get(event.kind.split(".")[0], {})}
    if "<key>" in docs:  # any top-level key of the body (custom)
        return
    undocumented = [
        key
        for key in event.fields
        if not any(path == key or path.startswith((f"{key}.", f"{key}[")) for path in docs)
    ]
    assert not undocumented, f"{spec.name} {event.kind}: undocumented fields {undocumented}"


@pytest.mark.parametrize(("service", "name"), SAMPLES, ids=[f"{s}:{n}" for s, n in SAMPLES])
def test_every_sample_verifies_parses_and_is_known(service: str, name: str) -> None:
    spec = SERVICES[service]
    body = _sample_body(service, name)
    headers = spec.sample_headers(name, body, SECRET, f"contract-{name}")
    if spec.http:
        spec.verify(headers, body, SECRET, {})
    if spec.signature_optional:
        spec.verify(headers, body, SECRET, {"signed": True})
    events = _check_delivery(spec, headers, body)
    assert spec.samples[name] in [event.kind for event in events]


@pytest.mark.parametrize(
    ("service", "name"), SIGNED_SAMPLES, ids=[f"{s}:{n}" for s, n in SIGNED_SAMPLES]
)
def test_a_sample_signed_with_another_secret_is_refused(service: str, name: str) -> None:
    spec = SERVICES[service]
    body = _sample_body(service, name)
    headers = spec.sample_headers(name, body, OTHER_SECRET, f"contract-{name}")
    with pytest.raises(SignatureError):
        spec.verify(headers, body, SECRET, {})


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_default_selection_and_aliases_name_known_kinds(service: str) -> None:
    spec = SERVICES[service]
    assert spec.samples, f"{service} has no bundled sample"
    known = [*spec.kinds, *spec.samples.values()]
    for pattern in spec.default_selection:
        assert any(selects((pattern,), service, kind) for kind in known), pattern
    for alias, patterns in spec.aliases.items():
        assert patterns, alias
        for pattern in patterns:
            assert any(selects((pattern,), service, kind) for kind in known), (alias, pattern)
    assert all(spec.knows_kind(kind) for kind in spec.samples.values())


def test_every_http_service_says_which_corpus_folders_it_receives() -> None:
    http = {name for name, spec in SERVICES.items() if spec.http}
    assert http <= set(CORPUS_FOLDERS), f"add {sorted(http - set(CORPUS_FOLDERS))} to the table"


@pytest.mark.parametrize(("service", "path"), _corpus_cases())
def test_every_corpus_payload_verifies_parses_and_is_known(service: str, path: Path) -> None:
    spec = SERVICES[service]
    headers = json.loads(path.with_name(path.name[:-5] + ".headers.json").read_text("utf-8"))
    body = path.read_bytes()
    spec.verify(headers, body, CORPUS_SECRET, {})
    _check_delivery(spec, headers, body)
