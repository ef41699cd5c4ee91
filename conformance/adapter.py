"""The engine adapter protocol (version 1) and the built-in reference adapter.

An adapter translates between hedgespec's JSON forms and an engine; it never enforces a rule on
the engine's behalf. All four calls take and return plain JSON data in the documented formats:

* ``reset(params)``: start a run (instruments, accounts with their initial wallet and position
  mode per scope, profile name, insurance fund, initial mark/last prices);
* ``apply(action) -> outcome``: one action; the outcome with its events;
* ``snapshot() -> snapshot``: the observable state;
* ``close()``: release the engine.

``capabilities`` lists the tags (``hedgespec.spec.registry.CAPABILITIES``) the engine implements.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from hedgespec.model import initial_state, snapshot, step
from hedgespec.model.codec import InputError, action_from_json, outcome_to_json
from hedgespec.spec.profiles import Profile
from hedgespec.spec.registry import CAPABILITIES

ADAPTER_PROTOCOL_VERSION = "1"


@runtime_checkable
class EngineAdapter(Protocol):
    name: str
    capabilities: frozenset[str]

    def reset(self, params: dict[str, Any]) -> None: ...

    def apply(self, action: dict[str, Any]) -> dict[str, Any]: ...

    def snapshot(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class ReferenceAdapter:
    """The reference model as an engine (every capability)."""

    name = "hedgespec-reference"
    capabilities = frozenset(CAPABILITIES)

    def __init__(self, profile: str | Profile | None = None) -> None:
        self.profile = profile
        self.state: Any = None

    def reset(self, params: dict[str, Any]) -> None:
        self.state = initial_state(params, self.profile or params.get("profile", "seed"))

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        try:
            parsed = action_from_json(action, "action")
        except InputError as exc:
            return {"kind": "rejected", "reason": "INVALID_ARGUMENT", "message": str(exc), "events": []}
        outcome, self.state = step(self.state, parsed)
        return outcome_to_json(outcome)

    def snapshot(self) -> dict[str, Any]:
        return snapshot(self.state)

    def close(self) -> None:
        self.state = None
