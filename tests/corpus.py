"""The shared provider corpus (../shared/corpus): where it is and how a file is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
"""../shared/corpus beside the repository; tests that read it skip when it is absent."""


def load(path: Path) -> tuple[dict[str, str], bytes]:
    """Return a corpus file's headers (its `.headers.json` twin) and its exact body bytes."""
    headers = json.loads(path.with_name(path.name.replace(".json", ".headers.json")).read_text())
    return headers, path.read_bytes()


def dig(payload: dict[str, Any], dotted: str) -> Any:
    """Return the value at a dotted path, or None when any step is missing."""
    value: Any = payload
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value
