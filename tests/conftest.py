"""Shared test fixtures: hypothesis profiles, a store on tmp_path, samples."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings

from bot.store import Store

settings.register_profile("ci", deadline=None, max_examples=100)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "parsers" / "samples"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real SQLite store in a temporary folder."""
    opened = await Store.open(str(tmp_path / "hookbot.db"))
    yield opened
    await opened.close()
