"""Modelled venue choices, each exercised on the model with its rule checks running (HM-MODE-005,
HM-ORD-004, HM-ORD-007, HM-FUND-003, HM-MODE-004)."""

from __future__ import annotations

from scenarios import CheckedRun


class Venue(CheckedRun):
    def order(self, oid: str, symbol: str, side: str, leg: str, qty: str, price: str, **kw: object) -> dict:
        return self.place(oid, symbol, side, leg, qty, price, **kw)


def test_bybit_coin_level_switch_skips_busy_symbols():
    """Bybit v5: a coin-level request switches idle symbols and leaves busy ones: partially applied."""
    venue = Venue("bybit-v5", hedge=False)
    venue.order("b", "BTCUSDT", "BUY", "", "0.1", "100")
    outcome = venue.do("set_position_mode", account="A", mode="HEDGE", scope="USDT")
    assert outcome["kind"] == "partially_applied" and "BTCUSDT" in outcome["message"]
    modes = venue.snap["accounts"]["A"]["position_mode"]
    assert modes == {"BTCUSDT": "ONE_WAY", "ETHUSDT_Q": "HEDGE"}
    assert venue.do("set_position_mode", account="A", mode="HEDGE", scope="ETHUSDT_Q")["reason"] == "MODE_IN_FORCE"


def test_okx_trims_oversized_closing_orders_least_favourable_first():
    """OKX v5: closing orders beyond the leg are accepted and trimmed, the lowest-priced sell first."""
    venue = Venue("okx-v5")
    venue.order("l", "BTCUSDT", "BUY", "LONG", "1", "100")
    venue.order("c1", "BTCUSDT", "SELL", "LONG", "0.6", "120", order_type="LIMIT")
    outcome = venue.order("c2", "BTCUSDT", "SELL", "LONG", "0.6", "110", order_type="LIMIT")
    assert outcome["kind"] == "accepted"
    trimmed = [e for e in outcome["events"] if e["type"] == "order" and e["status"] == "TRIMMED"]
    assert [(e["order_id"], e["quantity"]) for e in trimmed] == [("c2", "0.4")]
    orders = venue.snap["accounts"]["A"]["open_orders"]
    assert {k: v["quantity"] for k, v in orders.items()} == {"c1": "0.6", "c2": "0.4"}


def test_seed_rejects_what_okx_trims():
    venue = Venue("seed")
    venue.order("l", "BTCUSDT", "BUY", "LONG", "1", "100")
    venue.order("c1", "BTCUSDT", "SELL", "LONG", "0.6", "120", order_type="LIMIT")
    outcome = venue.order("c2", "BTCUSDT", "SELL", "LONG", "0.6", "110", order_type="LIMIT")
    assert outcome["reason"] == "REDUCE_EXCEEDS_LEG"


def test_binance_refuses_reduce_only_in_hedge_mode_bybit_accepts_it():
    for profile, expected in (("binance-usdm", "REDUCE_ONLY_FORBIDDEN"), ("bybit-v5", None)):
        venue = Venue(profile)
        venue.order("l", "BTCUSDT", "BUY", "LONG", "1", "100")
        outcome = venue.order("c", "BTCUSDT", "SELL", "LONG", "0.5", "101", reduce_only=True)
        assert outcome["reason"] == expected, profile


def test_bybit_takes_funding_from_the_wallet_first():
    """Bybit v5: an isolated leg's funding comes from the available balance, then the position margin."""
    venue = Venue("bybit-v5")
    venue.order("l", "BTCUSDT", "BUY", "LONG", "1", "100")
    venue.do("mark_price", instrument="BTCUSDT", price="100")
    outcome = venue.do("funding", instrument="BTCUSDT", rate="0.001")
    buckets = [(e["bucket"], e["amount"]) for e in outcome["events"] if e["type"] == "ledger"]
    assert buckets == [("wallet", "-0.1")]
    seed = Venue("seed")
    seed.order("l", "BTCUSDT", "BUY", "LONG", "1", "100")
    seed.do("mark_price", instrument="BTCUSDT", price="100")
    outcome = seed.do("funding", instrument="BTCUSDT", rate="0.001")
    assert [(e["bucket"], e["amount"]) for e in outcome["events"] if e["type"] == "ledger"] == [
        ("isolated_margin", "-0.1")]


def test_binance_leverage_and_margin_type_cover_the_instrument():
    venue = Venue("binance-usdm")
    assert venue.do("set_leverage", account="A", instrument="BTCUSDT", position_side="LONG",
                    leverage="10")["kind"] == "accepted"
    sides = venue.snap["accounts"]["A"]["positions"]["BTCUSDT"]
    assert sides["LONG"]["leverage"] == sides["SHORT"]["leverage"] == "10"


def test_gate_close_position_on_ordinary_orders_takes_the_whole_leg():
    """Gate: an ordinary order with close_position (size 0, auto_size) closes all its leg has left:
    a market one at once, a limit one when a trade reaches it (HM-STOP-005, HM-ORD-004)."""
    venue = Venue("gate")
    venue.order("l", "BTCUSDT", "BUY", "LONG", "1", "100")
    outcome = venue.order("cm", "BTCUSDT", "SELL", "LONG", "0", "100", close_position=True)
    fills = [e for e in outcome["events"] if e["type"] == "fill"]
    assert [(f["position_side"], f["quantity"]) for f in fills] == [("LONG", "1")]
    assert venue.snap["accounts"]["A"]["positions"]["BTCUSDT"]["LONG"]["quantity"] == "0"

    venue.order("l2", "BTCUSDT", "BUY", "LONG", "0.5", "100")
    venue.order("c1", "BTCUSDT", "SELL", "LONG", "0.2", "120", order_type="LIMIT")
    venue.order("cl", "BTCUSDT", "SELL", "LONG", "0", "110", order_type="LIMIT", close_position=True)
    assert venue.snap["accounts"]["A"]["open_orders"]["cl"]["quantity"] == "0.3"  # what c1 leaves to close
    assert venue.order("cl2", "BTCUSDT", "SELL", "LONG", "0", "115", order_type="LIMIT",
                       close_position=True)["reason"] == "REDUCE_EXCEEDS_LEG"
    venue.do("market_trade", instrument="BTCUSDT", price="121", quantity="5")
    assert venue.snap["accounts"]["A"]["positions"]["BTCUSDT"]["LONG"]["quantity"] == "0"


def test_okx_trim_counts_resting_closing_limits_only():
    """OKX v5 (trim): a take-profit waiting on the leg is not a resting closing limit; a closing limit
    that fits the leg beside it rests untouched (HM-ORD-004)."""
    venue = Venue("okx-v5")
    venue.order("s", "BTCUSDT", "SELL", "SHORT", "1", "100")
    venue.do("place_order", account="A", order_id="tp", instrument="BTCUSDT", side="BUY", position_side="SHORT",
             order_type="TAKE_PROFIT_MARKET", quantity="1", stop_price="95")
    outcome = venue.order("l", "BTCUSDT", "BUY", "SHORT", "1", "90", order_type="LIMIT")
    assert [(e["order_id"], e["status"]) for e in outcome["events"] if e["type"] == "order"] == [("l", "NEW")]
    assert sorted(venue.snap["accounts"]["A"]["open_orders"]) == ["l", "tp"]


def test_one_way_flip_cancels_reduce_only_orders_that_would_increase_it():
    """One-way: a reduce-only SELL resting against a long must not fill once the position has flipped
    short (it would grow the short): it is cancelled at the flip (HM-ORD-003)."""
    venue = Venue("seed", hedge=False)
    venue.order("o", "BTCUSDT", "BUY", "", "1", "100")
    venue.order("ro", "BTCUSDT", "SELL", "", "1", "110", order_type="LIMIT", reduce_only=True)
    outcome = venue.order("flip", "BTCUSDT", "SELL", "", "2", "100")
    assert ("ro", "CANCELLED", "leg_closed") in [(e["order_id"], e["status"], e["cause"]) for e in outcome["events"]
                                                  if e["type"] == "order"]
    assert venue.snap["accounts"]["A"]["positions"]["BTCUSDT"]["BOTH"]["quantity"] == "-1"
    venue.do("market_trade", instrument="BTCUSDT", price="115", quantity="1")
    assert venue.snap["accounts"]["A"]["positions"]["BTCUSDT"]["BOTH"]["quantity"] == "-1"
