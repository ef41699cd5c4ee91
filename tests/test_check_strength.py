"""Checks of the orders, margin and positions chapters catch the broken engines made for them.

Each test edits or breaks a reference run the way a broken engine would and asserts the rule ID;
the reference itself passes the same checks.
"""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import get, run_step_checks
from scenarios import params


def steps(profile: str, actions: list[dict], wallet: str = "1000") -> list[StepView]:
    """The reference's steps of ``actions`` (t numbered from 1), every check passing on each."""
    p = params(profile, wallet=wallet)
    adapter = ReferenceAdapter(profile)
    adapter.reset(p)
    before, views = adapter.snapshot(), []
    for t, raw in enumerate(actions, 1):
        action = {"t": t, **raw}
        outcome = adapter.apply(action)
        after = adapter.snapshot()
        view = StepView(p, before, action, outcome, after)
        assert run_step_checks(view) == [], [str(v) for v in run_step_checks(view)]
        views.append(view)
        before = after
    return views


def order(oid: str, side: str, leg: str, qty: str, price: str = "100", order_type: str = "MARKET", **kw) -> dict:
    return {"kind": "place_order", "account": "A", "order_id": oid, "instrument": "BTCUSDT", "side": side,
            "position_side": leg, "order_type": order_type, "quantity": qty, "price": price, **kw}


def trade(price: str, qty: str) -> dict:
    return {"kind": "market_trade", "instrument": "BTCUSDT", "price": price, "quantity": qty}


def ids(view: StepView, rule_id: str) -> list[str]:
    return [v.rule_id for v in get(rule_id).check(view)]


def edited(view: StepView, **parts) -> StepView:
    return StepView(view.params, parts.get("before", view.before), view.action, parts.get("outcome", view.outcome),
                    parts.get("after", view.after))


# HM-ORD-008 -------------------------------------------------------------------------------------

def test_available_balance_is_recomputed_not_trusted():
    view = steps("seed", [order("o1", "BUY", "LONG", "1")], wallet="10000")[0]

    def shift(snapshot: dict, available: str) -> dict:  # wallet 3, but the engine reports 10000 available
        snapshot = copy.deepcopy(snapshot)
        acc = snapshot["accounts"]["A"]
        acc["wallet"] = str(Decimal(acc["wallet"]) - 9997)
        acc["available_balance"] = available
        return snapshot

    broken = edited(view, before=shift(view.before, "10000"), after=shift(view.after, "10000"))
    found = [str(v) for v in get("HM-ORD-008").check(broken)]
    assert any("accepted with 3 available" in f for f in found), found
    assert any("available balance 10000" in f for f in found), found


def test_order_margin_must_hold_what_resting_orders_reserve():
    view = steps("seed", [order("l1", "BUY", "LONG", "1", "90", "LIMIT")])[0]
    assert view.after["accounts"]["A"]["order_margin"] != "0"
    after = copy.deepcopy(view.after)
    acc = after["accounts"]["A"]
    acc["available_balance"] = str(Decimal(acc["available_balance"]) + Decimal(acc["order_margin"]))
    acc["order_margin"] = "0"
    assert "HM-ORD-008" in ids(edited(view, after=after), "HM-ORD-008")


# HM-ORD-004 -------------------------------------------------------------------------------------

def test_market_close_on_flat_or_beyond_the_leg():
    views = steps("seed", [order("c0", "SELL", "LONG", "1"), order("o1", "BUY", "LONG", "1"),
                           order("c1", "SELL", "LONG", "1")])
    flat = views[0]
    assert flat.outcome["reason"] == "REDUCE_EXCEEDS_LEG"
    accepted = {"kind": "accepted", "reason": None, "message": "", "events": []}
    assert ids(edited(flat, outcome=accepted, after=flat.before), "HM-ORD-004") == ["HM-ORD-004"]
    close = views[2]
    oversized = StepView(close.params, close.before, {**close.action, "quantity": "2"}, close.outcome, close.after)
    assert "HM-ORD-004" in ids(oversized, "HM-ORD-004")


def test_trimmed_market_close_is_cut_to_the_leg():
    views = steps("okx-v5", [order("o1", "BUY", "LONG", "1"), order("c1", "SELL", "LONG", "3")])
    fills = [e for e in views[1].outcome["events"] if e["type"] == "fill"]
    assert [f["quantity"] for f in fills] == ["1"]


TRIM_RUN = [order("o1", "BUY", "LONG", "3"), order("a", "SELL", "LONG", "1", "110", "LIMIT"),
            order("b", "SELL", "LONG", "1", "112", "LIMIT"), order("c", "SELL", "LONG", "1", "110", "LIMIT"),
            order("n", "SELL", "LONG", "2", "111", "LIMIT"), order("m", "SELL", "LONG", "1", "109", "LIMIT")]


def test_trim_takes_the_least_favourable_price_first():
    views = steps("okx-v5", TRIM_RUN)
    assert sorted(views[4].after["accounts"]["A"]["open_orders"]) == ["b", "n"]
    assert [e["status"] for e in views[5].outcome["events"]] == ["NEW", "CANCELLED"]


def test_trim_of_the_wrong_orders_is_caught(monkeypatch):
    from hedgespec.model.ledger import Work

    def most_favourable_first(self, account_id, closing, leg_size):
        excess = sum(o.quantity for o in closing) - leg_size
        for o in sorted(closing, key=lambda o: -o.price if o.side != "BUY" else o.price):
            if excess <= 0:
                break
            cut = min(excess, o.quantity)
            excess -= cut
            self.cancel(account_id, o.order_id, "trimmed") if cut == o.quantity else None
            if cut < o.quantity:
                self.put_order(account_id, o.with_remaining(o.quantity - cut, o.margin_reserved, o.fee_reserved))

    monkeypatch.setattr(Work, "trim_closing_limits", most_favourable_first)
    with pytest.raises(AssertionError, match="HM-ORD-004"):
        steps("okx-v5", TRIM_RUN)


# HM-ORD-006 -------------------------------------------------------------------------------------

def test_market_trade_fills_the_best_price_first():
    from hedgespec.conformance.mutants import MUTANT_BY_NAME

    run = [order("l99", "BUY", "LONG", "1", "99", "LIMIT"), order("l100", "BUY", "LONG", "1", "100", "LIMIT"),
           trade("98", "1")]
    view = steps("seed", run)[2]
    assert [e["order_id"] for e in view.outcome["events"] if e["type"] == "fill"] == ["l100"]
    adapter, p = MUTANT_BY_NAME["worst-price-first"].adapter("seed"), params("seed")
    adapter.reset(p)
    before = adapter.snapshot()
    for t, raw in enumerate(run, 1):
        action = {"t": t, **raw}
        outcome = adapter.apply(action)
        after = adapter.snapshot()
        found = ids(StepView(p, before, action, outcome, after), "HM-ORD-006")
        before = after
    assert found and set(found) == {"HM-ORD-006"}
