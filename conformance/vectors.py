"""Conformance vectors (format ``hedgespec-vector/1``): one replayable case per JSON file.

A vector states the run parameters (the model's params format), then steps of an action, the
expected outcome (kind and reason class) and the expected observable state after it. Expected
states are subsets (``state_match: "subset"``): the legs listed must match field for field, legs
not listed must be flat, values may be patterns (``{"$any": true}``, ``{"$pattern": "regex"}``)
where the profile leaves the value open; ``"exact"`` compares the whole projection. The format
reference is docs/formats/vectors.md; the JSON Schema is ``schema/vector-1.json``.

Vectors are generated from the model (``build_vector``): scenario functions
(``hedgespec.conformance.scenarios``) and seeded random runs. ``export`` writes the corpus and
``verify`` regenerates it in memory and compares byte for byte; a vector naming a rule whose
digest changed since it was written is reported stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hedgespec.conformance.world import LEG_FIELDS, diff, observable, pattern_problem
from hedgespec.model import initial_state, snapshot, step
from hedgespec.model.codec import InputError, action_from_json, outcome_to_json
from hedgespec.spec import SPEC_VERSION
from hedgespec.spec.profiles import Profile

from hedgespec import jsonio
from hedgespec.names import text_name

VECTOR_FORMAT = "hedgespec-vector/1"

# action kind (and order type) -> the capability it needs
_KIND_CAPS = {"set_position_mode": "mode-switching", "adjust_margin": "margin-adjustment",
              "market_trade": "market-trades", "funding": "funding", "expire": "expiry"}
_ORDER_CAPS = {"LIMIT": "limit-orders", "STOP_MARKET": "conditional-orders",
               "TAKE_PROFIT_MARKET": "conditional-orders", "TRAILING_STOP_MARKET": "trailing-stops"}


class VectorError(ValueError):
    """A vector file that cannot be used; the message names the file and the field."""


@dataclass
class Vector:
    path: str  # relative to the corpus root, '/'-separated
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def rules(self) -> dict[str, str]:
        return self.data.get("rules", {})

    @property
    def requires(self) -> list[str]:
        return self.data.get("requires", [])


# -- building from the model --------------------------------------------------------------------

def required_capabilities(params: dict[str, Any], actions: Sequence[dict[str, Any]],
                          outcomes: Sequence[dict[str, Any]], rule_caps: Iterable[str] = ()) -> list[str]:
    """The capability tags a case needs: from its accounts, actions, events and claimed rules."""
    caps = set(rule_caps)
    accounts = params["accounts"]
    accounts = {name: {} for name in accounts} if isinstance(accounts, list) else accounts
    modes = {m for acc in accounts.values() if isinstance(acc, dict) for m in acc.get("position_mode", {}).values()}
    caps.add("hedge-mode" if "HEDGE" in modes or not modes else "one-way-mode")
    if "ONE_WAY" in modes:
        caps.add("one-way-mode")
    if len(accounts) > 1:
        caps.add("multi-account")
    for acc in accounts.values():
        stated = acc.get("leg_settings", {}) if isinstance(acc, dict) else {}
        if stated:
            caps.add("leg-settings")
        caps.update("cross-margin" if s.get("margin_type") == "CROSS" else "isolated-margin"
                    for sides in stated.values() for s in sides.values())
    for action, outcome in zip(actions, outcomes, strict=False):
        kind = action.get("kind")
        if kind in _KIND_CAPS:
            caps.add(_KIND_CAPS[kind])
        if kind == "place_order" and action.get("order_type") in _ORDER_CAPS:
            caps.add(_ORDER_CAPS[action["order_type"]])
        if kind == "set_position_mode" and action.get("mode") == "ONE_WAY":
            caps.add("one-way-mode")
        if kind == "set_margin_type":
            caps.add("cross-margin" if action.get("margin_type") == "CROSS" else "isolated-margin")
        for event in outcome.get("events", []):
            if event.get("type") == "liquidation":
                caps.add("liquidation")
            if event.get("type") == "ledger" and event.get("bucket") == "insurance_fund":
                caps.add("insurance-fund")
            if event.get("type") == "fill" and event.get("fee") not in (None, "0"):
                caps.add("fees")
            if event.get("type") == "ledger" and event.get("bucket") == "isolated_margin":
                caps.add("isolated-margin")
    return sorted(caps)


def event_capabilities(outcome: dict[str, Any]) -> set[str]:
    """Capabilities an outcome's events show the model used (a liquidation, the insurance fund)."""
    caps = set()
    for event in outcome.get("events", []):
        if event.get("type") == "liquidation":
            caps.add("liquidation")
        elif event.get("type") == "ledger" and event.get("bucket") == "insurance_fund":
            caps.add("insurance-fund")
    return caps


def model_step(state: Any, action: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """One model step from an action in JSON form; a malformed action is INVALID_ARGUMENT (HM-ORD-005)."""
    try:
        parsed = action_from_json(action, "action")
    except InputError as exc:
        return {"kind": "rejected", "reason": "INVALID_ARGUMENT", "message": str(exc), "events": []}, state
    outcome, state = step(state, parsed)
    return outcome_to_json(outcome), state


def model_run(params: dict[str, Any], actions: Sequence[dict[str, Any]], profile: Profile
              ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(outcome, snapshot after) of the model for each action."""
    state = initial_state(params, profile)
    out = []
    for action in actions:
        outcome, state = model_step(state, action)
        out.append((outcome, snapshot(state)))
    return out


def expected_state(snap: dict[str, Any]) -> dict[str, Any]:
    """The subset of the observable state a vector records: legs that are not flat and untouched."""
    full = observable(snap)
    for acc in full["accounts"].values():
        for symbol in list(acc["positions"]):
            kept = {side: row for side, row in acc["positions"][symbol].items() if not pristine(row)}
            if kept:
                acc["positions"][symbol] = kept
            else:
                del acc["positions"][symbol]
    return full


def pristine(row: Any) -> bool:
    """A flat leg that never traded (every amount zero); its settings are not recorded."""
    return isinstance(row, dict) and all(row.get(f) == "0" for f in LEG_FIELDS[:6])


def build_vector(vector_id: str, title: str, params: dict[str, Any], actions: Sequence[dict[str, Any]],
                 profile: Profile, rules: dict[str, str], origin: dict[str, Any],
                 rule_caps: Iterable[str] = (), states: Sequence[Any] | None = None) -> dict[str, Any]:
    """A vector from the model: run ``actions`` and record each outcome and state (``states``: the expected
    state per step when given, e.g. with the values a profile leaves open as patterns)."""
    results = model_run(params, actions, profile)
    outcomes = [o for o, _ in results]
    steps = []
    last: dict[str, Any] | None = None
    for i, (action, (outcome, snap)) in enumerate(zip(actions, results, strict=True)):
        entry: dict[str, Any] = {"action": action, "expect": {"kind": outcome["kind"], "reason": outcome["reason"]}}
        state = expected_state(snap) if states is None else states[i]
        if state != last:  # a step without "state" expects the previous step's state, unchanged
            entry["state"] = state
        last = state
        steps.append(entry)
    return {
        "format": VECTOR_FORMAT,
        "id": vector_id,
        "title": title,
        "spec_version": SPEC_VERSION,
        "profile": {"name": profile.name, "digest": profile.digest},
        "requires": required_capabilities(params, actions, outcomes, rule_caps),
        "rules": dict(sorted(rules.items())),
        "origin": origin,
        "params": params,
        "state_match": "subset",
        "steps": steps,
    }


def dump_vector(vector: dict[str, Any]) -> str:
    """Canonical text of a vector: header keys indented, one line per step (stable, diff-friendly)."""
    lines = ["{"]
    items = list(vector.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if key == "steps":
            lines.append('  "steps": [')
            for j, s in enumerate(value):
                sep = "," if j < len(value) - 1 else ""
                lines.append("    " + json.dumps(s, separators=(",", ":"), ensure_ascii=False) + sep)
            lines.append("  ]" + comma)
        else:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            lines.append(f"  {json.dumps(key)}: {text}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- loading ---------------------------------------------------------------------------------------

def builtin_root() -> Path:
    """The vectors shipped with hedgespec (``conformance/vectors``)."""
    return Path(str(resources.files("hedgespec.conformance").joinpath("vectors")))


def schema() -> dict[str, Any]:
    """``schema/vector-1.json`` (loaded once, like the engine replies' ``schema/engine-1.json``)."""
    from hedgespec.conformance.shapes import load_schema

    return load_schema("vector-1.json")


def validate(data: Any, where: str) -> None:
    """Schema validation; VectorError with the first problem's place."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        place = "/".join(str(p) for p in err.absolute_path) or "(top)"
        raise VectorError(f"{where}: {place}: {err.message}")


def load_vector(path: Path, root: Path) -> Vector:
    rel = text_name(path.relative_to(root).as_posix())  # the report names it: as text
    try:
        data = jsonio.loads(path.read_text(encoding="utf-8"))
    except jsonio.JSONInputError as exc:  # also a repeated key, deep nesting or a 5,000-digit number
        raise VectorError(exc.at(rel)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VectorError(f"{rel}: cannot read: {exc}") from None
    validate(data, rel)
    for i, entry in enumerate(data["steps"]):
        found = _bad_pattern(entry.get("state"), f"steps[{i}].state")
        if found is not None:
            raise VectorError(f"{rel}: {found}")
    return Vector(rel, data)


def _bad_pattern(value: Any, path: str) -> str | None:
    """``"<place>: ..."`` for the first ``{"$pattern": ...}`` under ``value`` that cannot be used
    (``world.pattern_problem``: not a regular expression, or one whose matching is not bounded), or None."""
    if isinstance(value, dict):
        if "$pattern" in value and len(value) == 1:
            problem = pattern_problem(value["$pattern"])
            return None if problem is None else f"{path}: $pattern {value['$pattern']!r:.80}: {problem}"
        for key, sub in value.items():
            found = _bad_pattern(sub, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            found = _bad_pattern(sub, f"{path}[{i}]")
            if found is not None:
                return found
    return None


@dataclass
class Corpus:
    vectors: list[Vector] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, problem)


def load_corpus(root: Path, profile: str | None = None) -> Corpus:
    """Every ``*.json`` under ``root`` (sorted); with ``profile``, those made for it."""
    corpus = Corpus()
    if not root.is_dir():
        raise VectorError(f"{root.name or root}: not a directory of vectors")
    for path in sorted(root.rglob("*.json")):
        try:
            vec = load_vector(path, root)
        except VectorError as exc:
            corpus.errors.append((text_name(path.relative_to(root).as_posix()), str(exc)))
            continue
        if profile is None or vec.data["profile"]["name"] == profile:
            corpus.vectors.append(vec)
    return corpus


def stale_rules(vector: Vector, current: dict[str, str]) -> list[str]:
    """Rule IDs whose digest changed (or that no longer exist) since the vector was written."""
    return sorted(rid for rid, digest in vector.rules.items() if current.get(rid) != digest)


# -- matching ------------------------------------------------------------------------------------

def match_outcome(expect: dict[str, Any], outcome: Any) -> list[str]:
    if not isinstance(outcome, dict):
        return [f"outcome: expected an object, got {type(outcome).__name__}"]
    out = []
    if outcome.get("kind") != expect["kind"]:
        out.append(f"outcome.kind: expected {expect['kind']!r}, got {outcome.get('kind')!r}")
    if outcome.get("reason") != expect.get("reason"):
        out.append(f"outcome.reason: expected {expect.get('reason')!r}, got {outcome.get('reason')!r}")
    return out


def match_state(expected: dict[str, Any], snap: Any, mode: str = "subset", limit: int = 5) -> list[str]:
    """Differences between an expected (subset) state and an engine snapshot."""
    actual = observable(snap if isinstance(snap, dict) else {})
    if mode == "exact":
        return diff(expected, actual, limit=limit)
    problems = diff(expected, actual, limit=limit)
    for aid, acc in actual["accounts"].items():
        if not isinstance(acc, dict):
            continue
        listed = (expected["accounts"].get(aid) or {}).get("positions", {})
        for symbol, rows in acc["positions"].items():
            for side, row in (rows or {}).items():
                if side not in listed.get(symbol, {}) and not pristine(row) and len(problems) < limit:
                    problems.append(f"accounts.{aid}.positions.{symbol}.{side}: expected a flat leg, got "
                                    f"quantity {row.get('quantity') if isinstance(row, dict) else row!r}")
    return problems


__all__ = ["VECTOR_FORMAT", "Vector", "VectorError", "build_vector", "dump_vector", "load_corpus",
           "match_outcome", "match_state", "stale_rules", "required_capabilities", "model_run"]
