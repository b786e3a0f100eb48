"""The README's Layout section names every module of bot/, parsers/ and formatters/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _layout_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Layout\n(.*?)^## ", text, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no `## Layout` section"
    return match.group(1)


def test_every_module_is_named_in_the_readme_layout() -> None:
    """A module added or renamed without updating the Layout section fails here."""
    section = _layout_section()
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", section))
    missing = [
        str(path.relative_to(ROOT))
        for package in ("bot", "parsers", "formatters")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.stem != "__init__" and path.stem not in words
    ]
    assert not missing, f"README Layout does not name: {', '.join(missing)}"


def test_every_room_of_bot_is_named() -> None:
    """Each subpackage of bot/ appears as `name/` in the Layout section."""
    section = _layout_section()
    rooms = [p.name for p in (ROOT / "bot").iterdir() if (p / "__init__.py").is_file()]
    assert rooms, "bot/ has no subpackages?"
    missing = [room for room in rooms if f"{room}/" not in section]
    assert not missing, f"README Layout does not name: {', '.join(missing)}"
