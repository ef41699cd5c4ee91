"""Hypothesis drives the reference model through every action kind, in both modes, several accounts and
every built-in profile, and evaluates every step check after every step. Each rule must be exercised
(its situation must arise at least once), or the test fails: a check that never runs proves nothing.
Rare transitions are counted too: a cross pool driven into liquidation (seed), and under
examples/profiles/offset-hedged-first.json a breached pool whose hedged legs are offset.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.generate import off_format
from hedgespec.conformance.machine import DataChooser
from hedgespec.spec.observe import action_format_problems, row, rows, rows_shown
from hedgespec.spec.profiles import builtin_profile_names
from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import run_step_checks, step_rules
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from scenarios import params

TICK = {"BTCUSDT": Decimal("0.1"), "ETHUSDT_Q": Decimal("0.01")}
QTY = {"BTCUSDT": ["0.001", "0.01", "0.05", "0.1", "0.5"], "ETHUSDT_Q": ["0.1", "0.5", "1"]}
SIDES = st.sampled_from(["LONG", "SHORT", "BOTH", ""])


def _events(view: StepView, kind: str, **match: str) -> list[dict]:
    return [e for e in view.outcome["events"]
            if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


def _reason(*reasons: str) -> Callable[[StepView], bool]:
    return lambda v: v.outcome.get("reason") in reasons


def _open_rows(snapshot: dict, margin_type: str) -> bool:
    return any(r["quantity"] != "0" and r["margin_type"] == margin_type
               for acc in snapshot["accounts"].values() for sides in acc["positions"].values() for r in sides.values())


def _leg_closed(v: StepView) -> bool:
    return any(f["position_side"] != "BOTH" for f in _events(v, "fill")) and any(
        r["quantity"] == "0" for acc in v.after["accounts"].values() for s in acc["positions"].values()
        for r in s.values())


# When a rule's situation arises on a step (the rule is "exercised"); default: its action kinds.
EXERCISED: dict[str, Callable[[StepView], bool]] = {
    "HM-MODE-002": _reason("MODE_SWITCH_WITH_POSITIONS"),
    "HM-MODE-003": _reason("MODE_SWITCH_WITH_OPEN_ORDERS"),
    "HM-MODE-004": lambda v: v.action["kind"] == "set_position_mode" and (
        v.outcome["kind"] == "unchanged" or v.outcome.get("reason") == "MODE_IN_FORCE"),
    "HM-MODE-005": lambda v: v.action["kind"] == "set_position_mode" and v.outcome["kind"] == "accepted",
    "HM-ORD-001": _reason("POSITION_SIDE_MISMATCH"),
    "HM-ORD-003": lambda v: any((f["position_side"] == "LONG") == (f["side"] == "SELL") for f in _events(v, "fill")
                                if f["position_side"] != "BOTH"),
    "HM-ORD-004": lambda v: v.outcome.get("reason") == "REDUCE_EXCEEDS_LEG" or bool(_events(v, "order", status="TRIMMED")),
    "HM-ORD-005": _reason("INVALID_ARGUMENT"),
    "HM-ORD-006": lambda v: any(f["cause"] == "order" for f in _events(v, "fill")),
    "HM-ORD-008": _reason("INSUFFICIENT_MARGIN"),
    "HM-NET-001": lambda v: bool(_events(v, "fill")) and any(
        f["position_side"] != "BOTH" for f in _events(v, "fill")),
    "HM-NET-002": lambda v: bool(_events(v, "fill", position_side="BOTH")),
    "HM-POS-001": lambda v: bool(_events(v, "fill")),
    "HM-POS-002": lambda v: any(f["realized_pnl"] != "0" for f in _events(v, "fill")),
    "HM-POS-004": lambda v: bool(_events(v, "fill")) or bool(_events(v, "funding")),
    "HM-MARG-001": lambda v: v.action["kind"] in ("set_margin_type", "set_leverage") and v.outcome["kind"] == "accepted",
    "HM-MARG-002": lambda v: v.action["kind"] == "adjust_margin" and v.outcome["kind"] == "accepted",
    "HM-MARG-003": lambda v: any((f["position_side"] == "LONG") == (f["side"] == "SELL") and f["cause"] == "order"
                                 for f in _events(v, "fill") if f["position_side"] != "BOTH"),
    "HM-MARG-004": lambda v: v.action["kind"] == "set_margin_type" and v.outcome["kind"] == "accepted",
    "HM-MARG-005": _reason("MARGIN_TYPE_WITH_POSITION", "MARGIN_TYPE_WITH_OPEN_ORDERS"),
    "HM-MARG-006": lambda v: _open_rows(v.after, "ISOLATED") or _open_rows(v.after, "CROSS"),
    "HM-FEE-001": lambda v: bool(_events(v, "fill")),
    "HM-FUND-001": lambda v: bool(_events(v, "funding")),
    "HM-FUND-002": lambda v: len(_events(v, "funding")) >= 2,
    "HM-FUND-003": lambda v: bool(_events(v, "funding")),
    "HM-LIQ-001": lambda v: any(e["position_side"] in ("LONG", "SHORT") for e in _events(v, "liquidation")),
    "HM-LIQ-002": lambda v: v.action["kind"] == "mark_price" and _open_rows(v.before, "ISOLATED"),
    "HM-LIQ-003": lambda v: any(e["position_side"] != "CROSS" for e in _events(v, "liquidation")),
    "HM-LIQ-004": lambda v: any(e["position_side"] != "CROSS" for e in _events(v, "liquidation")),
    "HM-LIQ-005": lambda v: v.action["kind"] == "mark_price" and _open_rows(v.before, "CROSS"),
    "HM-LIQ-006": lambda v: bool(_events(v, "liquidation")) and _open_rows(v.before, "CROSS") and _open_rows(
        v.before, "ISOLATED"),
    "HM-LIQ-007": lambda v: _open_rows(v.after, "ISOLATED"),
    "HM-LIQ-008": lambda v: v.action["kind"] == "mark_price" and bool(_events(v, "order", status="TRIGGERED")),
    "HM-STOP-001": lambda v: bool(_events(v, "order", status="TRIGGERED")),
    "HM-STOP-002": lambda v: bool(_events(v, "order", status="TRIGGERED")),
    "HM-STOP-003": lambda v: v.action["kind"] in ("mark_price", "market_trade") and any(
        o["order_type"] == "TRAILING_STOP_MARKET" for acc in v.before["accounts"].values()
        for o in acc["open_orders"].values()),
    "HM-STOP-004": _leg_closed,
    "HM-STOP-005": lambda v: any(e["status"] == "TRIGGERED" and v.before["accounts"][e["account"]]["open_orders"].get(
        e["order_id"], {}).get("close_position") for e in _events(v, "order")),
    "HM-SETL-001": lambda v: v.action["kind"] == "expire" and v.outcome["kind"] == "accepted" and bool(
        _events(v, "fill")),
    "HM-SETL-002": _reason("INSTRUMENT_EXPIRED"),
    "HM-ATOM-001": lambda v: v.outcome["kind"] == "rejected",
    "HM-ATOM-002": lambda v: bool(action_format_problems(v.action)),
    "HM-MODE-009": lambda v: v.action["kind"] == "set_position_mode" and any(
        row(v.before, a, s, side) is None and (a, s, side) in v.shown for a, s, side, _ in rows(v.after)),
    "HM-ACCT-001": lambda v: v.action.get("account") is not None and v.outcome["kind"] == "accepted",
    "HM-LEDG-001": lambda v: bool(_events(v, "ledger")),
}

# Rules whose situation cannot arise under a profile (documented choices it does not exercise).
NOT_UNDER_PROFILE: dict[str, set[str]] = {}


class ModelMachine(RuleBasedStateMachine):
    """Drives the reference model; every step check runs after every step."""

    profile = "seed"
    exercised: collections.Counter = collections.Counter()
    transitions: dict[str, Callable[[StepView], bool]] = {}  # rare transitions a test counts, by name
    seen: collections.Counter = collections.Counter()
    stops_driven = True  # drive_to_a_stop on: the mark sent to waiting stops on purpose
    cross_hedging = False  # hedge_a_cross_leg on: open cross legs matched by their other leg

    def __init__(self) -> None:
        super().__init__()
        self.adapter = ReferenceAdapter(self.profile)
        self.t = 0
        self.orders = 0
        self.prices = {"BTCUSDT": Decimal(100), "ETHUSDT_Q": Decimal(50)}

    @initialize(hedge=st.booleans(), wallet=st.sampled_from(["30", "300", "3000"]), cross=st.sampled_from(["", "", "B"]))
    def start(self, hedge: bool, wallet: str, cross: str) -> None:
        """``cross``: an account whose legs all start cross margined (a leg's margin type changes only while
        it is flat, so a pool of open cross legs is otherwise rare)."""
        self.params = params(self.profile, wallet=wallet, hedge=hedge)
        cross = cross or ("A" if self.cross_hedging else "")  # a machine matching cross legs has a cross account
        if cross:
            self.params["accounts"][cross]["leg_settings"] = {
                symbol: {side: {"margin_type": "CROSS", "leverage": "20"} for side in ("BOTH", "LONG", "SHORT")}
                for symbol in TICK}
        self.adapter.reset(self.params)
        self.snapshot = self.adapter.snapshot()
        self.shown: dict[tuple[str, str, str], dict[str, Any]] = {}  # the run's rows so far (HM-MODE-009)

    def apply(self, action: dict[str, Any]) -> None:
        self.t += 1
        action = {"t": self.t, **action}
        outcome = self.adapter.apply(action)
        after = self.adapter.snapshot()
        self.shown = rows_shown(self.shown, self.snapshot)
        view = StepView(self.params, self.snapshot, action, outcome, after, self.shown)
        violations = run_step_checks(view)
        assert not violations, "\n".join(str(v) for v in violations)
        for r in step_rules():
            when = EXERCISED.get(r.id)
            applies = when(view) if when else (not r.applies_to or action["kind"] in r.applies_to)
            if applies:
                type(self).exercised[r.id] += 1
        for name, when in self.transitions.items():
            type(self).seen[name] += when(view)
        self.snapshot = after

    def price(self, symbol: str, move: int) -> str:
        self.prices[symbol] = max(TICK[symbol] * 10, self.prices[symbol] + TICK[symbol] * move)
        return str(self.prices[symbol])

    def scope(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(["*", "USDT", "BTCUSDT", "ETHUSDT_Q"]))

    @rule(data=st.data())
    def place_order(self, data: st.DataObject) -> None:
        symbol = data.draw(st.sampled_from(sorted(TICK)))
        self.orders += 1
        order_type = data.draw(st.sampled_from(["MARKET", "MARKET", "LIMIT", "STOP_MARKET", "TAKE_PROFIT_MARKET",
                                                "TRAILING_STOP_MARKET"]))
        action: dict[str, Any] = {
            "kind": "place_order", "account": data.draw(st.sampled_from(["A", "B"])), "order_id": f"o{self.orders}",
            "instrument": symbol, "side": data.draw(st.sampled_from(["BUY", "SELL"])),
            "position_side": data.draw(SIDES), "order_type": order_type,
            "quantity": data.draw(st.sampled_from(QTY[symbol] + ["0", "-1", "0.0001"])),
        }
        price = self.price(symbol, data.draw(st.integers(-20, 20)))
        if order_type in ("MARKET", "LIMIT"):
            action["price"] = price
        elif order_type == "TRAILING_STOP_MARKET":
            action["callback_rate"] = data.draw(st.sampled_from(["0.001", "0.01", "0.05"]))
            if data.draw(st.booleans()):
                action["activation_price"] = price
        else:
            action["stop_price"] = price
            if data.draw(st.booleans()):
                action.update(quantity="0", close_position=True)
        if data.draw(st.integers(0, 9)) == 0:
            action["reduce_only"] = True
        self.apply(action)

    @rule(data=st.data(), account=st.sampled_from(["A", "B"]), symbol=st.sampled_from(sorted(TICK)))
    def send_off_the_format(self, data: st.DataObject, account: str, symbol: str) -> None:
        """An order not of the action format, as a lenient client might send it (HM-ATOM-002)."""
        self.orders += 1
        order = {"kind": "place_order", "account": account, "order_id": f"o{self.orders}",
                 "instrument": symbol, "side": "BUY", "position_side": "LONG", "order_type": "MARKET",
                 "quantity": QTY[symbol][0], "price": self.price(symbol, 0)}
        self.apply(off_format(DataChooser(data), order))

    def hedged(self, account: str, symbol: str) -> bool:
        modes = self.snapshot["accounts"][account]["position_mode"]
        return "HEDGE" in (modes.get("*"), modes.get("USDT"), modes.get(symbol))

    @rule(data=st.data(), account=st.sampled_from(["A", "B"]), symbol=st.sampled_from(sorted(TICK)),
          opening=st.booleans(), leg=st.sampled_from(["LONG", "SHORT"]), limit=st.integers(0, 3))
    def trade_a_leg(self, data: st.DataObject, account: str, symbol: str, opening: bool, leg: str,
                    limit: int) -> None:
        """A well-formed order on a leg (or the net position): most steps should do something."""
        self.orders += 1
        hedged = self.hedged(account, symbol)
        row = self.snapshot["accounts"][account]["positions"][symbol].get(leg if hedged else "BOTH")
        opening = opening or row is None or row["quantity"] == "0"
        side = "BUY" if (leg == "LONG") == opening else "SELL"
        price = self.price(symbol, data.draw(st.integers(-5, 5)))
        quantity = data.draw(st.sampled_from(QTY[symbol]))
        if not opening and row is not None and row["quantity"] != "0" and data.draw(st.booleans()):
            quantity = row["quantity"].lstrip("-")
        self.apply({"kind": "place_order", "account": account, "order_id": f"o{self.orders}", "instrument": symbol,
                    "side": side, "position_side": leg if hedged else "", "order_type": "LIMIT" if limit == 0 else
                    "MARKET", "quantity": quantity, "price": price})

    def unmatched_cross_legs(self) -> list[tuple[str, str, str, Decimal]]:
        """Open cross hedge legs whose other leg is smaller: (account, instrument, the other leg, the difference)."""
        found = []
        for account, symbol, side in self.open_legs():
            rows = self.snapshot["accounts"][account]["positions"][symbol]
            other = "SHORT" if side == "LONG" else "LONG"
            if side == "BOTH" or rows[side]["margin_type"] != "CROSS" or rows[other]["margin_type"] != "CROSS":
                continue
            gap = abs(Decimal(rows[side]["quantity"])) - abs(Decimal(rows[other]["quantity"]))
            if gap > 0:
                found.append((account, symbol, other, gap))
        return found

    @precondition(lambda self: self.cross_hedging and hasattr(self, "snapshot") and bool(self.unmatched_cross_legs()))
    @rule(data=st.data())
    def hedge_a_cross_leg(self, data: st.DataObject) -> None:
        """The other leg of an open cross leg opened to the same size, at the mark (a fully hedged pair in a
        cross pool, whose breach a profile may answer by offsetting the pair first): only where a machine turns
        ``cross_hedging`` on, so that the transition it needs does not hang on the walk."""
        account, symbol, leg, gap = data.draw(st.sampled_from(self.unmatched_cross_legs()))
        self.orders += 1
        self.apply({"kind": "place_order", "account": account, "order_id": f"o{self.orders}", "instrument": symbol,
                    "side": "BUY" if leg == "LONG" else "SELL", "position_side": leg, "order_type": "MARKET",
                    "quantity": str(gap), "price": str(self.prices[symbol])})

    @rule(account=st.sampled_from(["A", "B"]), symbol=st.sampled_from(sorted(TICK)),
          leg=st.sampled_from(["LONG", "SHORT"]))
    def rest_an_order(self, account: str, symbol: str, leg: str) -> None:
        """A limit order far from the market, which rests (and blocks a mode switch)."""
        self.orders += 1
        away = TICK[symbol] * 200
        price = self.prices[symbol] - away if leg == "LONG" else self.prices[symbol] + away
        if price <= 0:
            return
        self.apply({"kind": "place_order", "account": account, "order_id": f"o{self.orders}", "instrument": symbol,
                    "side": "BUY" if leg == "LONG" else "SELL",
                    "position_side": leg if self.hedged(account, symbol) else "", "order_type": "LIMIT",
                    "quantity": QTY[symbol][0], "price": str(price)})

    def open_legs(self) -> list[tuple[str, str, str]]:
        return [(account, symbol, side) for account, acc in sorted(self.snapshot["accounts"].items())
                for symbol, rows in sorted(acc["positions"].items()) for side, r in sorted(rows.items())
                if r["quantity"] != "0"]

    @precondition(lambda self: hasattr(self, "snapshot") and bool(self.open_legs()))
    @rule(data=st.data(), kind=st.sampled_from(["STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"]))
    def protect_a_leg(self, data: st.DataObject, kind: str) -> None:
        """A conditional closing order on an open leg, on the side of the mark it has not reached."""
        self.orders += 1
        account, symbol, side = data.draw(st.sampled_from(self.open_legs()))
        one_way = side == "BOTH"
        row = self.snapshot["accounts"][account]["positions"][symbol][side]
        long = not row["quantity"].startswith("-")
        away = data.draw(st.integers(2, 30))
        below = (kind == "STOP_MARKET") == long
        stop = max(TICK[symbol], self.prices[symbol] + TICK[symbol] * (-away if below else away))
        action: dict[str, Any] = {"kind": "place_order", "account": account, "order_id": f"o{self.orders}",
                                  "instrument": symbol, "side": "SELL" if long else "BUY",
                                  "position_side": "" if one_way else side, "order_type": kind,
                                  "quantity": row["quantity"].lstrip("-"), "reduce_only": one_way}
        if kind == "TRAILING_STOP_MARKET":
            action["callback_rate"] = data.draw(st.sampled_from(["0.002", "0.01"]))
        else:
            action["stop_price"] = str(stop)
            if data.draw(st.booleans()):
                action.update(quantity="0", close_position=True, reduce_only=False)
        self.apply(action)

    @rule(account=st.sampled_from(["A", "B"]), symbol=st.sampled_from(sorted(TICK)),
          leg=st.sampled_from(["LONG", "SHORT"]), margin_type=st.sampled_from(["CROSS", "CROSS", "ISOLATED"]))
    def choose_margin_type(self, account: str, symbol: str, leg: str, margin_type: str) -> None:
        """A well-formed margin-type request for a leg of the mode in force."""
        self.apply({"kind": "set_margin_type", "account": account, "instrument": symbol,
                    "position_side": leg if self.hedged(account, symbol) else "", "margin_type": margin_type})

    @rule(account=st.sampled_from(["A", "B"]), symbol=st.sampled_from(sorted(TICK)),
          leg=st.sampled_from(["LONG", "SHORT"]), amount=st.sampled_from(["0.5", "2", "-0.01"]))
    def move_leg_margin(self, account: str, symbol: str, leg: str, amount: str) -> None:
        """A well-formed isolated-margin change on a leg of the mode in force."""
        self.apply({"kind": "adjust_margin", "account": account, "instrument": symbol,
                    "position_side": leg if self.hedged(account, symbol) else "", "amount": amount})

    @rule(symbol=st.sampled_from(sorted(TICK)), move=st.sampled_from([-400, -150, 150, 400]))
    def price_shock(self, symbol: str, move: int) -> None:
        """A large mark move, into and through liquidation on either leg."""
        self.apply({"kind": "mark_price", "instrument": symbol, "price": self.price(symbol, move)})

    def cross_liquidation_prices(self) -> list[tuple[str, Decimal]]:
        return sorted({(symbol, Decimal(r["liquidation_price"])) for acc in self.snapshot["accounts"].values()
                       for symbol, rows in acc["positions"].items() for r in rows.values()
                       if r["quantity"] != "0" and r["margin_type"] == "CROSS" and r.get("liquidation_price")})

    @precondition(lambda self: hasattr(self, "snapshot") and bool(self.cross_liquidation_prices()))
    @rule(data=st.data(), beyond=st.integers(0, 3) | st.integers(0, 40))
    def drive_to_liquidation(self, data: st.DataObject, beyond: int) -> None:
        """The mark moved to the liquidation price the snapshot reports for a pool's cross legs, and
        ``beyond`` ticks past it: a pool backed by the whole wallet, which random marks rarely breach,
        breached at its edge (isolated legs are breached by ``price_shock``)."""
        symbol, target = data.draw(st.sampled_from(self.cross_liquidation_prices()))
        tick = TICK[symbol]
        falling = target < self.prices[symbol]
        edge = (target / tick).to_integral_value(ROUND_FLOOR if falling else ROUND_CEILING) * tick
        self.prices[symbol] = max(tick * 10, edge + (-tick if falling else tick) * beyond)
        self.apply({"kind": "mark_price", "instrument": symbol, "price": str(self.prices[symbol])})

    def waiting_stops(self) -> list[tuple[str, Decimal]]:
        return sorted({(o["instrument"], Decimal(o["stop_price"])) for acc in self.snapshot["accounts"].values()
                       for o in acc["open_orders"].values() if o["order_type"] in ("STOP_MARKET", "TAKE_PROFIT_MARKET")})

    @precondition(lambda self: self.stops_driven and hasattr(self, "snapshot") and bool(self.waiting_stops()))
    @rule(data=st.data(), beyond=st.integers(0, 5))
    def drive_to_a_stop(self, data: st.DataObject, beyond: int) -> None:
        """The mark moved to a waiting stop's price and ``beyond`` ticks past it, from whichever side it is on:
        stops and take-profits (close-position ones included) fire on purpose, not only when a random walk
        happens to reach them, so how often they fire does not hang on the walk."""
        symbol, stop = data.draw(st.sampled_from(self.waiting_stops()))
        tick = TICK[symbol]
        self.prices[symbol] = max(tick, stop + (-tick if stop < self.prices[symbol] else tick) * beyond)
        self.apply({"kind": "mark_price", "instrument": symbol, "price": str(self.prices[symbol])})

    @rule(symbol=st.sampled_from(sorted(TICK)), move=st.integers(-60, 60))
    def mark_price(self, symbol: str, move: int) -> None:
        self.apply({"kind": "mark_price", "instrument": symbol, "price": self.price(symbol, move)})

    @rule(symbol=st.sampled_from(sorted(TICK)), move=st.integers(-20, 20), qty=st.sampled_from(["0.1", "1"]))
    def market_trade(self, symbol: str, move: int, qty: str) -> None:
        self.apply({"kind": "market_trade", "instrument": symbol, "price": self.price(symbol, move), "quantity": qty})

    @rule(symbol=st.sampled_from(sorted(TICK)), rate=st.sampled_from(["0.0001", "-0.0003", "0.05"]))
    def funding(self, symbol: str, rate: str) -> None:
        self.apply({"kind": "funding", "instrument": symbol, "rate": rate})

    @rule(data=st.data())
    def set_position_mode(self, data: st.DataObject) -> None:
        self.apply({"kind": "set_position_mode", "account": data.draw(st.sampled_from(["A", "B"])),
                    "mode": data.draw(st.sampled_from(["HEDGE", "ONE_WAY"])), "scope": self.scope(data)})

    @rule(account=st.sampled_from(["A", "B"]), symbol=st.sampled_from(sorted(TICK)), side=SIDES,
          margin_type=st.sampled_from(["ISOLATED", "CROSS"]))
    def set_margin_type(self, account: str, symbol: str, side: str, margin_type: str) -> None:
        self.apply({"kind": "set_margin_type", "account": account, "instrument": symbol, "position_side": side,
                    "margin_type": margin_type})

    @rule(account=st.sampled_from(["A", "B"]), symbol=st.sampled_from(sorted(TICK)), side=SIDES,
          leverage=st.sampled_from(["1", "20", "50", "50", "500"]))
    def set_leverage(self, account: str, symbol: str, side: str, leverage: str) -> None:
        self.apply({"kind": "set_leverage", "account": account, "instrument": symbol, "position_side": side,
                    "leverage": leverage})

    @rule(account=st.sampled_from(["A", "B"]), symbol=st.sampled_from(sorted(TICK)), side=SIDES,
          amount=st.sampled_from(["1", "-0.5", "10", "-100"]))
    def adjust_margin(self, account: str, symbol: str, side: str, amount: str) -> None:
        self.apply({"kind": "adjust_margin", "account": account, "instrument": symbol, "position_side": side,
                    "amount": amount})

    @rule(account=st.sampled_from(["A", "B"]), n=st.integers(1, 40))
    def cancel_order(self, account: str, n: int) -> None:
        self.apply({"kind": "cancel_order", "account": account, "order_id": f"o{n}"})

    @rule(kind=st.sampled_from(["deposit", "withdraw"]), account=st.sampled_from(["A", "B"]),
          amount=st.sampled_from(["1", "50", "5000"]))
    def funds(self, kind: str, account: str, amount: str) -> None:
        self.apply({"kind": kind, "account": account, "amount": amount})

    @precondition(lambda self: self.t > 30)
    @rule(move=st.integers(-30, 30))
    def expire(self, move: int) -> None:
        self.apply({"kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": self.price("ETHUSDT_Q", move)})

    @invariant()
    def snapshot_is_json_of_decimal_strings(self) -> None:
        if hasattr(self, "snapshot"):
            for acc in self.snapshot["accounts"].values():
                Decimal(acc["wallet"])


SETTINGS = settings(max_examples=40, stateful_step_count=60, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), database=None)
RUNS = 5
"""Rare transitions are counted over RUNS derandomized runs of SETTINGS' 40 examples, each machine under its own
name and so its own seed, not over one run of 200: a run's examples grow from each other, so a transition one run
misses entirely another reaches, and a count summed over independent runs does not hang on one seed's luck."""


def run_machines(name: str, attributes: dict[str, Any], runs: int = RUNS,
                 machine_settings: settings = SETTINGS) -> tuple[collections.Counter, collections.Counter]:
    """``runs`` runs of the machine with ``attributes`` (each under its own name): the rules each step exercised
    and the named transitions seen, summed over the runs."""
    exercised: collections.Counter = collections.Counter()
    seen: collections.Counter = collections.Counter()
    for run in range(runs):
        machine = type(f"{name}_{run}", (ModelMachine,), {
            **attributes, "exercised": collections.Counter(), "seen": collections.Counter()})
        run_state_machine_as_test(machine, settings=machine_settings)
        exercised.update(machine.exercised)
        seen.update(machine.seen)
    return exercised, seen


def _cross_pool_liquidated(view: StepView) -> bool:
    return bool(_events(view, "liquidation", position_side="CROSS"))


@pytest.mark.parametrize("profile", builtin_profile_names())
def test_model_under_every_check(profile: str) -> None:
    attributes = {"profile": profile, "transitions": {"cross pool liquidated": _cross_pool_liquidated}}
    if profile != "seed":  # every check after every step; the rare transitions are counted under the seed
        run_machines(f"ModelMachine_{profile}", attributes, runs=1, machine_settings=settings(SETTINGS, max_examples=20))
        return
    exercised, seen = run_machines("ModelMachine_seed", attributes)
    never = [r.id for r in step_rules() if exercised[r.id] == 0]
    assert not never, f"rules never exercised: {never}; counts: {dict(exercised)}"
    assert seen["cross pool liquidated"], "no cross pool was driven into liquidation"


def _hedged_legs_offset(view: StepView) -> bool:
    """A cross-pool liquidation whose first fills reduce an instrument's LONG and SHORT by the same quantity
    (HM-LIQ-005, ``offset_hedged_first``); whether that restored the pool or everything was closed after it,
    the tests in test_cross_offset.py count on seeded walks, where the window between the two is reached."""
    fills = [(e["instrument"], e["position_side"], e["quantity"]) for e in _events(view, "fill", cause="liquidation")]
    return bool(_events(view, "liquidation", position_side="CROSS")) and any(
        (symbol, "SHORT", quantity) in fills for symbol, side, quantity in fills if side == "LONG")


def test_model_under_every_check_with_hedged_cross_legs_offset() -> None:
    """The machine under examples/profiles/offset-hedged-first.json: every check after every step, and a breached
    pool whose hedged legs are offset occurs among generated sequences of every action kind."""
    profile = str(Path(__file__).resolve().parent.parent / "examples" / "profiles" / "offset-hedged-first.json")
    _, seen = run_machines("ModelMachine_offset", {
        "profile": profile, "transitions": {"hedged legs offset": _hedged_legs_offset}, "cross_hedging": True})
    assert seen["hedged legs offset"], dict(seen)
