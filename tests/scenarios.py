"""Shared run parameters, a seeded random action generator and step replay helpers for the model's own
tests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hedgespec.spec.registry import StepView

BTC = {
    "symbol": "BTCUSDT", "settle_asset": "USDT", "kind": "PERPETUAL", "tick_size": "0.1", "lot_size": "0.001",
    "maker_rate": "0.0002", "taker_rate": "0.0005",
    "brackets": [
        {"notional_floor": "0", "notional_cap": "50000", "maintenance_rate": "0.004", "maintenance_amount": "0",
         "max_leverage": "125"},
        {"notional_floor": "50000", "notional_cap": "0", "maintenance_rate": "0.005", "maintenance_amount": "50",
         "max_leverage": "100"},
    ],
}
ETHQ = {
    "symbol": "ETHUSDT_Q", "settle_asset": "USDT", "kind": "DATED", "tick_size": "0.01", "lot_size": "0.01",
    "maker_rate": "0.0002", "taker_rate": "0.0005",
    "brackets": [{"notional_floor": "0", "notional_cap": "0", "maintenance_rate": "0.005",
                  "maintenance_amount": "0", "max_leverage": "50"}],
}


def hedge_modes(profile: str) -> dict[str, str]:
    """Hedge mode for every mode scope of the two instruments under the profile's mode_scope."""
    from hedgespec.spec.profiles import load_profile

    scope = load_profile(profile).effective("mode_scope")
    keys = {"account": ["*"], "settle_asset": ["USDT"], "instrument": [BTC["symbol"], ETHQ["symbol"]]}[scope]
    return {key: "HEDGE" for key in keys}


def params(profile: str = "seed", wallet: str = "1000", hedge: bool = True) -> dict[str, Any]:
    modes = hedge_modes(profile) if hedge else {}
    return {"instruments": [BTC, ETHQ], "profile": profile,
            "accounts": {"A": {"wallet": wallet, "position_mode": modes}, "B": {"wallet": wallet, "position_mode": modes}},
            "insurance_fund": "100", "mark_prices": {"BTCUSDT": "100", "ETHUSDT_Q": "50"}}


def random_actions(seed: int, count: int) -> list[dict[str, Any]]:
    """A seeded stream of actions of every kind, prices wandering into and through liquidation."""
    rng = random.Random(seed)
    prices = {"BTCUSDT": 1000, "ETHUSDT_Q": 5000}  # in ticks
    ticks = {"BTCUSDT": "0.1", "ETHUSDT_Q": "0.01"}
    out: list[dict[str, Any]] = []
    n = 0
    for t in range(1, count + 1):
        symbol = rng.choice(["BTCUSDT", "BTCUSDT", "ETHUSDT_Q"])
        prices[symbol] = max(10, prices[symbol] + rng.randint(-60, 60))
        price = str(prices[symbol] * Decimal(ticks[symbol]))
        account = rng.choice(["A", "B"])
        side_leg = rng.choice(["LONG", "SHORT", "LONG", "SHORT", "BOTH", ""])
        r = rng.random()
        n += 1
        if r < 0.30:
            out.append({"t": t, "kind": "place_order", "account": account, "order_id": f"o{n}", "instrument": symbol,
                        "side": rng.choice(["BUY", "SELL"]), "position_side": side_leg,
                        "order_type": rng.choice(["MARKET", "MARKET", "LIMIT"]),
                        "quantity": rng.choice(["0.01", "0.05", "0.1", "1", "0"]) if symbol == "BTCUSDT" else
                        rng.choice(["0.1", "0.5", "1"]), "price": price})
        elif r < 0.38:
            out.append({"t": t, "kind": "place_order", "account": account, "order_id": f"o{n}", "instrument": symbol,
                        "side": rng.choice(["BUY", "SELL"]), "position_side": side_leg,
                        "order_type": rng.choice(["STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"]),
                        "quantity": "0.05" if symbol == "BTCUSDT" else "0.5",
                        **({"stop_price": price} if rng.random() < 0.5 else {}),
                        **({"callback_rate": "0.01"} if rng.random() < 0.5 else {})})
        elif r < 0.58:
            out.append({"t": t, "kind": "mark_price", "instrument": symbol, "price": price})
        elif r < 0.66:
            out.append({"t": t, "kind": "market_trade", "instrument": symbol, "price": price,
                        "quantity": "0.1" if symbol == "BTCUSDT" else "1"})
        elif r < 0.72:
            out.append({"t": t, "kind": "funding", "instrument": symbol, "rate": rng.choice(["0.0001", "-0.0003", "0.01"])})
        elif r < 0.76:
            out.append({"t": t, "kind": "set_position_mode", "account": account,
                        "mode": rng.choice(["HEDGE", "ONE_WAY"])})
        elif r < 0.80:
            out.append({"t": t, "kind": "set_margin_type", "account": account, "instrument": symbol,
                        "position_side": side_leg, "margin_type": rng.choice(["ISOLATED", "CROSS"])})
        elif r < 0.84:
            out.append({"t": t, "kind": "set_leverage", "account": account, "instrument": symbol,
                        "position_side": side_leg, "leverage": rng.choice(["5", "20", "50"])})
        elif r < 0.88:
            out.append({"t": t, "kind": "adjust_margin", "account": account, "instrument": symbol,
                        "position_side": side_leg, "amount": rng.choice(["1", "-1", "5"])})
        elif r < 0.92:
            out.append({"t": t, "kind": "cancel_order", "account": account, "order_id": f"o{rng.randint(1, n)}"})
        elif r < 0.95:
            out.append({"t": t, "kind": rng.choice(["deposit", "withdraw"]), "account": account,
                        "amount": rng.choice(["10", "100"])})
        elif r < 0.96:
            out.append({"t": t, "kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": price
                        if symbol == "ETHUSDT_Q" else "50"})
        else:
            out.append({"t": t, "kind": "place_order", "account": account, "order_id": f"o{n}", "instrument": symbol,
                        "side": "SELL", "position_side": "LONG", "order_type": "STOP_MARKET", "quantity": "0",
                        "close_position": True, "stop_price": price})
    return out


def _order(t: int, oid: str, side: str, leg: str, qty: str, price: str = "", **kw: Any) -> dict[str, Any]:
    action = {"t": t, "kind": "place_order", "account": "A", "order_id": oid, "instrument": "BTCUSDT", "side": side,
              "position_side": leg, "order_type": kw.pop("order_type", "MARKET"), "quantity": qty, **kw}
    if price:
        action["price"] = price
    return action


def directed_actions() -> list[list[dict[str, Any]]]:
    """Short scenarios for situations a random walk reaches rarely (each on hedge-mode params)."""
    cross_pair = [
        {"t": 1, "kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG",
         "margin_type": "CROSS"},
        {"t": 2, "kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT", "position_side": "SHORT",
         "margin_type": "CROSS"},
        _order(3, "l", "BUY", "LONG", "1", "100"), _order(4, "s", "SELL", "SHORT", "1", "100"),
        {"t": 5, "kind": "mark_price", "instrument": "BTCUSDT", "price": "109990.1"},
    ]
    stop_and_liquidation = [
        _order(1, "l", "BUY", "LONG", "1", "100"), _order(2, "s", "SELL", "SHORT", "1", "100"),
        _order(3, "tp", "SELL", "LONG", "1", order_type="TAKE_PROFIT_MARKET", stop_price="104"),
        {"t": 4, "kind": "mark_price", "instrument": "BTCUSDT", "price": "105"},
    ]
    trailing = [
        _order(1, "l", "BUY", "LONG", "1", "100"),
        _order(2, "tl", "SELL", "LONG", "1", order_type="TRAILING_STOP_MARKET", callback_rate="0.05"),
        {"t": 3, "kind": "mark_price", "instrument": "BTCUSDT", "price": "100"},
        {"t": 4, "kind": "mark_price", "instrument": "BTCUSDT", "price": "102"},
        {"t": 5, "kind": "mark_price", "instrument": "BTCUSDT", "price": "101"},
    ]
    trailing_activation = [  # inactive below its activation price, then tracks from it and fires
        _order(1, "l", "BUY", "LONG", "1", "100"),
        _order(2, "ta", "SELL", "LONG", "1", order_type="TRAILING_STOP_MARKET", activation_price="110",
               callback_rate="0.01"),
        {"t": 3, "kind": "mark_price", "instrument": "BTCUSDT", "price": "101"},
        {"t": 4, "kind": "mark_price", "instrument": "BTCUSDT", "price": "99.9"},
        {"t": 5, "kind": "mark_price", "instrument": "BTCUSDT", "price": "111"},
        {"t": 6, "kind": "mark_price", "instrument": "BTCUSDT", "price": "109"},
    ]
    two_closes_one_trade = [  # one market trade reduces a leg by two fills (HM-POS-002, HM-MARG-003)
        _order(1, "l", "BUY", "LONG", "3", "100"),
        _order(2, "c1", "SELL", "LONG", "1", "110", order_type="LIMIT"),
        _order(3, "c2", "SELL", "LONG", "1", "111", order_type="LIMIT"),
        {"t": 4, "kind": "market_trade", "instrument": "BTCUSDT", "price": "112", "quantity": "2"},
    ]
    one_price_two_arrivals = [  # the trade runs out between two orders at one price (HM-ORD-006, time)
        _order(1, "b1", "BUY", "LONG", "1", "99", order_type="LIMIT"),
        _order(2, "b2", "BUY", "LONG", "1", "99", order_type="LIMIT"),
        {"t": 3, "kind": "market_trade", "instrument": "BTCUSDT", "price": "98", "quantity": "1"},
    ]
    off_format = [  # an order a lenient reader takes: a field it lacks, a name as a list (HM-ATOM-002)
        _order(1, "l", "BUY", "LONG", "1", "100"), {**_order(2, "x", "BUY", "LONG", "1", "100"), "client_tag": "x"},
        {**_order(3, "y", "BUY", "LONG", "1", "100"), "account": ["A"]},
    ]
    return [cross_pair, stop_and_liquidation, trailing, trailing_activation, two_closes_one_trade,
            one_price_two_arrivals, off_format]


class CheckedRun:
    """A reference run on ``params(profile, ...)`` that checks every step rule after every step."""

    def __init__(self, profile: str = "seed", **kw: Any) -> None:
        from hedgespec.conformance.adapter import ReferenceAdapter

        self.params = params(profile, **kw)
        self.adapter = ReferenceAdapter(profile)
        self.adapter.reset(self.params)
        self.snap = self.adapter.snapshot()
        self.shown: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.t = 0

    def do(self, kind: str, **fields: Any) -> dict[str, Any]:
        from hedgespec.spec.observe import rows_shown
        from hedgespec.spec.registry import StepView
        from hedgespec.spec.rulebook import run_step_checks

        self.t += 1
        action = {"t": self.t, "kind": kind, **fields}
        outcome = self.adapter.apply(action)
        after = self.adapter.snapshot()
        self.shown = rows_shown(self.shown, self.snap)
        violations = run_step_checks(StepView(self.params, self.snap, action, outcome, after, self.shown))
        assert violations == [], [str(v) for v in violations]
        self.snap = after
        return outcome

    def place(self, oid: str, symbol: str, side: str, leg: str, qty: str, price: str, **kw: Any) -> dict[str, Any]:
        return self.do("place_order", account="A", order_id=oid, instrument=symbol, side=side, position_side=leg,
                       order_type=kw.pop("order_type", "MARKET"), quantity=qty, price=price, **kw)


# Replaying actions on an adapter ----------------------------------------------------------------------------

Case = tuple[dict[str, Any], list[dict[str, Any]]]  # (params, actions)


def iter_step_views(adapter: Any, p: dict[str, Any], actions: list[dict[str, Any]], *,
                    keep_t: bool = False) -> Iterator[StepView]:
    """Reset ``adapter`` to ``p`` and yield each step of ``actions`` as it is played, t numbered from 1
    (``keep_t``: an action's own t, where it has one, wins over its place)."""
    from hedgespec.spec.observe import rows_shown
    from hedgespec.spec.registry import StepView

    adapter.reset(p)
    before = adapter.snapshot()
    shown: dict[tuple[str, str, str], dict[str, Any]] = {}
    for t, raw in enumerate(actions, 1):
        action = {"t": t, **raw} if keep_t else {**raw, "t": t}
        outcome = adapter.apply(action)
        after = adapter.snapshot()
        shown = rows_shown(shown, before)
        yield StepView(p, before, action, outcome, after, shown)
        before = after


def step_views(adapter: Any, p: dict[str, Any], actions: list[dict[str, Any]]) -> list[StepView]:
    """Every step of ``actions`` (t numbered from 1) on ``adapter`` reset to ``p``."""
    return list(iter_step_views(adapter, p, actions))


def reference_steps(p: dict[str, Any], actions: list[dict[str, Any]]) -> list[StepView]:
    """Every step of ``actions`` (t numbered from 1) on the reference under ``p``'s profile."""
    from hedgespec.conformance.adapter import ReferenceAdapter

    return step_views(ReferenceAdapter(p["profile"]), p, actions)


def step_violations(adapter: Any, p: dict[str, Any], actions: list[dict[str, Any]]) -> list[str]:
    """Every step check's findings over ``actions`` (t numbered from 1) on ``adapter`` reset to ``p``."""
    from hedgespec.spec.rulebook import run_step_checks

    return [str(v) for view in iter_step_views(adapter, p, actions) for v in run_step_checks(view)]


def checked_steps(p: dict[str, Any], actions: list[dict[str, Any]], *,
                  keep_t: bool = False) -> list[StepView]:
    """The reference's steps of ``actions`` under ``p`` (its profile a name or a file), asserting that every
    step check passes on each as it is played (t numbered from 1; ``keep_t`` as in ``iter_step_views``)."""
    from hedgespec.conformance.adapter import ReferenceAdapter
    from hedgespec.spec.rulebook import run_step_checks

    views = []
    for view in iter_step_views(ReferenceAdapter(p["profile"]), p, actions, keep_t=keep_t):
        found = [str(v) for v in run_step_checks(view)]
        assert found == [], found
        views.append(view)
    return views


def assert_mutant_caught(name: str, rule_id: str, case: Case) -> None:
    """On ``case`` (params, actions) the reference passes every step check under the case's profile, and the
    library's mutant ``name``, adapted to the same profile, trips ``rule_id``."""
    from hedgespec.conformance.adapter import ReferenceAdapter
    from hedgespec.conformance.mutants import MUTANT_BY_NAME

    p, actions = case
    assert step_violations(ReferenceAdapter(p["profile"]), p, actions) == []
    found = step_violations(MUTANT_BY_NAME[name].adapter(p["profile"]), p, actions)
    assert any(v.startswith(rule_id + ":") for v in found), found
