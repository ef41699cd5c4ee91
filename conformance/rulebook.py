"""The conformance runner's view of the rulebook: which rules exist, and running their step checks.

The rules and their checks live in ``hedgespec.spec.rulebook`` (``all_rules()``, each rule's
``check``). ``Rulebook`` runs them so that a check that cannot read an engine's data (a missing
row, account or field the documented shapes do not pin down) never stops the run and is never
reported as a violation of that rule: ``check_step`` returns it apart, as an ``Unreadable`` naming
the rule and, where it can be told, the path of the missing data; the runner reports it as a
``malformed`` engine failure. Tests can substitute a small rulebook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hedgespec.conformance.failures import EngineFailure
from hedgespec.spec.observe import action_format_problems
from hedgespec.spec.registry import OFF_FORMAT, Rule, StepView, Violation

#: how a failure names the members of a step (the snapshot after it is the ``snapshot`` reply)
_BEFORE = "before:"  # marks a path in the snapshot before the step
_ROOTS = {"params": "params", "before": _BEFORE + "snapshot", "action": "action", "outcome": "outcome",
          "after": "snapshot"}


@dataclass(frozen=True)
class Unreadable:
    """A rule's check that raised while reading a step: the engine's replies lack what the rule reads.

    ``path`` is where the check found nothing (``snapshot.accounts.alice.order_margin``) when it can
    be told; ``error`` is the exception's type and message.
    """

    rule_id: str
    path: str | None
    error: str

    def __str__(self) -> str:
        if self.path and self.path.startswith(_BEFORE):
            return (f"{self.path[len(_BEFORE):]} (the snapshot before the step): missing; {self.rule_id}'s check "
                    f"reads it ({self.error})")
        if self.path:
            return f"{self.path}: missing; {self.rule_id}'s check reads it ({self.error})"
        return f"{self.rule_id}'s check cannot read the engine's replies ({self.error})"

    def failure(self) -> EngineFailure:
        """The engine failure this stands for (kind ``malformed``), worded like a failed shape check."""
        op = "apply" if (self.path or "").startswith("outcome") else "snapshot"
        return EngineFailure("malformed", f"{op}: {self}")


class _Misses:
    """The paths a check looked up and did not find, in order."""

    def __init__(self) -> None:
        self.paths: list[str] = []


class _TrackedDict(dict):  # type: ignore[type-arg]
    """A dict that notes the path of every key looked up and absent (``d[k]`` or ``d.get(k)``)."""

    def __init__(self, data: Any = (), path: str = "", misses: _Misses | None = None) -> None:
        super().__init__(data)
        self._path = path
        self._misses = misses if misses is not None else _Misses()

    def __getitem__(self, key: Any) -> Any:
        if not dict.__contains__(self, key):
            self._misses.paths.append(f"{self._path}.{key}")
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        if not dict.__contains__(self, key):
            self._misses.paths.append(f"{self._path}.{key}")
        return dict.get(self, key, default)


class _TrackedList(list):  # type: ignore[type-arg]
    """A list that notes the path of every index looked up and absent."""

    def __init__(self, data: Any = (), path: str = "", misses: _Misses | None = None) -> None:
        super().__init__(data)
        self._path = path
        self._misses = misses if misses is not None else _Misses()

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, int) and not -len(self) <= index < len(self):
            self._misses.paths.append(f"{self._path}[{index}]")
        return list.__getitem__(self, index)


def _tracked(value: Any, path: str, misses: _Misses) -> Any:
    if isinstance(value, dict):
        return _TrackedDict({k: _tracked(v, f"{path}.{k}", misses) for k, v in value.items()}, path, misses)
    if isinstance(value, list):
        return _TrackedList([_tracked(v, f"{path}[{i}]", misses) for i, v in enumerate(value)], path, misses)
    return value


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return type(exc).__name__ + (f": {text[:120]}" if text else "")


def unreadable(rule: Rule, view: StepView, exc: BaseException) -> Unreadable:
    """What ``rule``'s check could not read on ``view`` (where it raised ``exc``).

    The check runs again over copies of the step that note every lookup finding nothing; the last
    such lookup before it raised is the place named.
    """
    misses = _Misses()
    tracked = StepView(**{name: _tracked(getattr(view, name), root, misses) for name, root in _ROOTS.items()},
                       shown=view.shown)
    try:
        if rule.check is not None:
            list(rule.check(tracked))
    except Exception:  # noqa: BLE001 - the same failure again, now with its place noted
        pass
    return Unreadable(rule.id, misses.paths[-1] if misses.paths else None, _describe(exc))


def run_checks(view: StepView, rules: Iterable[Rule] | None = None) -> list[Violation]:
    """Every step check of ``rules`` (default: every active step rule) on one step; a check that raises
    is not caught here (``Rulebook.check_step`` isolates it)."""
    if rules is None:
        from hedgespec.spec.rulebook import step_rules  # type: ignore[import-not-found]

        rules = step_rules()
    found: list[Violation] = []
    for rule in rules:
        if rule.check is not None:
            found.extend(rule.check(view))
    return found


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

    def check_step(self, view: StepView, rules: Sequence[Rule]) -> tuple[list[Violation], list[Unreadable]]:
        """Violations of ``rules`` on one step, and apart from them the checks that could not read it."""
        if not rules:
            return [], []
        try:
            return list(self.run_step_checks(view, rules)), []
        except Exception:  # noqa: BLE001 - isolate the rule whose check cannot read the data
            pass
        found: list[Violation] = []
        unread: list[Unreadable] = []
        for rule in rules:
            try:
                found.extend(self.run_step_checks(view, [rule]))
            except Exception as exc:  # noqa: BLE001
                unread.append(unreadable(rule, view, exc))
        return found, unread

    def check(self, view: StepView, rules: Sequence[Rule]) -> list[Violation]:
        """Violations of ``rules`` on one step; ``EngineFailure`` (``malformed``) when a check cannot read it."""
        found, unread = self.check_step(view, rules)
        if unread:
            raise unread[0].failure()
        return found


def applies(rule: Rule, action: dict[str, Any]) -> bool:
    """Whether a step exercises ``rule``: its action kind is one the rule applies to (or it applies to all), or,
    for a rule of actions not of the format (HM-ATOM-002), the action is not."""
    if rule.applies_to == (OFF_FORMAT,):
        return bool(action_format_problems(action))
    return not rule.applies_to or action.get("kind") in rule.applies_to


def load_rulebook() -> Rulebook:
    """The installed rulebook; an empty one (with a note) when it is not available."""
    try:
        from hedgespec.spec.rulebook import all_rules  # type: ignore[import-not-found]
    except ImportError as exc:
        return Rulebook((), lambda view, rules=None: [], source="unavailable",
                        notes=[f"rulebook not available ({exc}); no rule checks were run"])
    rules = tuple(r for r in all_rules() if r.status == "active")
    return Rulebook(rules, run_checks)
