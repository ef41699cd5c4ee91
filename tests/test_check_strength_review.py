"""Broken engines a review of check strength found passing their rule's check, each on a directed scenario:
the reference passes every check, the mutant trips its rule (HM-ATOM-001, HM-MODE-005, HM-MODE-008, HM-NET-002,
HM-ORD-003, HM-POS-003, HM-STOP-004, HM-LEDG-001; a third round: HM-MODE-002, HM-MODE-003, HM-MODE-004, HM-ORD-004,
HM-ORD-006, HM-POS-002, HM-FEE-001, HM-NET-001). Each check missed its mutant before it was strengthened. And
HM-ORD-009 (rulebook 1.1.0), the reduce-only flag in hedge mode as the profile says, which no check judged before.
A fourth round: HM-MARG-001 (the setting that covers the rows a mode switch brings) and HM-NET-001 (the other leg's
settings on a margin adjustment)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.mutants import MUTANT_BY_NAME, REVIEWED_MUTANTS
from scenarios import assert_mutant_caught, params, reference_steps, step_views, step_violations


def order(oid: str, side: str, leg: str, qty: str, price: str = "", **kw: Any) -> dict[str, Any]:
    action = {"kind": "place_order", "account": "A", "order_id": oid, "instrument": "BTCUSDT", "side": side,
              "position_side": leg, "order_type": kw.pop("order_type", "MARKET"), "quantity": qty, **kw}
    return {**action, "price": price} if price else action


def mark(price: str) -> dict[str, Any]:
    return {"kind": "mark_price", "instrument": "BTCUSDT", "price": price}


REJECTED_CLOSE = (params("seed"), [order("l", "BUY", "LONG", "1", "100"), order("c", "SELL", "LONG", "5", "100")])
COIN_LEVEL_SWITCH = (params("bybit-v5"), [  # BTCUSDT has a position, ETHUSDT_Q is idle: a partial switch
    order("l", "BUY", "LONG", "1", "100"),
    {"kind": "set_position_mode", "account": "A", "scope": "USDT", "mode": "ONE_WAY"},
])
ONE_INSTRUMENT_OPEN = (params("seed"), [order("l", "BUY", "LONG", "1", "100")])
ONE_WAY_FILL = (params("seed", hedge=False), [order("n", "BUY", "", "1", "100")])
ONE_WAY_STOP_AFTER_NETTING = (params("seed", hedge=False), [  # the stop of 1 fires on a net position of 0.5
    order("n", "BUY", "", "1", "100"),
    order("st", "SELL", "", "1", order_type="STOP_MARKET", stop_price="99"),
    order("r", "SELL", "", "0.5", "100"),
    mark("98.9"),
])
MARK_MOVES = (params("seed"), [order("l", "BUY", "LONG", "1", "100"), mark("101")])
CLOSED_AND_REOPENED = (params("seed"), [  # one trade closes the short (its stop is cancelled) and reopens it
    order("s", "SELL", "SHORT", "1", "100"),
    order("st", "BUY", "SHORT", "1", order_type="STOP_MARKET", stop_price="120"),
    order("c", "BUY", "SHORT", "1", "101", order_type="LIMIT"),
    order("r", "SELL", "SHORT", "1", "99", order_type="LIMIT"),
    {"kind": "market_trade", "instrument": "BTCUSDT", "price": "100", "quantity": "2"},
])

SWITCH_TO_ONE_WAY = (params("seed"), [  # flat: the switch is accepted and the LONG and SHORT rows become BOTH rows
    {"kind": "set_position_mode", "account": "A", "scope": "*", "mode": "ONE_WAY"},
])
STOP_FIRES = (params("seed"), [order("l", "BUY", "LONG", "1", "100"),
                              order("st", "SELL", "LONG", "1", order_type="STOP_MARKET", stop_price="99"), mark("98.9")])
REDUCE_ONLY_CLOSE = [order("l", "BUY", "LONG", "1", "100"), order("c", "SELL", "LONG", "1", "100", reduce_only=True)]

ONE_WAY_REQUEST = {"kind": "set_position_mode", "account": "A", "scope": "*", "mode": "ONE_WAY"}
SWITCH_WITH_POSITION = (params("seed"), [order("l", "BUY", "LONG", "1", "100"), ONE_WAY_REQUEST])
SWITCH_WITH_ORDER = (params("seed"), [order("b", "BUY", "LONG", "1", "90", order_type="LIMIT"), ONE_WAY_REQUEST])
SAME_MODE = (params("seed"), [{"kind": "set_position_mode", "account": "A", "scope": "*", "mode": "HEDGE"}])
STOP_SHRINKS_LEG = (params("seed"), [  # the stop halves the long: the resting close of 1 is trimmed to 0.5
    order("l", "BUY", "LONG", "1", "100"),
    order("c", "SELL", "LONG", "1", "120", order_type="LIMIT"),
    order("st", "SELL", "LONG", "0.5", order_type="STOP_MARKET", stop_price="99"),
    mark("98.9"),
])
OKX_OVERSIZED_MARKET_CLOSE = (params("okx-v5"), [  # trimmed to the leg (1), not to the leg less the resting 0.4
    order("l", "BUY", "LONG", "1", "100"),
    order("c", "SELL", "LONG", "0.4", "120", order_type="LIMIT"),
    order("m", "SELL", "LONG", "2", "100"),
])
LIMIT_WITHOUT_TRADE = (params("seed"), [order("b", "BUY", "LONG", "1", "99", order_type="LIMIT")])
FUNDED_LEG = (params("seed"), [order("l", "BUY", "LONG", "1", "100"),
                               {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.0001"}])
HEDGED_FILL = (params("seed"), [order("l", "BUY", "LONG", "1", "100"), order("s", "SELL", "SHORT", "1", "100")])
CLOSE_ONE_OF_TWO = (params("seed"), [*HEDGED_FILL[1], order("c", "SELL", "LONG", "0.5", "100")])
MISSING_SIDE = (params("seed"), [order("x", "BUY", "", "1", "100")])
ORDER_AFTER_EXPIRY = (params("seed"), [
    {"kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": "51"},
    {**order("e", "BUY", "LONG", "1", "51"), "instrument": "ETHUSDT_Q"},
])
CANCEL_ONE_OF_TWO = (params("seed"), [  # two resting bids; the first is cancelled, the second still rests
    order("b1", "BUY", "LONG", "1", "90", order_type="LIMIT"),
    order("b2", "BUY", "LONG", "1", "80", order_type="LIMIT"),
    {"kind": "cancel_order", "account": "A", "order_id": "b1"},
])
CLOSE_ON_A_THIN_WALLET = (params("seed", wallet="5"), [  # 4 of the 5 go to the long's margin; its close needs none
    order("l", "BUY", "LONG", "0.8", "100"),
    order("c", "SELL", "LONG", "0.8", "100"),
])
# fourth round: leg settings across a mode switch and a margin adjustment
LEVERAGE_THEN_SWITCH = (params("binance-usdm"), [  # the instrument's leverage 10 covers BOTH: the switches keep it
    {"kind": "set_leverage", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG", "leverage": "10"},
    {"kind": "set_position_mode", "account": "A", "scope": "*", "mode": "ONE_WAY"},
    {"kind": "set_position_mode", "account": "A", "scope": "*", "mode": "HEDGE"},
])
CROSS_THEN_SWITCH = (params("binance-usdm"), [  # the instrument's CROSS covers BOTH: the switch keeps it
    {"kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG", "margin_type": "CROSS"},
    {"kind": "set_position_mode", "account": "A", "scope": "*", "mode": "ONE_WAY"},
])
ADJUST_ONE_OF_TWO = (params("seed"), [  # the long at leverage 10, the short at the default 20; margin added to the long
    {"kind": "set_leverage", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG", "leverage": "10"},
    *HEDGED_FILL[1],
    {"kind": "adjust_margin", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG", "amount": "5"},
])

CASES = [
    ("rejection-advances-time", "HM-ATOM-001", REJECTED_CLOSE),
    ("partial-switch-skips-idle", "HM-MODE-005", COIN_LEVEL_SWITCH),
    ("flat-rows-omitted", "HM-MODE-008", ONE_INSTRUMENT_OPEN),
    ("one-way-fill-unreported", "HM-NET-002", ONE_WAY_FILL),
    ("trigger-beyond-leg", "HM-ORD-003", ONE_WAY_STOP_AFTER_NETTING),
    ("mark-lags", "HM-POS-003", MARK_MOVES),
    ("never-cancels-on-close", "HM-STOP-004", CLOSED_AND_REOPENED),
    # an older mutant (HM-ORD-006's) that also broke HM-ORD-003 unseen: the short crossed to +1 and came back
    ("resting-overfilled", "HM-ORD-003", CLOSED_AND_REOPENED),
    ("margin-on-new-row", "HM-LEDG-001", SWITCH_TO_ONE_WAY),
    ("fee-to-unknown-account", "HM-LEDG-001", ONE_INSTRUMENT_OPEN),
    ("trigger-fill-as-maker", "HM-STOP-001", STOP_FIRES),  # rulebook 1.1.0: a fired stop fills as taker
    # HM-ORD-009 (rulebook 1.1.0): the flag as the profile says, both ways
    ("reduce-only-flag-dropped", "HM-ORD-009", (params("binance-usdm"), REDUCE_ONLY_CLOSE)),
    ("reduce-only-refused", "HM-ORD-009", (params("bybit-v5"), REDUCE_ONLY_CLOSE)),
    ("reduce-only-refused", "HM-ORD-009", (params("gate"), REDUCE_ONLY_CLOSE)),
    # third round: orders, positions, mode and fees
    ("switch-with-positions-unchanged", "HM-MODE-002", SWITCH_WITH_POSITION),
    ("switch-with-orders-unchanged", "HM-MODE-003", SWITCH_WITH_ORDER),
    ("same-mode-reports-switch", "HM-MODE-004", SAME_MODE),
    ("never-trims-on-shrink", "HM-ORD-004", STOP_SHRINKS_LEG),
    ("market-close-cut-to-room", "HM-ORD-004", OKX_OVERSIZED_MARKET_CLOSE),
    ("limit-fills-on-arrival", "HM-ORD-006", LIMIT_WITHOUT_TRADE),
    ("funding-into-realized", "HM-POS-002", FUNDED_LEG),
    ("fee-discount-in-ledger", "HM-FEE-001", HEDGED_FILL),
    ("release-to-other-leg", "HM-NET-001", CLOSE_ONE_OF_TWO),
    # rulebook 1.2.0: INVALID_ARGUMENT only where the order is malformed
    ("side-mismatch-as-invalid-argument", "HM-ORD-001", MISSING_SIDE),
    ("side-mismatch-as-invalid-argument", "HM-ORD-001", (params("seed", hedge=False), [order("x", "BUY", "LONG", "1",
                                                                                             "100")])),
    ("expired-as-invalid-argument", "HM-SETL-002", ORDER_AFTER_EXPIRY),
    ("reduce-only-as-invalid-argument", "HM-ORD-009", (params("binance-usdm"), REDUCE_ONLY_CLOSE)),
    ("close-charged-as-open", "HM-ORD-008", CLOSE_ON_A_THIN_WALLET),
    ("cancel-keeps-reservation", "HM-ORD-008", CANCEL_ONE_OF_TWO),
    ("oversized-close-as-invalid-argument", "HM-ORD-004", REJECTED_CLOSE),
    # fourth round: leg settings across a mode switch (instrument scope) and a margin adjustment
    ("switch-brings-default-settings", "HM-MARG-001", LEVERAGE_THEN_SWITCH),
    ("switch-brings-default-settings", "HM-MARG-001", CROSS_THEN_SWITCH),
    ("adjust-margin-shares-settings", "HM-NET-001", ADJUST_ONE_OF_TWO),
]


@pytest.mark.parametrize(("name", "rule_id", "case"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_reference_passes_and_mutant_is_caught(name: str, rule_id: str, case: tuple) -> None:
    assert_mutant_caught(name, rule_id, case)


def test_reviewed_mutants_are_shown_here() -> None:
    assert {m.name for m in REVIEWED_MUTANTS} <= {c[0] for c in CASES}
    assert all(any(c[:2] == (m.name, m.rule_id) for c in CASES) for m in REVIEWED_MUTANTS)


def test_the_cases_reach_what_they_test() -> None:
    """The close is rejected; the switch is partial; the one-way stop fires after the position shrank below it;
    the short is flat at no snapshot though the trade closed it and cancelled its stop."""
    def outcomes(case: tuple) -> list[dict[str, Any]]:
        return [view.outcome for view in reference_steps(*case)]

    assert outcomes(REJECTED_CLOSE)[-1]["reason"] == "REDUCE_EXCEEDS_LEG"
    assert outcomes(COIN_LEVEL_SWITCH)[-1]["kind"] == "partially_applied"
    fired = outcomes(ONE_WAY_STOP_AFTER_NETTING)[-1]["events"]
    assert [(e["order_id"], e["quantity"]) for e in fired if e["type"] == "fill"] == [("st", "0.5")]
    last = reference_steps(*CLOSED_AND_REOPENED)[-1]
    assert {"order_id": "st", "status": "CANCELLED", "cause": "leg_closed"}.items() <= next(
        e for e in last.outcome["events"] if e.get("order_id") == "st").items()
    assert last.before["accounts"]["A"]["positions"]["BTCUSDT"]["SHORT"]["quantity"] == "-1"
    assert last.after["accounts"]["A"]["positions"]["BTCUSDT"]["SHORT"]["quantity"] == "-1"


def test_a_reducing_fill_beyond_the_leg_is_caught_whatever_else_the_leg_does() -> None:
    """HM-ORD-003 replays the leg: a reducing fill larger than what the leg holds is caught though a later fill of
    the step brings the leg back, and a one-way reduce-only fill is judged whatever action brought it."""
    from hedgespec.spec.rulebook import get

    p, actions = CLOSED_AND_REOPENED
    view = step_views(ReferenceAdapter("seed"), p, actions)[-1]
    fills = [e for e in view.outcome["events"] if e["type"] == "fill"]
    assert [(f["side"], f["quantity"]) for f in fills] == [("BUY", "1"), ("SELL", "1")]
    fills[0]["quantity"] = "1.5"  # -1 + 1.5 crosses to +0.5, and the opening fill, made 0.5, brings it to 0
    fills[1]["quantity"] = "0.5"
    found = [str(v) for v in get("HM-ORD-003").check(view)]
    assert found and all(v.startswith("HM-ORD-003:") for v in found), found


def test_the_reduce_only_flag_is_judged_only_where_the_profile_decides_it() -> None:
    """HM-ORD-009: the reference refuses the flag under binance-usdm and takes it under bybit-v5; under the seed
    (the flag implied by construction) and okx-v5 neither answer is a violation of HM-ORD-009."""
    def last(adapter: Any, p: dict[str, Any]) -> dict[str, Any]:
        return step_views(adapter, p, REDUCE_ONLY_CLOSE)[-1].outcome

    assert last(ReferenceAdapter("binance-usdm"), params("binance-usdm"))["reason"] == "REDUCE_ONLY_FORBIDDEN"
    assert last(ReferenceAdapter("bybit-v5"), params("bybit-v5"))["kind"] == "accepted"
    for profile in ("seed", "okx-v5"):
        p = params(profile)
        for name in ("reduce-only-flag-dropped", "reduce-only-refused"):
            found = step_violations(MUTANT_BY_NAME[name].adapter(profile), p, REDUCE_ONLY_CLOSE)
            assert not any(v.startswith("HM-ORD-009:") for v in found), (profile, name, found)


def test_the_third_round_cases_reach_what_they_test() -> None:
    """The switches are refused for the position and the order; the fired stop halves the long and trims the resting
    close; under okx-v5 the oversized market close is accepted and closes the whole leg; the limit order rests (no
    trade yet); the funding step pays the long; the short opens while the long is open; the partial close of the
    hedged long releases margin."""
    def last(case: tuple) -> Any:
        return reference_steps(*case)[-1]

    assert last(SWITCH_WITH_POSITION).outcome["reason"] == "MODE_SWITCH_WITH_POSITIONS"
    assert last(SWITCH_WITH_ORDER).outcome["reason"] == "MODE_SWITCH_WITH_OPEN_ORDERS"
    assert last(SAME_MODE).outcome == {**last(SAME_MODE).outcome, "kind": "unchanged", "events": []}
    shrunk = last(STOP_SHRINKS_LEG)
    assert sorted((e["order_id"], e["status"], e["quantity"]) for e in shrunk.outcome["events"]
                  if e["type"] == "order") == [("c", "TRIMMED", "0.5"), ("st", "FILLED", "0"), ("st", "TRIGGERED", "0.5")]
    closed = last(OKX_OVERSIZED_MARKET_CLOSE)
    assert closed.outcome["kind"] == "accepted"
    assert [(e["order_id"], e["quantity"]) for e in closed.outcome["events"] if e["type"] == "fill"] == [("m", "1")]
    rested = last(LIMIT_WITHOUT_TRADE)
    assert rested.before["last_prices"] == {} and "b" in rested.after["accounts"]["A"]["open_orders"]
    assert [e["position_side"] for e in last(FUNDED_LEG).outcome["events"] if e["type"] == "funding"] == ["LONG"]
    assert last(HEDGED_FILL).before["accounts"]["A"]["positions"]["BTCUSDT"]["LONG"]["quantity"] == "1"
    released = [e for e in last(CLOSE_ONE_OF_TWO).outcome["events"] if e["type"] == "ledger"
                and e["kind"] == "MARGIN_RELEASE"]
    assert {e["position_side"] for e in released} == {"LONG"}


def test_a_crossing_limit_order_does_not_rest_unfilled() -> None:
    """HM-ORD-006 both ways: after a trade at 100, a limit buy at 101 crosses it and fills on arrival as taker; an
    engine whose snapshot shows it resting untouched is caught."""
    from hedgespec.spec.rulebook import get

    p = params("seed")
    actions = [{"kind": "market_trade", "instrument": "BTCUSDT", "price": "100", "quantity": "1"},
               order("b", "BUY", "LONG", "1", "101", order_type="LIMIT")]
    view = reference_steps(p, actions)[-1]
    assert [(e["order_id"], e["liquidity"]) for e in view.outcome["events"] if e["type"] == "fill"] == [("b", "TAKER")]
    resting = reference_steps(p, [actions[1]])[-1]  # the same order resting where no trade has happened
    after = copy.deepcopy(view.before)
    after["accounts"]["A"]["open_orders"]["b"] = resting.after["accounts"]["A"]["open_orders"]["b"]
    view = dataclasses.replace(view, outcome=resting.outcome, after=after)
    found = [str(v) for v in get("HM-ORD-006").check(view)]
    assert any("rests unfilled" in v for v in found), found


def test_the_fourth_round_cases_reach_what_they_test() -> None:
    """Under binance-usdm the instrument's leverage (and margin type) set on the long covers the short and the
    one-way BOTH row: each switch is accepted and brings rows carrying it. The margin adjustment is accepted on the
    long while both legs are open, isolated, at leverages 10 and 20."""
    def legs(snapshot: dict[str, Any]) -> dict[str, tuple[str, str]]:
        return {side: (r["margin_type"], r["leverage"]) for side, r in snapshot["accounts"]["A"]["positions"]
                ["BTCUSDT"].items()}

    views = reference_steps(*LEVERAGE_THEN_SWITCH)
    assert [v.outcome["kind"] for v in views] == ["accepted"] * 3
    assert [legs(v.after) for v in views] == [{"LONG": ("ISOLATED", "10"), "SHORT": ("ISOLATED", "10")},
                                              {"BOTH": ("ISOLATED", "10")},
                                              {"LONG": ("ISOLATED", "10"), "SHORT": ("ISOLATED", "10")}]
    crossed = reference_steps(*CROSS_THEN_SWITCH)[-1]
    assert crossed.outcome["kind"] == "accepted" and legs(crossed.after) == {"BOTH": ("CROSS", "20")}
    adjusted = reference_steps(*ADJUST_ONE_OF_TWO)[-1]
    assert adjusted.outcome["kind"] == "accepted"
    assert legs(adjusted.before) == {"LONG": ("ISOLATED", "10"), "SHORT": ("ISOLATED", "20")}
    assert adjusted.before["accounts"]["A"]["positions"]["BTCUSDT"]["SHORT"]["quantity"] == "-1"
    # the broken engine is caught at the switch that first brings rows at its defaults
    found = step_violations(MUTANT_BY_NAME["switch-brings-default-settings"].adapter("binance-usdm"),
                            *LEVERAGE_THEN_SWITCH)
    assert found == ["HM-MARG-001: A BTCUSDT: leverage 20 after a mode switch, the rows its instrument setting "
                     "covered carried 10"], found


def test_rows_a_switch_brings_carry_the_one_setting_that_covers_them(tmp_path: Any) -> None:
    """HM-MARG-001 at a mode switch: under binance-usdm's instrument scope the rows of an instrument carry one
    leverage, the one the rows the switch removed carried; under an account-wide margin-type scope every row of the
    account carries one margin type. Under the seed's leg scope, legs brought back at leverages 10 and 20 are not
    judged: each carries its own earlier setting, which one step does not show."""
    import json
    from pathlib import Path

    from hedgespec.spec.rulebook import get
    from scenarios import checked_steps

    def marg_001(view: Any, after: dict[str, Any], profile: str | None = None) -> list[str]:
        p = {**view.params, "profile": profile} if profile else view.params
        return [str(v) for v in get("HM-MARG-001").check(dataclasses.replace(view, params=p, after=after))]

    back = reference_steps(*LEVERAGE_THEN_SWITCH)[-1]
    assert marg_001(back, back.after) == []
    one_leg = copy.deepcopy(back.after)
    one_leg["accounts"]["A"]["positions"]["BTCUSDT"]["SHORT"]["leverage"] = "20"
    assert marg_001(back, one_leg) == ["HM-MARG-001: A BTCUSDT: the rows one leverage covers (instrument scope) "
                                       "carry 10, 20 after a mode switch"]
    both = copy.deepcopy(one_leg)
    both["accounts"]["A"]["positions"]["BTCUSDT"]["LONG"]["leverage"] = "20"
    assert marg_001(back, both) == ["HM-MARG-001: A BTCUSDT: leverage 20 after a mode switch, the rows its "
                                    "instrument setting covered carried 10"]
    assert marg_001(back, one_leg, "seed") == [] and marg_001(back, one_leg, "bybit-v5") == []

    raw = json.loads((Path(__file__).parent.parent / "spec" / "profiles" / "seed.json").read_text())
    raw["name"] = "account-scope"
    raw["choices"]["margin_type_scope"] = {"value": "account", "status": "modelled", "source": "a test"}
    profile = tmp_path / "account-scope.json"
    profile.write_text(json.dumps(raw))
    p = {**params("seed"), "profile": str(profile)}
    switched = checked_steps(p, [CROSS_THEN_SWITCH[1][0], CROSS_THEN_SWITCH[1][1]])[-1]
    assert {r["margin_type"] for r in switched.after["accounts"]["A"]["positions"]["ETHUSDT_Q"].values()} == {"CROSS"}
    other = copy.deepcopy(switched.after)
    other["accounts"]["A"]["positions"]["ETHUSDT_Q"]["BOTH"]["margin_type"] = "ISOLATED"
    assert marg_001(switched, other) == ["HM-MARG-001: A: the rows one margin_type covers (account scope) carry "
                                         "CROSS, ISOLATED after a mode switch"]


def test_a_margin_adjustment_leaves_the_other_leg_as_it_was() -> None:
    """HM-NET-001 on a margin adjustment of the long: the short's margin type, leverage and isolated margin are
    each judged (a margin adjustment is no settings request), and an adjustment made on the short instead, booked
    as the short's, is caught as well."""
    from decimal import Decimal

    from hedgespec.spec.rulebook import get

    view = reference_steps(*ADJUST_ONE_OF_TWO)[-1]
    assert list(get("HM-NET-001").check(view)) == []
    for field, value in (("margin_type", "CROSS"), ("leverage", "10"), ("isolated_margin", "10")):
        after = copy.deepcopy(view.after)
        after["accounts"]["A"]["positions"]["BTCUSDT"]["SHORT"][field] = value
        found = [str(v) for v in get("HM-NET-001").check(dataclasses.replace(view, after=after))]
        assert len(found) == 1 and found[0].startswith(f"HM-NET-001: A BTCUSDT SHORT: {field} changed"), found
    wrong_leg, outcome = copy.deepcopy(view.after), copy.deepcopy(view.outcome)
    legs, was = wrong_leg["accounts"]["A"]["positions"]["BTCUSDT"], view.before["accounts"]["A"]["positions"]["BTCUSDT"]
    legs["LONG"]["isolated_margin"] = was["LONG"]["isolated_margin"]
    legs["SHORT"]["isolated_margin"] = str(Decimal(was["SHORT"]["isolated_margin"]) + Decimal("5"))
    for event in outcome["events"]:
        event["position_side"] = "SHORT"
    found = [str(v) for v in get("HM-NET-001").check(dataclasses.replace(view, outcome=outcome, after=wrong_leg))]
    assert any("SHORT: isolated_margin changed" in v for v in found), found
