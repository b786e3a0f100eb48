"""alert-if in the pipeline: PR state and rule state, read from SQLite and kept per batch."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from bot.core import alerts, prstate
from bot.core.prstate import PRState
from bot.store import AlertStateChange, Hook, PRStateChange, Store
from formatters.message import Message
from parsers.event import Event


@dataclass
class AlertOutcome:
    """What one event did to alert-if: alerts to post and state to store."""

    messages: list[Message] = field(default_factory=list)
    pr_states: list[PRStateChange] = field(default_factory=list)
    alert_states: list[AlertStateChange] = field(default_factory=list)
    misses: int = 0


class AlertTracker:
    """Fold events into PR state and fire rules on their rising edge.

    One tracker serves one pipeline batch: it reads state from the store once per
    (hook, subject) and remembers its own changes, which the batch's transaction writes.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pr: dict[tuple[str, str], PRState | None] = {}
        self._active: dict[tuple[str, str, str], bool] = {}

    async def observe(self, hook: Hook, event: Event) -> AlertOutcome:
        """Update PR state from the event and evaluate the hook's rules (before any filter)."""
        outcome = AlertOutcome()
        states: dict[str, PRState | None] = {}
        for subject in prstate.subjects_for(event):
            previous = await self._pr_state(hook.id, subject)
            updated = prstate.apply(previous, event, subject)
            if updated is not None:
                self._pr[(hook.id, subject)] = updated
                state_json = json.dumps(updated.to_json())
                outcome.pr_states.append(PRStateChange(hook.id, subject, state_json))
            states[subject] = updated or previous
        targets = list(states.items()) or [(event.subject or event.source, None)]
        for rule in hook.alerts:
            expression = str(rule["expression"])
            role = rule.get("mention_role")
            for subject, state in targets:
                result, values = alerts.evaluate(expression, event, state)
                if result is None:  # a name the event lacks: false, silently (counted)
                    outcome.misses += 1
                    result = False
                active = await self._is_active(hook.id, expression, subject)
                if alerts.fire(active, result):
                    message = alerts.render_alert(
                        alerts.AlertRule(expression, role), event, state, values
                    )
                    if role:
                        message = replace(message, mention_roles=(role,))
                    outcome.messages.append(message)
                if active != result:
                    self._active[(hook.id, expression, subject)] = result
                    outcome.alert_states.append(
                        AlertStateChange(hook.id, expression, subject, result)
                    )
        return outcome

    async def _pr_state(self, hook_id: str, subject: str) -> PRState | None:
        key = (hook_id, subject)
        if key not in self._pr:
            stored = await self._store.subjects.pr_state(hook_id, subject)
            self._pr[key] = PRState.from_json(json.loads(stored)) if stored else None
        return self._pr[key]

    async def _is_active(self, hook_id: str, rule: str, subject: str) -> bool:
        key = (hook_id, rule, subject)
        if key not in self._active:
            self._active[key] = await self._store.subjects.alert_active(hook_id, rule, subject)
        return self._active[key]
