"""The connection check (GitHub's ping) is registry data, not a kind the pipeline knows."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from bot.pipeline import is_connection_check, with_missing_events
from bot.store import Hook
from parsers import SERVICES
from parsers.event import Event

SAMPLES = Path(__file__).resolve().parents[2] / "parsers" / "samples"


def _sample(service: str, name: str) -> Event:
    spec = SERVICES[service]
    body = (SAMPLES / service / f"{name}.json").read_bytes()
    return spec.parse(spec.sample_headers(name, body, "s" * 32, f"d-{name}"), body, {})[0]


def _hook(
    service: str,
    events: tuple[str, ...] = (),
    alerts: tuple[Mapping[str, str | None], ...] = (),
) -> Hook:
    return Hook(
        id="hook_001",
        service=service,
        destination="console",
        token="t",
        secret="s",
        events=events,
        alerts=alerts,
    )


def test_only_github_names_a_connection_kind_today() -> None:
    """GitHub's spec names `ping`; services without a connection check name none."""
    assert SERVICES["github"].connection_kind == "ping"
    assert all(spec.connection_kind is None for name, spec in SERVICES.items() if name != "github")


def test_connection_check_follows_the_hooks_service() -> None:
    """A kind is the connection check only for a service whose spec names it."""
    ping = _sample("github", "ping")
    assert is_connection_check(_hook("github"), ping)
    assert not is_connection_check(_hook("github"), _sample("github", "push"))
    as_custom = dataclasses.replace(ping, service="custom")
    assert not is_connection_check(_hook("custom"), as_custom)
    assert not is_connection_check(_hook("nosuch"), ping)


def test_missing_events_name_what_rules_need_for_the_hooks_service() -> None:
    """The ping warning adds the PR-state events a rule needs, read from the registry."""
    ping = _sample("github", "ping")
    sent = ping.fields["hook_events"]
    assert isinstance(sent, list)
    rule: dict[str, str | None] = {"expression": "pr.status == 'approved'", "mention_role": None}
    hook = _hook("github", events=("push",), alerts=(rule,))
    missing = with_missing_events(hook, ping).fields["missing_events"]
    assert isinstance(missing, list)
    expected = {"push", "pull_request", "pull_request_review"} - {str(s) for s in sent}
    assert set(missing) == expected
    assert expected, "the sample's webhook should lack some of these for the test to mean much"
