"""Broken engines the funding, liquidation and margin checks once let through (a review of check strength):
each is a transform or a patch of the reference engine (``REVIEWED_RISK_MUTANTS`` in the mutant library), run
on a directed scenario where the reference passes every check and the broken engine trips its own rule (HM-FUND-002, HM-LIQ-001, HM-LIQ-003, HM-LIQ-006,
HM-LIQ-008, HM-MARG-005, HM-MARG-006). Before the checks were strengthened, each of them passed its rule's
check (and, but for the joint liquidation on a funding step, every step check)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hedgespec.conformance.mutants import REVIEWED_RISK_MUTANTS
from hedgespec.spec.registry import StepView
from scenarios import assert_mutant_caught, hedge_modes, params, reference_steps

LIQ = json.loads((Path(__file__).parent.parent / "examples" / "isolated_liquidation.json").read_text())


def order(oid: str, side: str, leg: str, qty: str, price: str = "100", account: str = "A", **kw: Any) -> dict:
    return {"kind": "place_order", "account": account, "order_id": oid, "instrument": kw.pop("instrument", "BTCUSDT"),
            "side": side,
            "position_side": leg, "order_type": kw.pop("order_type", "MARKET"), "quantity": qty, "price": price, **kw}


def mark(price: str) -> dict[str, Any]:
    return {"kind": "mark_price", "instrument": "BTCUSDT", "price": price}


def margin_type(account: str, leg: str, value: str) -> dict[str, Any]:
    return {"kind": "set_margin_type", "account": account, "instrument": "BTCUSDT", "position_side": leg,
            "margin_type": value}


# HM-FUND-002: funding booked for a leg closed since the last funding, with no payment of it ----------------



CLOSED_LEG_AT_FUNDING = (params("seed"), [
    margin_type("A", "LONG", "CROSS"), order("o", "BUY", "LONG", "1"), order("c", "SELL", "LONG", "1"),
    order("b", "BUY", "LONG", "1", account="B"), {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.01"},
])


# HM-LIQ-001 (and HM-LIQ-003): on a funding step the other leg has a funding payment of its own -------------



FUNDING_LIQUIDATES_LONG = (LIQ["params"], [*LIQ["actions"][:2], mark("57300"),
                                           {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.002"}])


# HM-LIQ-006: a cross-pool liquidation that draws on an isolated leg's margin ------------------------------



CROSS_POOL_BESIDE_ISOLATED = (LIQ["params"], [margin_type("alice", "LONG", "CROSS"), *LIQ["actions"][:2],
                                              mark("53000")])  # the cross LONG's pool is breached, the SHORT not


# HM-LIQ-008: liquidation evaluated before the stops; the stop it ends is not reported as cancelled by it ---







STOP_THEN_LIQUIDATION = (LIQ["params"], [  # the stop closes half the LONG at 57200, the rest is liquidated
    *LIQ["actions"][:2],
    {"kind": "place_order", "account": "alice", "order_id": "sl", "instrument": "BTCUSDT", "side": "SELL",
     "position_side": "LONG", "order_type": "STOP_MARKET", "quantity": "0.05", "stop_price": "57250"},
    mark("57200"),
])


# HM-MARG-005: a change of a busy leg's margin type answered "unchanged" -------------------------------------



BUSY_LEG = [order("o", "BUY", "LONG", "1"), margin_type("A", "LONG", "CROSS")]
BUSY_WITH_ORDERS = [order("l", "BUY", "LONG", "1", "90", order_type="LIMIT"), margin_type("A", "LONG", "CROSS")]


# HM-MARG-006: the snapshot of a mark-price step keeps the previous mark, the maintenance consistent with it (the
# library's mark-lags, HM-POS-003's engine: the model itself keeps the old mark) -------------------------------

MARK_MOVES = [order("o", "BUY", "LONG", "1"), order("s", "SELL", "SHORT", "1"), mark("101")]

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
    ("mark-lags", "HM-MARG-006", (params("seed"), MARK_MOVES)),  # HM-POS-003's engine, as seen by MARG-006
]


@pytest.mark.parametrize(("name", "rule_id", "case"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2][0]['profile']}-{i}" for i, c in enumerate(CASES)])
def test_reference_passes_and_mutant_is_caught(name: str, rule_id: str, case: tuple) -> None:
    assert_mutant_caught(name, rule_id, case)


def test_reviewed_risk_mutants_are_shown_here() -> None:
    assert all(any(c[:2] == (m.name, m.rule_id) for c in CASES + THIRD_CASES + BORROW_CASES)
               for m in REVIEWED_RISK_MUTANTS)


def test_the_cases_reach_what_they_test() -> None:
    """The funding step liquidates the LONG only; the pool's liquidation leaves the isolated SHORT open; the stop
    fires before the liquidation; the busy-leg requests are refused by the reference."""
    def outcomes(p: dict[str, Any], actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [view.outcome for view in reference_steps(p, actions)]

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

    last = reference_steps(*FUNDING_LIQUIDATES_LONG)[-1]  # LIQ's params are under the seed
    after = copy.deepcopy(last.after)
    view = StepView(last.params, last.before, last.action, last.outcome, after)
    assert [str(v) for v in get("HM-LIQ-001").check(view)] == []
    short = after["accounts"]["alice"]["positions"]["BTCUSDT"]["SHORT"]
    assert short["funding"] != "0"
    short["isolated_margin"] = str(Decimal(short["isolated_margin"]) + Decimal("1e-16"))
    assert [v.rule_id for v in get("HM-LIQ-001").check(view)] == ["HM-LIQ-001"]


# A third review (HM-FUND-001, HM-LIQ-002, HM-LIQ-004, HM-MARG-003, HM-STOP-002, HM-STOP-003, HM-STOP-005): broken
# engines of REVIEWED_RISK_MUTANTS, each passing its rule's check as committed before this review (and every other
# step check) on its directed scenario. ---------------------------------------------------------------------------------------



def conditional(oid: str, leg: str, order_type: str, instrument: str = "BTCUSDT", **kw: Any) -> dict[str, Any]:
    """A conditional order closing ``leg`` (no limit price: it executes at market)."""
    return {"kind": "place_order", "account": "A", "order_id": oid, "instrument": instrument,
            "side": "SELL" if leg == "LONG" else "BUY", "position_side": leg, "order_type": order_type,
            "quantity": kw.pop("quantity", "1"), **kw}


ETH_LONG = order("e", "BUY", "LONG", "1", "50", instrument="ETHUSDT_Q")
FUNDING_BOTH_LEGS = [order("l", "BUY", "LONG", "1"), order("s", "SELL", "SHORT", "2"),
                     {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.01"}]
ETH_TAKE_PROFIT_ON_BTC_MARK = [ETH_LONG, conditional("tp", "LONG", "TAKE_PROFIT_MARKET", "ETHUSDT_Q", stop_price="90"),
                               mark("100")]  # BTC's mark of 100 reaches the ETH take-profit's 90, ETH's stays 50
ETH_TRAILING_ON_BTC_MARK = [ETH_LONG, conditional("tr", "LONG", "TRAILING_STOP_MARKET", "ETHUSDT_Q",
                                                  callback_rate="0.01"),
                            {"kind": "mark_price", "instrument": "ETHUSDT_Q", "price": "50"}, mark("40")]
LIQUIDATED_AFTER_A_MOVE = (LIQ["params"], [*LIQ["actions"][:2], mark("59000"), mark("57200")])
ETH_SHORT_ON_BTC_MARK = [order("e", "SELL", "SHORT", "1", "50", instrument="ETHUSDT_Q"), mark("100")]
CLOSE_BEYOND_RELEASE = [order("l", "BUY", "LONG", "1"), order("c", "SELL", "LONG", "0.5", "80")]  # loss 10 > 2.5
CLOSE_POSITION_COVERED = [order("l", "BUY", "LONG", "1"), order("tp", "SELL", "LONG", "1", "120", order_type="LIMIT"),
                          order("cp", "SELL", "LONG", "0", close_position=True)]

THIRD_CASES = [
    ("funding-charged-twice", "HM-FUND-001", (params("seed"), FUNDING_BOTH_LEGS)),
    ("triggers-every-instrument", "HM-STOP-002", (params("seed"), ETH_TAKE_PROFIT_ON_BTC_MARK)),
    ("triggers-every-instrument", "HM-STOP-003", (params("seed"), ETH_TRAILING_ON_BTC_MARK)),
    ("liquidated-at-previous-mark", "HM-LIQ-004", LIQUIDATED_AFTER_A_MOVE),
    ("other-instruments-at-this-mark", "HM-LIQ-002", (params("seed"), ETH_SHORT_ON_BTC_MARK)),
    ("excess-loss-from-wallet", "HM-MARG-003", (params("bybit-v5"), CLOSE_BEYOND_RELEASE)),
    ("close-position-refused-when-covered", "HM-STOP-005", (params("gate"), CLOSE_POSITION_COVERED)),
]


@pytest.mark.parametrize(("name", "rule_id", "case"), THIRD_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2][0]['profile']}" for c in THIRD_CASES])
def test_reference_passes_and_third_review_mutant_is_caught(name: str, rule_id: str, case: tuple) -> None:
    assert_mutant_caught(name, rule_id, case)


# A fourth review (HM-LIQ-003, "at any point of the step"): an engine that covers a liquidated isolated leg's loss
# from the other leg's margin or from the wallet and gives it back later in the step, in entries that net to zero
# (every snapshot is the reference's), passed every step check as committed before this review: the check judged
# the other leg's margin by its net move and the wallet only by the entries booked to the liquidated leg. --------

LIQUIDATED_LONG = (LIQ["params"], [*LIQ["actions"][:2], mark("57200")])  # the LONG liquidated, the SHORT left
SHORT_CROSS_LIQUIDATED_LONG = (LIQ["params"], [margin_type("alice", "SHORT", "CROSS"), *LIQ["actions"][:2],
                                               mark("57200")])  # the isolated LONG liquidated beside a cross SHORT


ETH_LONG_LIQUIDATED_BTC_LONG = (params("seed"), [ETH_LONG, order("l", "BUY", "LONG", "1"), mark("90")])  # rulebook
# 1.3.0: a leg of another instrument lends its isolated margin (the ETHUSDT_Q LONG, beside the liquidated BTC LONG)


def on_profile(profile: str, case: tuple) -> tuple:
    """``case`` (on LIQ's params) under another profile, the account in hedge mode as that profile scopes it."""
    p = copy.deepcopy(case[0])
    modes = hedge_modes(profile)
    p["profile"], p["accounts"]["alice"]["position_mode"] = profile, {k: modes[k] for k in modes if k != "ETHUSDT_Q"}
    return p, case[1]


BORROW_CASES = [
    ("liquidation-borrows-other-leg", "HM-LIQ-003", LIQUIDATED_LONG),
    ("liquidation-borrows-other-leg", "HM-LIQ-003", FUNDING_LIQUIDATES_LONG),  # the SHORT receives funding too
    ("liquidation-borrows-other-leg", "HM-LIQ-003", on_profile("okx-v5", LIQUIDATED_LONG)),
    ("liquidation-borrows-wallet", "HM-LIQ-003", LIQUIDATED_LONG),
    ("liquidation-borrows-wallet", "HM-LIQ-003", on_profile("binance-usdm", FUNDING_LIQUIDATES_LONG)),
    ("liquidation-borrows-cross-leg", "HM-LIQ-003", SHORT_CROSS_LIQUIDATED_LONG),
    ("liquidation-borrows-other-instrument", "HM-LIQ-003", ETH_LONG_LIQUIDATED_BTC_LONG),
]


@pytest.mark.parametrize(("name", "rule_id", "case"), BORROW_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2][0]['profile']}-{i}" for i, c in enumerate(BORROW_CASES)])
def test_reference_passes_and_borrowing_mutant_is_caught(name: str, rule_id: str, case: tuple) -> None:
    assert_mutant_caught(name, rule_id, case)


@pytest.mark.parametrize(("name", "case"), [c[::2] for c in BORROW_CASES],
                         ids=[f"{c[0]}-{c[2][0]['profile']}-{i}" for i, c in enumerate(BORROW_CASES)])
def test_the_borrowing_cases_reach_what_they_test(name: str, case: tuple) -> None:
    """The last step liquidates the isolated LONG alone, with a loss, the SHORT (isolated, or cross in the cross
    case) or a leg of another instrument left open; the broken engine borrows and gives back in that step, so its entries there net to the
    reference's for every bucket and leg, and every snapshot it reports is the reference's: only the order of the
    ledger entries shows the draw."""
    from hedgespec.conformance.mutants import MUTANT_BY_NAME
    from scenarios import step_views

    reference = reference_steps(*case)
    broken = step_views(MUTANT_BY_NAME[name].adapter(case[0]["profile"]), *case)
    last = reference[-1].outcome["events"]
    assert [e["position_side"] for e in last if e["type"] == "liquidation"] == ["LONG"]
    fill = next(e for e in last if e["type"] == "fill" and e["cause"] == "liquidation")
    assert Decimal(fill["realized_pnl"]) < 0
    symbol, side = ("ETHUSDT_Q", "LONG") if name == "liquidation-borrows-other-instrument" else ("BTCUSDT", "SHORT")
    lender = reference[-1].after["accounts"][fill["account"]]["positions"][symbol][side]
    assert Decimal(lender["quantity"]) != 0
    assert lender["margin_type"] == ("CROSS" if name == "liquidation-borrows-cross-leg" else "ISOLATED")
    assert [v.after for v in broken] == [v.after for v in reference]

    def net(evs: list[dict[str, Any]]) -> dict[tuple, Decimal]:
        out: dict[tuple, Decimal] = {}
        for e in evs:
            if e["type"] == "ledger":
                key = (e["account"], e["instrument"], e["position_side"], e["bucket"])
                out[key] = out.get(key, Decimal(0)) + Decimal(e["amount"])
        return {k: v for k, v in out.items() if v}
    assert broken[-1].outcome["events"] != last and net(broken[-1].outcome["events"]) == net(last)
