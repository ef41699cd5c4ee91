"""The model's edge: decimal strings in and out, run parameters, actions and events as JSON.

Inbound, every number is a decimal string (JSON numbers are refused: binary floats never touch
money); a value with more decimals than its unit holds is an error, never rounded. Errors are
``InputError`` with the place (``where``) and the field named.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hedgespec.spec.numbers import is_decimal_text

from . import actions as A
from .events import Fill, FundingPayment, LedgerEntry, Liquidation, ModeChange, OrderUpdate, Outcome
from .state import DATED, PERPETUAL, Bracket, Instrument
from .units import MONEY_DECIMALS, PRICE_DECIMALS, QTY_DECIMALS, RATE_DECIMALS

UNIT_DECIMALS = {"qty": QTY_DECIMALS, "price": PRICE_DECIMALS, "money": MONEY_DECIMALS, "rate": RATE_DECIMALS,
                 "int": 0}


class InputError(ValueError):
    """Bad input; the message names the place and the field."""


def parse_units(text: Any, unit: str, where: str = "", field: str = "") -> int:
    """A decimal string (``hedgespec.spec.numbers``' grammar) -> integer atoms of ``unit``; exact or
    an InputError."""
    place = f"{where}: {field}" if where else field
    if not isinstance(text, str):
        raise InputError(f"{place}: expected a decimal string, got {type(text).__name__} {text!r:.40}")
    if not is_decimal_text(text):
        raise InputError(f"{place}: not a decimal string (an optional minus, up to 20 digits, an optional point "
                         f"and up to 20 digits; no exponent or spaces): {text[:40]!r}")
    decimals = UNIT_DECIMALS[unit]
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) > decimals:
        raise InputError(f"{place}: {text!r} has more decimals than {decimals} ({unit} unit)")
    atoms = int(whole.lstrip("-") + fraction.ljust(decimals, "0"))
    return -atoms if whole.startswith("-") else atoms


def format_units(atoms: int, unit: str) -> str:
    """Integer atoms -> canonical decimal string (no exponent, no trailing zeros, "0" for zero)."""
    decimals = UNIT_DECIMALS[unit]
    sign = "-" if atoms < 0 else ""
    digits = str(abs(atoms)).rjust(decimals + 1, "0")
    if decimals == 0:
        return sign + digits if atoms else "0"
    whole, frac = digits[:-decimals], digits[-decimals:].rstrip("0")
    if not atoms:
        return "0"
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def format_fraction(value: Fraction | None, unit: str, extra_decimals: int = 8) -> str | None:
    """A derived exact ratio in ``unit`` atoms -> decimal string rounded half-even to
    ``UNIT_DECIMALS[unit] + extra_decimals`` decimals (entry and liquidation prices)."""
    if value is None:
        return None
    decimals = UNIT_DECIMALS[unit] + extra_decimals
    scaled = value * 10**extra_decimals
    rounded = round(scaled)  # Fraction.__round__ is half-even
    return format_units(rounded, unit) if extra_decimals == 0 else _format_scaled(rounded, decimals)


def _format_scaled(atoms: int, decimals: int) -> str:
    sign = "-" if atoms < 0 else ""
    digits = str(abs(atoms)).rjust(decimals + 1, "0")
    whole, frac = digits[:-decimals], digits[-decimals:].rstrip("0")
    if not atoms:
        return "0"
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


# -- actions ----------------------------------------------------------------------------------

# field -> unit for numeric fields; everything else is a string or a boolean
ACTION_FIELD_UNITS: dict[str, str] = {
    "amount": "money", "quantity": "qty", "price": "price", "stop_price": "price",
    "activation_price": "price", "settlement_price": "price", "rate": "rate", "callback_rate": "rate",
    "leverage": "int",
}
_BOOL_FIELDS = {"reduce_only", "close_position"}
_OPTIONAL_DEFAULTS: dict[str, Any] = {
    "position_side": "", "price": 0, "stop_price": 0, "activation_price": 0, "callback_rate": 0,
    "reduce_only": False, "close_position": False, "scope": "*",
}
"""The fields an action's JSON form may leave out, and the value each is then read as. Only the reading:
whether the step takes the value is another matter. A price left out reads as 0, which the step refuses
wherever a price is needed (a MARKET or LIMIT order, a mark price, a market trade: INVALID_ARGUMENT,
``price: must be positive``) and takes as "no price" where none is (a conditional order); ``stop_price``
and ``callback_rate`` likewise, for the order types that need them, and ``position_side`` in hedge mode
(POSITION_SIDE_MISMATCH). The action table of docs/formats/actions.md says which field each action kind
and order type needs (``STEP_NEEDS`` in docs/hsdocs/directives.py, held to the model by
tests/docs/test_action_fields.py)."""


def action_from_json(obj: Any, where: str) -> A.Action:
    """One action in its JSON form -> an action; InputError naming ``where`` and the field."""
    import dataclasses

    if not isinstance(obj, dict):
        raise InputError(f"{where}: an action is a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind")
    cls = A.ACTION_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InputError(f"{where}: kind: unknown action kind {kind!r} (known: {', '.join(A.ACTION_KINDS)})")
    names = {f.name for f in dataclasses.fields(cls)}
    for key in obj:
        if key != "kind" and key not in names:
            raise InputError(f"{where}: {key}: not a field of {kind} (fields: {', '.join(sorted(names))})")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in obj:
            if f.name in _OPTIONAL_DEFAULTS:
                values[f.name] = _OPTIONAL_DEFAULTS[f.name]
                continue
            raise InputError(f"{where}: {f.name}: missing (required by {kind})")
        raw = obj[f.name]
        if f.name == "t":
            if type(raw) is not int or raw < 0:
                raise InputError(f"{where}: t: a non-negative integer logical time is required, got {raw!r}")
            values["t"] = raw
        elif f.name in ACTION_FIELD_UNITS:
            values[f.name] = parse_units(raw, ACTION_FIELD_UNITS[f.name], where, f.name)
        elif f.name in _BOOL_FIELDS:
            if type(raw) is not bool:
                raise InputError(f"{where}: {f.name}: expected true or false, got {raw!r}")
            values[f.name] = raw
        else:
            if not isinstance(raw, str):
                raise InputError(f"{where}: {f.name}: expected a string, got {type(raw).__name__}")
            values[f.name] = raw
    return cls(**values)


def action_to_json(action: A.Action) -> dict[str, Any]:
    """An action -> its JSON form (optional fields left out when at their default)."""
    import dataclasses

    out: dict[str, Any] = {"kind": A.KIND_OF[type(action)]}
    for f in dataclasses.fields(action):
        value = getattr(action, f.name)
        if f.name in _OPTIONAL_DEFAULTS and value == _OPTIONAL_DEFAULTS[f.name]:
            continue
        out[f.name] = format_units(value, ACTION_FIELD_UNITS[f.name]) if f.name in ACTION_FIELD_UNITS else value
    return out


# -- outcomes and events ------------------------------------------------------------------------

def event_to_json(event: Any) -> dict[str, Any]:
    m, q, p, r = "money", "qty", "price", "rate"
    if isinstance(event, Fill):
        return {"type": "fill", "account": event.account, "order_id": event.order_id,
                "instrument": event.instrument, "side": event.side, "position_side": event.position_side,
                "quantity": format_units(event.quantity, q), "price": format_units(event.price, p),
                "liquidity": event.liquidity, "fee": format_units(event.fee, m),
                "realized_pnl": format_units(event.realized_pnl, m), "cause": event.cause}
    if isinstance(event, LedgerEntry):
        return {"type": "ledger", "account": event.account or None, "instrument": event.instrument or None,
                "position_side": event.position_side or None, "kind": event.kind, "bucket": event.bucket,
                "amount": format_units(event.amount, m)}
    if isinstance(event, FundingPayment):
        return {"type": "funding", "account": event.account, "instrument": event.instrument,
                "position_side": event.position_side, "quantity": format_units(event.quantity, q),
                "mark_price": format_units(event.mark_price, p), "rate": format_units(event.rate, r),
                "amount": format_units(event.amount, m)}
    if isinstance(event, OrderUpdate):
        return {"type": "order", "account": event.account, "order_id": event.order_id, "status": event.status,
                "cause": event.cause, "quantity": format_units(event.quantity, q)}
    if isinstance(event, Liquidation):
        return {"type": "liquidation", "account": event.account, "instrument": event.instrument or None,
                "position_side": event.position_side, "mark_price": format_units(event.mark_price, p),
                "margin_balance": format_units(event.margin_balance, m),
                "maintenance_margin": format_units(event.maintenance_margin, m)}
    if isinstance(event, ModeChange):
        return {"type": "mode", "account": event.account, "scope": event.scope, "mode": event.mode}
    raise TypeError(f"not an event: {event!r}")


def outcome_to_json(outcome: Outcome) -> dict[str, Any]:
    return {"kind": outcome.kind, "reason": outcome.reason, "message": outcome.message,
            "events": [event_to_json(e) for e in outcome.events]}


# -- run parameters ------------------------------------------------------------------------------

def _field(obj: dict[str, Any], name: str, where: str) -> Any:
    if name not in obj:
        raise InputError(f"{where}: {name}: missing")
    return obj[name]


INSTRUMENT_FIELDS = ("symbol", "settle_asset", "kind", "tick_size", "lot_size", "maker_rate", "taker_rate",
                     "brackets")
BRACKET_FIELDS = ("notional_floor", "notional_cap", "maintenance_rate", "maintenance_amount", "max_leverage")


def known_fields(obj: dict[str, Any], fields: tuple[str, ...], where: str) -> None:
    """InputError for the first key of ``obj`` that is not one of ``fields``: a typo is never ignored."""
    for key in obj:
        if key not in fields:
            raise InputError(f"{where}: {key}: unknown field (known: {', '.join(fields)})")


def instrument_from_json(obj: Any, where: str) -> Instrument:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: an instrument is a JSON object")
    known_fields(obj, INSTRUMENT_FIELDS, where)
    symbol = _field(obj, "symbol", where)
    if not isinstance(symbol, str) or not symbol:
        raise InputError(f"{where}: symbol: a non-empty string is required")
    kind = obj.get("kind", PERPETUAL)
    if kind not in (PERPETUAL, DATED):
        raise InputError(f"{where}: kind: PERPETUAL or DATED, got {kind!r}")
    raw_brackets = _field(obj, "brackets", where)
    if not isinstance(raw_brackets, list) or not raw_brackets:
        raise InputError(f"{where}: brackets: a non-empty list is required")
    brackets = []
    for i, raw in enumerate(raw_brackets):
        at = f"{where}: brackets[{i}]"
        if not isinstance(raw, dict):
            raise InputError(f"{at}: a bracket is a JSON object")
        known_fields(raw, BRACKET_FIELDS, at)
        brackets.append(Bracket(
            parse_units(_field(raw, "notional_floor", at), "money", at, "notional_floor"),
            parse_units(raw.get("notional_cap", "0"), "money", at, "notional_cap"),
            parse_units(_field(raw, "maintenance_rate", at), "rate", at, "maintenance_rate"),
            parse_units(raw.get("maintenance_amount", "0"), "money", at, "maintenance_amount"),
            parse_units(_field(raw, "max_leverage", at), "int", at, "max_leverage"),
        ))
    for i, b in enumerate(brackets):
        if b.max_leverage < 1 or (i and b.notional_floor != brackets[i - 1].notional_cap):
            raise InputError(f"{where}: brackets[{i}]: brackets must be contiguous with max_leverage >= 1")
    settle = _field(obj, "settle_asset", where)
    if not isinstance(settle, str) or not settle:
        raise InputError(f"{where}: settle_asset: a non-empty string is required")
    inst = Instrument(
        symbol=symbol, settle_asset=settle, kind=kind,
        tick_size=parse_units(_field(obj, "tick_size", where), "price", where, "tick_size"),
        lot_size=parse_units(_field(obj, "lot_size", where), "qty", where, "lot_size"),
        maker_rate=parse_units(_field(obj, "maker_rate", where), "rate", where, "maker_rate"),
        taker_rate=parse_units(_field(obj, "taker_rate", where), "rate", where, "taker_rate"),
        brackets=tuple(brackets),
    )
    if inst.tick_size <= 0 or inst.lot_size <= 0 or inst.maker_rate < 0 or inst.taker_rate < 0:
        raise InputError(f"{where}: tick_size and lot_size must be positive, rates not negative")
    return inst


def instrument_to_json(inst: Instrument) -> dict[str, Any]:
    return {
        "symbol": inst.symbol, "settle_asset": inst.settle_asset, "kind": inst.kind,
        "tick_size": format_units(inst.tick_size, "price"), "lot_size": format_units(inst.lot_size, "qty"),
        "maker_rate": format_units(inst.maker_rate, "rate"), "taker_rate": format_units(inst.taker_rate, "rate"),
        "brackets": [{"notional_floor": format_units(b.notional_floor, "money"),
                      "notional_cap": format_units(b.notional_cap, "money"),
                      "maintenance_rate": format_units(b.maintenance_rate, "rate"),
                      "maintenance_amount": format_units(b.maintenance_amount, "money"),
                      "max_leverage": str(b.max_leverage)} for b in inst.brackets],
    }
