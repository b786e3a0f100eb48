"""docs/events.md is generated from the registry of services and must be committed up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import eventdocs
from formatters.render import template_context
from parsers import SERVICES

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DOC = ROOT / "docs" / "events.md"
REGENERATE = "run `python -m bot.eventdocs > docs/events.md` and commit the result"

EVENTS = [
    (service, name) for service, spec in SERVICES.items() for name in eventdocs.event_names(spec)
]
SAMPLES = [(service, name) for service, spec in SERVICES.items() for name in spec.samples]


@pytest.fixture(scope="module")
def doc() -> str:
    """The document as rendered now."""
    return eventdocs.render_events_doc()


def _section(doc: str, service: str, event: str) -> str:
    """Return the text of one event's section (up to the next anchor)."""
    start = doc.index(f'<a id="{service}-{event}"></a>')
    end = doc.find("<a id=", start + 1)
    return doc[start : end if end >= 0 else len(doc)]


def _service_section(doc: str, service: str) -> str:
    """Return the text of one service's section (up to the next service's)."""
    starts = {name: doc.index(f'<a id="{name}"></a>') for name in SERVICES}
    start = starts[service]
    return doc[start : min((s for s in starts.values() if s > start), default=len(doc))]


def test_events_doc_is_up_to_date(doc: str) -> None:
    """The committed docs/events.md equals what bot.eventdocs renders now."""
    assert EVENTS_DOC.is_file(), f"docs/events.md is missing: {REGENERATE}"
    committed = EVENTS_DOC.read_text(encoding="utf-8")
    assert committed == doc, f"docs/events.md is stale: {REGENERATE}"


def test_events_doc_is_deterministic(doc: str) -> None:
    """Two renders are identical (no clock, no set or dict-order surprises)."""
    assert eventdocs.render_events_doc() == doc


def test_events_doc_main_writes_the_document(doc: str) -> None:
    """`python -m bot.eventdocs` prints exactly the rendered document, as UTF-8."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.eventdocs"], cwd=ROOT, capture_output=True, check=True
    )
    assert result.stdout.decode("utf-8") == doc


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_service_has_a_section_with_its_defaults_and_aliases(service: str, doc: str) -> None:
    """Each registered service has a section naming its default selection and aliases."""
    spec = SERVICES[service]
    assert f"| [`{service}`](#{service}) |" in doc, "missing from the contents"
    section = _service_section(doc, service)
    selection_line = next(
        line for line in section.splitlines() if line.startswith("Default selection")
    )
    for pattern in spec.default_selection:
        assert f"`{pattern}`" in selection_line, pattern
    for alias, targets in spec.aliases.items():
        said = f"`{alias}` → " + ", ".join(f"`{t}`" for t in targets)
        assert said in section, alias
        assert f"| `{service}` | `{alias}` |" in doc, "missing from the aliases table"
    if spec.open_kinds is not None:
        assert spec.open_kinds.pattern in section


@pytest.mark.parametrize(("service", "event"), EVENTS, ids=[f"{s}-{e}" for s, e in EVENTS])
def test_every_event_has_a_section_with_its_kinds_and_samples(
    service: str, event: str, doc: str
) -> None:
    """Each event of each service has a section listing its kinds and each sample's message."""
    spec = SERVICES[service]
    section = _section(doc, service, event)
    assert f"### `{event}` ({service})" in section
    kinds_line = next(line for line in section.splitlines() if line.startswith("Kinds:"))
    for kind in (k for k in spec.kinds if k.partition(".")[0] == event):
        assert f"`{kind}`" in kinds_line, kind
    samples = [name for name, kind in spec.samples.items() if kind.partition(".")[0] == event]
    for name in samples:
        assert f"`hookbot send-sample {service} {name}` (`{spec.samples[name]}`) posts:" in section
    if not samples:
        assert "No bundled sample." in section


@pytest.mark.parametrize(("service", "name"), SAMPLES, ids=[f"{s}-{n}" for s, n in SAMPLES])
def test_every_sample_parses_to_its_registered_kind(service: str, name: str) -> None:
    """A bundled sample, sent with its sender's headers, gives the kind the registry names."""
    spec = SERVICES[service]
    event = eventdocs.sample_event(service, name)
    assert event.kind == spec.samples[name]
    assert event.service == service
    assert spec.knows_kind(event.kind)


def test_sample_event_unknown_sample_raises() -> None:
    """Asking for a sample the registry does not list is a KeyError, not a guess."""
    with pytest.raises(KeyError):
        eventdocs.sample_event(next(iter(SERVICES)), "no-such-sample")


def test_github_samples_describe_octo_org_hello_world_by_mona() -> None:
    """GitHub's samples tell one story: repo octo-org/Hello-World, sender mona et al."""
    for sample in eventdocs.samples_of("github"):
        event = sample.event
        assert event.source == "octo-org/Hello-World", sample.name
        assert event.actor in {"mona", "octocat", "hubot"}, sample.name
        assert event.url, sample.name


def test_github_every_event_name_has_a_sample() -> None:
    """Every GitHub event the parser handles by name has a bundled sample (send-sample, docs)."""
    spec = SERVICES["github"]
    with_samples = {kind.partition(".")[0] for kind in spec.samples.values()}
    assert set(eventdocs.event_names(spec)) == with_samples


def test_template_variables_are_what_templates_see() -> None:
    """The documented variables are exactly the ones template_context adds to the fields."""
    for service in SERVICES:
        event = eventdocs.samples_of(service)[0].event
        context = template_context(event)
        assert set(eventdocs.TEMPLATE_VARIABLES) <= set(context), service
        assert set(context) - set(eventdocs.TEMPLATE_VARIABLES) <= set(event.fields), service


def test_every_sample_field_is_documented(doc: str) -> None:
    """Each field a sample carries has a description in its service's FIELD_DOCS (no "—")."""
    undocumented = [line for line in doc.splitlines() if line.endswith("| — |")]
    assert not undocumented, "document these in the parser's FIELD_DOCS:\n" + "\n".join(
        undocumented
    )


def test_open_service_documents_any_key_with_the_samples_keys(doc: str) -> None:
    """A service with open kinds shows its `<key>` row with keys its samples really carry."""
    for service, spec in SERVICES.items():
        if spec.open_kinds is None:
            continue
        keys = {
            key
            for sample in eventdocs.samples_of(service)
            for key, value in sample.event.fields.items()
            if isinstance(value, str | int | float)
            and not any(key in d for d in spec.field_docs.values())
        }
        rows = [line for line in doc.splitlines() if line.startswith("| `<key>` |")]
        assert rows, service
        assert any(key in rows[0] for key in keys), rows[0]
