"""Checks of the orders, margin and positions chapters catch the broken engines made for them.

Each test edits or breaks a reference run the way a broken engine would and asserts the rule ID;
the reference itself passes the same checks.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import get
from scenarios import checked_steps, params, step_views


def steps(profile: str, actions: list[dict], wallet: str = "1000", hedge: bool = True) -> list[StepView]:
    """The reference's steps of ``actions`` on the test parameters under a built-in profile, every check
    passing on each."""
    return checked_steps(params(profile, wallet=wallet, hedge=hedge), actions)


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
    broken = step_views(MUTANT_BY_NAME["worst-price-first"].adapter("seed"), params("seed"), run)
    found = ids(broken[-1], "HM-ORD-006")
    assert found and set(found) == {"HM-ORD-006"}


def _without_arrival(view: StepView, arrival: str | None) -> StepView:
    """The step as an engine reports it that gives every open order ``arrival`` (None: omits the field)."""
    snapshots = []
    for snapshot in (view.before, view.after):
        snapshot = copy.deepcopy(snapshot)
        for acc in snapshot["accounts"].values():
            for open_order in acc["open_orders"].values():
                open_order.pop("arrival")
                if arrival is not None:
                    open_order["arrival"] = arrival
        snapshots.append(snapshot)
    return edited(view, before=snapshots[0], after=snapshots[1])


def test_market_trade_fills_one_price_in_arrival_order():
    """HM-ORD-006's time priority, read from the open orders' ``arrival``: the newest-first engine is
    caught; an engine that omits the field, or gives both orders the same arrival, is left undecided."""
    run = [order("first", "BUY", "LONG", "1", "99", "LIMIT"), order("second", "BUY", "LONG", "1", "99", "LIMIT"),
           trade("98", "1")]
    view = steps("seed", run)[2]
    arrivals = {oid: o["arrival"] for oid, o in view.before["accounts"]["A"]["open_orders"].items()}
    assert int(arrivals["first"]) < int(arrivals["second"])
    assert [e["order_id"] for e in view.outcome["events"] if e["type"] == "fill"] == ["first"]
    from hedgespec.conformance.mutants import MUTANT_BY_NAME

    broken = step_views(MUTANT_BY_NAME["newest-first"].adapter("seed"), params("seed"), run)[2]
    assert [e["order_id"] for e in broken.outcome["events"] if e["type"] == "fill"] == ["second"]
    found = [v for v in get("HM-ORD-006").check(broken)]
    assert [v.rule_id for v in found] == ["HM-ORD-006"]
    assert "first placed earlier at the same price" in found[0].message
    assert ids(_without_arrival(broken, None), "HM-ORD-006") == []
    assert ids(_without_arrival(broken, "7"), "HM-ORD-006") == []


# Allowed behaviour the checks once flagged: each builds it and asserts no violation, the broken engine
# next to it is still caught --------------------------------------------------------------------------

def _fills(view: StepView, oid: str) -> list[str]:
    return [e["quantity"] for e in view.outcome["events"] if e["type"] == "fill" and e["order_id"] == oid]


def _shift_available(snapshot: dict, order_margin: Decimal) -> dict:
    """The snapshot with the account A's order margin moved by ``order_margin`` (available the other way)."""
    snapshot = copy.deepcopy(snapshot)
    acc = snapshot["accounts"]["A"]
    acc["order_margin"] = str(Decimal(acc["order_margin"]) + order_margin)
    acc["available_balance"] = str(Decimal(acc["available_balance"]) - order_margin)
    return snapshot


def test_close_position_market_closes_the_whole_leg_and_limit_what_is_left():
    """HM-ORD-004 and HM-STOP-005 agree: a close-position market order closes the whole leg (cancelling the
    leg's resting closing limits), even when they cover it; a close-position limit rests for what is left."""
    views = steps("gate", [order("l", "BUY", "LONG", "1"), order("c1", "SELL", "LONG", "0.4", "120", "LIMIT"),
                           order("cp", "SELL", "LONG", "0", close_position=True)])
    assert _fills(views[2], "cp") == ["1"] and views[2].after["accounts"]["A"]["open_orders"] == {}
    covered = steps("gate", [order("l", "BUY", "LONG", "1"), order("c1", "SELL", "LONG", "1", "120", "LIMIT"),
                             order("cp", "SELL", "LONG", "0", close_position=True)])[2]
    assert _fills(covered, "cp") == ["1"]
    refused = {"kind": "rejected", "reason": "REDUCE_EXCEEDS_LEG", "message": "", "events": []}
    assert ids(edited(covered, outcome=refused, after=covered.before), "HM-ORD-004") == ["HM-ORD-004"]
    nothing_left = steps("gate", [order("l", "BUY", "LONG", "1"), order("c1", "SELL", "LONG", "1", "120", "LIMIT"),
                                  order("cl", "SELL", "LONG", "0", "110", "LIMIT", close_position=True)])[2]
    assert nothing_left.outcome["reason"] == "REDUCE_EXCEEDS_LEG"
    accepted = {"kind": "accepted", "reason": None, "message": "", "events": []}
    assert "HM-STOP-005" in ids(edited(nothing_left, outcome=accepted, after=nothing_left.before), "HM-STOP-005")


def test_close_position_limit_reports_its_quantity_a_conditional_one_zero():
    """snapshot.md: "0" is the quantity of a conditional close-position order only."""
    stop = steps("seed", [order("l", "BUY", "LONG", "1"),
                          order("sp", "SELL", "LONG", "0", "0", "STOP_MARKET", stop_price="90", close_position=True)])
    assert stop[1].after["accounts"]["A"]["open_orders"]["sp"]["quantity"] == "0"
    view = steps("gate", [order("l", "BUY", "LONG", "1"),
                          order("cl", "SELL", "LONG", "0", "120", "LIMIT", close_position=True)])[1]
    assert view.after["accounts"]["A"]["open_orders"]["cl"]["quantity"] == "1"
    after = copy.deepcopy(view.after)
    after["accounts"]["A"]["open_orders"]["cl"]["quantity"] = "0"
    assert "HM-STOP-005" in ids(edited(view, after=after), "HM-STOP-005")


@pytest.mark.parametrize("activation", ["0", "95"])
def test_trailing_stop_active_at_once_may_report_its_extreme_on_placement(activation):
    kw = {"callback_rate": "0.05", **({"activation_price": activation} if activation != "0" else {})}
    view = steps("seed", [order("l", "BUY", "LONG", "1"), order("ts", "SELL", "LONG", "1", "0",
                                                                "TRAILING_STOP_MARKET", **kw)])[1]
    assert view.after["accounts"]["A"]["open_orders"]["ts"]["trailing_extreme"] is None
    after = copy.deepcopy(view.after)
    after["accounts"]["A"]["open_orders"]["ts"]["trailing_extreme"] = "100"  # the mark at placement
    assert ids(edited(view, after=after), "HM-STOP-003") == []
    after["accounts"]["A"]["open_orders"]["ts"]["trailing_extreme"] = "101"  # a price never seen
    assert "HM-STOP-003" in ids(edited(view, after=after), "HM-STOP-003")


def test_trailing_stop_short_of_its_activation_reports_no_extreme_on_placement():
    view = steps("seed", [order("l", "BUY", "LONG", "1"), order("ts", "SELL", "LONG", "1", "0", "TRAILING_STOP_MARKET",
                                                                callback_rate="0.05", activation_price="105")])[1]
    after = copy.deepcopy(view.after)
    after["accounts"]["A"]["open_orders"]["ts"]["trailing_extreme"] = "100"
    assert "HM-STOP-003" in ids(edited(view, after=after), "HM-STOP-003")


def test_resting_order_may_keep_its_placement_reservation_after_a_leverage_change():
    lever = {"kind": "set_leverage", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG"}
    views = steps("seed", [{**lever, "leverage": "50"}, order("b", "BUY", "LONG", "10", "90", "LIMIT"),
                           {**lever, "leverage": "5"}], wallet="100000")
    view = views[2]
    kept = Decimal(view.before["accounts"]["A"]["order_margin"]) - Decimal(view.after["accounts"]["A"]["order_margin"])
    assert kept < 0  # the reference re-prices at the new leverage; an engine may keep what it reserved
    assert ids(edited(view, after=_shift_available(view.after, kept)), "HM-ORD-008") == []


def test_one_way_order_that_only_reduces_needs_only_its_fee():
    view = steps("seed", [order("o", "BUY", "BOTH", "1"), order("s", "SELL", "BOTH", "1", "110", "LIMIT")],
                 wallet="100000", hedge=False)[1]
    fee = Decimal("110") * Decimal("0.0005")
    held = Decimal(view.after["accounts"]["A"]["order_margin"])
    assert ids(edited(view, after=_shift_available(view.after, fee - held)), "HM-ORD-008") == []
    assert "HM-ORD-008" in ids(edited(view, after=_shift_available(view.after, -held)), "HM-ORD-008")


def test_realized_pnl_from_the_reported_entry_price_is_accepted():
    view = steps("seed", [order("o1", "BUY", "LONG", "1", "100"), order("o2", "BUY", "LONG", "2", "101"),
                          order("c", "SELL", "LONG", "1", "110")], wallet="100000")[2]
    entry = Decimal(view.before["accounts"]["A"]["positions"]["BTCUSDT"]["LONG"]["entry_price"])
    fill = next(e for e in view.outcome["events"] if e["type"] == "fill")

    def realizing(amount: Decimal) -> StepView:
        outcome, after = copy.deepcopy(view.outcome), copy.deepcopy(view.after)
        d = amount - Decimal(fill["realized_pnl"])
        next(e for e in outcome["events"] if e["type"] == "fill")["realized_pnl"] = str(amount)
        leg = after["accounts"]["A"]["positions"]["BTCUSDT"]["LONG"]
        leg["realized_pnl"] = str(Decimal(leg["realized_pnl"]) + d)
        return edited(view, outcome=outcome, after=after)

    by_entry = (Decimal("110") - entry) * 1
    assert by_entry != Decimal(fill["realized_pnl"])
    assert ids(realizing(by_entry), "HM-POS-002") == []
    assert "HM-POS-002" in ids(realizing(by_entry - Decimal("1e-12")), "HM-POS-002")


def test_one_way_reduce_only_order_that_cannot_reduce_takes_no_priority():
    """A reduce-only SELL resting on a one-way short cannot fill: B's worse SELL may fill before it, and a
    trade through it leaves it untouched; on a long it has the leg to fill and keeps its priority."""
    views = steps("seed", [order("o", "SELL", "BOTH", "1"),
                           order("b1", "SELL", "BOTH", "1", "112", "LIMIT", account="B"), trade("115", "1")],
                  wallet="100000", hedge=False)
    view = views[2]
    assert _fills(view, "b1") == ["1"]
    ro = {"instrument": "BTCUSDT", "side": "SELL", "position_side": "BOTH", "order_type": "LIMIT", "quantity": "1",
          "price": "110", "stop_price": "0", "activation_price": "0", "callback_rate": "0", "reduce_only": True,
          "close_position": False, "trailing_extreme": None}

    def with_ro(snapshot: dict, leg: str | None = None) -> dict:
        snapshot = _shift_available(snapshot, Decimal("110") * Decimal("0.0005"))
        snapshot["accounts"]["A"]["open_orders"]["ro"] = dict(ro)
        if leg:
            snapshot["accounts"]["A"]["positions"]["BTCUSDT"]["BOTH"]["quantity"] = leg
        return snapshot

    assert ids(edited(view, before=with_ro(view.before), after=with_ro(view.after)), "HM-ORD-006") == []
    alone = views[0]  # the short and the reduce-only SELL alone: a trade through it leaves it resting
    lone = StepView(alone.params, with_ro(alone.after), {"t": 2, **trade("115", "1")},
                    {"kind": "accepted", "reason": None, "message": "", "events": []}, with_ro(alone.after))
    assert ids(lone, "HM-ORD-006") == []
    opposing = edited(view, before=with_ro(view.before, "1"), after=with_ro(view.after, "1"))
    assert "HM-ORD-006" in ids(opposing, "HM-ORD-006")


def test_closing_order_on_a_flat_leg_without_a_mark_may_be_refused_for_the_mark():
    p = params("seed", wallet="100000")
    p["mark_prices"] = {"BTCUSDT": "100"}  # ETHUSDT_Q has no mark yet
    adapter = ReferenceAdapter("seed")
    adapter.reset(p)
    before = adapter.snapshot()
    no_mark = {"kind": "rejected", "reason": "NO_MARK_PRICE", "message": "", "events": []}
    for t, (symbol, order_type, extra) in enumerate([("ETHUSDT_Q", "MARKET", {"price": "50"}),
                                                     ("ETHUSDT_Q", "LIMIT", {"price": "50"}),
                                                     ("ETHUSDT_Q", "STOP_MARKET", {"stop_price": "45"}),
                                                     ("BTCUSDT", "MARKET", {"price": "100"})], 1):
        action = {**order(f"c{t}", "SELL", "LONG", "1", order_type=order_type, instrument=symbol), **extra, "t": t}
        action.pop("price") if "price" not in extra else None
        view = StepView(p, before, action, no_mark, before)
        found = ids(view, "HM-ORD-004")
        assert found == ([] if symbol == "ETHUSDT_Q" else ["HM-ORD-004"]), (symbol, order_type, found)


def test_available_balance_nets_the_cross_legs_unrealized_pnl():
    """HM-ORD-008: the cross legs' unrealized PnL is netted across them, then counted only when negative."""
    cross = [{"kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT", "position_side": leg,
              "margin_type": "CROSS"} for leg in ("LONG", "SHORT")]
    view = steps("seed", [*cross, order("l", "BUY", "LONG", "1", "100"), order("s", "SELL", "SHORT", "1", "100"),
                          {"kind": "mark_price", "instrument": "BTCUSDT", "price": "110"}], wallet="100000")[4]
    legs = view.after["accounts"]["A"]["positions"]["BTCUSDT"]
    assert (legs["LONG"]["unrealized_pnl"], legs["SHORT"]["unrealized_pnl"]) == ("10", "-10")
    after = copy.deepcopy(view.after)  # an engine counting the short's loss alone
    after["accounts"]["A"]["available_balance"] = str(Decimal(after["accounts"]["A"]["available_balance"]) - 10)
    assert ids(edited(view, after=after), "HM-ORD-008") == ["HM-ORD-008"]


def test_malformed_order_with_an_id_in_use_may_be_refused_as_a_duplicate() -> None:
    """HM-ORD-005: an off-lot order reusing an open order's id is refused either way; a duplicate-id
    refusal of a malformed order with a fresh id is still a violation."""
    from hedgespec.spec.registry import StepView
    from hedgespec.spec.rules.orders import malformed_orders
    from scenarios import CheckedRun

    run = CheckedRun("seed")
    run.place("o1", "BTCUSDT", "BUY", "LONG", "0.001", "90", order_type="LIMIT")
    before = run.snap
    outcome = run.place("o1", "BTCUSDT", "BUY", "LONG", "0.00100001", "90", order_type="LIMIT")  # checks run
    assert outcome["reason"] == "DUPLICATE_ORDER_ID"
    fresh = {"t": 99, "kind": "place_order", "account": "A", "order_id": "o2", "instrument": "BTCUSDT",
             "side": "BUY", "position_side": "LONG", "order_type": "LIMIT", "quantity": "0.00100001", "price": "90"}
    violations = list(malformed_orders(StepView(run.params, before, fresh, outcome, before)))
    assert [v.rule_id for v in violations] == ["HM-ORD-005"]


# Checks read venue choices only where the profile models them ---------------------------------

LIQ_EXAMPLE = json.loads((Path(__file__).parent.parent / "examples" / "isolated_liquidation.json").read_text())


def stop(oid: str, stop_price: str) -> dict:
    """A stop-market order closing the LONG leg of BTCUSDT (no price: it executes at market)."""
    action = order(oid, "SELL", "LONG", "1", order_type="STOP_MARKET", stop_price=stop_price)
    del action["price"]
    return action


def variant(tmp_path: Path, name: str, base: str | None = None, **choices: tuple) -> str:
    """A profile file: ``base`` (a profile file; default the seed's) with ``choices`` (name -> (value, status))
    changed; its path."""
    raw = json.loads(Path(base or Path(__file__).parent.parent / "spec" / "profiles" / "seed.json").read_text())
    raw["name"] = name
    for choice, (value, status) in choices.items():
        raw["choices"][choice] = {"value": value, "status": status, "source": "a test"}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(raw))
    return str(path)


def under(view: StepView, profile: str) -> StepView:
    return StepView({**view.params, "profile": profile}, view.before, view.action, view.outcome, view.after)


def liquidation_step(profile: str = "seed", extra: list[dict] | None = None) -> StepView:
    p = {**LIQ_EXAMPLE["params"], "profile": profile}
    actions = [*LIQ_EXAMPLE["actions"][:2], *(extra or []), *LIQ_EXAMPLE["actions"][2:]]
    views = checked_steps(p, actions, keep_t=True)  # the example's actions keep their own t
    return next(v for v in views if any(e["type"] == "liquidation" for e in v.outcome["events"]))


def test_liquidation_price_judged_only_where_the_basis_is_modelled(tmp_path):
    view = liquidation_step()
    outcome = copy.deepcopy(view.outcome)
    fill = next(e for e in outcome["events"] if e["type"] == "fill")
    fill["price"] = str(Decimal(fill["price"]) + 1)
    assert "HM-LIQ-004" in ids(edited(view, outcome=outcome), "HM-LIQ-004")  # the seed models the mark
    documented = variant(tmp_path, "basis-documented", liquidation_price_basis=("bankruptcy", "documented"))
    assert ids(under(edited(view, outcome=outcome), documented), "HM-LIQ-004") == []  # not modelled: not decided
    path = variant(tmp_path, "seed-bankruptcy", liquidation_price_basis=("bankruptcy", "modelled"))
    bankrupt = liquidation_step(str(path))  # the reference closes at the bankruptcy price and passes
    fill = next(e for e in bankrupt.outcome["events"] if e["type"] == "fill")
    assert fill["price"] != next(e for e in bankrupt.outcome["events"] if e["type"] == "liquidation")["mark_price"]
    outcome = copy.deepcopy(bankrupt.outcome)
    next(e for e in outcome["events"] if e["type"] == "fill")["price"] = str(Decimal(fill["price"]) + Decimal("0.1"))
    assert "HM-LIQ-004" in ids(edited(bankrupt, outcome=outcome), "HM-LIQ-004")


def test_full_close_judged_only_where_the_extent_is_modelled(tmp_path):
    view = liquidation_step()
    after = copy.deepcopy(view.after)
    leg = next(e for e in view.outcome["events"] if e["type"] == "liquidation")
    after["accounts"][leg["account"]]["positions"][leg["instrument"]][leg["position_side"]]["quantity"] = "0.05"
    assert "not closed in full" in " ".join(str(v) for v in get("HM-LIQ-004").check(edited(view, after=after)))
    partial = variant(tmp_path, "partial", liquidation_extent=("partial_by_bracket", "documented"))
    assert ids(under(edited(view, after=after), partial), "HM-LIQ-004") == []  # not modelled: not decided


def test_orders_cancelled_per_the_modelled_scope(tmp_path):
    other = {"kind": "place_order", "account": "alice", "order_id": "far", "instrument": "BTCUSDT", "side": "SELL",
             "position_side": "SHORT", "order_type": "LIMIT", "quantity": "0.01", "price": "90000"}  # the other leg's
    wide = liquidation_step(variant(tmp_path, "account", liquidation_cancels_orders=("account", "modelled")),
                            [other])
    assert other["order_id"] not in wide.after["accounts"]["alice"]["open_orders"]
    kept = copy.deepcopy(wide.after)
    kept["accounts"]["alice"]["open_orders"][other["order_id"]] = wide.before["accounts"]["alice"][
        "open_orders"][other["order_id"]]
    assert "HM-LIQ-004" in ids(edited(wide, after=kept), "HM-LIQ-004")
    seed = liquidation_step("seed", [other])  # the leg's own orders only: the short's order stays
    assert other["order_id"] in seed.after["accounts"]["alice"]["open_orders"]
    assert ids(under(edited(wide, after=kept), "seed"), "HM-LIQ-004") == []


def test_liquidation_trigger_equality_undecided_where_not_modelled():
    from hedgespec.spec.rules.liquidation import _breach_decision

    assert _breach_decision(Decimal(5), Decimal(5), "below") is False
    assert _breach_decision(Decimal(5), Decimal(5), "at_or_below") is True
    assert _breach_decision(Decimal(5), Decimal(5), None) is None
    assert _breach_decision(Decimal(4), Decimal(5), None) is True
    assert _breach_decision(Decimal(6), Decimal(5), None) is False


def test_funding_that_breaches_an_isolated_leg_must_liquidate_it():
    actions = [*LIQ_EXAMPLE["actions"][:2], {"kind": "mark_price", "instrument": "BTCUSDT", "price": "57300"},
               {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.002"}]
    view = checked_steps(LIQ_EXAMPLE["params"], actions)[-1]
    assert any(e["type"] == "liquidation" for e in view.outcome["events"])
    outcome = {**view.outcome, "events": [e for e in view.outcome["events"] if e["type"] == "funding"
                                          or (e["type"] == "ledger" and e["kind"] == "FUNDING")]}
    assert "HM-LIQ-002" in ids(edited(view, outcome=outcome), "HM-LIQ-002")


def test_funding_that_breaches_the_cross_pool_must_liquidate_it():
    p = copy.deepcopy(LIQ_EXAMPLE["params"])
    p["accounts"]["alice"]["wallet"] = "400"
    actions = [{"kind": "set_margin_type", "account": "alice", "instrument": "BTCUSDT", "position_side": "LONG",
                "margin_type": "CROSS"}, LIQ_EXAMPLE["actions"][0],
               {"kind": "mark_price", "instrument": "BTCUSDT", "price": "56300"},
               {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.002"}]
    view = checked_steps(p, actions, keep_t=True)[-1]
    assert any(e["type"] == "liquidation" and e["position_side"] == "CROSS" for e in view.outcome["events"])
    outcome = {**view.outcome, "events": [e for e in view.outcome["events"] if not (
        e["type"] == "liquidation" and e["position_side"] == "CROSS")]}
    assert "HM-LIQ-005" in ids(edited(view, outcome=outcome), "HM-LIQ-005")


def test_stops_judged_under_either_source_where_it_is_not_modelled(tmp_path):
    views = steps("seed", [order("l", "BUY", "LONG", "1"), stop("s", "99"),
                           {"kind": "mark_price", "instrument": "BTCUSDT", "price": "98.5"}])
    fired = views[-1]
    assert any(e.get("status") == "TRIGGERED" for e in fired.outcome["events"])
    quiet = {"kind": "accepted", "reason": None, "message": "", "events": []}
    silent = edited(fired, outcome=quiet, after=fired.before)
    assert "HM-STOP-002" in ids(silent, "HM-STOP-002")  # the seed triggers on the mark
    unknown = variant(tmp_path, "source-unknown", trigger_price_source=(None, "unconfirmed"))
    assert ids(under(silent, unknown), "HM-STOP-002") == []  # unconfirmed: the last price may drive it
    wrong = copy.deepcopy(fired.action)
    wrong["price"] = "99.5"  # the stop fired at a price where its trigger does not hold: wrong under either source
    assert "HM-STOP-002" in ids(under(StepView(fired.params, fired.before, wrong, fired.outcome, fired.after),
                                      unknown), "HM-STOP-002")


# Statements as strong as their checks ----------------------------------------------------------

def test_mode_switch_reason_follows_the_precedence(tmp_path):
    views = steps("seed", [order("o1", "BUY", "LONG", "1"), order("l1", "BUY", "LONG", "1", "90", "LIMIT"),
                           {"kind": "set_position_mode", "account": "A", "mode": "ONE_WAY"}])
    switch = views[-1]
    assert switch.outcome["reason"] == "MODE_SWITCH_WITH_POSITIONS"  # positions_first
    swapped = {**switch.outcome, "reason": "MODE_SWITCH_WITH_OPEN_ORDERS"}
    assert "HM-MODE-002" in ids(edited(switch, outcome=swapped), "HM-MODE-002")
    assert "HM-MODE-003" in ids(edited(switch, outcome=swapped), "HM-MODE-003")
    either = variant(tmp_path, "either", mode_switch_precedence=("either", "modelled"))
    assert ids(under(edited(switch, outcome=swapped), either), "HM-MODE-002") == []
    orders_first = variant(tmp_path, "orders-first", mode_switch_precedence=("orders_first", "modelled"))
    assert "HM-MODE-002" in ids(under(switch, orders_first), "HM-MODE-002")


def test_same_mode_request_reason_is_checked(tmp_path):
    rejects = variant(tmp_path, "rejects", same_mode_request=("rejected", "modelled"))
    view = under(steps("seed", [{"kind": "set_position_mode", "account": "A", "mode": "HEDGE"}])[0], rejects)
    view = edited(view, outcome={**view.outcome, "kind": "rejected", "reason": "MODE_IN_FORCE"})
    assert ids(view, "HM-MODE-004") == []
    wrong = {**view.outcome, "reason": "INVALID_ARGUMENT"}
    assert "HM-MODE-004" in ids(edited(view, outcome=wrong), "HM-MODE-004")
    unchanged = {**view.outcome, "kind": "unchanged", "reason": None}
    assert "HM-MODE-004" in ids(edited(view, outcome=unchanged), "HM-MODE-004")
    unknown = variant(tmp_path, "answer-unknown", same_mode_request=(None, "unconfirmed"))
    assert ids(under(edited(view, outcome=unchanged), unknown), "HM-MODE-004") == []  # either


def test_position_side_mismatch_reason_is_checked():
    view = steps("seed", [order("o1", "BUY", "BOTH", "1")])[0]
    assert view.outcome["reason"] == "POSITION_SIDE_MISMATCH"
    wrong = {**view.outcome, "reason": "INSUFFICIENT_MARGIN"}
    assert "HM-ORD-001" in ids(edited(view, outcome=wrong), "HM-ORD-001")
    # rulebook 1.2.0: INVALID_ARGUMENT stands in only on a malformed order (here: a quantity off the lot)
    invalid = {**view.outcome, "reason": "INVALID_ARGUMENT"}
    assert "HM-ORD-001" in ids(edited(view, outcome=invalid), "HM-ORD-001")
    malformed = steps("seed", [order("o1", "BUY", "BOTH", "0.0005")])[0]
    assert malformed.outcome["reason"] == "INVALID_ARGUMENT"
    assert ids(malformed, "HM-ORD-001") == []


def test_expired_instrument_duplicate_reason_only_for_an_id_in_use():
    views = steps("seed", [{"kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": "51"},
                           order("q", "BUY", "LONG", "1", "50", instrument="ETHUSDT_Q")])
    view = views[-1]
    assert view.outcome["reason"] == "INSTRUMENT_EXPIRED"
    assert "HM-SETL-002" in ids(edited(view, outcome={**view.outcome, "reason": "DUPLICATE_ORDER_ID"}), "HM-SETL-002")


def test_transfer_booked_on_one_side_is_caught():
    view = steps("seed", [order("o1", "BUY", "LONG", "1"),
                          {"kind": "adjust_margin", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG",
                           "amount": "5"}])[-1]
    outcome = copy.deepcopy(view.outcome)
    entry = next(e for e in outcome["events"] if e["type"] == "ledger" and e["bucket"] == "wallet")
    entry["kind"] = "FEE"  # balances still reconcile, but the transfer has one side only
    assert "HM-LEDG-001" in ids(edited(view, outcome=outcome), "HM-LEDG-001")


def test_stop_price_off_the_tick_is_malformed():
    view = steps("seed", [order("o1", "BUY", "LONG", "1"), stop("s", "95.05")])[-1]
    assert view.outcome["reason"] == "INVALID_ARGUMENT"
    accepted = {"kind": "accepted", "reason": None, "message": "", "events": []}
    assert "HM-ORD-005" in ids(edited(view, outcome=accepted), "HM-ORD-005")


def test_margin_change_keeps_other_isolated_liquidation_prices():
    view = steps("seed", [order("o1", "BUY", "LONG", "1"), order("o2", "SELL", "SHORT", "1"),
                          {"kind": "adjust_margin", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG",
                           "amount": "1"}])[-1]
    after = copy.deepcopy(view.after)
    short = after["accounts"]["A"]["positions"]["BTCUSDT"]["SHORT"]
    assert short["margin_type"] == "ISOLATED" and short["liquidation_price"] is not None
    short["liquidation_price"] = str(Decimal(short["liquidation_price"]) + 1)
    assert "HM-MARG-002" in ids(edited(view, after=after), "HM-MARG-002")


def test_account_wide_margin_type_covers_every_leg_and_its_checks_hold(tmp_path):
    """``margin_type_scope: account`` (Bybit's unified account): one request sets every leg of every instrument,
    and is refused while any of them holds a position (HM-MARG-005); the checks pass on the model's steps
    (``checked_steps`` asserts it), and HM-MARG-001 catches a step that changed one instrument only."""
    from hedgespec.conformance.world import DATED, PERP, default_params

    profile = variant(tmp_path, "account-scope", margin_type_scope=("account", "modelled"))
    p = {**default_params("seed", accounts=("alice",)), "profile": profile}
    change = {"kind": "set_margin_type", "account": "alice", "instrument": PERP, "position_side": "LONG",
              "margin_type": "CROSS"}
    dated_long = {"kind": "place_order", "account": "alice", "order_id": "d1", "instrument": DATED, "side": "BUY",
                  "position_side": "LONG", "order_type": "MARKET", "quantity": "0.01", "price": "30000"}
    views = checked_steps(p, [change, dated_long, {**change, "margin_type": "ISOLATED"}])
    legs = views[0].after["accounts"]["alice"]["positions"]
    assert {legs[s][side]["margin_type"] for s in (PERP, DATED) for side in ("LONG", "SHORT", "BOTH")
            if side in legs[s]} == {"CROSS"}
    assert (views[2].outcome["kind"], views[2].outcome["reason"]) == ("rejected", "MARGIN_TYPE_WITH_POSITION")
    # a broken engine: the request changed its own instrument only
    one_only = copy.deepcopy(views[0].after)
    for row_ in one_only["accounts"]["alice"]["positions"][DATED].values():
        row_["margin_type"] = "ISOLATED"
    assert "account-wide margin_type" in " ".join(str(v) for v in get("HM-MARG-001").check(
        edited(views[0], after=one_only)))
    # the model's own step: judged by the scope the profile models
    assert ids(views[0], "HM-MARG-004") == [] and ids(views[0], "HM-NET-001") == []
    assert ids(under(views[0], "seed"), "HM-MARG-004") != []  # per leg: the dated legs changed without a request
    assert ids(under(views[0], "seed"), "HM-NET-001") != []
    assert ids(under(views[0], "bybit-v5"), "HM-MARG-004") == []  # scope documented, not modelled: either


def test_larger_leg_maintenance_decides_the_hedged_pool_and_its_price(tmp_path):
    """HM-MARG-007 under ``hedged_maintenance: larger_leg`` (now simulated): the hedged-maintenance scenario's pair
    (0.25 long and short, cross, 50x, wallet 310) at 160000 has equity 302.5 and maintenance 320 on both legs, 160
    on the larger only: the seed liquidates the pool, larger_leg does not. The checks pass on both runs
    (``checked_steps`` asserts it); HM-LIQ-005 and HM-LIQ-007 judge each run by its own profile and catch the
    other's answer."""
    from hedgespec.conformance.scenarios import SCENARIOS
    from hedgespec.spec.profiles import load_profile

    larger = variant(tmp_path, "larger", hedged_maintenance=("larger_leg", "modelled"))
    sc = next(s for s in SCENARIOS if s.name == "hedged-maintenance")
    params, actions = sc.build(load_profile("seed"))
    steps = [{k: v for k, v in a.items() if k != "t"} for a in actions]
    seed_views = checked_steps({**params, "profile": "seed"}, steps)
    larger_views = checked_steps({**params, "profile": larger}, steps)
    liquidated = [any(e["type"] == "liquidation" for e in v.outcome["events"]) for v in (seed_views[-1], larger_views[-1])]
    assert liquidated == [True, False]
    before_mark = larger_views[-2].after["accounts"]["alice"]["positions"]["BTCUSDT"]
    seed_before = seed_views[-2].after["accounts"]["alice"]["positions"]["BTCUSDT"]
    assert before_mark["LONG"]["liquidation_price"] != seed_before["LONG"]["liquidation_price"]
    assert ids(under(larger_views[-1], "seed"), "HM-LIQ-005") == ["HM-LIQ-005"]  # the seed would have liquidated
    assert ids(under(seed_views[-1], larger), "HM-LIQ-005") == ["HM-LIQ-005"]
    assert ids(under(larger_views[-2], "seed"), "HM-LIQ-007") == ["HM-LIQ-007"]  # the price charges one leg only
    open_choice = variant(tmp_path, "open", hedged_maintenance=(None, "unconfirmed"))  # the price stays shared
    assert ids(under(larger_views[-2], open_choice), "HM-LIQ-007") == []  # not modelled: either price
    assert ids(under(seed_views[-2], open_choice), "HM-LIQ-007") == []
    wrong = copy.deepcopy(larger_views[-2].after)
    for leg in wrong["accounts"]["alice"]["positions"]["BTCUSDT"].values():
        if leg["liquidation_price"] is not None:
            leg["liquidation_price"] = str(Decimal(leg["liquidation_price"]) + 1)
    assert ids(under(edited(larger_views[-2], after=wrong), open_choice), "HM-LIQ-007") == ["HM-LIQ-007"]


def test_account_scope_is_judged_in_one_way_mode_and_an_open_scope_only_as_a_whole(tmp_path):
    """HM-MARG-001 judges an account-wide request made on a one-way instrument too; where the scope is open
    (bybit-v5 documents the account scope), HM-MARG-004 accepts other instruments' legs changed only as the
    account scope changes them: all of them, not a subset."""
    from hedgespec.conformance.world import DATED, PERP, default_params

    profile = variant(tmp_path, "account-scope", margin_type_scope=("account", "modelled"))
    p = {**default_params("seed", mode="ONE_WAY", accounts=("alice",)), "profile": profile}
    change = {"kind": "set_margin_type", "account": "alice", "instrument": PERP, "position_side": "BOTH",
              "margin_type": "CROSS"}
    [view] = checked_steps(p, [change])
    own_only = copy.deepcopy(view.after)
    for row_ in own_only["accounts"]["alice"]["positions"][DATED].values():
        row_["margin_type"] = "ISOLATED"
    assert "account-wide margin_type" in " ".join(str(v) for v in get("HM-MARG-001").check(edited(view, after=own_only)))

    hedge = {**default_params("seed", accounts=("alice",)), "profile": profile}
    [whole] = checked_steps(hedge, [{**change, "position_side": "LONG"}])
    assert ids(under(whole, "bybit-v5"), "HM-MARG-004") == []  # open scope: the account's answer
    partial = copy.deepcopy(whole.after)
    partial["accounts"]["alice"]["positions"][PERP]["SHORT"]["margin_type"] = "ISOLATED"  # a subset changed
    flagged = ids(under(edited(whole, after=partial), "bybit-v5"), "HM-MARG-004")
    assert flagged and set(flagged) == {"HM-MARG-004"}
