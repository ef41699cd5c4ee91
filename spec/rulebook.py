"""The rulebook as a whole: every registered rule, and the step checks run together."""

from __future__ import annotations

from collections.abc import Iterable

from . import rules as _chapters  # noqa: F401  (registers every rule)
from .registry import _RULES, Rule, StepView, Violation

# Seed clauses no rule formalises, with the reason (every other normative clause is cited by a rule).
OUT_OF_SCOPE: dict[str, str] = {
    "S-F4": "Informative: who uses hedge mode is not a behaviour an engine can obey or break.",
}
# Parts of clauses that stay outside the rules, though the clause itself is cited.
PARTLY_OUT_OF_SCOPE: dict[str, str] = {
    "S-E1": "The second-factor confirmation of Binance's web interface is authentication, outside the model.",
    "S-E2": "The 30-second cooldown is not in Bybit's API documentation: a profile parameter (HM-MODE-006), "
            "unconfirmed, not simulated.",
    "S-E3": "OKX's recalibration notice is a user-interface step (HM-MODE-007), not simulated.",
    "S-E5": "KuCoin's reset of isolated allocations on a flat account has no observable effect on positions "
            "(HM-MODE-007), not simulated.",
    "S-F5": "'Never retroactive' only bites where a venue applies a switch partially (Bybit's coin-level "
            "switch, HM-MODE-005); everywhere else a switch needs a flat scope (HM-MODE-002/003).",
}


def all_rules() -> list[Rule]:
    """Every rule, active and retired, in ID order."""
    return [_RULES[k] for k in sorted(_RULES)]


def get(rule_id: str) -> Rule:
    return _RULES[rule_id]


def step_rules() -> list[Rule]:
    """Active rules checked on each observed step (run rules and parameters excluded)."""
    return [r for r in all_rules() if r.check is not None and r.kind != "run" and r.status == "active"]


def run_rules() -> list[Rule]:
    """Active rules checked over whole runs: ``check(traces)`` gets the same run played several times."""
    return [r for r in all_rules() if r.kind == "run" and r.status == "active"]


def run_step_checks(view: StepView, rules: Iterable[Rule] | None = None) -> list[Violation]:
    """Every step check on one observed step; a check that crashes is reported as its own violation."""
    found: list[Violation] = []
    for r in step_rules() if rules is None else rules:
        if r.check is None:
            continue
        try:
            found.extend(r.check(view))
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            found.append(Violation(r.id, f"check could not read the observation: {type(exc).__name__}: {exc}"))
    return found
