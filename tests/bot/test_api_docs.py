"""docs/api.md cannot drift: every curl example runs against hookbot and gets its status.

The examples run in the page's order on a fresh database; each must answer the status
written after it (`→ 201`), and every route of the API must be shown by an example.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.app import running
from bot.intake.api import ROUTES
from tests.conftest import ROOT, RecordingSink, make_settings

DOC = ROOT / "docs" / "api.md"
TOKEN = "docs-token-" + "d" * 32
OTHER_PATHS = ("/webhook/{service}", "/metrics")  # served without the API token


@dataclass(frozen=True)
class Example:
    """One curl command of the page and the status written after it."""

    line: int
    method: str
    path: str
    headers: dict[str, str]
    data: str | None
    status: int


def examples(text: str) -> list[Example]:
    """Every ```sh block that runs curl, with the `→ NNN` status that follows it."""
    found = []
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if line.strip() != "```sh":
            continue
        end = lines.index("```", start + 1)
        command = " ".join(part.rstrip("\\").strip() for part in lines[start + 1 : end])
        if not command.startswith("curl "):
            continue
        after = next(text for text in lines[end + 1 :] if text.strip())
        status = re.match(r"→ `(\d{3})`", after)
        assert status, f"docs/api.md:{end + 2}: no `→ NNN` status after the example"
        found.append(parse_curl(start + 2, command, int(status[1])))
    return found


def parse_curl(line: int, command: str, status: int) -> Example:
    """Read the curl options the page uses (-s, -X, -H, -d and the URL); nothing else."""
    words = shlex.split(command)[1:]
    method, headers, data, url = None, {}, None, None
    while words:
        word = words.pop(0)
        if word == "-s":
            continue
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, _, value = words.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = words.pop(0)
        elif not word.startswith("-") and url is None:
            url = word
        else:
            raise AssertionError(f"docs/api.md:{line}: curl option {word!r} is not checked here")
    assert url is not None, f"docs/api.md:{line}: no URL"
    assert url.startswith("$HOOKBOT/"), f"docs/api.md:{line}: the URL starts with $HOOKBOT/"
    return Example(
        line, method or ("POST" if data else "GET"), url.removeprefix("$HOOKBOT"), headers,
        data, status,
    )  # fmt: skip


def route_pattern(path: str) -> re.Pattern[str]:
    """A route path (`/api/hooks/{id}`) as a regular expression over request paths."""
    return re.compile(re.sub(r"\\\{[a-z]+\\\}", "[^/]+", re.escape(path)))


def shows(example: Example, method: str, path: str) -> bool:
    """Say whether an example calls this route."""
    bare = example.path.split("?", 1)[0]
    return method in ("*", example.method) and route_pattern(path).fullmatch(bare) is not None


def test_the_page_has_examples_and_each_route_has_one() -> None:
    found = examples(DOC.read_text())
    assert len(found) >= len(ROUTES)
    for route in ROUTES:
        assert any(shows(e, route.method, route.path) for e in found), route.path
    for example in found:
        known = [(r.method, r.path) for r in ROUTES] + [("GET", p) for p in OTHER_PATHS]
        assert any(shows(example, m, p) for m, p in known), f"docs/api.md:{example.line}"


async def test_every_example_answers_the_status_it_shows(tmp_path: Path) -> None:
    found = examples(DOC.read_text())
    settings = make_settings(tmp_path, hookbot_api_token=TOKEN)
    async with (
        running(settings, sinks=lambda _key: RecordingSink()) as app,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
    ):
        for example in found:
            headers = {
                k: v.replace("$HOOKBOT_API_TOKEN", TOKEN) for k, v in example.headers.items()
            }
            async with session.request(
                example.method,
                f"http://127.0.0.1:{app.port}{example.path}",
                headers=headers,
                data=None if example.data is None else example.data.encode(),
            ) as response:
                answer = await response.text()
                assert response.status == example.status, (
                    f"docs/api.md:{example.line}: {example.method} {example.path} "
                    f"answered {response.status}, the page says {example.status}: {answer}"
                )
