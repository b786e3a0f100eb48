"""Wrong types at every level of each provider's sample payload.

For each sample, a fixed set of JSON paths is drawn with a fixed seed, at least one path
at every depth of the document, and the value there is replaced by a string, null, a huge
number, a 10,000-deep array and a 1 MB string. Each mutant is signed as the sender signs
it and posted. A 10,000-deep array is past the JSON parser's depth limit: 400, nothing
stored. Every other mutant is valid JSON with a valid signature: 2xx, and whatever the
pipeline makes of it (a message, or a recorded parse failure) leaves no traceback and
nothing live in the channel.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator

import pytest

from parsers import SERVICES
from tests.conftest import sample
from tests.hostile.conftest import Watch

SEED = 19
PATHS_PER_SAMPLE = 6
DEEP = 10_000

Path = tuple[str | int, ...]

SAMPLES = {
    "github": ["push", "pull_request", "issues", "issue_comment", "release", "workflow_run"],
    "gitlab": ["push", "merge_request", "pipeline.failed", "note"],
    "ci": [
        "circleci_workflow_failed",
        "jenkins_failed",
        "actions_run_failed",
        "gitlab_pipeline_failed",
    ],
    "custom": ["server_alert", "deploy_finished"],
}

# name -> JSON text of the replacement (spliced in as text: orjson would refuse to dump
# a 10,000-deep list, and a huge integer literal is what a hostile sender writes).
MUTATIONS = {
    "string": '"a string where something else was"',
    "null": "null",
    "huge-number": "1" + "0" * 300,
    "deep-array": "[" * DEEP + "]" * DEEP,
    "1mb-string": '"' + "x" * 1_000_000 + '"',
}


def paths(value: object, prefix: Path = ()) -> Iterator[Path]:
    """Every path in a JSON document, parents before children."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


def chosen_paths(document: object, rng: random.Random) -> list[Path]:
    """One path at each depth, then random others, PATHS_PER_SAMPLE at most per depth set."""
    by_depth: dict[int, list[Path]] = {}
    for path in paths(document):
        by_depth.setdefault(len(path), []).append(path)
    picked = [rng.choice(by_depth[depth]) for depth in sorted(by_depth)]
    rest = [path for group in by_depth.values() for path in group if path not in picked]
    extra = max(PATHS_PER_SAMPLE - len(picked), 0)
    return picked + rng.sample(rest, min(extra, len(rest)))


MARK = "\x00MUTANT\x00"


def mutant(document: object, path: Path, replacement: str) -> bytes:
    """The document with the value at `path` replaced by the JSON text `replacement`."""
    copy = json.loads(json.dumps(document))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = MARK
    text = json.dumps(copy)
    return text.replace(json.dumps(MARK), replacement, 1).encode()


def unique(document: dict[str, object], number: int) -> dict[str, object]:
    """Give a body-identified delivery its own id, so no mutant is a redelivery."""
    if isinstance(document.get("id"), str):  # CircleCI dedupes on the body's id
        document["id"] = str(uuid.uuid4())
    build = document.get("build")
    if isinstance(build, dict) and "number" in build:  # Jenkins: name#number:phase
        build["number"] = number
    return document


@pytest.mark.parametrize("service", list(SAMPLES))
async def test_wrong_types_are_answered_and_leave_no_trace(watch: Watch, service: str):
    rng = random.Random(f"{SEED}-{service}")
    target = "alerts" if service == "custom" else None
    creds = await watch.on(service, target)
    spec = SERVICES[service]
    accepted = rejected = 0
    for number, name in enumerate(SAMPLES[service]):
        document = unique(json.loads(sample(f"{service}/{name}")), number * 100)
        for path in chosen_paths(document, rng):
            for mutation, replacement in MUTATIONS.items():
                body = mutant(
                    unique(document, number * 100 + len(watch.statuses)), path, replacement
                )
                headers = spec.sample_headers(name, body, creds.secret, str(uuid.uuid4()))
                status, text = await watch.request(creds, body, headers)
                where = (name, path, mutation, status, text[:200])
                if mutation == "deep-array":
                    assert status == 400, where
                    assert json.loads(text)["reason"] == "bad json", where
                    rejected += 1
                else:
                    assert status in (200, 202), where
                    accepted += 1
    await watch.settle()
    assert await watch.app.store.inbox.count() == accepted
    hook = await watch.service.resolve(creds.hook.id)
    assert sum(hook.rejections.values()) == rejected
    watch.assert_clean()
    watch.assert_no_tracebacks()
