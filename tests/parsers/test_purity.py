"""parsers/ and formatters/ stay pure: no I/O libraries, nothing from bot/, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PURE_PACKAGES = ("parsers", "formatters")
FORBIDDEN_MODULES = (
    "bot",
    "aiohttp",
    "discord",
    "aiosqlite",
    "docker",
    "socket",
    "requests",
    "urllib.request",
    "sqlite3",
)
# Dotted call names that read the clock; matched on their last two parts.
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("time", "time")}
CLOCK_IMPORTS = {("time", "time"), ("datetime.datetime", "now")}


def _forbidden(module: str) -> bool:
    """Say whether a module is, or is inside, a forbidden one."""
    return any(module == bad or module.startswith(f"{bad}.") for bad in FORBIDDEN_MODULES)


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


def violations(source: str, filename: str = "<source>") -> list[str]:
    """List the impure imports and clock calls in one module's source."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _forbidden(node.module):
                found.append(f"from {node.module} import …")
            for alias in node.names:
                if _forbidden(f"{node.module}.{alias.name}"):
                    found.append(f"from {node.module} import {alias.name}")
                if (node.module, alias.name) in CLOCK_IMPORTS:
                    found.append(f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Call):
            parts = _dotted(node.func)
            if len(parts) >= 2 and (parts[-2], parts[-1]) in CLOCK_CALLS:
                found.append(f"call {'.'.join(parts)}()")
    return found


PURE_FILES = sorted(path for package in PURE_PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_pure_files_are_found() -> None:
    """The scan sees the parser modules (an empty scan would prove nothing)."""
    names = {path.relative_to(ROOT).as_posix() for path in PURE_FILES}
    assert {"parsers/github.py", "parsers/signatures.py", "parsers/_json.py"} <= names


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_pure_module_imports_no_io_and_reads_no_clock(path: Path) -> None:
    """A module under parsers/ or formatters/ imports no I/O or bot code and reads no clock."""
    assert violations(path.read_text(encoding="utf-8"), str(path)) == []


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
        "from time import time",
        "import datetime\ndatetime.datetime.now()",
        "from datetime import datetime\ndatetime.now()",
        "from datetime import datetime\ndatetime.utcnow()",
        "import time\ntime.time()",
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
    ],
)
def test_violations_pure_source_is_clean(source: str) -> None:
    """Pure imports and non-clock datetime calls are not flagged."""
    assert violations(source) == []
