"""The shapes of engine replies (schema/engine-1.json) and the predicate compiled from them.

``jsonschema`` decides; the compiled predicate only lets through, cheaply, what ``jsonschema``
would accept. These tests hold the predicate to that on the reference model's own replies (which
must all be valid) and on every one-field change of them, and keep engine-1.json in step with the
vector schema and the decimal grammar.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from hedgespec.conformance import shapes
from hedgespec.conformance import vectors as V
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.failures import EngineFailure
from hedgespec.conformance.generate import Generator, RandomChooser
from hedgespec.conformance.world import default_params, mode_scopes
from hedgespec.spec.numbers import is_decimal_text
from hedgespec.spec.profiles import load_profile

WRONG = [5, None, True, "1e2", "1\n", [], {"type": "fill"}]


def reference_replies(cases: int = 3, steps: int = 25) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Outcomes and snapshots of a few seeded random runs of the reference (every event type shows)."""
    profile = load_profile("seed")
    params = default_params(profile)
    outcomes, snaps = [], []
    for case in range(cases):
        adapter = ReferenceAdapter("seed")
        adapter.reset(params)
        gen = Generator(params, mode_scopes(profile, [i["symbol"] for i in params["instruments"]]))
        chooser = RandomChooser(random.Random(f"shapes:{case}"))
        snap = adapter.snapshot()
        snaps.append(snap)
        for _ in range(steps):
            outcomes.append(adapter.apply(gen.propose(chooser, snap)))
            snap = adapter.snapshot()
            snaps.append(snap)
    return outcomes, snaps


def variants(reply: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every copy of ``reply`` with one member replaced by a wrong value, deleted, or one added."""
    if isinstance(reply, dict):
        items: list[tuple[Any, Any]] = list(reply.items())
    elif isinstance(reply, list):
        items = list(enumerate(reply))
    else:
        return
    for key, value in items:
        for wrong in WRONG:
            changed = copy.copy(reply)
            changed[key] = wrong
            yield path + (key,), changed
        if isinstance(reply, dict):
            changed = dict(reply)
            del changed[key]
            yield path + (key,), changed
        for sub_path, sub in variants(value, path + (key,)):
            changed = copy.copy(reply)
            changed[key] = sub
            yield sub_path, changed
    if isinstance(reply, dict):
        yield path + ("extra",), {**reply, "extra_field": 1}


@pytest.fixture(scope="module")
def replies() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return reference_replies()


def test_the_reference_replies_have_the_shapes(replies: Any) -> None:
    outcomes, snaps = replies
    types = {e["type"] for o in outcomes for e in o["events"]}
    assert {"fill", "ledger", "order"} <= types  # the run reaches the common events
    reference_outcome, reference_snapshot = shapes._reference("outcome"), shapes._reference("snapshot")
    for outcome in outcomes:
        assert reference_outcome.is_valid(outcome) and shapes.problem(outcome, "outcome", "outcome") is None
    for snap in snaps:
        assert reference_snapshot.is_valid(snap) and shapes.problem(snap, "snapshot", "snapshot") is None


@pytest.mark.parametrize("name", ["outcome", "snapshot"])
def test_compiled_predicate_agrees_with_jsonschema_on_every_one_field_change(name: str, replies: Any) -> None:
    outcomes, snaps = replies
    source = outcomes if name == "outcome" else snaps
    # the richest replies: the outcome with the most event types, the snapshot with the most orders
    if name == "outcome":
        base = max(source, key=lambda o: (len({e["type"] for e in o["events"]}), len(o["events"])))
    else:  # one account with an open order, one instrument's legs: every kind of member, kept small
        snap = next(s for s in reversed(source) if any(a["open_orders"] for a in s["accounts"].values()))
        aid, account = next((aid, a) for aid, a in snap["accounts"].items() if a["open_orders"])
        order_id, order = next(iter(account["open_orders"].items()))
        symbol = order["instrument"]
        base = {**snap, "accounts": {aid: {**account, "open_orders": {order_id: order},
                                           "positions": {symbol: account["positions"][symbol]}}},
                "mark_prices": {symbol: snap["mark_prices"][symbol]}, "last_prices": {}, "expired": [symbol]}
    fast, reference = shapes._fast(name), shapes._reference(name)
    seen = refused = 0
    for where, changed in variants(base):
        seen += 1
        expected = reference.is_valid(changed)
        assert fast(changed) == expected, (where, changed if name == "outcome" else where)
        refused += not expected
    assert seen > 250 and refused > seen // 2  # the changes reach deep fields, and most are refused


def test_compile_refuses_keywords_it_does_not_implement() -> None:
    with pytest.raises(shapes.SchemaError, match="minimum"):
        shapes.compile_schema({"type": "integer", "minimum": 0})
    with pytest.raises(shapes.SchemaError, match="only local"):
        shapes.compile_schema({"$ref": "other.json#/x"})
    shapes.compile_schema(shapes.load_schema(shapes.ENGINE_SCHEMA))  # engine-1.json uses only what is implemented


def test_engine_schema_is_in_step_with_the_vector_schema_and_the_decimal_grammar() -> None:
    engine = shapes.load_schema(shapes.ENGINE_SCHEMA)
    vector = V.schema()
    assert engine["$defs"]["outcome"]["properties"]["kind"]["enum"] == \
        vector["$defs"]["step"]["properties"]["expect"]["properties"]["kind"]["enum"]
    for schema in (engine, vector):
        decimal = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/decimal"})
        for text in ["0", "-0.5", "50000", "1" * 20 + "." + "1" * 20, "1" * 21, "1" * 25, "1e2", "+1", " 1", "1\n",
                     "1.", ".5", "１", "٣", "0x10", ""]:
            assert decimal.is_valid(text) == is_decimal_text(text), (schema["$id"], text)


def test_an_order_event_with_an_undocumented_cause_is_refused() -> None:
    """outcomes.md lists the order events' causes; the schema (and so the runner) holds engines to them."""
    event = {"type": "order", "account": "a", "order_id": "o1", "status": "CANCELLED", "cause": "request",
             "quantity": "0"}
    outcome = {"kind": "accepted", "reason": None, "events": [event]}
    assert shapes.problem(outcome, "outcome", "outcome") is None
    for cause in ("request", "order", "trigger", "leg_closed", "trimmed", "liquidation", "expiry"):
        assert shapes._reference("outcome").is_valid({**outcome, "events": [{**event, "cause": cause}]})
    wrong = {**outcome, "events": [{**event, "cause": "whatever"}]}
    assert not shapes._fast("outcome")(wrong) and not shapes._reference("outcome").is_valid(wrong)
    assert "events[0].cause: 'whatever' is not one of" in shapes.problem(wrong, "outcome", "outcome")


def test_check_functions_raise_malformed_with_the_path() -> None:
    with pytest.raises(EngineFailure) as info:
        shapes.check_outcome({"kind": "accepted", "reason": None, "events": [{"type": "mode", "account": "a",
                                                                              "scope": "*", "mode": "NETTED"}]})
    assert info.value.kind == "malformed"
    assert info.value.reason.startswith("apply: outcome.events[0].mode: 'NETTED' is not one of")
    with pytest.raises(EngineFailure, match=r"snapshot: snapshot: 'accounts' is a required property"):
        shapes.check_snapshot({"snapshot_version": "1", "time": 0, "mark_prices": {}, "last_prices": {},
                               "insurance_fund": "0", "expired": []})
    long_value = {"snapshot_version": "1", "time": 0, "accounts": "y" * 500, "mark_prices": {}, "last_prices": {},
                  "insurance_fund": "0", "expired": []}
    with pytest.raises(EngineFailure) as info:
        shapes.check_snapshot(long_value)
    assert len(info.value.reason) < 220  # one line, the engine's value cut short
