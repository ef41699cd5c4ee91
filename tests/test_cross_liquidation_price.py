"""HM-LIQ-007: the shared liquidation price of an instrument's cross legs, each leg in its own bracket.

The published price P solves the pool equation exactly (wallet + PnL of every cross leg = their
maintenance, the instrument's own legs at P, each in the bracket its own notional falls in there),
and no lower positive price does. Both are checked here independently of the model's solver: the
pool function is linear between the prices where an own leg changes bracket, so it has no root
below P exactly when it keeps one strict sign at 0 and at every such price below P.
"""

from __future__ import annotations

from fractions import Fraction

from hedgespec.model import initial_state, snapshot, step
from hedgespec.model.codec import action_from_json
from hedgespec.model.margin import cross_liquidation_price, maintenance_margin
from hedgespec.model.positions import unrealized_pnl
from hedgespec.model.state import Account, Bracket, Config, Leg
from hedgespec.model.units import RATE_ONE
from hypothesis import example, given, settings
from hypothesis import strategies as st

BRACKETS = (Bracket(0, 50_000 * 10**16, 4 * 10**5, 0, 125),
            Bracket(50_000 * 10**16, 250_000 * 10**16, 5 * 10**5, 50 * 10**16, 100),
            Bracket(250_000 * 10**16, 0, 10**6, 1_300 * 10**16, 50))


def _bracket(notional: Fraction, brackets: tuple[Bracket, ...]) -> Bracket:
    return next(b for b in brackets if b.notional_cap == 0 or notional < b.notional_cap)


def pool_surplus(account: Account, own: list[Leg], price: Fraction, constant: int,
                 hedged: str = "both_legs") -> Fraction:
    """Equity minus maintenance of the pool at ``price`` for the own legs (unrounded), ``constant`` for the rest;
    under ``larger_leg`` only the larger own leg is charged maintenance (HM-MARG-007)."""
    total = Fraction(constant + account.wallet)
    charged = own if hedged == "both_legs" or len(own) < 2 else [max(own, key=lambda leg: abs(leg.quantity))]
    for leg in own:
        total += leg.quantity * price - leg.cost_basis
    for leg in charged:
        notional = abs(leg.quantity) * price
        bracket = _bracket(notional, BRACKETS)
        total -= notional * Fraction(bracket.maintenance_rate, RATE_ONE) - bracket.maintenance_amount
    return total


def _config(hedged: str = "both_legs") -> Config:
    from hedgespec.model.state import Instrument

    instruments = {s: Instrument(s, "USDT", "PERPETUAL", 10**7, 10**5, 0, 0, BRACKETS) for s in ("BTC", "ETH")}
    choices = {"default_margin_type": "CROSS", "default_leverage": 20, "hedged_maintenance": hedged}
    return Config(instruments, None, ("a",), choices)


legs = st.tuples(st.integers(1, 400), st.integers(20_000, 80_000))  # (quantity in 0.01, entry price)


@settings(max_examples=300, deadline=None)
@example(long=(1, 20000), short=None, other=None, other_side=1, other_mark=20000, wallet=200, hedged="both_legs")
@given(long=st.one_of(st.none(), legs), short=st.one_of(st.none(), legs), other=st.one_of(st.none(), legs),
       other_side=st.sampled_from([1, -1]), other_mark=st.integers(20_000, 80_000),
       wallet=st.integers(0, 2_000_000), hedged=st.sampled_from(["both_legs", "larger_leg"]))
def test_shared_price_solves_the_pool_and_no_lower_price_does(long, short, other, other_side, other_mark, wallet,
                                                              hedged):
    """HM-LIQ-007: exact root of the per-leg pool equation, the lowest positive one, or None when there is none;
    under either value of hedged_maintenance."""
    price_atoms, qty_atoms = 10**8, 10**6  # 1 in PRICE and 0.01 in QTY atoms (MONEY = QTY x PRICE)
    legs_by_key = {}
    for key, leg, sign in ((("BTC", "LONG"), long, 1), (("BTC", "SHORT"), short, -1), (("ETH", "LONG"), other, 0)):
        if leg is None:
            continue
        sign = sign or other_side
        quantity = sign * leg[0] * qty_atoms
        legs_by_key[key] = Leg(quantity, quantity * leg[1] * price_atoms)
    account = Account(wallet * 10**16, {}, legs_by_key, {}, {}, dict.fromkeys(legs_by_key))
    config = _config(hedged)
    marks = {"ETH": other_mark * price_atoms}
    own = [leg for (symbol, _), leg in legs_by_key.items() if symbol == "BTC"]
    price = cross_liquidation_price(config, account, "BTC", marks)
    if not own:
        assert price is None
        return
    constant = 0
    if ("ETH", "LONG") in legs_by_key:
        other_leg = legs_by_key[("ETH", "LONG")]
        constant = unrealized_pnl(other_leg, marks["ETH"]) - maintenance_margin(other_leg, marks["ETH"], BRACKETS)
    starts = sorted({Fraction(0)} | {Fraction(b.notional_floor, abs(leg.quantity)) for leg in own
                                     for b in BRACKETS[1:]})
    at_start = [pool_surplus(account, own, s, constant, hedged) for s in starts]
    if price is None:  # no positive root: one strict sign at every start and on the last, open-ended piece
        # (the pool may vanish at 0 itself, e.g. a long whose wallet is exactly its cost: 0 is not a positive root)
        far = starts[-1] * 2 + 10**20
        signs = {v > 0 for v in at_start if v != 0} | {pool_surplus(account, own, Fraction(far), constant, hedged) > 0}
        assert len(signs) == 1 and all(v != 0 for v in at_start[1:])
        return
    assert price > 0
    assert pool_surplus(account, own, price, constant, hedged) == 0
    below = [v for s, v in zip(starts, at_start, strict=True) if s < price]
    assert all(v != 0 for v in below[1:]) and len({v > 0 for v in below}) == 1


def test_legs_in_different_brackets_each_use_their_own():
    """A cross LONG 2 and SHORT 1 at 30000, wallet 5000: at the root the LONG's notional (about 50,600)
    is in the 1% bracket with amount 300, the SHORT's (about 25,300) in the 0.4% one. The pool
    equation 5000 + 2(P - 30000) - (P - 30000)... solved per leg gives P = 24700 / 0.976."""
    instrument = {"symbol": "BTCUSDT", "settle_asset": "USDT", "kind": "PERPETUAL", "tick_size": "0.1",
                  "lot_size": "0.001", "maker_rate": "0", "taker_rate": "0",
                  "brackets": [{"notional_floor": "0", "notional_cap": "50000", "maintenance_rate": "0.004",
                                "maintenance_amount": "0", "max_leverage": "50"},
                               {"notional_floor": "50000", "notional_cap": "0", "maintenance_rate": "0.01",
                                "maintenance_amount": "300", "max_leverage": "20"}]}
    state = initial_state({"profile": "seed", "instruments": [instrument],
                           "accounts": {"alice": {"wallet": "5000", "position_mode": {"*": "HEDGE"}}}})
    for t, raw in enumerate([
        {"kind": "set_margin_type", "account": "alice", "instrument": "BTCUSDT", "position_side": "LONG",
         "margin_type": "CROSS"},
        {"kind": "set_margin_type", "account": "alice", "instrument": "BTCUSDT", "position_side": "SHORT",
         "margin_type": "CROSS"},
        {"kind": "place_order", "account": "alice", "order_id": "l", "instrument": "BTCUSDT", "side": "BUY",
         "position_side": "LONG", "order_type": "MARKET", "quantity": "2", "price": "30000"},
        {"kind": "place_order", "account": "alice", "order_id": "s", "instrument": "BTCUSDT", "side": "SELL",
         "position_side": "SHORT", "order_type": "MARKET", "quantity": "1", "price": "30000"},
    ], 1):
        outcome, state = step(state, action_from_json({"t": t, **raw}, "example"))
        assert outcome.kind == "accepted", outcome
    rows = snapshot(state)["accounts"]["alice"]["positions"]["BTCUSDT"]
    # (2 x 30000 - 1 x 30000 - 5000 - 300) / (2 - 1 - 2 x 0.01 - 1 x 0.004) = 24700 / 0.976
    expected = Fraction(24700) / Fraction("0.976")
    assert rows["LONG"]["liquidation_price"] == rows["SHORT"]["liquidation_price"]
    assert abs(Fraction(rows["LONG"]["liquidation_price"]) - expected) < Fraction(1, 10**15)
    # the pool is breached just below that price and not just above it
    for mark, breached in (("25307.3", True), ("25307.4", False)):
        outcome, after = step(state, action_from_json({"t": 5, "kind": "mark_price", "instrument": "BTCUSDT",
                                                       "price": mark}, "example"))
        assert any(type(e).__name__ == "Liquidation" for e in outcome.events) is breached
