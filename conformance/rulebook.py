"""The conformance runner's view of the rulebook: which rules exist, and running their step checks.

The rules and their checks live in ``hedgespec.spec.rulebook`` (``all_rules()``,
``run_step_checks(view, rules)``). ``Rulebook`` wraps them so that a check that cannot read an
engine's data (a missing field, a malformed number) is reported as a violation of that rule
instead of stopping the run, and so that tests can substitute a small rulebook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hedgespec.spec.registry import Rule, StepView, Violation


@dataclass
class Rulebook:
    """Active rules and the function that runs step checks over a ``StepView``."""

    rules: tuple[Rule, ...]
    run_step_checks: Callable[..., list[Violation]]
    source: str = "hedgespec.spec.rulebook"
    notes: list[str] = field(default_factory=list)

    @property
    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    def checkable(self, capabilities: Iterable[str]) -> tuple[Rule, ...]:
        """Rules with a step check whose required capabilities the engine declares."""
        caps = set(capabilities)
        return tuple(r for r in self.rules if r.check is not None and r.kind != "run" and set(r.requires) <= caps)

    def check(self, view: StepView, rules: Sequence[Rule]) -> list[Violation]:
        """Violations of ``rules`` on one step; a check that raises counts as a violation of its rule."""
        if not rules:
            return []
        try:
            return list(self.run_step_checks(view, rules))
        except Exception:  # noqa: BLE001 - isolate the rule whose check cannot read the data
            pass
        found: list[Violation] = []
        for rule in rules:
            try:
                found.extend(self.run_step_checks(view, [rule]))
            except Exception as exc:  # noqa: BLE001
                found.append(Violation(rule.id, f"the check cannot read the engine's data: "
                                                f"{type(exc).__name__}: {exc}"))
        return found


def applies(rule: Rule, action: dict[str, Any]) -> bool:
    """Whether a step exercises ``rule``: its action kind is one the rule applies to (or it applies to all)."""
    return not rule.applies_to or action.get("kind") in rule.applies_to


def load_rulebook() -> Rulebook:
    """The installed rulebook; an empty one (with a note) when it is not available."""
    try:
        from hedgespec.spec.rulebook import all_rules, run_step_checks  # type: ignore[import-not-found]
    except ImportError as exc:
        return Rulebook((), lambda view, rules=None: [], source="unavailable",
                        notes=[f"rulebook not available ({exc}); no rule checks were run"])
    rules = tuple(r for r in all_rules() if r.status == "active")
    return Rulebook(rules, run_step_checks)
