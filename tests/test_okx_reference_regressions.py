"""The reference model under okx-v5 failing its own rulebook (random run, seed 11, cases 474 and 552).

Both were check errors, not model errors:

* HM-POS-001 allowed one money atom of cost-basis drift per step, but each reducing fill releases its
  share of the cost rounded toward zero (``model.positions.reduce_leg``): two take-profits firing on one
  mark step leave the cost within two atoms of its proportional share, not one.
* HM-LIQ-008 compared the mark of one instrument with the stop price of an order on another
  instrument, and judged which stops a mark fires where the profile does not model the trigger source.
"""

from __future__ import annotations

import copy
from typing import Any

from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import run_step_checks
from hedgespec.spec.rules.liquidation import triggers_before_liquidation
from hedgespec.spec.rules.positions import own_cost_basis
from scenarios import reference_steps


def _instrument(symbol: str, kind: str) -> dict[str, Any]:
    return {"symbol": symbol, "settle_asset": "USDT", "kind": kind, "tick_size": "0.5", "lot_size": "0.001",
            "maker_rate": "0.0002", "taker_rate": "0.0005",
            "brackets": [{"notional_floor": "0", "notional_cap": "50000", "maintenance_rate": "0.004",
                          "maintenance_amount": "0", "max_leverage": "50"},
                         {"notional_floor": "50000", "notional_cap": "0", "maintenance_rate": "0.01",
                          "maintenance_amount": "300", "max_leverage": "20"}]}


def okx_params() -> dict[str, Any]:
    """The parameters of the random conformance run under okx-v5."""
    hedge = {"wallet": "3000", "position_mode": {"*": "HEDGE"}}
    return {"profile": "okx-v5",
            "instruments": [_instrument("BTCUSDT", "PERPETUAL"), _instrument("BTCUSDT-0327", "DATED")],
            "accounts": {"alice": dict(hedge), "bob": dict(hedge)}, "insurance_fund": "1000",
            "mark_prices": {"BTCUSDT": "30000", "BTCUSDT-0327": "30000"},
            "last_prices": {"BTCUSDT": "30000", "BTCUSDT-0327": "30000"}}


def order(account: str, oid: str, symbol: str, side: str, leg: str, order_type: str, qty: str,
          **kw: str) -> dict[str, Any]:
    return {"kind": "place_order", "account": account, "order_id": oid, "instrument": symbol, "side": side,
            "position_side": leg, "order_type": order_type, "quantity": qty, **kw}


def mark(symbol: str, price: str) -> dict[str, Any]:
    return {"kind": "mark_price", "instrument": symbol, "price": price}


def trade(symbol: str, price: str, qty: str) -> dict[str, Any]:
    return {"kind": "market_trade", "instrument": symbol, "price": price, "quantity": qty}


# seed 11, case 474: two take-profits of bob's long fire on one mark step
TWO_TAKE_PROFITS = [
    {"kind": "set_margin_type", "account": "bob", "instrument": "BTCUSDT", "position_side": "LONG",
     "margin_type": "CROSS"},
    trade("BTCUSDT", "13292", "0.1"),
    order("bob", "o14", "BTCUSDT", "BUY", "LONG", "MARKET", "0.005", price="13385"),
    mark("BTCUSDT", "13451"),
    order("bob", "o16", "BTCUSDT", "SELL", "LONG", "TAKE_PROFIT_MARKET", "0.005", stop_price="13518"),
    order("bob", "o17", "BTCUSDT", "BUY", "LONG", "LIMIT", "0.1", price="13451"),
    order("bob", "o19", "BTCUSDT", "BUY", "LONG", "LIMIT", "0.3", price="13181.5"),
    mark("BTCUSDT", "12643.5"),
    order("bob", "o22", "BTCUSDT", "SELL", "LONG", "TAKE_PROFIT_MARKET", "0.106", stop_price="12833"),
    trade("BTCUSDT", "12605.5", "0.1"),
    mark("BTCUSDT", "20229.5"),
]

# seed 11, case 552: a one-way cross account liquidated by the mark of BTCUSDT holds a stop on BTCUSDT-0327
STOP_ON_OTHER_INSTRUMENT = [
    {"kind": "set_position_mode", "account": "alice", "mode": "ONE_WAY"},
    {"kind": "set_margin_type", "account": "alice", "instrument": "BTCUSDT-0327", "position_side": "BOTH",
     "margin_type": "CROSS"},
    {"kind": "set_margin_type", "account": "alice", "instrument": "BTCUSDT", "position_side": "BOTH",
     "margin_type": "CROSS"},
    order("alice", "o15", "BTCUSDT", "BUY", "BOTH", "LIMIT", "0.3", price="29875.5"),
    order("alice", "o16", "BTCUSDT-0327", "BUY", "BOTH", "MARKET", "0.1", price="29940"),
    trade("BTCUSDT", "28097", "1"),
    order("alice", "o23", "BTCUSDT-0327", "SELL", "BOTH", "STOP_MARKET", "0.05", stop_price="29550"),
    mark("BTCUSDT", "11238.5"),
]


def test_two_reducing_fills_in_one_step_pass_hm_pos_001() -> None:
    views = reference_steps(okx_params(), TWO_TAKE_PROFITS)
    last = views[-1]
    reducing = [e for e in last.outcome["events"] if e["type"] == "fill" and e["account"] == "bob"]
    assert [e["quantity"] for e in reducing] == ["0.005", "0.106"]  # two reductions of one leg
    before = last.before["accounts"]["bob"]["positions"]["BTCUSDT"]["LONG"]
    after = last.after["accounts"]["bob"]["positions"]["BTCUSDT"]["LONG"]
    assert (before["cost_basis"], after["cost_basis"]) == ("2730.175", "1251.8851219512195123")  # 1.8 atoms off
    assert [str(v) for view in views for v in run_step_checks(view)] == []


def test_hm_pos_001_still_catches_drift_beyond_one_atom_per_fill() -> None:
    last = reference_steps(okx_params(), TWO_TAKE_PROFITS)[-1]
    assert list(own_cost_basis(last)) == []
    tampered = copy.deepcopy(last.after)
    tampered["accounts"]["bob"]["positions"]["BTCUSDT"]["LONG"]["cost_basis"] = "1251.8851219512195125"
    bad = StepView(last.params, last.before, last.action, last.outcome, tampered)
    assert [v.rule_id for v in own_cost_basis(bad)] == ["HM-POS-001"]


def test_stop_of_another_instrument_cancelled_by_liquidation_passes_hm_liq_008() -> None:
    views = reference_steps(okx_params(), STOP_ON_OTHER_INSTRUMENT)
    last = views[-1]
    assert any(e["type"] == "liquidation" for e in last.outcome["events"])
    assert any(e["type"] == "order" and e["order_id"] == "o23" and e["status"] == "CANCELLED"
               and e["cause"] == "liquidation" for e in last.outcome["events"])
    assert [str(v) for view in views for v in run_step_checks(view)] == []
    # even where the mark is the modelled trigger source, a BTCUSDT mark never fires a BTCUSDT-0327 stop
    assert list(triggers_before_liquidation(StepView({**last.params, "profile": "seed"}, last.before,
                                                     last.action, last.outcome, last.after))) == []


def test_hm_liq_008_still_catches_a_fired_stop_cancelled_where_mark_triggers() -> None:
    last = reference_steps(okx_params(), STOP_ON_OTHER_INSTRUMENT)[-1]
    before = copy.deepcopy(last.before)
    before["accounts"]["alice"]["open_orders"]["o23"]["instrument"] = "BTCUSDT"  # a stop the mark reaches
    seed = StepView({**last.params, "profile": "seed"}, before, last.action, last.outcome, last.after)
    assert [v.rule_id for v in triggers_before_liquidation(seed)] == ["HM-LIQ-008"]
    # okx-v5 does not model the trigger price source: which stops a mark fires is left undecided
    okx = StepView(last.params, before, last.action, last.outcome, last.after)
    assert list(triggers_before_liquidation(okx)) == []
