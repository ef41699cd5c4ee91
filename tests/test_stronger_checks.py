"""Broken engines the liquidation, fee, trailing-stop, settlement and close-position checks once let
through, each on a directed scenario: the reference passes every check, the mutant trips its rule
(HM-LIQ-003, HM-LIQ-004, HM-FEE-001, HM-STOP-003, HM-SETL-001, HM-STOP-005); HM-LIQ-004 also under a
profile that models partial liquidation by bracket, and HM-LIQ-005 under one that offsets hedged cross legs
before a pool is closed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.mutants import DIRECTED_MUTANTS
from hedgespec.spec.registry import StepView
from scenarios import (
    assert_mutant_caught,
    directed_actions,
    params,
    reference_steps,
    step_views,
    step_violations,
)

EXAMPLE = json.loads((Path(__file__).parent.parent / "examples" / "isolated_liquidation.json").read_text())


def order(oid: str, side: str, leg: str, qty: str, price: str = "", **kw: Any) -> dict[str, Any]:
    action = {"kind": "place_order", "account": "A", "order_id": oid, "instrument": "BTCUSDT", "side": side,
              "position_side": leg, "order_type": kw.pop("order_type", "MARKET"), "quantity": qty, **kw}
    return {**action, "price": price} if price else action


def mark(price: str, symbol: str = "BTCUSDT") -> dict[str, Any]:
    return {"kind": "mark_price", "instrument": symbol, "price": price}


LIQUIDATION_WITH_REMAINDER = (EXAMPLE["params"], EXAMPLE["actions"][:7])  # the long leaves 20 of its margin
LIQUIDATION_WITH_SHORTFALL = (EXAMPLE["params"], [*EXAMPLE["actions"][:2], mark("56000")])  # 100 beyond it
EXPIRY = (params("seed"), [
    order("q1", "BUY", "LONG", "1", "50", instrument="ETHUSDT_Q"),
    {"kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": "51"},
    order("q2", "BUY", "LONG", "1", "50", instrument="ETHUSDT_Q"),
])
TRAILING_FIRES = (params("seed"), [
    order("l", "BUY", "LONG", "1", "100"),
    order("ts", "SELL", "LONG", "1", order_type="TRAILING_STOP_MARKET", callback_rate="0.01"),
    mark("101"), mark("99.9"),
])
TRAILING_ACTIVATION = (params("seed"), next(a for a in directed_actions() if any(x.get("order_id") == "ta" for x in a)))
PARTIAL = json.loads((Path(__file__).parent.parent / "examples" / "partial_liquidation.json").read_text())
PARTIAL_PROFILE = str(Path(__file__).parent.parent / "examples" / "profiles" / "partial-by-bracket.json")
PARTIAL_LIQUIDATION = ({**PARTIAL["params"], "profile": PARTIAL_PROFILE}, PARTIAL["actions"])  # reduced, then closed
OFFSET = json.loads((Path(__file__).parent.parent / "examples" / "cross_offset.json").read_text())
OFFSET_PROFILE = str(Path(__file__).parent.parent / "examples" / "profiles" / "offset-hedged-first.json")
OFFSET_RESTORES = ({**OFFSET["params"], "profile": OFFSET_PROFILE}, OFFSET["actions"])  # offset, later closed
OFFSET_NOT_ENOUGH = ({**OFFSET["params"], "profile": OFFSET_PROFILE},  # offset and closed in one step
                     [*OFFSET["actions"][:6], mark("55200")])
GATE_CLOSE_POSITION = (params("gate"), [
    order("l", "BUY", "LONG", "1", "100"),
    order("cm", "SELL", "LONG", "0", "100", close_position=True),
])
# the cases of the checks strengthened after a review of check strength: each broken engine passed every
# step check before (HM-ORD-002, HM-MARG-003, HM-STOP-001/002, HM-ORD-006, HM-POS-001, HM-FUND-001/003)
RESTING_ON_OTHER_LEG = (params("seed"), [
    order("s", "SELL", "SHORT", "1", "100"),
    order("o", "BUY", "LONG", "1", "90", order_type="LIMIT"),
    {"kind": "market_trade", "instrument": "BTCUSDT", "price": "90", "quantity": "1"},
])
CROSS_CLOSE_IN_PROFIT = (params("seed"), [
    {"kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG",
     "margin_type": "CROSS"},
    order("l", "BUY", "LONG", "1", "100"), mark("110"), order("c", "SELL", "LONG", "0.5", "110"),
])
STOP_FIRES = (params("seed"), [
    order("l", "BUY", "LONG", "1", "100"),
    order("s1", "SELL", "LONG", "1", order_type="STOP_MARKET", stop_price="99"),
    mark("98.9"),
])
TRADE_LARGER_THAN_ORDER = (params("seed"), [
    order("o", "BUY", "LONG", "0.5", "100", order_type="LIMIT"),
    {"kind": "market_trade", "instrument": "BTCUSDT", "price": "100", "quantity": "2"},
])
TWO_STOPS_FIRE = (params("seed"), [
    order("l", "BUY", "LONG", "2", "100"),
    order("s1", "SELL", "LONG", "1", order_type="STOP_MARKET", stop_price="99"),
    order("s2", "SELL", "LONG", "1", order_type="STOP_MARKET", stop_price="99"),
    mark("98.9"),
])
OPEN_AND_REDUCE_IN_ONE_STEP = (params("seed"), [
    order("l", "BUY", "LONG", "1", "100"),
    order("b", "BUY", "LONG", "1", "100", order_type="LIMIT"),
    order("s", "SELL", "LONG", "1", "99", order_type="LIMIT"),
    {"kind": "market_trade", "instrument": "BTCUSDT", "price": "99.5", "quantity": "1"},
])
LIMIT_CROSSES_ON_ARRIVAL = (params("seed"), [
    {"kind": "market_trade", "instrument": "BTCUSDT", "price": "100", "quantity": "1"},
    order("o", "BUY", "LONG", "1", "101", order_type="LIMIT"),
])
BYBIT_ISOLATED_FUNDING = (params("bybit-v5", wallet="10000"), [
    {"kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG",
     "margin_type": "ISOLATED"},
    order("l", "BUY", "LONG", "1", "100"),
    {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.01"},
])
FUNDING_WITH_TWO_INSTRUMENTS = (params("seed"), [
    order("b", "BUY", "LONG", "1", "100"),
    order("e", "BUY", "LONG", "1", "50", instrument="ETHUSDT_Q"),
    {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.01"},
])

CASES = [
    ("remainder-to-wallet", "HM-LIQ-004", LIQUIDATION_WITH_REMAINDER),
    ("liquidation-fill-fee", "HM-FEE-001", LIQUIDATION_WITH_REMAINDER),
    ("shortfall-from-wallet", "HM-LIQ-003", LIQUIDATION_WITH_SHORTFALL),
    ("expiry-unreported", "HM-SETL-001", EXPIRY),
    ("trailing-vanishes", "HM-STOP-003", TRAILING_FIRES),
    ("trailing-ignores-activation", "HM-STOP-003", TRAILING_ACTIVATION),
    ("close-position-partial", "HM-STOP-005", GATE_CLOSE_POSITION),
    ("partial-in-full", "HM-LIQ-004", PARTIAL_LIQUIDATION),
    ("partial-one-lot-deeper", "HM-LIQ-004", PARTIAL_LIQUIDATION),
    ("partial-releases-margin", "HM-LIQ-004", PARTIAL_LIQUIDATION),
    ("offset-skipped", "HM-LIQ-005", OFFSET_RESTORES),
    ("offset-half", "HM-LIQ-005", OFFSET_RESTORES),
    ("offset-closes-all", "HM-LIQ-005", OFFSET_RESTORES),
    ("offset-then-stop", "HM-LIQ-005", OFFSET_NOT_ENOUGH),
    ("resting-fills-other-leg", "HM-ORD-002", RESTING_ON_OTHER_LEG),
    ("pnl-unbooked", "HM-MARG-003", CROSS_CLOSE_IN_PROFIT),
    ("triggered-not-filled", "HM-STOP-001", STOP_FIRES),
    ("resting-overfilled", "HM-ORD-006", TRADE_LARGER_THAN_ORDER),
    ("second-stop-skipped", "HM-STOP-002", TWO_STOPS_FIRE),
    ("mixed-cost-drift", "HM-POS-001", OPEN_AND_REDUCE_IN_ONE_STEP),
    ("crossing-limit-as-maker", "HM-ORD-006", LIMIT_CROSSES_ON_ARRIVAL),
    ("funding-all-from-margin", "HM-FUND-003", BYBIT_ISOLATED_FUNDING),
    ("funding-other-instrument", "HM-FUND-001", FUNDING_WITH_TWO_INSTRUMENTS),
]


@pytest.mark.parametrize(("name", "rule_id", "case"), CASES, ids=[c[0] for c in CASES])
def test_reference_passes_and_mutant_is_caught(name: str, rule_id: str, case: tuple) -> None:
    assert_mutant_caught(name, rule_id, case)


def test_directed_mutants_are_in_the_library() -> None:
    assert {m.name for m in DIRECTED_MUTANTS} <= {c[0] for c in CASES}


def test_the_cases_reach_what_they_test() -> None:
    """The liquidation cases leave a remainder and a shortfall; the trailing stop fires; expiry is listed."""
    def outcomes(p: dict[str, Any], actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [view.outcome for view in reference_steps(p, actions)]

    kinds = {e.get("kind") for o in outcomes(*LIQUIDATION_WITH_REMAINDER) for e in o["events"]}
    assert "INSURANCE_INFLOW" in kinds
    kinds = {e.get("kind") for o in outcomes(*LIQUIDATION_WITH_SHORTFALL) for e in o["events"]}
    assert "INSURANCE_COVER" in kinds
    assert any(e.get("status") == "TRIGGERED" for e in outcomes(*TRAILING_FIRES)[-1]["events"])
    assert outcomes(*EXPIRY)[-1]["reason"] == "INSTRUMENT_EXPIRED"
    assert outcomes(*GATE_CLOSE_POSITION)[-1]["kind"] == "accepted"


def test_gate_close_position_limit_takes_what_the_leg_has_left() -> None:
    """A close-position limit order rests for the leg less its resting closing limits; one taking less is caught."""
    p = params("gate")
    actions = [order("l", "BUY", "LONG", "1", "100"),
               order("c1", "SELL", "LONG", "0.2", "120", order_type="LIMIT"),
               order("cl", "SELL", "LONG", "0", "110", order_type="LIMIT", close_position=True)]
    adapter = ReferenceAdapter("gate")
    assert step_violations(adapter, p, actions) == []
    assert adapter.snapshot()["accounts"]["A"]["open_orders"]["cl"]["quantity"] == "0.8"

    from hedgespec.spec.rulebook import get
    last = step_views(ReferenceAdapter("gate"), p, actions)[-1]
    after = json.loads(json.dumps(last.after))
    after["accounts"]["A"]["open_orders"]["cl"]["quantity"] = "1"  # took the whole leg, ignoring c1
    tampered = StepView(p, last.before, last.action, last.outcome, after)
    found = [str(v) for v in get("HM-STOP-005").check(tampered)]
    assert found and all(v.startswith("HM-STOP-005:") for v in found)
