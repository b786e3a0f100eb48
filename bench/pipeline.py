"""Pipeline benchmark: parse → select → filter → render in process, and a 1,000-hook fan-out.

    .venv/bin/python bench/pipeline.py [--events 5000] [--hooks 1000] [--rounds 300]
        [--services github,gitlab,ci,custom,docker] [--per-service 2000]

Pinned to CPU 0, one process, no server, no database. (a) One GitHub hook with 5 filters and
a user template (`templates["*"]`) runs every delivery of ../shared/corpus/github (or, when
that folder is absent, parsers/samples/github/*.json) through the functions the pipeline
calls (`parsers.github.parse`, `Selection.selects`, `FilterSet.evaluate`,
`with_missing_events` for pings, `find_template`, `render_with`). Every delivery is distinct:
the sender's login (hence the event's author and the rendered text) and the delivery id carry
the delivery's number, and the bodies are built up front, before the clock starts. (b) One
Docker-style Event (built by hand: there is no docker parser) against 1,000 hooks, each with
its own Selection and 5 filters of its own, compiled through `compile_rules`. (c) A mixed
corpus, per service of `parsers.SERVICES`: distinct deliveries (corpus payloads where
../shared/corpus has them, else the bundled samples) through the service's `parse`,
`Selection.selects`, `FilterSet.evaluate` and `render_with`, once with the default template
and once with a user template; events/s per service and variant.

Prints exactly one result line on stdout (diagnostics go to stderr); exits 1 when a
correctness check fails: a delivery that does not parse to one event, a filter decision that
differs from the rules worked out here independently, a rendered message that is not the
template's text for its event, rendered messages that are not all distinct, or (b) a hook
whose outcomes are not the expected ones (including control events that exactly one hook,
or every hook, must drop), or (c) a delivery that gives no event, a dropped or unrendered
event, a template error, an event without its delivery's marker, or a user-template message
that is not the template's text.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from types import MappingProxyType

import orjson

from bot.core.filters import Outcome
from bot.pipeline import (
    HookRules,
    Rendered,
    compile_rules,
    find_template,
    render_with,
    with_missing_events,
)
from bot.store import Hook
from formatters.render import md
from parsers import SERVICES, ServiceSpec, github
from parsers.errors import PayloadError, UnsupportedEventError
from parsers.event import JSON, Event

ROOT = Path(__file__).resolve().parent.parent
CORPUS = (ROOT / ".." / "shared" / "corpus" / "github").resolve()
SAMPLES = ROOT / "parsers" / "samples" / "github"
SHARED = (ROOT / ".." / "shared" / "corpus").resolve()
# (c) The corpus folders that hold real payloads for a service; the rest use the samples.
SERVICE_CORPORA: dict[str, tuple[str, ...]] = {
    "github": ("github",),
    "gitlab": ("gitlab",),
    "ci": ("circleci", "jenkins/notification-plugin"),
}
# (c) Which ci sample names (by prefix) a corpus folder stands for.
CI_PROVIDER_OF_FOLDER = {"circleci": "circleci", "jenkins/notification-plugin": "jenkins"}
NO_DROP_FILTERS = ("author!=bench-nobody", "repo!=bench/none")
CPU = 0
HOOK_TOKEN = "bench-token"
HOOK_SECRET = "bench-secret"

FILTERS = (
    "branch!=gh-pages",
    "author!=dependabot[bot]",
    "path!=docs/**",
    "repo=*/*",
    "label!=wip",
)
TEMPLATE = (
    "🔔 {{ event }} in {{ repo }} by {{ author }}: {{ message }}"
    "{% if commit_count is defined %} ({{ commit_count }} commits){% endif %}"
)
CHUNK = 500  # (a) deliveries per chunk, for the spread on stderr
TARGET_EVENTS_PER_S = 5_000
TARGET_EVALUATIONS_PER_S = 200_000
_OWNER_REPO = re.compile(r"[^/]+/[^/]+")


class BenchError(Exception):
    """A step or a correctness check failed; the message says which."""


@dataclass(frozen=True)
class Delivery:
    """One stored delivery as the pipeline reads it: lower-cased headers and the body."""

    name: str
    headers: Mapping[str, str]
    body: bytes
    login: str


@dataclass(frozen=True)
class Source:
    """One corpus payload, decoded, with the headers it was delivered with."""

    name: str
    headers: dict[str, str]
    payload: dict[str, JSON]


@dataclass
class Stages:
    """Nanoseconds spent in each stage of (a), and the clock at every CHUNK-th delivery."""

    parse: int = 0
    select_filter: int = 0
    render: int = 0
    marks: list[int] = field(default_factory=list)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


_TICK = os.sysconf("SC_CLK_TCK")


def _steal_seconds() -> float:
    """Return CPU 0's steal time so far (the hypervisor ran someone else), from /proc/stat."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith(f"cpu{CPU} "):
                return int(line.split()[8]) / _TICK
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


@dataclass
class Window:
    """What else happened on the CPU while a part ran: our CPU time against wall, and steal."""

    wall: float = 0.0
    cpu: float = 0.0
    steal: float = 0.0

    def __enter__(self) -> Window:
        self._wall, self._cpu, self._steal = (
            time.perf_counter(),
            time.thread_time(),
            _steal_seconds(),
        )
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.thread_time() - self._cpu
        self.steal = _steal_seconds() - self._steal

    def say(self) -> str:
        share = self.cpu / self.wall if self.wall else 0.0
        return (
            f"wall {self.wall:.3f} s, this thread's CPU {self.cpu:.3f} s ({share:.0%}),"
            f" CPU {CPU} steal {self.steal:.2f} s"
        )


def pin() -> None:
    try:
        os.sched_setaffinity(0, {CPU})
    except (OSError, AttributeError) as exc:
        raise BenchError(f"cannot pin to CPU {CPU}: {exc}") from exc
    log(f"pinned to CPU {CPU} (affinity {sorted(os.sched_getaffinity(0))})")


# --------------------------------------------------------------------------- one hook: inputs


def load_sources() -> tuple[list[Source], str]:
    """Read the GitHub corpus (payload + headers files), or the bundled samples.

    Returns the payloads and what they are, for the result line (`corpus`, `sample`).
    """
    sources: list[Source] = []
    if CORPUS.is_dir():
        for path in sorted(CORPUS.glob("*.json")):
            if path.name.endswith(".headers.json"):
                continue
            headers_path = path.with_name(path.name.removesuffix(".json") + ".headers.json")
            if not headers_path.exists():
                raise BenchError(f"{path.name} has no headers file")
            headers = orjson.loads(headers_path.read_bytes())
            sources.append(Source(path.name, headers, orjson.loads(path.read_bytes())))
        log(f"corpus: {len(sources)} payloads from {CORPUS}")
    else:
        log(f"corpus: {CORPUS} is absent; falling back to the bundled samples in {SAMPLES}")
        for path in sorted(SAMPLES.glob("*.json")):
            headers = {"Content-Type": "application/json", "X-GitHub-Event": path.stem}
            sources.append(Source(path.name, headers, orjson.loads(path.read_bytes())))
        log(f"corpus: {len(sources)} bundled samples")
    if not sources:
        raise BenchError("no GitHub payloads found")
    return sources, "corpus" if CORPUS.is_dir() else "sample"


def build_deliveries(sources: Sequence[Source], count: int, tag: str) -> list[Delivery]:
    """Build `count` distinct deliveries, cycling through the sources.

    Each carries its own sender login (`<login>-<tag><n>`) and its own delivery id, so no
    body, event or rendered message repeats; the server lower-cases stored header names,
    and so does this.
    """
    deliveries: list[Delivery] = []
    for n in range(count):
        source = sources[n % len(sources)]
        sender = source.payload.get("sender")
        if not isinstance(sender, dict) or not isinstance(sender.get("login"), str):
            raise BenchError(f"{source.name} has no sender.login to vary")
        original = sender["login"]
        login = f"{original}-{tag}{n:06d}"
        sender["login"] = login
        body = orjson.dumps(source.payload)
        sender["login"] = original
        headers = {k.lower(): v for k, v in source.headers.items()}
        headers["x-github-delivery"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tag}{n}"))
        headers["content-length"] = str(len(body))
        headers.pop("x-hub-signature", None)  # verified before storing; stale here anyway
        headers.pop("x-hub-signature-256", None)
        deliveries.append(Delivery(source.name, headers, body, login))
    if len({d.body for d in deliveries}) != count:
        raise BenchError("the built bodies are not all distinct")
    return deliveries


# --------------------------------------------------------------------------- one hook: run


def make_hook() -> Hook:
    return Hook(
        id="bench-a",
        service=github.SERVICE,
        destination="console",
        token=HOOK_TOKEN,
        secret=HOOK_SECRET,
        events=("*",),
        filters=FILTERS,
        templates={"*": TEMPLATE},
    )


Result = tuple[Event, list[Outcome] | None, Rendered | None]


def run_deliveries(
    hook: Hook, deliveries: Sequence[Delivery], stages: Stages | None = None
) -> tuple[int, list[Result]]:
    """Run the deliveries through the pipeline's steps; return the ns taken and the results.

    A result is (event, filter outcomes or None when not selected, rendered or None when
    dropped). The channel-template mapping is empty: the hook's own template wins anyway.
    """
    rules = compile_rules(hook)
    selection, filters = rules.selection, rules.filters
    channel_templates: Mapping[tuple[str, str], str] = {}
    results: list[Result] = []
    append = results.append
    parse = github.parse
    clock = time.perf_counter_ns
    parse_ns = select_ns = render_ns = 0
    marks: list[int] = []
    started = clock()
    for n, delivery in enumerate(deliveries):
        t0 = clock()
        if n % CHUNK == 0:
            marks.append(t0)
        events = parse(delivery.headers, delivery.body)
        t1 = clock()
        parse_ns += t1 - t0
        for event in events:
            t1 = clock()
            if not selection.selects(event.kind):
                select_ns += clock() - t1
                append((event, None, None))
                continue
            kept, outcomes = filters.evaluate(event)
            t2 = clock()
            select_ns += t2 - t1
            if not kept:
                append((event, outcomes, None))
                continue
            shown = with_missing_events(hook, event) if event.kind == "ping" else event
            rendered = render_with(find_template(hook, shown, channel_templates), shown)
            render_ns += clock() - t2
            append((shown, outcomes, rendered))
    ended = clock()
    elapsed = ended - started
    if stages is not None:
        stages.marks = [*marks, ended]
        stages.parse += parse_ns
        stages.select_filter += select_ns
        stages.render += render_ns
    return elapsed, results


def expected_keep(event: Event) -> bool:
    """Decide FILTERS for an event by hand (not through bot.core.filters)."""
    if event.branch is not None and event.branch == "gh-pages":
        return False
    if event.actor is not None and event.actor.lower() == "dependabot[bot]":
        return False
    files = event.fields.get("files")
    if isinstance(files, list) and files and all(str(f).startswith("docs/") for f in files):
        return False
    if not _OWNER_REPO.fullmatch(event.source):
        return False
    labels = event.fields.get("labels")
    return not (isinstance(labels, list) and any(str(x).lower() == "wip" for x in labels))


def expected_content(event: Event) -> str:
    """What TEMPLATE renders for an event, worked out without Jinja.

    User templates escape every printed value for Discord markdown (`md`).
    """
    kind, source, actor, title = (
        md(v) for v in (event.kind, event.source, event.actor, event.title)
    )
    text = f"🔔 {kind} in {source} by {actor}: {title}"
    if "commit_count" in event.fields:
        text += f" ({event.fields['commit_count']} commits)"
    return text.strip()


def check_results(deliveries: Sequence[Delivery], results: Sequence[Result]) -> tuple[int, int]:
    """Check every result; return (rendered, dropped by filters). BenchError on a mismatch."""
    if len(results) != len(deliveries):
        raise BenchError(f"{len(deliveries)} deliveries gave {len(results)} events, not one each")
    contents: set[str] = set()
    rendered_count = dropped = 0
    for delivery, (event, outcomes, rendered) in zip(deliveries, results, strict=True):
        where = f"{delivery.name} ({delivery.login})"
        if event.actor != delivery.login:
            raise BenchError(f"{where}: the event's author is {event.actor!r}")
        if outcomes is None:
            raise BenchError(f"{where}: `*` did not select {event.kind}")
        keep = expected_keep(event)
        if (rendered is not None) != keep:
            raise BenchError(f"{where}: filters gave {outcomes}, expected keep={keep}")
        if rendered is None:
            dropped += 1
            continue
        if rendered.template_error:
            raise BenchError(f"{where}: {rendered.template_error}")
        content = rendered.message.content
        want = expected_content(event)
        if content != want and not (len(want) > len(content) and content.endswith("…")):
            raise BenchError(f"{where}: rendered {content!r}, expected {want!r}")
        contents.add(content)
        rendered_count += 1
    if len(contents) != rendered_count:
        raise BenchError(f"{rendered_count} rendered messages, only {len(contents)} distinct")
    if rendered_count == 0:
        raise BenchError("every event was dropped; nothing was rendered")
    return rendered_count, dropped


@dataclass(frozen=True)
class PartA:
    events: int
    seconds: float
    rendered: int
    dropped: int
    origin: str


def bench_a(count: int) -> PartA:
    sources, origin = load_sources()
    hook = make_hook()
    warm = build_deliveries(sources, len(sources), "w")
    _, warm_results = run_deliveries(hook, warm)  # compiles the template, globs, lookups
    check_results(warm, warm_results)
    deliveries = build_deliveries(sources, count, "b")
    size = sum(len(d.body) for d in deliveries)
    log(f"(a) {count} distinct deliveries built, {size / count / 1024:.1f} KB average body")
    gc.collect()
    stages = Stages()
    with Window() as window:
        elapsed_ns, results = run_deliveries(hook, deliveries, stages)
    log(f"(a) timed loop: {window.say()}")
    rendered, dropped = check_results(deliveries, results)
    seconds = elapsed_ns / 1e9
    edges = list(zip(stages.marks, stages.marks[1:], strict=False))
    chunk_us = [(end - start) / 1000 / CHUNK for start, end in edges[: count // CHUNK]]
    if chunk_us:
        log(
            f"(a) µs/event per chunk of {CHUNK}: min {min(chunk_us):.0f},"
            f" median {statistics.median(chunk_us):.0f}, max {max(chunk_us):.0f}"
            f" (best chunk {1e6 / min(chunk_us):.0f} events/s)"
        )
    log(
        f"(a) {count} events in {seconds:.3f} s: {rendered} rendered, {dropped} dropped by"
        f" filters; per event: parse {stages.parse / count / 1000:.1f} µs,"
        f" select+filter {stages.select_filter / count / 1000:.1f} µs,"
        f" render {stages.render / max(rendered, 1) / 1000:.1f} µs per rendered event"
    )
    return PartA(count, seconds, rendered, dropped, origin)


# --------------------------------------------------------------------------- fan-out


def docker_event(**changes: object) -> Event:
    event = Event(
        service="docker",
        kind="container.die",
        source="host/web",
        delivery_id="bench-docker-1",
        occurred_at=None,
        title="web (nginx:1.25) exited with 137",
        actor=None,
        status="failure",
        fields=MappingProxyType(
            {"exit_code": "137", "image": "nginx:1.25", "name": "web", "labels": ["prod"]}
        ),
    )
    return replace(event, **changes)


def docker_hooks(count: int) -> list[Hook]:
    return [
        Hook(
            id=f"bench-b{i}",
            service="docker",
            destination="console",
            token=f"token-{i}",
            secret=f"secret-{i}",
            events=("container.*", f"-container.exec_{i}"),
            filters=(
                f"repo!=org{i}/*",
                f"author!=bot{i}",
                "status=fail*,error",
                f"label!=wip{i}",
                "kind=container.*",
            ),
        )
        for i in range(count)
    ]


def fan_out(rules: Sequence[HookRules], event: Event) -> list[tuple[bool, bool, list[Outcome]]]:
    """Evaluate one event against every hook, untimed, keeping every answer."""
    answers = []
    for compiled in rules:
        selected = compiled.selection.selects(event.kind)
        kept, outcomes = compiled.filters.evaluate(event)
        answers.append((selected, kept, outcomes))
    return answers


def check_fan_out(rules: Sequence[HookRules]) -> None:
    """Check the hooks' answers for the benchmark event and for control events."""
    event = docker_event()
    for i, (selected, kept, outcomes) in enumerate(fan_out(rules, event)):
        if not selected or not kept or outcomes != [True, None, True, True, True]:
            raise BenchError(f"(b) hook {i}: selected={selected} kept={kept} {outcomes}")
    controls = {
        "source org7/api": (docker_event(source="org7/api"), {7}),
        "author bot42": (docker_event(actor="bot42"), {42}),
        "label wip3": (
            docker_event(fields=MappingProxyType({**event.fields, "labels": ["prod", "WIP3"]})),
            {3},
        ),
        "status success": (docker_event(status="success"), set(range(len(rules)))),
        "kind image.pull": (docker_event(kind="image.pull"), set(range(len(rules)))),
    }
    for label, (control, droppers) in controls.items():
        dropped = {
            i for i, (sel, kept, _) in enumerate(fan_out(rules, control)) if not (sel and kept)
        }
        expected = {i for i in droppers if i < len(rules)}
        if dropped != expected:
            raise BenchError(f"(b) control {label}: dropped by {sorted(dropped)[:10]}…")
    exec_event = docker_event(kind="container.exec_5")
    unselected = [i for i, (sel, _, _) in enumerate(fan_out(rules, exec_event)) if not sel]
    if unselected != ([5] if len(rules) > 5 else []):
        raise BenchError(f"(b) container.exec_5 unselected by {unselected[:10]}")


@dataclass(frozen=True)
class PartB:
    hooks: int
    evaluations: int
    seconds: float
    round_us: list[float]


def bench_b(count: int, rounds: int) -> PartB:
    hooks = docker_hooks(count)
    rules = [compile_rules(hook) for hook in hooks]
    if len({id(r.selection) for r in rules}) != count:
        raise BenchError("(b) hooks share a Selection")
    check_fan_out(rules)
    event = docker_event()
    kind = event.kind
    pairs = [(r.selection.selects, r.filters.evaluate) for r in rules]
    clock = time.perf_counter_ns
    gc.collect()
    round_ns: list[int] = []
    kept_total = 0
    with Window() as window:
        for _ in range(rounds):
            started = clock()
            kept_round = 0
            for selects, evaluate in pairs:
                if selects(kind):
                    kept, _outcomes = evaluate(event)
                    kept_round += kept
            round_ns.append(clock() - started)
            kept_total += kept_round
    log(f"(b) timed rounds: {window.say()}")
    evaluations = count * rounds
    if kept_total != evaluations:
        raise BenchError(f"(b) {evaluations - kept_total} timed evaluations dropped the event")
    seconds = sum(round_ns) / 1e9
    round_us = [ns / 1000 for ns in round_ns]
    log(
        f"(b) {evaluations} evaluations in {seconds:.3f} s; one fan-out to {count} hooks:"
        f" min {min(round_us):.0f} µs, median {statistics.median(round_us):.0f} µs,"
        f" max {max(round_us):.0f} µs (best round {count / min(round_us) * 1e6:,.0f}/s)"
    )
    return PartB(count, evaluations, seconds, round_us)


# --------------------------------------------------------------------------- per service


@dataclass(frozen=True)
class ServiceSource:
    """One payload for a service, with its headers and the leaf value varied per delivery."""

    name: str
    headers: dict[str, str]
    payload: JSON
    marker: str


@dataclass(frozen=True)
class ServiceDelivery:
    name: str
    headers: Mapping[str, str]
    body: bytes
    marker: str


def _leaves(value: JSON) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return []


def swap_leaf(value: JSON, old: str, new: str) -> JSON:
    """Return the payload with every string leaf equal to `old` replaced by `new`."""
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, dict):
        return {k: swap_leaf(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [swap_leaf(v, old, new) for v in value]
    return value


def _shown(event: Event) -> str:
    return " ".join(x for x in (event.actor, event.source, event.title) if x)


def _id_headers(spec: ServiceSpec) -> set[str]:
    module = sys.modules[spec.parse.__module__]
    names = (getattr(module, "DELIVERY_HEADER", ""), *getattr(module, "DELIVERY_HEADERS", ()))
    return {name.lower() for name in names if name}


def _headers_for(
    spec: ServiceSpec, source: ServiceSource, body: bytes, delivery: str, sample: bool
) -> dict[str, str]:
    if sample:
        sent = spec.sample_headers(source.name, body, HOOK_SECRET, delivery)
        return {k.lower(): v for k, v in sent.items()}
    ids = _id_headers(spec)
    headers = {k.lower(): (delivery if k.lower() in ids else v) for k, v in source.headers.items()}
    headers["content-length"] = str(len(body))
    return headers


def _try_parse(spec: ServiceSpec, headers: Mapping[str, str], body: bytes) -> list[Event]:
    try:
        return spec.parse(headers, body, {})
    except (UnsupportedEventError, PayloadError):
        return []


def with_marker(spec: ServiceSpec, name: str, headers: dict[str, str], payload: JSON, sample: bool):
    """Find a string leaf that shows in the event (author first, then title/source words).

    Returns the source with that leaf as its marker, or None when the payload gives no
    event (an event hookbot ignores) or no leaf shows.
    """
    probe = ServiceSource(name, headers, payload, "")
    body = orjson.dumps(payload)
    events = _try_parse(spec, _headers_for(spec, probe, body, "probe", sample), body)
    if not events:
        return None
    shown = _shown(events[0])
    leaves = sorted({x for x in _leaves(payload) if len(x) >= 3 and x in shown}, key=len)
    if events[0].actor in leaves:
        leaves.remove(events[0].actor)
        leaves.append(events[0].actor)
    for leaf in reversed(leaves):
        new = f"{leaf}-probe000001"
        changed = swap_leaf(payload, leaf, new)
        body = orjson.dumps(changed)
        got = _try_parse(spec, _headers_for(spec, probe, body, "probe", sample), body)
        if got and all(new in _shown(e) for e in got):
            return ServiceSource(name, headers, payload, leaf)
    return None


def load_service_sources(spec: ServiceSpec) -> tuple[list[ServiceSource], str, bool]:
    """Read a service's payloads: its corpus folders when present, else the bundled samples.

    For `ci`, bundled samples fill in the providers the corpus lacks (Actions, GitLab CI).
    Returns (sources, what they are, whether they are samples).
    """
    raw: list[tuple[str, dict[str, str], JSON, bool]] = []
    folders = [SHARED / f for f in SERVICE_CORPORA.get(spec.name, ()) if (SHARED / f).is_dir()]
    covered: set[str] = set()
    for folder in folders:
        covered.add(CI_PROVIDER_OF_FOLDER.get(str(folder.relative_to(SHARED)), ""))
        for path in sorted(folder.glob("*.json")):
            if path.name.endswith(".headers.json"):
                continue
            headers_path = path.with_name(path.name.removesuffix(".json") + ".headers.json")
            headers = orjson.loads(headers_path.read_bytes()) if headers_path.exists() else {}
            raw.append((path.name, headers, orjson.loads(path.read_bytes()), False))
    samples = ROOT / "parsers" / "samples" / spec.name
    for name in spec.samples:
        if folders and not (spec.name == "ci" and name.split("_", 1)[0] not in covered):
            continue
        raw.append((name, {}, orjson.loads((samples / f"{name}.json").read_bytes()), True))
    sources: list[ServiceSource] = []
    skipped: list[str] = []
    for name, headers, payload, sample in raw:
        found = with_marker(spec, name, headers, payload, sample)
        if found is None:
            skipped.append(name)
        else:
            sources.append(found)
    kinds = {sample for *_, sample in raw}
    origin = "+".join(sorted("sample" if s else "corpus" for s in kinds))
    if skipped:
        log(f"(c) {spec.name}: skipped {len(skipped)} (no event, or nothing to vary): {skipped}")
    if not sources:
        raise BenchError(f"(c) {spec.name}: no usable payloads")
    return sources, origin, True in kinds


def build_service_deliveries(
    spec: ServiceSpec, sources: Sequence[ServiceSource], count: int, tag: str
) -> list[ServiceDelivery]:
    """`count` distinct deliveries: the marker leaf and the delivery id carry the number."""
    deliveries: list[ServiceDelivery] = []
    for n in range(count):
        source = sources[n % len(sources)]
        marker = f"{source.marker}-{tag}{n:06d}"
        body = orjson.dumps(swap_leaf(source.payload, source.marker, marker))
        sample = not source.headers
        delivery = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{spec.name}{tag}{n}"))
        headers = _headers_for(spec, source, body, delivery, sample)
        deliveries.append(ServiceDelivery(source.name, headers, body, marker))
    if len({d.body for d in deliveries}) != count:
        raise BenchError(f"(c) {spec.name}: the built bodies are not all distinct")
    return deliveries


def service_hook(spec: ServiceSpec, user_template: bool) -> Hook:
    return Hook(
        id=f"bench-c-{spec.name}",
        service=spec.name,
        destination="console",
        token=HOOK_TOKEN,
        secret=HOOK_SECRET,
        events=("*",),
        filters=NO_DROP_FILTERS,
        templates={"*": TEMPLATE} if user_template else {},
    )


ServiceResult = tuple[int, Event, Rendered | None]


def run_service(
    spec: ServiceSpec, hook: Hook, deliveries: Sequence[ServiceDelivery]
) -> tuple[int, int, list[ServiceResult]]:
    """Run the deliveries as the pipeline does; return (ns, events, results)."""
    rules = compile_rules(hook)
    selects, evaluate = rules.selection.selects, rules.filters.evaluate
    parse, payload_of = spec.parse, spec.payload_of
    connection_kind = spec.connection_kind
    channel_templates: Mapping[tuple[str, str], str] = {}
    options: Mapping[str, JSON] = {}
    results: list[ServiceResult] = []
    append = results.append
    clock = time.perf_counter_ns
    started = clock()
    for n, delivery in enumerate(deliveries):
        events = parse(delivery.headers, delivery.body, options)
        payload = partial(payload_of, delivery.headers, delivery.body)
        for event in events:
            if not selects(event.kind):
                append((n, event, None))
                continue
            kept, _outcomes = evaluate(event)
            if not kept:
                append((n, event, None))
                continue
            shown = with_missing_events(hook, event) if event.kind == connection_kind else event
            template = find_template(hook, shown, channel_templates)
            append((n, shown, render_with(template, shown, payload)))
    elapsed = clock() - started
    return elapsed, len(results), results


def check_service(
    spec: ServiceSpec,
    deliveries: Sequence[ServiceDelivery],
    results: Sequence[ServiceResult],
    user_template: bool,
) -> None:
    variant = "user template" if user_template else "default template"
    where = f"(c) {spec.name}, {variant}"
    if {n for n, _, _ in results} != set(range(len(deliveries))):
        raise BenchError(f"{where}: some deliveries gave no event")
    contents: list[str] = []
    for n, event, rendered in results:
        delivery = deliveries[n]
        at = f"{where}: {delivery.name} #{n}"
        if rendered is None:
            raise BenchError(f"{at}: {event.kind} was not selected or was dropped")
        if rendered.template_error:
            raise BenchError(f"{at}: {rendered.template_error}")
        message = rendered.message
        if not (message.content.strip() or message.embeds):
            raise BenchError(f"{at}: an empty message")
        if delivery.marker not in _shown(event):
            raise BenchError(f"{at}: the event does not carry {delivery.marker!r}")
        if user_template and not spec.body_names:
            want = expected_content(event)
            content = message.content
            if content != want and not (len(want) > len(content) and content.endswith("…")):
                raise BenchError(f"{at}: rendered {content!r}, expected {want!r}")
            contents.append(content)
    if len(set(contents)) != len(contents):
        raise BenchError(f"{where}: the rendered messages are not all distinct")


@dataclass(frozen=True)
class ServiceFigure:
    service: str
    origin: str
    payloads: int
    events: int
    default_per_s: float
    user_per_s: float


def bench_c(names: Sequence[str], count: int) -> list[ServiceFigure]:
    figures: list[ServiceFigure] = []
    for name in names:
        spec = SERVICES[name]
        sources, origin, _ = load_service_sources(spec)
        rates: list[float] = []
        events = 0
        for user_template in (False, True):
            hook = service_hook(spec, user_template)
            warm = build_service_deliveries(spec, sources, len(sources), "w")
            _, _, warm_results = run_service(spec, hook, warm)
            check_service(spec, warm, warm_results, user_template)
            deliveries = build_service_deliveries(spec, sources, count, "c")
            gc.collect()
            with Window() as window:
                elapsed_ns, events, results = run_service(spec, hook, deliveries)
            check_service(spec, deliveries, results, user_template)
            rate = events / (elapsed_ns / 1e9)
            rates.append(rate)
            variant = "user template" if user_template else "default template"
            log(
                f"(c) {name}, {variant}: {count} deliveries → {events} events in"
                f" {elapsed_ns / 1e9:.3f} s, {rate:,.0f} events/s, {1e9 / rate / 1000:.0f}"
                f" µs/event ({len(sources)} {origin} payloads); {window.say()}"
            )
        figures.append(ServiceFigure(name, origin, len(sources), events, rates[0], rates[1]))
    return figures


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description="hookbot pipeline benchmark (bench/README.md)")
    parser.add_argument("--events", type=int, default=5000, help="(a) distinct deliveries")
    parser.add_argument("--hooks", type=int, default=1000, help="(b) hooks in the fan-out")
    parser.add_argument("--rounds", type=int, default=300, help="(b) fan-outs timed")
    parser.add_argument(
        "--services",
        default=",".join(SERVICES),
        help="(c) comma-separated services (default: all of parsers.SERVICES)",
    )
    parser.add_argument(
        "--per-service", type=int, default=2000, help="(c) distinct deliveries per service"
    )
    args = parser.parse_args()
    if args.events < 1 or args.hooks < 1 or args.rounds < 1 or args.per_service < 1:
        parser.error("--events, --hooks, --rounds and --per-service must be positive")
    services = [name.strip() for name in args.services.split(",") if name.strip()]
    unknown = [name for name in services if name not in SERVICES]
    if unknown or not services:
        parser.error(f"--services: unknown {unknown}; known: {', '.join(SERVICES)}")
    try:
        pin()
        a = bench_a(args.events)
        b = bench_b(args.hooks, args.rounds)
        c = bench_c(services, args.per_service)
    except BenchError as exc:
        log(f"pipeline: FAILED: {exc}")
        return 1

    events_per_s = a.events / a.seconds
    evaluations_per_s = b.evaluations / b.seconds
    print(
        f"pipeline: (a) {events_per_s:.0f} events/s, {a.seconds / a.events * 1e6:.0f} µs/event"
        f" over {a.events:,} distinct {a.origin} events (5 filters + user template;"
        f" {a.rendered:,} rendered, {a.dropped:,} dropped)"
        f" | (b) {evaluations_per_s:,.0f} hook evaluations/s"
        f" ({b.hooks:,} hooks × 5 filters)"
        " | (c) per service, default / user template: "
        + ", ".join(
            f"{f.service} {f.default_per_s:,.0f} / {f.user_per_s:,.0f} ev/s ({f.origin})" for f in c
        ),
        flush=True,
    )
    if events_per_s < TARGET_EVENTS_PER_S:
        log(f"(a) below the target of {TARGET_EVENTS_PER_S:,} events/s")
    if evaluations_per_s < TARGET_EVALUATIONS_PER_S:
        log(f"(b) below the target of {TARGET_EVALUATIONS_PER_S:,} evaluations/s")
    for f in c:
        if min(f.default_per_s, f.user_per_s) < TARGET_EVENTS_PER_S:
            log(f"(c) {f.service} below the target of {TARGET_EVENTS_PER_S:,} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
