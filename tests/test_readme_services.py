"""The README's Services section names every service a hook receives over HTTP."""

from __future__ import annotations

from pathlib import Path

from parsers import SERVICES

README = Path(__file__).resolve().parents[1] / "README.md"


def services_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Services\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_every_http_service_has_its_on_command_in_the_readme() -> None:
    section = services_section()
    for name, spec in SERVICES.items():
        if not spec.http:
            continue
        words = [f"`on {name}", f"`{name} <"] if spec.shorthand else [f"`on {name}"]
        assert any(word in section for word in words), f"README Services: add `on {name}`"
        if spec.signature_optional:
            assert "--signed" in section
