"""The shapes of an engine's replies: an outcome of ``apply`` and a snapshot, checked before any rule reads them.

The runner reads fields of every outcome (``kind``, ``reason``, ``events`` and each event's fields)
and of every snapshot (accounts, legs, open orders, prices, the insurance fund). A reply that does
not have the documented shape is the engine failing to answer: an ``EngineFailure`` of kind
``malformed`` naming the field (``apply: outcome.events[0]: 'x' is not of type 'object'``), never a
rule violation.

The shapes are one JSON Schema, ``schema/engine-1.json`` (Draft 2020-12; the prose reference is
docs/formats/outcomes.md and docs/formats/snapshot.md). ``jsonschema`` is the validator that
decides and words the problem, as for the vectors' ``schema/vector-1.json``. Because it costs
several milliseconds per snapshot and the runner reads two replies per step, every reply first
goes through a predicate compiled from the same schema (``compile_schema``: the few keywords
engine-1.json uses, nothing else is accepted); only a reply the predicate refuses is handed to
``jsonschema``, whose verdict stands. The predicate never accepts what ``jsonschema`` refuses
(tests/conformance/test_shapes.py holds both to that).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

from hedgespec.conformance.failures import EngineFailure

ENGINE_SCHEMA = "engine-1.json"
_MESSAGE_LIMIT = 160

Check = Callable[[Any], bool]


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema file of ``hedgespec.conformance.schema`` (``vector-1.json``, ``engine-1.json``)."""
    text = resources.files("hedgespec.conformance.schema").joinpath(name).read_text("utf-8")
    return json.loads(text)


def definition(name: str) -> dict[str, Any]:
    """engine-1.json pointed at one of its ``$defs`` (``outcome``, ``snapshot``, ``event``, ...)."""
    return {**load_schema(ENGINE_SCHEMA), "$ref": f"#/$defs/{name}"}


@cache
def _reference(name: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(definition(name))


@cache
def _fast(name: str) -> Check:
    return compile_schema(definition(name))


# -- the compiled predicate -------------------------------------------------------------------------

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description"})
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


_KEYWORDS = frozenset({"$ref", "type", "enum", "const", "pattern", "minLength", "required", "properties",
                       "additionalProperties", "propertyNames", "items", "anyOf", "allOf", "if", "then"})


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    return lambda v: all(c(v) for c in checks)


class SchemaError(ValueError):
    """engine-1.json uses a keyword or form the compiled predicate does not implement."""


def compile_schema(root: dict[str, Any]) -> Check:
    """A predicate for ``root`` (Draft 2020-12, local ``$ref`` only): True when an instance is valid.

    Only the keywords engine-1.json uses are implemented; any other keyword raises ``SchemaError``
    at compile time, so the predicate cannot silently ignore a constraint.
    """
    defs = root.get("$defs", {})
    compiled: dict[str, Check] = {}
    building: set[str] = set()

    def ref(target: str) -> Check:
        if not target.startswith("#/$defs/") or target[8:] not in defs:
            raise SchemaError(f"$ref {target!r}: only local #/$defs/ references are supported")
        name = target[8:]
        if name not in compiled:
            if name in building:  # a recursive definition: resolved at the first call
                return lambda value: compiled[name](value)
            building.add(name)
            compiled[name] = build(defs[name])
            building.discard(name)
        return compiled[name]

    def build(node: Any) -> Check:
        if node is True:
            return lambda value: True
        if node is False:
            return lambda value: False
        if not isinstance(node, dict):
            raise SchemaError(f"not a schema: {node!r}")
        unknown = set(node) - _ANNOTATIONS - _KEYWORDS
        if unknown:
            raise SchemaError(f"keyword(s) {', '.join(sorted(unknown))} not supported by the compiled check")
        checks: list[Check] = []
        if "$ref" in node:
            checks.append(ref(node["$ref"]))
        kinds = node.get("type")
        if kinds == "string" and ("pattern" in node or "minLength" in node):  # the common leaf: one call
            rx = re.compile(node.get("pattern", ""))
            n = node.get("minLength", 0)
            checks.append(lambda v: isinstance(v, str) and len(v) >= n and rx.search(v) is not None)
        else:
            if kinds is not None:
                names = kinds if isinstance(kinds, list) else [kinds]
                if set(names) - set(_TYPES):
                    raise SchemaError(f"type {kinds!r} not supported")
                tests = [_TYPES[n] for n in names]
                checks.append(tests[0] if len(tests) == 1 else lambda v: any(t(v) for t in tests))
            if "pattern" in node:
                rx_any = re.compile(node["pattern"])
                checks.append(lambda v: not isinstance(v, str) or rx_any.search(v) is not None)
            if "minLength" in node:
                min_length = node["minLength"]
                checks.append(lambda v: not isinstance(v, str) or len(v) >= min_length)
        for key in ("enum", "const"):
            if key in node:
                values = node[key] if key == "enum" else [node[key]]
                if not all(v is None or isinstance(v, str) for v in values):
                    raise SchemaError(f"{key}: only strings and null are supported")
                allowed = frozenset(values)
                checks.append(lambda v, allowed=allowed: (v is None or isinstance(v, str)) and v in allowed)
        if "required" in node:
            required = tuple(node["required"])
            checks.append(lambda v: not isinstance(v, dict) or all(k in v for k in required))
        if "properties" in node or "additionalProperties" in node:
            props = {k: build(s) for k, s in node.get("properties", {}).items()}
            extra = build(node["additionalProperties"]) if "additionalProperties" in node else None

            def members(v: Any) -> bool:
                if not isinstance(v, dict):
                    return True
                for k, item in v.items():
                    test = props.get(k, extra)
                    if test is not None and not test(item):
                        return False
                return True

            def listed(v: Any) -> bool:  # no additionalProperties: only the listed members are looked at
                if not isinstance(v, dict):
                    return True
                for k, test in prop_items:
                    if k in v and not test(v[k]):
                        return False
                return True

            prop_items = tuple(props.items())
            checks.append(members if extra is not None else listed)
        if "propertyNames" in node:
            names_check = build(node["propertyNames"])
            checks.append(lambda v: not isinstance(v, dict) or all(names_check(k) for k in v))
        if "items" in node:
            item_check = build(node["items"])
            checks.append(lambda v: not isinstance(v, list) or all(item_check(x) for x in v))
        if "anyOf" in node:
            options = [build(s) for s in node["anyOf"]]
            checks.append(lambda v: any(o(v) for o in options))
        if "allOf" in node:
            checks.extend(build(s) for s in node["allOf"])
        if "if" in node:
            condition = build(node["if"])
            then = build(node.get("then", True))
            checks.append(lambda v: not condition(v) or then(v))
        return _all(checks)

    return build(root)


# -- checking replies -------------------------------------------------------------------------------

def field_path(parts: Iterable[Any], root: str) -> str:
    """``("events", 0, "quantity")`` -> ``outcome.events[0].quantity``."""
    out = root
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def problem(data: Any, name: str, root: str) -> str | None:
    """Where ``data`` first departs from the shape ``name`` of engine-1.json (one line), or None."""
    if _fast(name)(data):
        return None
    from jsonschema.exceptions import best_match

    err = best_match(_reference(name).iter_errors(data))
    if err is None:
        return None
    message = " ".join(err.message.split())
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT - 3] + "..."
    return f"{field_path(err.absolute_path, root)}: {message}"


def check_outcome(outcome: Any, op: str = "apply") -> None:
    """``EngineFailure("malformed", ...)`` when ``outcome`` is not an outcome (docs/formats/outcomes.md)."""
    found = problem(outcome, "outcome", "outcome")
    if found:
        raise EngineFailure("malformed", f"{op}: {found}")


def check_snapshot(snap: Any, op: str = "snapshot") -> None:
    """``EngineFailure("malformed", ...)`` when ``snap`` is not a snapshot (docs/formats/snapshot.md)."""
    found = problem(snap, "snapshot", "snapshot")
    if found:
        raise EngineFailure("malformed", f"{op}: {found}")
