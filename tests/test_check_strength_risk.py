"""Broken engines the funding, liquidation and margin checks once let through (a review of check strength):
each is a transform or a patch of the reference engine, run on a directed scenario where the reference passes
every check and the broken engine trips its own rule (HM-FUND-002, HM-LIQ-001, HM-LIQ-003, HM-LIQ-006,
HM-LIQ-008, HM-MARG-005, HM-MARG-006). Before the checks were strengthened, each of them passed its rule's
check (and, but for the joint liquidation on a funding step, every step check)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.mutants import MUTANT_BY_NAME, Mutant, _d, _no_op, _s
from hedgespec.spec.observe import maintenance
from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import run_step_checks
from scenarios import BTC, params

LIQ = json.loads((Path(__file__).parent.parent / "examples" / "isolated_liquidation.json").read_text())


def violations(adapter: Any, p: dict[str, Any], actions: list[dict[str, Any]]) -> list[str]:
    """Every step check's findings over ``actions`` (t numbered from 1) on ``adapter`` reset to ``p``."""
    adapter.reset(p)
    before, found = adapter.snapshot(), []
    for t, action in enumerate(actions, 1):
        action = {**action, "t": t}
        outcome = adapter.apply(action)
        after = adapter.snapshot()
        found.extend(str(v) for v in run_step_checks(StepView(p, before, action, outcome, after)))
        before = after
    return found


def order(oid: str, side: str, leg: str, qty: str, price: str = "100", account: str = "A", **kw: Any) -> dict:
    return {"kind": "place_order", "account": account, "order_id": oid, "instrument": "BTCUSDT", "side": side,
            "position_side": leg, "order_type": kw.pop("order_type", "MARKET"), "quantity": qty, "price": price, **kw}


def mark(price: str) -> dict[str, Any]:
    return {"kind": "mark_price", "instrument": "BTCUSDT", "price": price}


def margin_type(account: str, leg: str, value: str) -> dict[str, Any]:
    return {"kind": "set_margin_type", "account": account, "instrument": "BTCUSDT", "position_side": leg,
            "margin_type": value}


# HM-FUND-002: funding booked for a leg closed since the last funding, with no payment of it ----------------

def _funding_on_closed_leg(action, before, outcome, after):
    """The engine's events pay the open legs only, but its ledger charges a cross leg closed since (its last size,
    1) from the wallet."""
    if action["kind"] != "funding" or outcome["kind"] != "accepted":
        return
    symbol = action["instrument"]
    paid = {(e["account"], e["position_side"]) for e in outcome["events"] if e["type"] == "funding"}
    for name, acc in before["accounts"].items():
        for side, r in acc["positions"].get(symbol, {}).items():
            if r["quantity"] == "0" and r["fees_paid"] != "0" and r["margin_type"] == "CROSS" and (name, side) not in paid:
                amount = -_d(before["mark_prices"][symbol]) * _d(action["rate"])
                outcome["events"].append({"type": "ledger", "account": name, "instrument": symbol, "position_side": side,
                                          "kind": "FUNDING", "bucket": "wallet", "amount": _s(amount)})
                moved = after["accounts"][name]
                moved["wallet"] = _s(_d(moved["wallet"]) + amount)
                moved["available_balance"] = _s(_d(moved["available_balance"]) + amount)


CLOSED_LEG_AT_FUNDING = (params("seed"), [
    margin_type("A", "LONG", "CROSS"), order("o", "BUY", "LONG", "1"), order("c", "SELL", "LONG", "1"),
    order("b", "BUY", "LONG", "1", account="B"), {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.01"},
])


# HM-LIQ-001 (and HM-LIQ-003): on a funding step the other leg has a funding payment of its own -------------

def _sweep_other_receipt(original):
    """Liquidating an isolated leg also sweeps what the other leg received in funding into the insurance fund
    (booked as that leg's INSURANCE_INFLOW, a transfer that sums to zero)."""
    def liquidate_isolated(work, account_id, instrument, side, leg, mark_price, maintenance_margin):
        from hedgespec.model.events import FundingPayment

        original(work, account_id, instrument, side, leg, mark_price, maintenance_margin)
        other = "SHORT" if side == "LONG" else "LONG"
        received = sum(e.amount for e in work.events if isinstance(e, FundingPayment) and e.amount > 0
                       and (e.account, e.instrument, e.position_side) == (account_id, instrument, other))
        if received:
            work.transfer(account_id, instrument, other, "INSURANCE_INFLOW", "isolated_margin", "insurance_fund",
                          received)
    return liquidate_isolated


FUNDING_LIQUIDATES_LONG = (LIQ["params"], [*LIQ["actions"][:2], mark("57300"),
                                           {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.002"}])


# HM-LIQ-006: a cross-pool liquidation that draws on an isolated leg's margin ------------------------------

def _pool_draws_isolated(original):
    """After a cross pool's liquidation, a thirtieth of each open isolated leg's margin is moved to the wallet
    (booked as that leg's MARGIN_RELEASE, a transfer that sums to zero)."""
    def evaluate_cross(work, account_id):
        from hedgespec.model.events import Liquidation
        from hedgespec.model.margin import settings_of

        start = len(work.events)
        original(work, account_id)
        if not any(isinstance(e, Liquidation) and e.position_side == "CROSS" for e in work.events[start:]):
            return
        account = work.current(account_id)
        for (symbol, side), leg in sorted(account.legs.items()):
            if leg.quantity and settings_of(work.config, account, symbol, side).margin_type == "ISOLATED":
                work.transfer(account_id, symbol, side, "MARGIN_RELEASE", "isolated_margin", "wallet",
                              leg.isolated_margin // 30)
    return evaluate_cross


CROSS_POOL_BESIDE_ISOLATED = (LIQ["params"], [margin_type("alice", "LONG", "CROSS"), *LIQ["actions"][:2],
                                              mark("53000")])  # the cross LONG's pool is breached, the SHORT not


# HM-LIQ-008: liquidation evaluated before the stops; the stop it ends is not reported as cancelled by it ---

def _liquidation_first(original):
    """The mark-price handler evaluates liquidation, then the conditional orders."""
    import importlib

    from hedgespec.model import liquidation, orders
    from hedgespec.model.actions import MarkPrice

    step = importlib.import_module("hedgespec.model.step")

    def mark_price(work, action):
        problem = orders.check_price(work, action.instrument, action.price, "price", tick=False)
        if problem:
            return problem
        work.copy_prices()
        work.mark_prices[action.instrument] = action.price
        liquidation.evaluate(work, action.instrument)
        orders.trigger_conditionals(work, action.instrument, action.price)
        return step._accepted()
    return {**original, MarkPrice: mark_price}


def _cancelled_as_leg_closed(action, before, outcome, after):
    for e in outcome["events"]:
        if e["type"] == "order" and e["status"] == "CANCELLED" and e["cause"] == "liquidation":
            e["cause"] = "leg_closed"


def _cancel_unreported(action, before, outcome, after):
    outcome["events"] = [e for e in outcome["events"] if not (
        e["type"] == "order" and e["status"] == "CANCELLED" and e["cause"] == "liquidation")]


STOP_THEN_LIQUIDATION = (LIQ["params"], [  # the stop closes half the LONG at 57200, the rest is liquidated
    *LIQ["actions"][:2],
    {"kind": "place_order", "account": "alice", "order_id": "sl", "instrument": "BTCUSDT", "side": "SELL",
     "position_side": "LONG", "order_type": "STOP_MARKET", "quantity": "0.05", "stop_price": "57250"},
    mark("57200"),
])


# HM-MARG-005: a change of a busy leg's margin type answered "unchanged" -------------------------------------

def _busy_leg_unchanged(action, before, outcome, after):
    if outcome["kind"] == "rejected" and outcome["reason"] in ("MARGIN_TYPE_WITH_POSITION",
                                                               "MARGIN_TYPE_WITH_OPEN_ORDERS"):
        outcome.update(kind="unchanged", reason=None, message="")


BUSY_LEG = [order("o", "BUY", "LONG", "1"), margin_type("A", "LONG", "CROSS")]
BUSY_WITH_ORDERS = [order("l", "BUY", "LONG", "1", "90", order_type="LIMIT"), margin_type("A", "LONG", "CROSS")]


# HM-MARG-006: the snapshot of a mark-price step keeps the previous mark, the maintenance consistent with it --

def _stale_mark_report(action, before, outcome, after):
    if action["kind"] != "mark_price" or outcome["kind"] != "accepted" or action["instrument"] != BTC["symbol"]:
        return
    old = before["mark_prices"][BTC["symbol"]]
    after["mark_prices"][BTC["symbol"]] = old
    for acc in after["accounts"].values():
        for r in acc["positions"].get(BTC["symbol"], {}).values():
            quantity = _d(r["quantity"])
            r["maintenance_margin"] = _s(maintenance(BTC, quantity, _d(old)))
            r["unrealized_pnl"] = _s(quantity * _d(old) - _d(r["cost_basis"]))


MARK_MOVES = [order("o", "BUY", "LONG", "1"), order("s", "SELL", "SHORT", "1"), mark("101")]

LIQ_FIRST = (("hedgespec.model.step", "_HANDLERS", _liquidation_first),)
MUTANTS = {m.name: m for m in [
    Mutant("funding-on-closed-leg", "HM-FUND-002", "funding booked for a leg closed since, with no payment",
           _funding_on_closed_leg),
    Mutant("sweep-other-receipt", "HM-LIQ-001", "liquidating one leg at a funding step sweeps the other leg's "
           "funding receipt into the insurance fund", _no_op,
           patches=(("hedgespec.model.liquidation", "liquidate_isolated", _sweep_other_receipt),)),
    Mutant("pool-draws-isolated", "HM-LIQ-006", "a cross-pool liquidation moves isolated margin to the wallet",
           _no_op, patches=(("hedgespec.model.liquidation", "_evaluate_cross", _pool_draws_isolated),)),
    Mutant("liquidation-first-leg-closed", "HM-LIQ-008", "liquidation before the stops; the stop it ends is "
           "reported cancelled because its leg closed", _cancelled_as_leg_closed, patches=LIQ_FIRST),
    Mutant("liquidation-first-silent", "HM-LIQ-008", "liquidation before the stops; the stop it ends vanishes "
           "without an event", _cancel_unreported, patches=LIQ_FIRST),
    Mutant("busy-leg-unchanged", "HM-MARG-005", "a busy leg's margin-type change is answered unchanged, not "
           "refused", _busy_leg_unchanged),
    Mutant("stale-mark-report", "HM-MARG-006", "a mark-price step's snapshot keeps the previous mark and the "
           "maintenance at it", _stale_mark_report),
]}
MUTANTS["joint-liquidation"] = MUTANT_BY_NAME["joint-liquidation"]  # HM-LIQ-002's catch; HM-LIQ-001's too now

CASES = [
    ("funding-on-closed-leg", "HM-FUND-002", CLOSED_LEG_AT_FUNDING),
    ("sweep-other-receipt", "HM-LIQ-001", FUNDING_LIQUIDATES_LONG),
    ("sweep-other-receipt", "HM-LIQ-003", FUNDING_LIQUIDATES_LONG),
    ("joint-liquidation", "HM-LIQ-001", FUNDING_LIQUIDATES_LONG),
    ("pool-draws-isolated", "HM-LIQ-006", CROSS_POOL_BESIDE_ISOLATED),
    ("liquidation-first-leg-closed", "HM-LIQ-008", STOP_THEN_LIQUIDATION),
    ("liquidation-first-silent", "HM-LIQ-008", STOP_THEN_LIQUIDATION),
    ("busy-leg-unchanged", "HM-MARG-005", (params("seed"), BUSY_LEG)),
    ("busy-leg-unchanged", "HM-MARG-005", (params("seed"), BUSY_WITH_ORDERS)),
    ("busy-leg-unchanged", "HM-MARG-005", (params("binance-usdm"), BUSY_LEG)),
    ("stale-mark-report", "HM-MARG-006", (params("seed"), MARK_MOVES)),
]


@pytest.mark.parametrize(("name", "rule_id", "case"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2][0]['profile']}-{i}" for i, c in enumerate(CASES)])
def test_reference_passes_and_mutant_is_caught(name: str, rule_id: str, case: tuple) -> None:
    p, actions = case
    assert violations(ReferenceAdapter(p["profile"]), p, actions) == []
    found = violations(MUTANTS[name].adapter(p["profile"]), p, actions)
    assert any(v.startswith(rule_id + ":") for v in found), found


def test_the_cases_reach_what_they_test() -> None:
    """The funding step liquidates the LONG only; the pool's liquidation leaves the isolated SHORT open; the stop
    fires before the liquidation; the busy-leg requests are refused by the reference."""
    def outcomes(p: dict[str, Any], actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        adapter = ReferenceAdapter(p["profile"])
        adapter.reset(p)
        return [adapter.apply({**a, "t": t}) for t, a in enumerate(actions, 1)]

    liquidated = [(e["position_side"]) for e in outcomes(*FUNDING_LIQUIDATES_LONG)[-1]["events"]
                  if e["type"] == "liquidation"]
    assert liquidated == ["LONG"]
    assert [e["position_side"] for e in outcomes(*CROSS_POOL_BESIDE_ISOLATED)[-1]["events"]
            if e["type"] == "liquidation"] == ["CROSS"]
    kinds = [e["type"] if e["type"] != "order" else e["status"] for e in outcomes(*STOP_THEN_LIQUIDATION)[-1]["events"]]
    assert kinds.index("TRIGGERED") < kinds.index("liquidation")
    for p, actions in ((params("seed"), BUSY_LEG), (params("seed"), BUSY_WITH_ORDERS)):
        assert outcomes(p, actions)[-1]["kind"] == "rejected"


def test_other_leg_may_move_by_its_own_funding_only() -> None:
    """HM-LIQ-001 and HM-LIQ-006 allow a leg they protect exactly its own funding's moves: the reference's
    SHORT takes its funding receipt into its margin and funding total; one more atom of margin is caught."""
    from hedgespec.spec.rulebook import get

    adapter = ReferenceAdapter("seed")
    p, actions = FUNDING_LIQUIDATES_LONG
    adapter.reset(p)
    for t, a in enumerate(actions[:-1], 1):
        adapter.apply({**a, "t": t})
    before = adapter.snapshot()
    action = {**actions[-1], "t": len(actions)}
    outcome = adapter.apply(action)
    after = copy.deepcopy(adapter.snapshot())
    view = StepView(p, before, action, outcome, after)
    assert [str(v) for v in get("HM-LIQ-001").check(view)] == []
    short = after["accounts"]["alice"]["positions"]["BTCUSDT"]["SHORT"]
    assert short["funding"] != "0"
    short["isolated_margin"] = str(Decimal(short["isolated_margin"]) + Decimal("1e-16"))
    assert [v.rule_id for v in get("HM-LIQ-001").check(view)] == ["HM-LIQ-001"]
