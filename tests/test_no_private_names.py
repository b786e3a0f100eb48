"""No module of ours reaches into a dependency's private names (DESIGN "Layout").

Three checks, by reading the source (ast) of bot/, parsers/ and formatters/:

- `x._name` where `x` is not `self`/`cls` and no code of ours defines `_name`
  (a function, class, module, assignment or `self._name = …` of ours): e.g.
  aiosqlite's `conn._execute(…)` or `conn._conn`.
- `self._name` / `cls._name` in a class of ours that inherits from a class of a
  dependency (or the standard library) whose own source uses `_name`: setting or
  reading a base class's private attribute, e.g. discord.py's backoff `self._max = 4`.
- `from dependency import _name` or `import dependency._module`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parents[1]
OUR_PACKAGES = ("bot", "parsers", "formatters")
# Underscore names that are public API (namedtuple's documented methods).
PUBLIC_UNDERSCORE = frozenset({"_replace", "_asdict", "_fields", "_make", "_field_defaults"})


Violation = tuple[str, int, str]  # (path, line, name)


def _private(name: str) -> bool:
    dunder = name.startswith("__") and name.endswith("__")
    return name.startswith("_") and name != "_" and not dunder and name not in PUBLIC_UNDERSCORE


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for package in OUR_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text("utf-8"))


def _defined(tree: ast.AST) -> set[str]:
    """Private names a piece of source defines: defs, classes, assignments, self attributes."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return {name for name in names if _private(name)}


@cache
def _ours() -> frozenset[str]:
    names: set[str] = set()
    for package in OUR_PACKAGES:
        names.update(p.stem for p in (ROOT / package).rglob("_*.py"))
    for _, tree in _sources():
        names |= _defined(tree)
    return frozenset(names)


def _self_attributes(tree: ast.AST) -> Iterator[ast.Attribute]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
            and _private(node.attr)
        ):
            yield node


def _imports(tree: ast.Module) -> dict[str, str]:
    """Map each imported local name to what it names (`commands` → `discord.ext.commands`)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                found[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    if isinstance(node, ast.Subscript):  # ExponentialBackoff[bool]
        return _dotted(node.value)
    return None


def _resolve(dotted: str) -> object | None:
    """Import `package.module.Class` (the longest importable module, then attributes)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                found = getattr(found, attribute)
        except AttributeError:
            return None
        return found
    return None


@cache
def _base_privates(dotted: str) -> frozenset[str]:
    """Private names the source of a foreign class (and its foreign bases) uses."""
    klass = _resolve(dotted)
    if not isinstance(klass, type):
        return frozenset()
    names: set[str] = set()
    for base in klass.__mro__:
        if base is object or base.__module__.split(".")[0] in OUR_PACKAGES:
            continue
        try:
            tree = ast.parse(inspect.getsource(base).strip() + "\n")
        except (OSError, TypeError, SyntaxError, IndentationError):
            continue  # built in C, or no source: nothing to compare with
        names |= _defined(tree)
        names |= {a.attr for a in _self_attributes(tree)}
    return frozenset(names)


def _foreign_accesses(path: str, tree: ast.Module, ours: frozenset[str]) -> set[Violation]:
    """`x._name` with `x` not self/cls and `_name` defined nowhere in our code."""
    return {
        (path, node.lineno, node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and _private(node.attr)
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        and node.attr not in ours
    }


def _foreign_imports(path: str, tree: ast.Module) -> set[Violation]:
    """`from dependency import _name`, `import dependency._module` and the like."""
    found: set[Violation] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in OUR_PACKAGES:
                continue
            names = [*node.module.split("."), *(a.name for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [
                part
                for alias in node.names
                if alias.name.split(".")[0] not in OUR_PACKAGES
                for part in alias.name.split(".")
            ]
        else:
            continue
        found |= {(path, node.lineno, name) for name in names if _private(name)}
    return found


def _base_private_uses(path: str, tree: ast.Module) -> set[Violation]:
    """`self._name` in a class of ours where `_name` is private to a foreign base class."""
    found: set[Violation] = set()
    imports = _imports(tree)
    for klass in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for base in klass.bases:
            dotted = _dotted(base)
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            target = imports.get(head)
            if target is None or target.split(".")[0] in OUR_PACKAGES:
                continue  # a class of this module or of ours
            privates = _base_privates(f"{target}.{rest}" if rest else target)
            found |= {
                (path, a.lineno, a.attr) for a in _self_attributes(klass) if a.attr in privates
            }
    return found


def test_no_private_names_of_dependencies():
    """No `x._name` of an object we do not define, no private attribute of a foreign base."""
    found: set[Violation] = set()
    for path, tree in _sources():
        found |= _foreign_accesses(path, tree, _ours())
        found |= _base_private_uses(path, tree)
        found |= _foreign_imports(path, tree)
    assert not found, "private names of dependencies used:\n" + "\n".join(
        f"  {path}:{line}: .{name}" for path, line, name in sorted(found)
    )


def test_the_checks_find_what_they_are_meant_to():
    """The checks, on made-up source: aiosqlite-style accesses, a base's private, imports."""
    source = """
from discord.backoff import ExponentialBackoff
from aiohttp._http_parser import HttpRequestParser
from parsers import _json
import sqlite3, asyncio.base_events as _events, concurrent.futures._base

class Capped(ExponentialBackoff):
    def __init__(self):
        super().__init__()
        self._max = 4
        self._mine = 1

def run(db, fn):
    return db._execute(fn, db._conn), _helper(), db._mine
"""
    tree = ast.parse(source)
    ours = frozenset(_defined(tree))
    assert _foreign_accesses("x.py", tree, ours) == {
        ("x.py", 14, "_execute"),
        ("x.py", 14, "_conn"),
    }
    assert _base_private_uses("x.py", tree) == {("x.py", 10, "_max")}
    assert _foreign_imports("x.py", tree) == {("x.py", 3, "_http_parser"), ("x.py", 5, "_base")}
