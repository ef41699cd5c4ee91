"""The rule registry: every rule of the rulebook, its metadata and its executable check.

A rule is declared once, next to its check, in the chapter module of ``hedgespec.spec.rules``.
IDs (``HM-AREA-NNN``) are never reused: a retired rule stays in the registry with status
``retired``. Each rule carries a digest of its normative text (level, title, statement) so that
vectors and reports can tell when the text they were made against has changed.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import localcontext
from typing import Any

RULE_ID = re.compile(r"^HM-[A-Z]{2,5}-\d{3}$")
# Reserved for test fixtures that need an ID no rule has: area TEST, or numbers 900-999. Never issued.
RESERVED_ID = re.compile(r"^HM-(TEST-\d{3}|[A-Z]{2,5}-9\d\d)$")
LEVELS = ("MUST", "SHOULD", "MAY")
KINDS = (
    "state-invariant",  # holds on every snapshot
    "transition",  # relates before, action, outcome and after
    "rejection",  # says when an action is refused and with which reason class
    "accounting",  # ledger entries and balances reconcile
    "run",  # over a whole run (e.g. determinism)
    "parameter",  # a profile choice the rulebook documents; not a check
)
STATUSES = ("active", "retired")
# The source of a rule the rulebook sets itself, with no seed clause or venue document behind it.
RULEBOOK_OWN = "hedgespec"

# Capability tags an engine may declare (conformance); a rule requiring a missing one is "unsupported".
CAPABILITIES = (
    "hedge-mode",
    "one-way-mode",
    "mode-switching",
    "isolated-margin",
    "cross-margin",
    "margin-adjustment",
    "limit-orders",
    "market-trades",
    "funding",
    "fees",
    "liquidation",
    "conditional-orders",
    "trailing-stops",
    "expiry",
    "multi-account",
    "insurance-fund",
    "leg-settings",
)


@dataclass(frozen=True)
class Source:
    """A citation: a seed clause ID (``S-...``) or a venue document tag with its address."""

    ref: str
    note: str = ""


@dataclass(frozen=True)
class Violation:
    """A check's finding: which rule, and what was observed."""

    rule_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.message}"


# A step check sees only what an outside observer sees and returns the violations it found.
StepCheck = Callable[["StepView"], Iterable[Violation]]


@dataclass(frozen=True)
class StepView:
    """One observed step: parameters, snapshot before, action, outcome (with events), snapshot after.

    Every member is plain JSON data in the documented formats (decimal strings for numbers), so the
    same check runs on the reference model, on any engine and on recorded data.
    """

    params: dict[str, Any]
    before: dict[str, Any]
    action: dict[str, Any]
    outcome: dict[str, Any]
    after: dict[str, Any]
    shown: Mapping[tuple[str, str, str], dict[str, Any]] | None = None
    """The row each leg last showed in the run's snapshots up to ``before`` (``observe.rows_shown``), where the
    caller keeps the run's history (conformance runs, vectors, the model's tests); None where it does not, and
    what only the history shows (HM-MODE-009) is then not judged."""

    @functools.cached_property
    def off_format(self) -> list[str]:
        """How the step's action is not of the action format (``observe.action_format_problems``), worked out
        once for every check of the step."""
        from hedgespec.spec.observe import action_format_problems

        return action_format_problems(self.action)


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    kind: str
    title: str
    statement: str
    rationale: str
    sources: tuple[Source, ...]
    applies_to: tuple[str, ...]  # action kinds; () = every action; (OFF_FORMAT,) = actions not of the format
    observes: tuple[str, ...]  # what the check needs: "snapshot", "events", "ledger", "params"
    requires: tuple[str, ...] = ()  # capability tags
    profile_choices: tuple[str, ...] = ()  # profile choices that shape the rule
    check: StepCheck | None = None
    status: str = "active"
    since: str = "1.0.0"
    replaced_by: str | None = None
    proved_by: tuple[str, ...] = field(default=())  # CrossHair conditions (see spec/proved.txt)

    @property
    def digest(self) -> str:
        text = "\n".join((self.id, self.level, self.title, " ".join(self.statement.split())))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def seed_clauses(self) -> tuple[str, ...]:
        return tuple(s.ref for s in self.sources if s.ref.startswith("S-"))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "level": self.level,
            "kind": self.kind,
            "title": self.title,
            "statement": self.statement,
            "rationale": self.rationale,
            "sources": [{"ref": s.ref, **({"note": s.note} if s.note else {})} for s in self.sources],
            "applies_to": list(self.applies_to),
            "observes": list(self.observes),
            "requires": list(self.requires),
            "profile_choices": list(self.profile_choices),
            "status": self.status,
            "since": self.since,
            "digest": self.digest,
            "checked": self.check is not None,
            "verification": _verification(self),
        }


def _verification(rule: Rule) -> dict[str, Any]:
    """How the rule is backed: CrossHair conditions confirmed for the reference kernel, or tests."""
    from .proofs import proved_conditions  # the proved list is package data beside the registry

    conditions = proved_conditions().get(rule.id, [])
    if conditions:
        return {"status": "proved for the reference kernel", "conditions": conditions}
    return {"status": "tested" if rule.check is not None else "documented", "conditions": []}


class RegistryError(ValueError):
    pass


_RULES: dict[str, Rule] = {}
OFF_FORMAT = "off-format"
"""What ``applies_to`` names for a rule that a step exercises only when its action is not of the action format
(HM-ATOM-002)."""


def _exact(check: StepCheck, off_format: bool) -> StepCheck:
    """``check`` run under the checks' 90-digit decimal context (``observe.CTX``), so that a plain ``abs``,
    ``+`` or ``*`` on Decimal values in it is exact too, not rounded to the default 28 digits. Unless
    ``off_format``, it judges only actions of the action format: an action not of it is judged by HM-ATOM-001
    and HM-ATOM-002 alone, which hold the engine to refusing it with INVALID_ARGUMENT and changing nothing."""
    from hedgespec.spec.observe import CTX

    @functools.wraps(check)
    def exact(view: Any) -> Iterator[Violation]:
        if not off_format and view.off_format:
            return iter(())
        with localcontext(CTX):
            return iter(list(check(view)))

    return exact


def rule(
    rule_id: str,
    *,
    level: str,
    kind: str,
    title: str,
    statement: str,
    rationale: str,
    sources: Iterable[str | tuple[str, str]],
    applies_to: Iterable[str] = (),
    observes: Iterable[str] = ("snapshot",),
    requires: Iterable[str] = (),
    profile_choices: Iterable[str] = (),
    status: str = "active",
    since: str = "1.0.0",
    off_format: bool = False,
) -> Callable[[StepCheck], StepCheck]:
    """Declare a rule; used as a decorator on its check (``kind="parameter"`` rules use ``declare``).
    ``off_format``: the check judges actions not of the action format too (the others never see them)."""

    def register(check: StepCheck | None) -> StepCheck:
        if not RULE_ID.match(rule_id) or RESERVED_ID.match(rule_id):
            raise RegistryError(f"{rule_id}: malformed or reserved rule ID (HM-AREA-NNN, not TEST or 9NN)")
        if rule_id in _RULES:
            raise RegistryError(f"{rule_id}: declared twice (IDs are never reused)")
        if level not in LEVELS or kind not in KINDS or status not in STATUSES:
            raise RegistryError(f"{rule_id}: bad level, kind or status")
        for cap in requires:
            if cap not in CAPABILITIES:
                raise RegistryError(f"{rule_id}: unknown capability {cap!r}")
        if (check is None) != (kind == "parameter"):
            raise RegistryError(f"{rule_id}: a {kind} rule {'needs' if check is None else 'has no'} check")
        srcs = tuple(Source(s) if isinstance(s, str) else Source(*s) for s in sources)
        if not srcs:
            raise RegistryError(f"{rule_id}: at least one source is required")
        _RULES[rule_id] = Rule(
            id=rule_id, level=level, kind=kind, title=title, statement=" ".join(statement.split()),
            rationale=" ".join(rationale.split()), sources=srcs, applies_to=tuple(applies_to),
            observes=tuple(observes), requires=tuple(requires), profile_choices=tuple(profile_choices),
            check=None if check is None else _exact(check, off_format or kind == "run"), status=status, since=since,
        )
        return check  # type: ignore[return-value]

    return register


def declare(rule_id: str, **meta: Any) -> None:
    """Declare a parameter rule (a documented profile choice, no check)."""
    rule(rule_id, kind="parameter", observes=(), **meta)(None)
