"""parsers/, formatters/ and bot/core/ stay pure: no I/O, nothing else from bot/, no clock.

DESIGN.md "Layout": these never import the rest of bot/, never touch the network, the
clock (the caller passes `now`), randomness or the database. bot/core may import bot.core
itself (and parsers, formatters); parsers and formatters import nothing from bot.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PURE_PACKAGES = ("parsers", "formatters", "bot/core")
FORBIDDEN_MODULES = (
    "bot",
    "aiohttp",
    "discord",
    "aiosqlite",
    "docker",
    "socket",
    "requests",
    "urllib.request",
    "http.client",
    "ssl",
    "sqlite3",
    "os",
    "subprocess",
    "asyncio",
    "threading",
    "multiprocessing",
    "random",
    "secrets",
)
# Dotted call names that read the clock or draw randomness; matched on their last two parts.
CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
}
CLOCK_IMPORTS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("datetime.datetime", "now"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
}


def _forbidden(module: str, allowed: tuple[str, ...] = ()) -> bool:
    """Say whether a module is, or is inside, a forbidden one (and not an allowed one)."""

    def inside(name: str) -> bool:
        return module == name or module.startswith(f"{name}.")

    return any(inside(bad) for bad in FORBIDDEN_MODULES) and not any(map(inside, allowed))


def _dotted(node: ast.expr) -> list[str]:
    """Spell an attribute chain (`datetime.datetime.now`) as its parts, or [] if not one."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return []


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    """Return the module an import names, resolving `from .. import x` against `package`.

    None for a relative import that climbs above the top-level package (Python refuses
    it anyway).
    """
    if node.level == 0:
        return node.module
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts) - 1:
        return None
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def violations(
    source: str, filename: str = "<source>", package: str = "", allowed: tuple[str, ...] = ()
) -> list[str]:
    """List the impure imports and clock calls in one module's source.

    Args:
        source: The module's text.
        filename: For syntax errors.
        package: The package the module is in (`bot.core`), to resolve relative imports.
        allowed: Modules the package may import although they are inside a forbidden one
            (`bot.core` for bot/core).
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _forbidden(a.name, allowed)]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if module is None:
                continue
            for alias in node.names:
                if _forbidden(f"{module}.{alias.name}", allowed):
                    found.append(f"from {module} import {alias.name}")
                if (module, alias.name) in CLOCK_IMPORTS:
                    found.append(f"from {module} import {alias.name}")
        elif isinstance(node, ast.Call):
            parts = _dotted(node.func)
            if len(parts) >= 2 and (parts[-2], parts[-1]) in CLOCK_CALLS:
                found.append(f"call {'.'.join(parts)}()")
    return found


def _package_of(path: Path) -> str:
    """`bot/core/filters.py` → `bot.core`; a package's `__init__.py` is its own package."""
    return ".".join(path.relative_to(ROOT).parent.parts)


def _allowed(path: Path) -> tuple[str, ...]:
    """bot/core may import bot.core; parsers and formatters nothing from bot."""
    return ("bot.core",) if path.relative_to(ROOT).parts[:2] == ("bot", "core") else ()


PURE_FILES = sorted(path for package in PURE_PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_pure_files_are_found() -> None:
    """The scan sees modules of each pure package (an empty scan would prove nothing)."""
    names = {path.relative_to(ROOT).as_posix() for path in PURE_FILES}
    assert {"parsers/github.py", "parsers/signatures.py", "parsers/_json.py"} <= names
    assert {"formatters/render.py", "formatters/message.py"} <= names
    assert {
        "bot/core/filters.py",
        "bot/core/alerts.py",
        "bot/core/prstate.py",
        "bot/core/selection.py",
        "bot/core/globs.py",
    } <= names


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_pure_module_imports_no_io_and_reads_no_clock(path: Path) -> None:
    """A module under parsers/, formatters/ or bot/core/ imports no I/O or other bot code."""
    source = path.read_text(encoding="utf-8")
    assert violations(source, str(path), _package_of(path), _allowed(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import bot",
        "import bot.store",
        "from bot.store import Store",
        "from bot import store",
        "import aiohttp.web",
        "import discord",
        "from aiosqlite import connect",
        "import docker",
        "import socket",
        "import requests",
        "import urllib.request",
        "from urllib import request",
        "from urllib.request import urlopen",
        "import sqlite3",
        "import os",
        "from os import environ",
        "import subprocess",
        "import asyncio",
        "import random",
        "from time import time",
        "from time import monotonic",
        "import datetime\ndatetime.datetime.now()",
        "from datetime import datetime\ndatetime.now()",
        "from datetime import datetime\ndatetime.utcnow()",
        "from datetime import date\ndate.today()",
        "import time\ntime.time()",
        "import time\ntime.monotonic()",
        "import uuid\nuuid.uuid4()",
    ],
)
def test_violations_impure_source_is_flagged(source: str) -> None:
    """The checker flags each kind of impurity, so a clean result means something."""
    assert violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import json\nfrom urllib.parse import parse_qs",
        "from datetime import UTC, datetime\ndatetime.fromisoformat('2024-01-01')",
        "from parsers.event import Event",
        "import botocore_like_name",
        "from . import bot",
        "import uuid\nuuid.uuid5(uuid.NAMESPACE_URL, 'x')",
    ],
)
def test_violations_pure_source_is_clean(source: str) -> None:
    """Pure imports and non-clock datetime calls are not flagged."""
    assert violations(source) == []


@pytest.mark.parametrize(
    ("source", "clean"),
    [
        ("from bot.core.globs import compile_glob", True),
        ("from bot.core import prstate", True),
        ("from bot import core", True),
        ("import bot.core.selection", True),
        ("from . import globs", True),
        ("from .globs import Glob", True),
        ("from parsers import SERVICES", True),
        ("from formatters.render import md", True),
        ("from bot.store import Hook", False),
        ("from bot import store", False),
        ("import bot.pipeline", False),
        ("from .. import store", False),
        ("from ..pipeline import Pipeline", False),
        ("from bot.corex import thing", False),
    ],
)
def test_bot_core_may_import_bot_core_only(source: str, clean: bool) -> None:
    """In bot/core, bot.core (absolute or relative) is allowed; the rest of bot is not."""
    found = violations(source, package="bot.core", allowed=("bot.core",))
    assert (found == []) is clean, found


def test_parsers_may_not_import_bot_core() -> None:
    """The bot.core allowance is bot/core's own: parsers and formatters import no bot code."""
    assert violations("from bot.core.globs import compile_glob", package="parsers") != []
