"""Worked examples with exact numbers, derived by hand in the comments and checked against the model.

Instrument BTCUSDT (tests/scenarios.py): tick 0.1, lot 0.001, maker 0.0002, taker 0.0005, brackets
[0, 50000) mmr 0.004 cum 0 and [50000, -) mmr 0.005 cum 50; default leverage 20 (seed).
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from scenarios import CheckedRun


class Run(CheckedRun):
    """A checked run on BTCUSDT with the helpers the examples read."""

    def order(self, oid: str, side: str, leg: str, qty: str, price: str, **kw: object) -> dict:
        return self.place(oid, "BTCUSDT", side, leg, qty, price, **kw)

    def leg(self, side: str, account: str = "A") -> dict:
        return self.snap["accounts"][account]["positions"]["BTCUSDT"][side]

    def wallet(self, account: str = "A") -> Decimal:
        return Decimal(self.snap["accounts"][account]["wallet"])


def test_hedged_round_trip_with_fees():
    """HM-FEE-001, HM-POS-002, HM-NET-001: both legs opened and closed, every fill pays its fee.

    1. BUY LONG 0.1 @ 100: IM 10/20 = 0.5, fee 10 x 0.0005 = 0.005 -> wallet 999.495
    2. SELL SHORT 0.2 @ 100: IM 1, fee 0.01 -> wallet 998.485
    3. SELL LONG 0.1 @ 110: realized 0.1 x (110 - 100) = 1, fee 11 x 0.0005 = 0.0055, margin 0.5 back
       -> wallet 998.485 + 0.5 + 1 - 0.0055 = 999.9795
    4. BUY SHORT 0.2 @ 105: realized 0.2 x (100 - 105) = -1, fee 21 x 0.0005 = 0.0105, margin 1 back
       -> wallet 999.9795 + 1 - 1 - 0.0105 = 999.969 = 1000 - total fees 0.031
    """
    run = Run()
    run.order("o1", "BUY", "LONG", "0.1", "100")
    assert run.wallet() == Decimal("999.495")
    assert run.leg("LONG")["isolated_margin"] == "0.5" and run.leg("LONG")["fees_paid"] == "0.005"
    run.order("o2", "SELL", "SHORT", "0.2", "100")
    assert run.wallet() == Decimal("998.485")
    assert run.leg("LONG")["quantity"] == "0.1", "opening the short must not touch the long"
    assert run.leg("SHORT")["quantity"] == "-0.2" and run.leg("SHORT")["cost_basis"] == "-20"
    close_long = run.order("o3", "SELL", "LONG", "0.1", "110")
    fill = next(e for e in close_long["events"] if e["type"] == "fill")
    assert (fill["realized_pnl"], fill["fee"]) == ("1", "0.0055")
    assert run.wallet() == Decimal("999.9795")
    assert run.leg("SHORT")["quantity"] == "-0.2" and run.leg("SHORT")["isolated_margin"] == "1"
    run.order("o4", "BUY", "SHORT", "0.2", "105")
    assert run.leg("SHORT")["realized_pnl"] == "-1" and run.leg("SHORT")["fees_paid"] == "0.0205"
    assert run.leg("LONG")["realized_pnl"] == "1" and run.leg("LONG")["fees_paid"] == "0.0105"
    assert run.wallet() == Decimal("999.969") == Decimal(1000) - Decimal("0.031")


def test_funding_on_equal_legs_two_entries_cancel():
    """HM-FUND-001, HM-FUND-002: equal legs both pay/receive in full; the entries cancel in total.

    LONG 1 @ 100 and SHORT 1 @ 100, mark 101, rate 0.0001: each leg 1 x 101 x 0.0001 = 0.0101;
    the long pays it from its isolated margin (5 -> 4.9899), the short receives it (5 -> 5.0101).
    """
    run = Run()
    run.order("l", "BUY", "LONG", "1", "100")
    run.order("s", "SELL", "SHORT", "1", "100")
    run.do("mark_price", instrument="BTCUSDT", price="101")
    wallet = run.wallet()
    outcome = run.do("funding", instrument="BTCUSDT", rate="0.0001")
    entries = [e for e in outcome["events"] if e["type"] == "ledger" and e["kind"] == "FUNDING"]
    assert sorted((e["position_side"], e["amount"]) for e in entries) == [("LONG", "-0.0101"), ("SHORT", "0.0101")]
    assert sum(Decimal(e["amount"]) for e in entries) == 0
    assert run.leg("LONG")["isolated_margin"] == "4.9899" and run.leg("SHORT")["isolated_margin"] == "5.0101"
    assert run.wallet() == wallet


def test_funding_rounds_half_away_on_each_leg():
    """HM-FUND-001: 0.001 x 100.00000005 x 0.00000001 = 0.0000000010000000005 (19 decimals) rounds half
    away from zero to 16 decimals: each leg 0.000000001000000001 (long pays, short receives)."""
    run = Run()
    run.order("l", "BUY", "LONG", "0.001", "100")
    run.order("s", "SELL", "SHORT", "0.001", "100")
    run.do("mark_price", instrument="BTCUSDT", price="100.00000005")
    outcome = run.do("funding", instrument="BTCUSDT", rate="0.00000001")
    amounts = {e["position_side"]: e["amount"] for e in outcome["events"] if e["type"] == "funding"}
    exact = Decimal("0.001") * Decimal("100.00000005") * Decimal("0.00000001")
    rounded = exact.quantize(Decimal("1e-16"), rounding=ROUND_HALF_UP)
    assert rounded == Decimal("0.0000000010000000")  # the 5 in the 19th decimal is beyond the 17th: down
    assert amounts == {"LONG": "-0.000000001", "SHORT": "0.000000001"}


BINANCE_ROWS = [
    # ADAUSDT LONG (positionRisk v3 example): 30 @ 0.385, mark 0.41047590
    {"symbol": "ADAUSDT", "tick": "0.0001", "lot": "1", "side": "BUY", "leg": "LONG", "qty": "30", "entry": "0.385",
     "mark": "0.41047590", "mmr": "0.0065", "notional": "12.31427700", "upnl": "0.76427700",
     "initial_margin": "0.61571385", "maint_margin": "0.08004280"},
    # COMPUSDT SHORT: -1 @ 70.92841, mark 49.72023376
    {"symbol": "COMPUSDT", "tick": "0.00001", "lot": "0.001", "side": "SELL", "leg": "SHORT", "qty": "1",
     "entry": "70.92841", "mark": "49.72023376", "mmr": "0.005", "notional": "-49.72023376", "upnl": "21.20817624",
     "initial_margin": None, "maint_margin": None},
]


@pytest.mark.parametrize("row", BINANCE_ROWS, ids=lambda r: r["symbol"])
def test_binance_position_risk_relations(row):
    """HM-POS-003, HM-MARG-006: Binance's positionRisk rows, marks finer than the tick.

    notional = positionAmt x mark; uPnL = positionAmt x (mark - entry); initialMargin = notional / 20;
    maintMargin = |notional| x mmr (Binance prints 8 decimals; the model keeps the exact value).
    """
    inst = {"symbol": row["symbol"], "settle_asset": "USDT", "kind": "PERPETUAL", "tick_size": row["tick"],
            "lot_size": row["lot"], "maker_rate": "0.0002", "taker_rate": "0.0004",
            "brackets": [{"notional_floor": "0", "notional_cap": "0", "maintenance_rate": row["mmr"],
                          "max_leverage": "20"}]}
    adapter = ReferenceAdapter("binance-usdm")
    adapter.reset({"instruments": [inst], "accounts": {"A": {"wallet": "1000", "position_mode": {"*": "HEDGE"}}},
                   "profile": "binance-usdm"})
    outcome = adapter.apply({"t": 1, "kind": "place_order", "account": "A", "order_id": "o", "instrument": row["symbol"],
                             "side": row["side"], "position_side": row["leg"], "order_type": "MARKET",
                             "quantity": row["qty"], "price": row["entry"]})
    assert outcome["kind"] == "accepted", outcome
    adapter.apply({"t": 2, "kind": "mark_price", "instrument": row["symbol"], "price": row["mark"]})
    leg = adapter.snapshot()["accounts"]["A"]["positions"][row["symbol"]][row["leg"]]
    amount, mark = Decimal(leg["quantity"]), Decimal(row["mark"])
    assert amount * mark == Decimal(row["notional"])
    assert Decimal(leg["unrealized_pnl"]) == Decimal(row["upnl"])
    assert Decimal(leg["entry_price"]) == Decimal(row["entry"])
    if row["maint_margin"]:
        assert Decimal(leg["maintenance_margin"]).quantize(Decimal("1e-8")) == Decimal(row["maint_margin"])
        assert abs(amount * mark) / 20 == Decimal(row["initial_margin"])


def _hedged_pair(profile: str = "seed", margin_type: str = "ISOLATED") -> Run:
    run = Run(profile)
    if margin_type == "CROSS":
        for leg in ("LONG", "SHORT"):
            run.do("set_margin_type", account="A", instrument="BTCUSDT", position_side=leg, margin_type="CROSS")
    run.order("l", "BUY", "LONG", "1", "100")
    run.order("s", "SELL", "SHORT", "1", "100")
    return run


@pytest.mark.parametrize("profile", ["seed", "binance-usdm"])
def test_isolated_long_liquidated_at_its_price_short_untouched(profile):
    """HM-LIQ-001..004, HM-LIQ-007 (Binance's isolated formula, research-derived):

    LONG 1 @ 100 with isolated margin 5 (20x), mmr 0.004: LP = (Q x EP - WB - cum) / (Q - Q x MMR)
      = (100 - 5) / 0.996 = 95.381526104417670682... -> 95.3815261044176707 (16 decimals, half-even)
    SHORT: LP = (WB + cum + Q x EP) / (Q x MMR + Q) = 105 / 1.004 = 104.5816733067729083665... -> ...084
    At mark 95.38152611: balance 5 - 4.61847389 = 0.38152611 >= MM 0.3815261044... -> not liquidated.
    At mark 95.3815261:  balance 0.3815261 < MM 0.3815261044 -> liquidated at the mark; the remaining
    0.3815261 of its margin goes to the insurance fund; the wallet and the short are untouched.
    """
    run = _hedged_pair(profile)
    assert run.leg("LONG")["liquidation_price"] == "95.3815261044176707"
    assert run.leg("SHORT")["liquidation_price"] == "104.5816733067729084"
    short_before, wallet = dict(run.leg("SHORT")), run.wallet()
    insurance = Decimal(run.snap["insurance_fund"])
    quiet = run.do("mark_price", instrument="BTCUSDT", price="95.38152611")
    assert not [e for e in quiet["events"] if e["type"] == "liquidation"]
    hit = run.do("mark_price", instrument="BTCUSDT", price="95.3815261")
    assert [(e["position_side"], e["margin_balance"]) for e in hit["events"] if e["type"] == "liquidation"] == [
        ("LONG", "0.3815261")]
    assert run.leg("LONG")["quantity"] == "0" and run.leg("LONG")["realized_pnl"] == "-4.6184739"
    assert Decimal(run.snap["insurance_fund"]) - insurance == Decimal("0.3815261")
    assert run.wallet() == wallet
    short_after = run.leg("SHORT")
    for field in ("quantity", "cost_basis", "isolated_margin", "realized_pnl", "fees_paid", "funding"):
        assert short_after[field] == short_before[field], field


AT_OR_BELOW = {"profile_format": "1", "name": "binance-at-or-below", "extends": "binance-usdm",
               "choices": {"liquidation_trigger": {"value": "at_or_below", "status": "modelled",
                                                   "source": "an engine author's own profile"}}}


@pytest.mark.parametrize("profile,liquidated_at_equality", [("seed", False), ("binance-usdm", False),
                                                            ("at-or-below", True)])
def test_fully_hedged_cross_pair_shares_one_liquidation_price(profile, liquidated_at_equality, tmp_path):
    """HM-LIQ-005, HM-LIQ-007: the same two legs under cross margin share Binance's cross price.

    WB = 1000 - fees 0.05 - 0.05 = 999.9; PnLs cancel, maintenance is charged on both legs.
    Bracket 1: LP = (999.9 - 100 + 100) / (0.004 + 0.004 - 1 + 1) = 124987.5, whose notional is past the
    50000 cap, so bracket 2 applies: LP = (999.9 + 50 + 50) / (0.005 + 0.005) = 109990 exactly.
    At 109990 equity 999.9 = MM 2 x (549.95 - 50): the seed liquidates below it only; Binance's profile
    leaves equality unconfirmed (so the seed's value runs); a profile that says at_or_below liquidates at it.
    """
    if profile == "at-or-below":
        path = tmp_path / "at_or_below.json"
        path.write_text(json.dumps(AT_OR_BELOW))
        profile = str(path)
    run = _hedged_pair(profile, "CROSS")
    assert run.wallet() == Decimal("999.9")
    assert run.leg("LONG")["liquidation_price"] == run.leg("SHORT")["liquidation_price"] == "109990"
    at = run.do("mark_price", instrument="BTCUSDT", price="109990")
    liquidated = [e for e in at["events"] if e["type"] == "liquidation"]
    assert bool(liquidated) == liquidated_at_equality
    if not liquidated:
        beyond = run.do("mark_price", instrument="BTCUSDT", price="109990.1")
        assert [e["position_side"] for e in beyond["events"] if e["type"] == "liquidation"] == ["CROSS"]
    assert run.leg("LONG")["quantity"] == run.leg("SHORT")["quantity"] == "0"


def test_trailing_stop_on_each_leg_tracks_its_own_direction():
    """HM-STOP-003: callback 1 %, both placed at mark 100, path 99, 97, 97.96, 97.97.

    LONG's stop tracks the highest price since activation: 99 (activated), then 97 <= 99 x 0.99 = 98.01 fires.
    SHORT's stop tracks the lowest: 99, 97; 97.96 < 97 x 1.01 = 97.97 does not fire; 97.97 does.
    """
    run = _hedged_pair()
    run.do("mark_price", instrument="BTCUSDT", price="100")
    for oid, side, leg in (("tl", "SELL", "LONG"), ("ts", "BUY", "SHORT")):
        out = run.do("place_order", account="A", order_id=oid, instrument="BTCUSDT", side=side, position_side=leg,
                     order_type="TRAILING_STOP_MARKET", quantity="1", callback_rate="0.01")
        assert out["kind"] == "accepted", out

    def fired(outcome: dict) -> list[str]:
        return [e["order_id"] for e in outcome["events"] if e["type"] == "order" and e["status"] == "TRIGGERED"]

    assert fired(run.do("mark_price", instrument="BTCUSDT", price="99")) == []
    assert fired(run.do("mark_price", instrument="BTCUSDT", price="97")) == ["tl"]
    assert run.leg("LONG")["quantity"] == "0" and run.leg("LONG")["realized_pnl"] == "-3"
    assert run.leg("SHORT")["quantity"] == "-1"
    assert run.snap["accounts"]["A"]["open_orders"]["ts"]["trailing_extreme"] == "97"
    assert fired(run.do("mark_price", instrument="BTCUSDT", price="97.96")) == []
    assert fired(run.do("mark_price", instrument="BTCUSDT", price="97.97")) == ["ts"]
    assert run.leg("SHORT")["quantity"] == "0" and run.leg("SHORT")["realized_pnl"] == "2.03"


def test_mode_switch_refused_while_open_accepted_once_flat():
    """HM-MODE-002, HM-MODE-004: refused with MODE_SWITCH_WITH_POSITIONS, then accepted when flat."""
    run = Run()
    run.order("l", "BUY", "LONG", "0.1", "100")
    assert run.do("set_position_mode", account="A", mode="ONE_WAY")["reason"] == "MODE_SWITCH_WITH_POSITIONS"
    run.order("c", "SELL", "LONG", "0.1", "100")
    assert run.do("set_position_mode", account="A", mode="ONE_WAY")["kind"] == "accepted"
    assert run.do("set_position_mode", account="A", mode="ONE_WAY")["kind"] == "unchanged"
    assert set(run.snap["accounts"]["A"]["positions"]["BTCUSDT"]) == {"BOTH"}


def test_one_way_nets_and_flips():
    """HM-NET-002: BUY 0.1 then SELL 0.3 in one-way mode: 0.1 closed (PnL 0.1 x 10 = 1), 0.2 opened short."""
    run = Run(hedge=False)
    run.order("b", "BUY", "", "0.1", "100")
    out = run.order("s", "SELL", "", "0.3", "110")
    fill = next(e for e in out["events"] if e["type"] == "fill")
    assert fill["realized_pnl"] == "1"
    both = run.leg("BOTH")
    assert both["quantity"] == "-0.2" and both["entry_price"] == "110" and both["cost_basis"] == "-22"


def test_leverage_change_reprices_the_open_orders_of_the_leg():
    """HM-ORD-008: an opening order reserves initial margin at the leg's leverage in force, so a
    leverage change re-prices its reservation; a fill then allocates notional / new leverage.

    Seed: 20x by default, taker 0.0005, maker 0.0002 (fees reserved at the larger rate).
    Limit BUY 1 LONG @ 90: margin 90 / 20 = 4.5, fee reserve 90 x 0.0005 = 0.045 -> 4.545.
    At 5x: margin 90 / 5 = 18 -> 18.045. The fill (maker, 0.018 fee) allocates 18 to the leg.
    """
    run = CheckedRun("seed")
    run.place("b", "BTCUSDT", "BUY", "LONG", "1", "90", order_type="LIMIT")
    assert run.snap["accounts"]["A"]["order_margin"] == "4.545"
    outcome = run.do("set_leverage", account="A", instrument="BTCUSDT", position_side="LONG", leverage="5")
    assert outcome["kind"] == "accepted"
    assert run.snap["accounts"]["A"]["order_margin"] == "18.045"
    run.do("market_trade", instrument="BTCUSDT", price="89", quantity="1")
    leg = run.snap["accounts"]["A"]["positions"]["BTCUSDT"]["LONG"]
    assert (leg["quantity"], leg["isolated_margin"], leg["leverage"]) == ("1", "18", "5")


def test_leverage_change_refused_when_the_orders_cannot_be_covered():
    """A lower leverage that would reserve more than the available balance is refused, state unchanged."""
    run = CheckedRun("seed", wallet="10")
    run.place("b", "BTCUSDT", "BUY", "LONG", "1", "90", order_type="LIMIT")  # 4.545 of 10 reserved
    before = run.snap
    outcome = run.do("set_leverage", account="A", instrument="BTCUSDT", position_side="LONG", leverage="5")
    assert outcome["reason"] == "INSUFFICIENT_MARGIN"
    assert run.snap == before
