"""What the checks read: helpers over the observable JSON forms (snapshot, action, outcome).

Checks never import the model. Numbers are read as ``Decimal`` in a wide local context; the
roundings a check re-derives are the ones the format reference states (fees up, funding half
away from zero, proportional releases toward zero, derived prices half-even to 16 decimals).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from typing import Any

from hedgespec.spec.numbers import is_decimal_text
from hedgespec.spec.profiles import Profile, load_profile

CTX = Context(prec=90)
MONEY_ATOM = Decimal("1e-16")
PRICE_DIGITS = Decimal("1e-16")
EXACT_FIELDS = ("quantity", "cost_basis", "isolated_margin", "realized_pnl", "fees_paid", "funding",
                "margin_type", "leverage")
HEDGE_SIDES = ("LONG", "SHORT")


def D(text: Any) -> Decimal:
    """A decimal string of the formats -> Decimal (None and absent fields are not numbers)."""
    return Decimal(text)


def mul(*xs: Decimal) -> Decimal:
    result = Decimal(1)
    for x in xs:
        result = CTX.multiply(result, x)
    return result


def money_up(x: Decimal) -> Decimal:
    return x.quantize(MONEY_ATOM, rounding=ROUND_CEILING, context=CTX)


def money_half_away(x: Decimal) -> Decimal:
    return x.quantize(MONEY_ATOM, rounding=ROUND_HALF_UP, context=CTX)


def money_toward_zero(x: Decimal) -> Decimal:
    return x.quantize(MONEY_ATOM, rounding=ROUND_DOWN, context=CTX)


def price_half_even(x: Decimal) -> Decimal:
    return x.quantize(PRICE_DIGITS, rounding=ROUND_HALF_EVEN, context=CTX)


@lru_cache(maxsize=64)
def profile_of(name: str) -> Profile:
    return load_profile(name)


def choice(params: dict[str, Any], name: str) -> Any:
    """The effective profile choice of the run the step belongs to."""
    return profile_of(params.get("profile", "seed")).effective(name)


def modelled_choice(params: dict[str, Any], name: str) -> Any:
    """The profile's own value of a choice if the profile models it, else None (not known).

    ``choice`` falls back to the seed's value for documented and unconfirmed choices: that is what
    the reference model runs, not what the venue does. A check that judges an engine by such a
    choice leaves the part that depends on it undecided.
    """
    return profile_of(params.get("profile", "seed")).modelled(name)


def setting_covers(params: dict[str, Any], action: dict[str, Any], account: str, symbol: str,
                   after: dict[str, Any]) -> bool:
    """Whether ``action`` is a leg-settings request (``set_margin_type``, ``set_leverage``) of ``account`` that may
    set legs of ``symbol``: those of its own instrument, and for a margin type under ``margin_type_scope:
    account`` those of every instrument of the account. Where the profile does not model the scope, another
    instrument's legs only as the account scope sets them: when every leg of the account carries the margin
    type asked for in ``after``."""
    kind = action.get("kind")
    if kind not in ("set_margin_type", "set_leverage") or action.get("account") != account:
        return False
    if action.get("instrument") == symbol:
        return True
    if kind != "set_margin_type":
        return False
    scope = modelled_choice(params, "margin_type_scope")
    return scope == "account" or scope is None and all(
        r["margin_type"] == action.get("margin_type") for acc, _, _, r in rows(after) if acc == account)


def instruments(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {inst["symbol"]: inst for inst in params["instruments"]}


def scope_key(params: dict[str, Any], symbol: str) -> str:
    """The ``position_mode`` key of the instrument's mode scope under the effective ``mode_scope`` (the one the
    model runs). Checks read it only where the profile models ``mode_scope``; elsewhere ``mode_in_force`` looks
    the mode up under every key that may hold it."""
    scope = choice(params, "mode_scope")
    if scope == "account":
        return "*"
    if scope == "settle_asset":
        return instruments(params)[symbol]["settle_asset"]
    return symbol


def mode_in_force(snapshot: dict[str, Any], params: dict[str, Any], account: str, symbol: str) -> str | None:
    """The mode of the instrument's scope (HM-MODE-001): as the snapshot reports it; for a scope the snapshot
    leaves out, the profile's ``default_position_mode`` where the profile models it, else None (unknown).

    Where the profile does not model ``mode_scope``, the scope's key is not known either: the mode is the one the
    snapshot reports under the instrument, its settle asset or ``*``; several keys reporting different modes leave
    it unknown (None), none of them the scope left out.

    The mode is not inferred from the position rows: they follow the mode only where the engine keeps
    HM-MODE-008, which is itself judged from them. A check whose judgement depends on an unknown mode
    leaves it undecided and judges only what holds under both modes.
    """
    reported_modes = snapshot["accounts"][account]["position_mode"]
    if modelled_choice(params, "mode_scope") is not None:
        reported = reported_modes.get(scope_key(params, symbol))
    else:
        keys = (symbol, instruments(params)[symbol]["settle_asset"], "*")
        found = {reported_modes[k] for k in keys if reported_modes.get(k) is not None}
        if len(found) > 1:
            return None
        reported = next(iter(found), None)
    return reported if reported is not None else modelled_choice(params, "default_position_mode")


def symbols_in_scope(params: dict[str, Any], scope: str) -> list[str]:
    insts = instruments(params)
    if scope == "*":
        return list(insts)
    return [s for s, inst in insts.items() if scope in (s, inst["settle_asset"])]


def rows(snapshot: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(account, instrument, position side, row) for every position row."""
    for account, acc in snapshot["accounts"].items():
        for symbol, sides in acc["positions"].items():
            for side, row in sides.items():
                yield account, symbol, side, row


def rows_shown(shown: Mapping[tuple[str, str, str], dict[str, Any]] | None,
               snapshot: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``shown`` (the row each leg last showed in a run's earlier snapshots) with ``snapshot``'s rows added: what a
    run's next step gets as ``StepView.shown`` (HM-MODE-009)."""
    return {**(shown or {}), **{(account, symbol, side): r for account, symbol, side, r in rows(snapshot)}}


def row(snapshot: dict[str, Any], account: str, symbol: str, side: str) -> dict[str, Any] | None:
    return snapshot["accounts"].get(account, {}).get("positions", {}).get(symbol, {}).get(side)


def events(outcome: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in outcome.get("events", []) if e.get("type") == kind]


def exact(row_: dict[str, Any] | None) -> tuple[Any, ...] | None:
    return None if row_ is None else tuple(row_.get(f) for f in EXACT_FIELDS)


def without_time(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != "time"}


def touched_legs(view_outcome: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Legs an event of the step names (fills, ledger entries, funding, liquidations)."""
    legs = set()
    for event in view_outcome.get("events", []):
        side = event.get("position_side")
        if event.get("account") and event.get("instrument") and side:
            legs.add((event["account"], event["instrument"], side))
    return legs


def bracket_for(inst: dict[str, Any], abs_notional: Decimal) -> dict[str, Any]:
    for bracket in inst["brackets"]:
        cap = D(bracket.get("notional_cap", "0"))
        if cap == 0 or abs_notional < cap:
            return bracket
    return inst["brackets"][-1]


def maintenance(inst: dict[str, Any], quantity: Decimal, price: Decimal) -> Decimal:
    """Maintenance margin of a leg at a price from the instrument's brackets (HM-MARG-006)."""
    abs_notional = abs(mul(quantity, price))
    bracket = bracket_for(inst, abs_notional)
    mm = money_up(mul(abs_notional, D(bracket["maintenance_rate"]))) - D(bracket.get("maintenance_amount", "0"))
    return max(Decimal(0), mm)


def is_breached(balance: Decimal, maintenance_margin: Decimal, trigger: str) -> bool:
    return balance < maintenance_margin or (trigger == "at_or_below" and balance == maintenance_margin)


def stale_mark(action: dict[str, Any], outcome: dict[str, Any],
               snapshot: dict[str, Any]) -> tuple[str, Any, str] | None:
    """After an accepted mark price: (instrument, the mark ``snapshot`` reports for it, the price the step set)
    where the two differ or the mark is missing (HM-POS-003, HM-MARG-006); None otherwise."""
    if action.get("kind") != "mark_price" or outcome["kind"] != "accepted":
        return None
    symbol, price = action["instrument"], action["price"]
    reported = snapshot.get("mark_prices", {}).get(symbol)
    return None if reported is not None and D(reported) == D(price) else (symbol, reported, price)


def open_orders(snapshot: dict[str, Any], account: str) -> dict[str, dict[str, Any]]:
    return snapshot["accounts"][account]["open_orders"]


def is_closing(order: dict[str, Any]) -> bool:
    """A hedge closing order (SELL+LONG, BUY+SHORT), or a one-way reduce-only/conditional one."""
    if order["position_side"] == "LONG":
        return order["side"] == "SELL"
    if order["position_side"] == "SHORT":
        return order["side"] == "BUY"
    return bool(order["reduce_only"] or order["close_position"] or order["order_type"] not in ("MARKET", "LIMIT"))


ORDER_TYPES = ("MARKET", "LIMIT", "STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")

TIME, TEXT, FLAG = "time", "text", "flag"
POSITION_SIDES = ("", "BOTH", *HEDGE_SIDES)  # "" (or left out): not given
UNIT_DECIMALS = {"qty": 8, "price": 8, "money": 16, "rate": 8, "int": 0}
"""The decimals a number of each unit holds (docs/units.md); ``int`` is a whole number (a leverage)."""
_PLACED_AT = {"t": TIME, "account": TEXT}
ACTION_FORMAT: dict[str, dict[str, str | tuple[str, ...]]] = {
    "deposit": {**_PLACED_AT, "amount": "money"},
    "withdraw": {**_PLACED_AT, "amount": "money"},
    "set_position_mode": {**_PLACED_AT, "mode": ("HEDGE", "ONE_WAY"), "scope": TEXT},
    "set_margin_type": {**_PLACED_AT, "instrument": TEXT, "position_side": POSITION_SIDES,
                        "margin_type": ("ISOLATED", "CROSS")},
    "set_leverage": {**_PLACED_AT, "instrument": TEXT, "position_side": POSITION_SIDES, "leverage": "int"},
    "adjust_margin": {**_PLACED_AT, "instrument": TEXT, "position_side": POSITION_SIDES, "amount": "money"},
    "place_order": {**_PLACED_AT, "order_id": TEXT, "instrument": TEXT, "side": ("BUY", "SELL"),
                    "position_side": POSITION_SIDES, "order_type": ORDER_TYPES, "quantity": "qty", "price": "price",
                    "stop_price": "price",
                    "activation_price": "price", "callback_rate": "rate", "reduce_only": FLAG,
                    "close_position": FLAG},
    "cancel_order": {**_PLACED_AT, "order_id": TEXT},
    "market_trade": {"t": TIME, "instrument": TEXT, "price": "price", "quantity": "qty"},
    "mark_price": {"t": TIME, "instrument": TEXT, "price": "price"},
    "funding": {"t": TIME, "instrument": TEXT, "rate": "rate"},
    "expire": {"t": TIME, "instrument": TEXT, "settlement_price": "price"},
}
"""The action format (docs/formats/actions.md): each kind's fields and the JSON type of each: ``time`` a
non-negative integer, ``text`` a string, a tuple one of its strings (an enumeration), ``flag`` a boolean, a unit
a decimal string with at most the unit's decimals. tests/test_action_format.py holds it to the format reference's
codec (the JSON types) and to its step (the enumerations)."""
OPTIONAL_FIELDS = frozenset({"position_side", "price", "stop_price", "activation_price", "callback_rate",
                             "reduce_only", "close_position", "scope"})
"""The fields an action may leave out (each kind that has them)."""


def action_format_problems(action: dict[str, Any]) -> list[str]:
    """How ``action`` is not of the action format: a kind the format does not define, a field its kind does not
    have, a required field left out, a value of the wrong JSON type or, for an enumerated field, outside its
    values (HM-ATOM-002). Empty for an action of the format, whatever its values mean (an unknown account, a price
    off the tick: the rules that judge those)."""
    fields = ACTION_FORMAT.get(action.get("kind")) if isinstance(action.get("kind"), str) else None
    if fields is None:
        return [f"kind: {action.get('kind')!r} is not an action kind"]
    problems = [f"{name}: not a field of {action['kind']}" for name in sorted(set(action) - {"kind", *fields})]
    for name, type_ in fields.items():
        if name not in action:
            if name not in OPTIONAL_FIELDS:
                problems.append(f"{name}: missing")
            continue
        value = action[name]
        if type_ == TIME:
            fits = type(value) is int and value >= 0
        elif type_ == TEXT:
            fits = isinstance(value, str)
        elif isinstance(type_, tuple):
            fits = isinstance(value, str) and value in type_
        elif type_ == FLAG:
            fits = isinstance(value, bool)
        else:
            fits = is_decimal_text(value) and len(value.partition(".")[2].rstrip("0")) <= UNIT_DECIMALS[type_]
        if not fits:
            problems.append(f"{name}: {value!r:.40} is not {_expected(type_, value)}")
    return problems


_TYPE_NAMES = {TIME: "a non-negative integer", TEXT: "a string", FLAG: "a boolean"}


def _expected(type_: str | tuple[str, ...], value: object) -> str:
    """What a field of ``type_`` holds, as a problem names it: a string's values, or its JSON type."""
    if isinstance(type_, tuple):
        return f"one of {', '.join(map(repr, type_))}" if isinstance(value, str) else _TYPE_NAMES[TEXT]
    return _TYPE_NAMES.get(type_, f"a {type_} decimal string")


def off_grid(text: object, step: str) -> bool:
    """Whether ``text`` is not a positive multiple of ``step`` (or not a number at all)."""
    if not is_decimal_text(text):
        return True
    value = D(text)
    return value <= 0 or value % D(step) != 0


def _text(action: dict[str, Any], name: str) -> str | None:
    """A field that must be a string, or None where it is absent or is not one (a list cannot be looked up)."""
    value = action.get(name)
    return value if isinstance(value, str) else None


def order_format_problems(snapshot: dict[str, Any], params: dict[str, Any], action: dict[str, Any]) -> list[str]:
    """The ways a ``place_order`` is malformed that the format reference checks before the expiry and the
    position side (docs/formats/outcomes.md, "Which reason when several apply"): what may be refused with
    INVALID_ARGUMENT ahead of INSTRUMENT_EXPIRED, POSITION_SIDE_MISMATCH and REDUCE_ONLY_FORBIDDEN (HM-ORD-001,
    HM-ORD-009, HM-SETL-002). Read from the action's JSON form alone; where a choice is not modelled by the
    profile, the order counts as malformed if either value would make it so, so that a problem listed here may
    not be one, but an order with none is well-formed."""
    problems = action_format_problems(action)
    shaped = {problem.partition(":")[0] for problem in problems}  # fields the format already finds wrong
    t, time = action.get("t"), snapshot.get("time")
    if "t" not in shaped and isinstance(time, int) and t < time:
        problems.append(f"t: {t!r} is before the state's time {time!r}")
    if "account" not in shaped and action["account"] not in snapshot["accounts"]:
        problems.append(f"account: unknown {action['account']!r}")
    inst = None if "instrument" in shaped else instruments(params).get(action["instrument"])
    if inst is None and "instrument" not in shaped:
        problems.append(f"instrument: unknown {action['instrument']!r}")
    if "order_id" not in shaped and not action["order_id"]:
        problems.append("order_id: empty")
    order_type = action.get("order_type")  # its side, order type and position side: enumerations of the format
    flags = {name: action.get(name, False) is True for name in ("reduce_only", "close_position")}
    numbers = {name: None if name in shaped else D(action.get(name, "0"))
               for name in ("quantity", "price", "stop_price", "activation_price", "callback_rate")}
    conditional = order_type in ORDER_TYPES[2:]
    if flags["close_position"]:
        if not conditional and modelled_choice(params, "close_position_orders") != "any":
            problems.append("close_position: on a market or limit order")
        if numbers["quantity"] not in (None, 0) or flags["reduce_only"]:
            problems.append("close_position: with a quantity or reduce_only")
    elif inst is not None and numbers["quantity"] is not None and off_grid(action["quantity"], inst["lot_size"]):
        problems.append(f"quantity: {action.get('quantity')!r} is not a positive multiple of the lot size")
    if inst is not None and order_type in ("MARKET", "LIMIT") and numbers["price"] is not None \
            and off_grid(action.get("price"), inst["tick_size"]):
        problems.append(f"price: {action.get('price')!r} is not a positive multiple of the tick")
    if conditional and numbers["price"] not in (None, 0):
        problems.append("price: on a conditional order")
    if (inst is not None and order_type in ("STOP_MARKET", "TAKE_PROFIT_MARKET") and numbers["stop_price"] is not None
            and off_grid(action.get("stop_price"), inst["tick_size"])):
        problems.append(f"stop_price: {action.get('stop_price')!r} is not a positive multiple of the tick")
    rate, activation = numbers["callback_rate"], numbers["activation_price"]
    if order_type == "TRAILING_STOP_MARKET":
        if rate is not None and not 0 < rate < 1:
            problems.append(f"callback_rate: {action.get('callback_rate')!r} is not between 0 and 1")
        if activation is not None and activation < 0:
            problems.append("activation_price: negative")
    elif rate or activation:
        problems.append("activation_price/callback_rate: on an order that is not a trailing stop")
    return problems


def refusals_checked_first(snapshot: dict[str, Any], params: dict[str, Any], action: dict[str, Any]) -> set[str]:
    """The reasons the format reference checks before an order's expiry, position side and closing direction,
    where they apply to ``action`` (a ``place_order``): INVALID_ARGUMENT on a malformed order
    (``order_format_problems``), DUPLICATE_ORDER_ID while its id is in use by an open order of the account, and
    INSTRUMENT_EXPIRED on an expired instrument (HM-ORD-001, HM-ORD-004, HM-ORD-009, HM-SETL-002)."""
    refusals = {"INVALID_ARGUMENT"} if order_format_problems(snapshot, params, action) else set()
    account = snapshot["accounts"].get(_text(action, "account") or "", {})
    if _text(action, "order_id") in account.get("open_orders", {}):
        refusals.add("DUPLICATE_ORDER_ID")
    if _text(action, "instrument") in snapshot.get("expired", []):
        refusals.add("INSTRUMENT_EXPIRED")
    return refusals
