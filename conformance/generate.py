"""Random actions for differential runs, chosen from the model's observable state.

One generator serves two drivers through the ``Chooser`` interface: ``RandomChooser`` wraps a
plain ``random.Random(seed)`` (the runner and the committed random vectors, so that a Hypothesis
release never changes them) and ``hedgespec.conformance.machine`` wraps Hypothesis' ``data``.

Actions of every kind are produced, mostly well-formed and sometimes deliberately not (a wrong
position side for the mode, an unknown order, an oversized close, a size off the lot; about one in
``OFF_FORMAT_ONE_IN`` not of the action format at all, HM-ATOM-002), with
prices that random-walk and jump so that legs on either side are driven into and through
liquidation (HM-LIQ-001..008), stops and trailing stops fire (HM-STOP-001..005), and the dated
contract expires (HM-SETL-001/002). For an engine that does not declare ``liquidation`` the
generator is ``gentle``: mark moves of 5 to 50 basis points and small funding rates only, so its
run says nothing about liquidation (the report states this: ``small_price_moves_only``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from hedgespec.model.codec import format_units, parse_units
from hedgespec.model.units import PRICE_ONE
from hedgespec.spec.observe import ACTION_FORMAT, OPTIONAL_FIELDS, UNIT_DECIMALS

T = TypeVar("T")

KINDS = ("deposit", "withdraw", "set_position_mode", "set_margin_type", "set_leverage", "adjust_margin",
         "place_order", "cancel_order", "market_trade", "mark_price", "funding", "expire")
WEIGHTS = {"deposit": 3, "withdraw": 3, "set_position_mode": 4, "set_margin_type": 6, "set_leverage": 4,
           "adjust_margin": 4, "place_order": 34, "cancel_order": 5, "market_trade": 11, "mark_price": 18,
           "funding": 6, "expire": 1}
LOT_ATOMS = 100_000  # 0.001 in QTY atoms (world.instrument)
TICK_ATOMS = PRICE_ONE // 2  # 0.5 in PRICE atoms
PRICE_FLOOR = 1000 * PRICE_ONE
PRICE_CEILING = 1_000_000 * PRICE_ONE
OFF_FORMAT_ONE_IN = 60


class Chooser(Protocol):
    def choice(self, options: Sequence[T]) -> T: ...

    def integer(self, lo: int, hi: int) -> int: ...


class RandomChooser:
    """Choices from ``random.Random(seed)``: stable across Python and Hypothesis releases."""

    def __init__(self, seed: int | random.Random) -> None:
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


def weighted_kind(ch: Chooser, kinds: Sequence[str] = KINDS) -> str:
    total = sum(WEIGHTS[k] for k in kinds)
    pick = ch.integer(0, total - 1)
    for kind in kinds:
        pick -= WEIGHTS[kind]
        if pick < 0:
            return kind
    return kinds[-1]  # pragma: no cover


class Generator:
    """Proposes the next action from the model's snapshot; keeps the logical clock and order ids."""

    def __init__(self, params: dict[str, Any], scopes: Sequence[str]) -> None:
        self.params = params
        self.accounts = sorted(params["accounts"])
        self.instruments = [i["symbol"] for i in params["instruments"]]
        self.dated = [i["symbol"] for i in params["instruments"] if i.get("kind") == "DATED"]
        self.scopes = list(scopes)
        self.t = 0
        self.next_order = 0
        self.gentle = False  # small price moves only: for engines without liquidation

    # -- helpers -----------------------------------------------------------------------------------

    def _clock(self, ch: Chooser) -> int:
        self.t += ch.choice((0, 1, 1, 1, 5, 60))
        return self.t

    def _instrument(self, ch: Chooser, snap: dict[str, Any]) -> str:
        live = [s for s in self.instruments if s not in snap.get("expired", [])]
        if live and ch.integer(0, 9):
            return ch.choice(live)
        return ch.choice(self.instruments)

    @staticmethod
    def _mark(snap: dict[str, Any], symbol: str) -> int:
        return parse_units(snap.get("mark_prices", {}).get(symbol, "30000"), "price")

    @staticmethod
    def _price(atoms: int) -> str:
        atoms = max(PRICE_FLOOR, min(PRICE_CEILING, atoms))
        return format_units(atoms - atoms % TICK_ATOMS, "price")

    def _moved(self, ch: Chooser, base: int, bps_choices: Sequence[int]) -> str:
        bps = ch.choice(bps_choices) * ch.choice((1, -1))
        return self._price(base + base * bps // 10_000)

    @staticmethod
    def _sides(snap: dict[str, Any], account: str, symbol: str) -> list[str]:
        rows = snap["accounts"][account]["positions"].get(symbol, {})
        return sorted(rows) or ["LONG", "SHORT"]

    @staticmethod
    def _leg_qty(snap: dict[str, Any], account: str, symbol: str, side: str) -> int:
        row = snap["accounts"][account]["positions"].get(symbol, {}).get(side)
        return parse_units(row["quantity"], "qty") if row else 0

    def _side(self, ch: Chooser, snap: dict[str, Any], account: str, symbol: str) -> str:
        sides = self._sides(snap, account, symbol)
        if ch.integer(0, 19) == 0:  # a side that does not match the mode (HM-ORD-001)
            return ch.choice(("LONG", "SHORT", "BOTH"))
        return ch.choice(sides)

    def open_legs(self, snap: dict[str, Any]) -> list[tuple[str, str, str, int]]:
        """(account, instrument, side, signed quantity) of every open leg."""
        out = []
        for aid in self.accounts:
            for symbol, rows in snap["accounts"][aid]["positions"].items():
                for side, row in rows.items():
                    q = parse_units(row["quantity"], "qty")
                    if q:
                        out.append((aid, symbol, side, q))
        return out

    def open_orders(self, snap: dict[str, Any]) -> list[tuple[str, str]]:
        return [(aid, oid) for aid in self.accounts for oid in snap["accounts"][aid]["open_orders"]]

    def has_live_dated(self, snap: dict[str, Any]) -> bool:
        return any(s not in snap.get("expired", []) for s in self.dated)

    # -- proposals ----------------------------------------------------------------------------------

    def propose(self, ch: Chooser, snap: dict[str, Any], kind: str | None = None, **options: Any) -> dict[str, Any]:
        """One action (JSON form). ``kind`` None: a weighted choice among every kind.

        ``options``: ``closing=True/False`` for place_order (a close of an open leg, or an opening order).
        """
        if kind is None:
            kind = weighted_kind(ch)
        if kind == "expire" and not self.dated:
            kind = "mark_price"
        action = {"t": self._clock(ch), "kind": kind, **getattr(self, f"_{kind}")(ch, snap, **options)}
        return off_format(ch, action) if ch.integer(1, OFF_FORMAT_ONE_IN) == 1 else action

    def _deposit(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        return {"account": ch.choice(self.accounts), "amount": ch.choice(("100", "1000", "5000", "0.5", "0"))}

    def _withdraw(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        return {"account": ch.choice(self.accounts), "amount": ch.choice(("50", "500", "3000", "50000"))}

    def _set_position_mode(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        account, scope = ch.choice(self.accounts), ch.choice(self.scopes)
        in_force = snap["accounts"][account]["position_mode"].get(scope)
        other = {"HEDGE": "ONE_WAY", "ONE_WAY": "HEDGE"}.get(in_force or "")
        # mostly the other mode than the one in force: switches there and back (HM-MODE-009); sometimes the same
        action = {"account": account, "mode": other if other and ch.integer(0, 3) else ch.choice(("HEDGE", "ONE_WAY"))}
        if scope != "*":
            action["scope"] = scope
        return action

    def _set_margin_type(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        account = ch.choice(self.accounts)
        symbol = self._instrument(ch, snap)
        side = self._side(ch, snap, account, symbol)
        flat = [s for s in self._sides(snap, account, symbol) if not self._leg_qty(snap, account, symbol, s)]
        if flat and ch.integer(0, 2):
            side = ch.choice(flat)  # a leg that may still change its margin type (HM-MARG-005)
        return {"account": account, "instrument": symbol, "position_side": side,
                "margin_type": ch.choice(("ISOLATED", "CROSS", "CROSS"))}

    @staticmethod
    def _row(snap: dict[str, Any], leg: tuple[str, str, str, int]) -> dict[str, Any]:
        return snap["accounts"][leg[0]]["positions"][leg[1]][leg[2]]

    def _set_leverage(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        account = ch.choice(self.accounts)
        symbol = self._instrument(ch, snap)
        return {"account": account, "instrument": symbol, "position_side": self._side(ch, snap, account, symbol),
                "leverage": ch.choice(("1", "3", "10", "20", "25", "50", "60"))}

    def _adjust_margin(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        legs = self.open_legs(snap)
        if legs and ch.integer(0, 4):
            account, symbol, side, _ = ch.choice(legs)
        else:
            account = ch.choice(self.accounts)
            symbol = self._instrument(ch, snap)
            side = self._side(ch, snap, account, symbol)
            cross = [(a, sym, sd) for a in self.accounts for sym, rows in snap["accounts"][a]["positions"].items()
                     for sd, row in rows.items() if row["margin_type"] == "CROSS"
                     and sym not in snap.get("expired", [])]
            grow_cross = bool(cross) and ch.integer(0, 1) == 1
            if grow_cross:
                account, symbol, side = ch.choice(cross)  # grow the cross pool (HM-LIQ-005/006)
        return {"account": account, "instrument": symbol, "position_side": side,
                "amount": ch.choice(("10", "100", "1000", "-5", "-50", "-500"))}

    def _place_order(self, ch: Chooser, snap: dict[str, Any], closing: bool | None = None) -> dict[str, Any]:
        self.next_order += 1
        order_id = f"o{self.next_order}"
        orders = self.open_orders(snap)
        if orders and ch.integer(0, 29) == 0:  # a duplicate id
            order_id = ch.choice(orders)[1]
        legs = self.open_legs(snap)
        if closing is None:
            closing = bool(legs) and ch.integer(0, 2) == 0
        closing = closing and bool(legs)
        stacked = False
        if closing:
            resting = {(a, o["instrument"], o["position_side"]) for a, oid in orders  # closing limits resting
                       for o in [snap["accounts"][a]["open_orders"][oid]]
                       if o["order_type"] == "LIMIT" and (o["position_side"] == "LONG") == (o["side"] == "SELL")}
            with_close = [leg for leg in legs if leg[:3] in resting]
            stacked = bool(with_close) and ch.integer(0, 1) == 0  # a second close resting on one leg
            account, symbol, side, q = ch.choice(with_close if stacked else legs)
            order_side = "SELL" if q > 0 else "BUY"
            size = abs(q)
            part = max(LOT_ATOMS, size // 4 // LOT_ATOMS * LOT_ATOMS)
            qty_atoms = part if stacked else ch.choice((size, size, max(LOT_ATOMS, size // 2 // LOT_ATOMS * LOT_ATOMS),
                                                        part, size + LOT_ATOMS))
        else:
            account = ch.choice(self.accounts)
            symbol = self._instrument(ch, snap)
            side = self._side(ch, snap, account, symbol)
            cross = [(a, sym, sd) for a in self.accounts for sym, rows in snap["accounts"][a]["positions"].items()
                     for sd, row in rows.items() if row["margin_type"] == "CROSS"
                     and sym not in snap.get("expired", [])]
            grow_cross = bool(cross) and ch.integer(0, 1) == 1
            if grow_cross:
                account, symbol, side = ch.choice(cross)  # grow the cross pool (HM-LIQ-005/006)
            order_side = {"LONG": "BUY", "SHORT": "SELL"}.get(side) or ch.choice(("BUY", "SELL"))
            if ch.integer(0, 9) == 0:
                order_side = "SELL" if order_side == "BUY" else "BUY"  # a close of a (maybe flat) leg
            qty_atoms = LOT_ATOMS * ch.choice((100, 300, 600) if grow_cross else (1, 5, 20, 100, 300, 1800))
        if ch.integer(0, 39) == 0:
            qty_atoms += 1  # off the lot (HM-ORD-005)
        mark = self._mark(snap, symbol)
        opening_long = order_side == "BUY"
        order_type = "LIMIT" if stacked else ch.choice(
            ("MARKET", "MARKET", "LIMIT", "LIMIT", "STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET",
             "TRAILING_STOP_MARKET") if closing else ("MARKET", "MARKET", "LIMIT", "LIMIT", "LIMIT", "STOP_MARKET"))
        action: dict[str, Any] = {"account": account, "order_id": order_id, "instrument": symbol,
                                  "side": order_side, "position_side": side, "order_type": order_type,
                                  "quantity": format_units(qty_atoms, "qty")}
        if order_type in ("MARKET", "LIMIT"):
            action["price"] = self._moved(ch, mark, (0, 5, 20, 100))
            if order_type == "LIMIT" and (stacked or ch.integer(0, 1 if closing else 3) == 0):
                # away from the market: rests until a trade comes through
                away = -1 if opening_long else 1
                action["price"] = self._price(mark + away * mark * ch.choice((50, 200)) // 10_000)
            if closing and not stacked and ch.integer(0, 3) == 0:  # one-way: reduce-only; hedge: the flag (HM-ORD-009)
                action["reduce_only"] = True
        else:
            # closing a long: a stop sits below, a take-profit above (and the other way for a short)
            below = (order_side == "SELL") == (order_type == "STOP_MARKET")
            direction = -1 if below else 1
            if ch.integer(0, 9) == 0:
                direction = -direction  # would fire at once: rejected
            if order_type == "TRAILING_STOP_MARKET":
                action["callback_rate"] = ch.choice(("0.01", "0.02", "0.05", "0.1"))
                if ch.integer(0, 1):
                    action["activation_price"] = self._price(mark - direction * mark * 100 // 10_000)
            else:
                action["stop_price"] = self._price(mark + direction * mark * ch.choice((50, 150, 400)) // 10_000)
            if ch.integer(0, 2) == 0:
                action["close_position"] = True
                action["quantity"] = "0"
        return action

    def _cancel_order(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        orders = self.open_orders(snap)
        if orders and ch.integer(0, 7):
            account, order_id = ch.choice(orders)
        else:
            account, order_id = ch.choice(self.accounts), f"o{self.next_order + 1000}"
        return {"account": account, "order_id": order_id}

    def _market_trade(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        books: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for a in self.accounts:
            for o in snap["accounts"][a]["open_orders"].values():
                if o["order_type"] == "LIMIT":
                    books.setdefault((o["instrument"], o["side"]), []).append(o)
        deep = sorted(key for key, resting in books.items() if len(resting) > 1)
        if deep and ch.integer(0, 1) == 0:
            # through every resting limit of one side at once: several fills of one leg in a step (HM-POS-002,
            # HM-MARG-003)
            symbol, side = ch.choice(deep)
            prices = [parse_units(o["price"], "price") for o in books[symbol, side]]
            return {"instrument": symbol, "price": self._price(min(prices) if side == "BUY" else max(prices)),
                    "quantity": format_units(sum(parse_units(o["quantity"], "qty") for o in books[symbol, side]),
                                             "qty")}
        symbol = self._instrument(ch, snap)
        return {"instrument": symbol, "price": self._moved(ch, self._mark(snap, symbol), (0, 30, 100, 250)),
                "quantity": format_units(LOT_ATOMS * ch.choice((10, 100, 1000, 5000)), "qty")}

    def _mark_price(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        if self.gentle:
            symbol = self._instrument(ch, snap)
            return {"instrument": symbol, "price": self._moved(ch, self._mark(snap, symbol), (5, 10, 30, 50))}
        legs = [leg for leg in self.open_legs(snap) if leg[1] not in snap.get("expired", [])]
        if legs and ch.integer(0, 2) == 0:
            # against one open leg (cross legs first): into and through its liquidation
            cross = [leg for leg in legs if self._row(snap, leg)["margin_type"] == "CROSS"]
            _, symbol, _, quantity = ch.choice(cross if cross and ch.integer(0, 1) else legs)
            mark = self._mark(snap, symbol)
            bps = ch.choice((150, 600, 1500, 3000, 6000))
            return {"instrument": symbol, "price": self._price(mark - (1 if quantity > 0 else -1) * mark * bps // 10_000)}
        waiting = sorted({o["instrument"] for a in self.accounts for o in snap["accounts"][a]["open_orders"].values()
                          if o["order_type"] != "LIMIT" and o["instrument"] not in snap.get("expired", [])})
        if waiting and ch.integer(0, 1):
            # small moves under a waiting stop or trailing stop: tracking, triggering (HM-STOP-002/003)
            symbol = ch.choice(waiting)
            return {"instrument": symbol, "price": self._moved(ch, self._mark(snap, symbol), (10, 40, 100, 250))}
        symbol = self._instrument(ch, snap)
        # small walks, jumps that breach a 20x leg, crashes through any isolated leg
        return {"instrument": symbol, "price": self._moved(ch, self._mark(snap, symbol),
                                                           (10, 50, 150, 300, 600, 1200, 3000, 5000))}

    def _funding(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        rates = ("0.0001", "-0.0001", "0.00375", "-0.003") + (() if self.gentle else ("0.02", "-0.02"))
        return {"instrument": self._instrument(ch, snap), "rate": ch.choice(rates)}

    def _expire(self, ch: Chooser, snap: dict[str, Any]) -> dict[str, Any]:
        symbol = ch.choice(self.dated)
        return {"instrument": symbol, "settlement_price": self._moved(ch, self._mark(snap, symbol), (0, 50, 300))}


def off_format(ch: Chooser, action: dict[str, Any]) -> dict[str, Any]:
    """``action`` made not of the action format in one way a lenient reader might still take (HM-ATOM-002): a
    field its kind does not have, a name given as a list, a number given as a JSON number, a flag given as a
    string, an enumerated value in lower case, or a required field left out."""
    fields = ACTION_FORMAT[action["kind"]]
    given = [name for name in fields if name in action and name != "t"]
    names = [name for name in given if name in ("account", "instrument", "order_id")]
    numbers = [name for name in given if fields[name] in UNIT_DECIMALS]
    enumerated = [name for name in given if isinstance(fields[name], tuple) and action[name]]
    ways = ["unknown field", "left out"] + ["name as list"] * bool(names) + ["number as JSON"] * bool(numbers) \
        + ["lower case"] * bool(enumerated)
    way = ch.choice(ways + ["flag as text"] * (action["kind"] == "place_order"))
    if way == "unknown field":
        return {**action, "client_tag": "x"}
    if way == "name as list":
        name = ch.choice(names)
        return {**action, name: [action[name]]}
    if way == "number as JSON":
        name = ch.choice(numbers)
        return {**action, name: int(action[name].partition(".")[0])}
    if way == "lower case":
        name = ch.choice(enumerated)
        return {**action, name: action[name].lower()}
    if way == "flag as text":
        return {**action, ch.choice(("reduce_only", "close_position")): "true"}
    left_out = ch.choice([name for name in given if name not in OPTIONAL_FIELDS])
    return {name: value for name, value in action.items() if name != left_out}


def random_steps(params: dict[str, Any], scopes: Sequence[str], seed: int, length: int,
                 model_step: Any) -> list[dict[str, Any]]:
    """A seeded random run of ``length`` actions, each chosen from the model's state after the last.

    ``model_step(action) -> snapshot`` advances the model (the caller owns it).
    """
    ch = RandomChooser(seed)
    gen = Generator(params, scopes)
    snap = model_step(None)
    actions = []
    for _ in range(length):
        action = gen.propose(ch, snap)
        actions.append(action)
        snap = model_step(action)
    return actions
