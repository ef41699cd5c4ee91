"""``step(state, action) -> (outcome, state)``: the reference model's single entry point.

Pure and deterministic: the input state is never modified; a step works on copies of the
accounts it touches and freezes them into a new ``State``. A rejected action returns the input
state itself, unchanged, with its reason class (HM-ATOM-001).

The chapters it calls: ``mode`` (switch guard), ``orders`` (admission, matching, triggers),
``positions`` (fills on one leg), ``margin``, ``fees``, ``funding``, ``liquidation`` and
``settlement``; the per-step work area that collects events lives in ``ledger``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

from . import liquidation, orders, settlement
from .actions import (
    AdjustMargin,
    CancelOrder,
    Deposit,
    Expire,
    Funding,
    MarketTrade,
    MarkPrice,
    PlaceOrder,
    SetLeverage,
    SetMarginType,
    SetPositionMode,
    Withdraw,
)
from .codec import format_units
from .events import (
    ACCEPTED,
    PARTIALLY_APPLIED,
    REJECTED,
    UNCHANGED,
    FundingPayment,
    LedgerEntry,
    ModeChange,
    Outcome,
    rejected,
)
from .funding import funding_amount
from .ledger import Work, well_typed
from .margin import available_balance, bracket_for, initial_margin, margin_balance, settings_of
from .mode import instrument_busy, instruments_in_scope, mode_of, mode_switch_guard, sides_for, valid_scope
from .state import (
    BOTH,
    CROSS,
    HEDGE,
    HEDGE_SIDES,
    ISOLATED,
    ONE_WAY,
    POSITION_SIDES,
    LegSettings,
    State,
    record,
)


def step(state: State, action: object) -> tuple[Outcome, State]:
    """Apply one action. Never raises on bad input: malformed actions are INVALID_ARGUMENT."""
    handler = _HANDLERS.get(type(action))
    if handler is None:
        return rejected("INVALID_ARGUMENT", f"unknown action type {type(action).__name__}"), state
    problem = well_typed(action)
    if problem:
        return rejected("INVALID_ARGUMENT", problem), state
    if action.t < state.time:  # type: ignore[attr-defined]
        return rejected("INVALID_ARGUMENT", f"t: logical time {action.t} is before {state.time}"), state  # type: ignore[attr-defined]
    has_account, has_instrument, has_position_side = _KEY_FIELDS[type(action)]
    account_id = getattr(action, "account", None) if has_account else None
    if account_id is not None and account_id not in state.accounts:
        return rejected("INVALID_ARGUMENT", f"account: unknown account {account_id!r}"), state
    instrument = getattr(action, "instrument", None) if has_instrument else None
    if instrument is not None and instrument not in state.config.instruments:
        return rejected("INVALID_ARGUMENT", f"instrument: unknown instrument {instrument!r}"), state
    position_side = getattr(action, "position_side", "") if has_position_side else ""
    if position_side not in _POSITION_SIDES_OR_NONE:  # not a position side at all (HM-ATOM-002)
        return rejected("INVALID_ARGUMENT", f"position_side: {position_side!r} is not LONG, SHORT or BOTH"), state
    work = Work(state, action.t)  # type: ignore[attr-defined]
    outcome = handler(work, action)
    if outcome.kind == REJECTED:
        return outcome, state
    if outcome.kind == UNCHANGED:
        return outcome, _with_time(state, action.t)  # type: ignore[attr-defined]
    return record(Outcome, (*outcome[:3], tuple(work.events))), work.freeze()


def _with_time(state: State, t: int) -> State:
    if state.time == t:
        return state
    return record(State, (*state[:7], t))


def _accepted(message: str = "") -> Outcome:
    return record(Outcome, (ACCEPTED, None, message, ())) if message else _ACCEPTED


_ACCEPTED: Final = Outcome(ACCEPTED)


# --- account funds ---------------------------------------------------------------------------

def _deposit(work: Work, action: Deposit) -> Outcome:
    if action.amount <= 0:
        return rejected("INVALID_ARGUMENT", "amount: must be positive")
    work.ledger(action.account, "", "", "DEPOSIT", "wallet", action.amount)
    return _accepted()


def _withdraw(work: Work, action: Withdraw) -> Outcome:
    if action.amount <= 0:
        return rejected("INVALID_ARGUMENT", "amount: must be positive")
    account = work.state.accounts[action.account]
    available = available_balance(work.config, account, work.state.mark_prices)
    if action.amount > available:
        return rejected("INSUFFICIENT_BALANCE",
                        f"amount exceeds the available balance {format_units(available, 'money')}")
    work.ledger(action.account, "", "", "WITHDRAW", "wallet", -action.amount)
    return _accepted()


# --- position mode (HM-MODE-002..005) ----------------------------------------------------------

def _set_position_mode(work: Work, action: SetPositionMode) -> Outcome:
    config = work.config
    if action.mode not in (HEDGE, ONE_WAY):
        return rejected("INVALID_ARGUMENT", f"mode: must be HEDGE or ONE_WAY, got {action.mode!r}")
    if not valid_scope(config, action.scope):
        return rejected("INVALID_ARGUMENT", f"scope: {action.scope!r} is not a mode scope under this profile")
    account = work.state.accounts[action.account]
    symbols = instruments_in_scope(config, action.scope)
    coin_level = (config.choices["mode_scope"] == "instrument" and action.scope not in config.instruments)
    targets = [s for s in symbols if mode_of(config, account, s) != action.mode]
    if not targets:
        if config.choices["same_mode_request"] == "rejected":
            return rejected("MODE_IN_FORCE", f"{action.mode} is already in force")
        return Outcome(UNCHANGED, None, f"{action.mode} is already in force")
    busy = {s: instrument_busy(account, s) for s in targets}
    if coin_level:  # Bybit-style: switch the idle instruments, skip the busy ones
        idle = [s for s in targets if not any(busy[s])]
        skipped = [s for s in targets if any(busy[s])]
        if not idle:
            reason = mode_switch_guard(any(b[0] for b in busy.values()), any(b[1] for b in busy.values()),
                                       True, True, config.choices["mode_switch_precedence"])
            return rejected(reason or "MODE_SWITCH_WITH_POSITIONS", "every instrument of the scope is busy")
        for symbol in idle:
            work.set_mode(action.account, symbol, action.mode)
        if skipped:
            return Outcome(PARTIALLY_APPLIED, None, "skipped busy instruments: " + ", ".join(skipped))
        return _accepted()
    reason = mode_switch_guard(
        any(b[0] for b in busy.values()),
        any(b[1] for b in busy.values()),
        config.choices["mode_switch_blocked_by_positions"],
        config.choices["mode_switch_blocked_by_orders"],
        config.choices["mode_switch_precedence"],
    )
    if reason:
        return rejected(reason, "close every position and cancel every order of the scope first")
    work.set_mode(action.account, action.scope, action.mode)
    return _accepted()


# --- leg settings (HM-MARG-001, HM-MARG-005) ---------------------------------------------------

def _leg_side(work: Work, account_id: str, instrument: str, position_side: str) -> tuple[str, str]:
    """(the leg's side under the mode in force, or "", and the mode): BOTH when omitted in one-way mode."""
    mode = mode_of(work.config, work.state.accounts[account_id], instrument)
    side = position_side or (BOTH if mode == ONE_WAY else "")
    return (side if side in sides_for(mode) else ""), mode


def _covered_settings(work: Work, account_id: str, instrument: str, position_side: str, scope: str
                      ) -> tuple[tuple[tuple[str, str], ...], list[LegSettings]] | Outcome:
    """The (instrument, side) keys one setting covers under ``scope`` with their settings in force,
    or the rejection when the side does not match the mode (HM-MARG-001)."""
    side, mode = _leg_side(work, account_id, instrument, position_side)
    if not side:
        return rejected("POSITION_SIDE_MISMATCH", f"position_side: {position_side or 'missing'} does not match "
                                                  f"{mode} mode")
    if scope == "leg":
        keys: tuple[tuple[str, str], ...] = ((instrument, side),)
    else:  # the instrument's legs, or (scope "account") every instrument's
        symbols = tuple(work.config.instruments) if scope == "account" else (instrument,)
        keys = tuple((symbol, s) for symbol in symbols for s in LONG_SHORT_BOTH)
    account = work.state.accounts[account_id]
    return keys, [settings_of(work.config, account, i, s) for i, s in keys]


LONG_SHORT_BOTH: Final = (*HEDGE_SIDES, BOTH)


def _set_margin_type(work: Work, action: SetMarginType) -> Outcome:
    if action.margin_type not in (ISOLATED, CROSS):
        return rejected("INVALID_ARGUMENT", f"margin_type: must be ISOLATED or CROSS, got {action.margin_type!r}")
    covered = _covered_settings(work, action.account, action.instrument, action.position_side,
                                work.config.choices["margin_type_scope"])
    if isinstance(covered, Outcome):
        return covered
    keys, current = covered
    account = work.state.accounts[action.account]
    if all(c.margin_type == action.margin_type for c in current):
        return Outcome(UNCHANGED, None, f"{action.margin_type} is already set")
    if any(account.leg(i, s).quantity for i, s in keys):
        return rejected("MARGIN_TYPE_WITH_POSITION", "the leg holds a position")
    if any((o.instrument, o.position_side) in keys for o in account.orders.values()):
        return rejected("MARGIN_TYPE_WITH_OPEN_ORDERS", "the leg has open orders")
    for (instrument, side), settings in zip(keys, current, strict=True):
        work.set_settings(action.account, instrument, side, LegSettings(action.margin_type, settings.leverage))
    return _accepted()


def _set_leverage(work: Work, action: SetLeverage) -> Outcome:
    inst = work.config.instruments[action.instrument]
    if not 1 <= action.leverage <= inst.max_leverage:
        return rejected("INVALID_ARGUMENT", f"leverage: must be 1..{inst.max_leverage}")
    covered = _covered_settings(work, action.account, action.instrument, action.position_side,
                                work.config.choices["leverage_scope"])
    if isinstance(covered, Outcome):
        return covered
    keys, current = covered
    account = work.state.accounts[action.account]
    if all(c.leverage == action.leverage for c in current):
        return Outcome(UNCHANGED, None, f"leverage {action.leverage} is already set")
    for instrument, side in keys:
        leg = account.leg(instrument, side)
        if leg.quantity and bracket_for(abs(leg.cost_basis), inst.brackets).max_leverage < action.leverage:
            return rejected("LEVERAGE_EXCEEDS_BRACKET", "the position's bracket allows less leverage")
    for (instrument, side), settings in zip(keys, current, strict=True):
        work.set_settings(action.account, instrument, side, LegSettings(settings.margin_type, action.leverage))
    for order in sorted(account.orders.values(), key=lambda o: o.seq):  # opening orders reserve at the new leverage
        if order.opening and (order.instrument, order.position_side) in keys:
            margin = initial_margin(abs(order.quantity * order.price), action.leverage)
            if margin != order.margin_reserved:
                work.put_order(action.account, order.with_remaining(order.quantity, margin, order.fee_reserved))
    after = work.account(action.account)
    if available_balance(work.config, after, work.state.mark_prices) < 0:
        return rejected("INSUFFICIENT_MARGIN", "open orders and cross legs would need more initial margin than is "
                                               "available")
    return _accepted()


def _adjust_margin(work: Work, action: AdjustMargin) -> Outcome:
    """Implements HM-MARG-002: only this leg's isolated margin and the wallet move."""
    account = work.state.accounts[action.account]
    side, mode = _leg_side(work, action.account, action.instrument, action.position_side)
    if not side:
        return rejected("POSITION_SIDE_MISMATCH", f"position_side: {action.position_side or 'missing'} in {mode} mode")
    if action.amount == 0:
        return rejected("INVALID_ARGUMENT", "amount: must not be zero")
    leg = account.leg(action.instrument, side)
    settings = settings_of(work.config, account, action.instrument, side)
    if settings.margin_type != ISOLATED or leg.quantity == 0:
        return rejected("INVALID_ARGUMENT", "margin can be adjusted on an open isolated leg only")
    if action.amount > 0:
        if action.amount > available_balance(work.config, account, work.state.mark_prices):
            return rejected("INSUFFICIENT_BALANCE", "amount exceeds the available balance")
    else:
        mark = work.state.mark_prices.get(action.instrument)
        price = mark if mark is not None else leg.cost_basis // leg.quantity
        remaining = leg.isolated_margin + action.amount
        needed = initial_margin(abs(leg.quantity * price), settings.leverage)
        after = type(leg)(leg.quantity, leg.cost_basis, remaining, 0, 0, 0)
        if remaining < 0 or margin_balance(after, price) < needed:
            return rejected("INSUFFICIENT_MARGIN", "the leg would keep less than its initial margin")
    work.transfer(action.account, action.instrument, side, "MARGIN_TRANSFER", "wallet", "isolated_margin",
                  action.amount)
    return _accepted()


# --- orders ------------------------------------------------------------------------------------

def _cancel_order(work: Work, action: CancelOrder) -> Outcome:
    account = work.state.accounts[action.account]
    if action.order_id not in account.orders:
        return rejected("UNKNOWN_ORDER", f"order_id: no open order {action.order_id!r}")
    work.cancel(action.account, action.order_id, "request")
    return _accepted()


def _market_trade(work: Work, action: MarketTrade) -> Outcome:
    problem = orders.check_price(work, action.instrument, action.price, "price", tick=False)
    if problem:
        return problem
    if action.quantity <= 0 or action.quantity % work.config.instruments[action.instrument].lot_size:
        return rejected("INVALID_ARGUMENT", "quantity: must be a positive multiple of the lot size")
    if action.instrument in work.state.expired:
        return rejected("INSTRUMENT_EXPIRED", f"{action.instrument} has expired")
    work.copy_prices()
    work.last_prices[action.instrument] = action.price
    orders.match_resting(work, action.instrument, action.price, action.quantity)
    if work.config.choices["trigger_price_source"] == "last":
        orders.trigger_conditionals(work, action.instrument, action.price)
    return _accepted()


def _mark_price(work: Work, action: MarkPrice) -> Outcome:
    """Mark price: conditional orders trigger first, then liquidation is evaluated (HM-LIQ-008)."""
    problem = orders.check_price(work, action.instrument, action.price, "price", tick=False)
    if problem:
        return problem
    if action.instrument in work.state.expired:
        return rejected("INSTRUMENT_EXPIRED", f"{action.instrument} has expired")
    work.copy_prices()
    work.mark_prices[action.instrument] = action.price
    if work.config.choices["trigger_price_source"] == "mark":
        orders.trigger_conditionals(work, action.instrument, action.price)
    liquidation.evaluate(work, action.instrument)
    return _accepted()


def _funding(work: Work, action: Funding) -> Outcome:
    """Implements HM-FUND-001..003: each open leg pays or receives its own amount."""
    mark = work.mark_prices.get(action.instrument)
    if mark is None:
        return rejected("NO_MARK_PRICE", f"{action.instrument} has no mark price yet")
    if action.instrument in work.state.expired:
        return rejected("INSTRUMENT_EXPIRED", f"{action.instrument} has expired")
    choices = work.config.choices
    for account_id in work.config.account_ids:
        account = work.state.accounts[account_id]
        netted: dict[str, int] = {}
        symbol = action.instrument
        for side in POSITION_SIDES:
            leg = account.legs.get((symbol, side))
            if leg is None or leg.quantity == 0:
                continue
            amount = funding_amount(leg.quantity, mark, action.rate)
            work.events.append(record(FundingPayment, (account_id, symbol, side, leg.quantity, mark, action.rate,
                                                      amount)))
            work.add_funding(account_id, symbol, side, amount)
            isolated = settings_of(work.config, account, symbol, side).margin_type == ISOLATED
            for bucket, part in _funding_buckets(work, account_id, symbol, side, amount, isolated,
                                                 choices["funding_source"]):
                if choices["funding_report"] == "per_instrument" and bucket == "wallet":
                    netted[bucket] = netted.get(bucket, 0) + part
                else:
                    work.ledger(account_id, symbol, side, "FUNDING", bucket, part)
        for bucket, part in netted.items():
            work.ledger(account_id, action.instrument, "", "FUNDING", bucket, part)
    liquidation.evaluate(work, action.instrument)
    return _accepted()


def _funding_buckets(work: Work, account_id: str, symbol: str, side: str, amount: int, isolated: bool,
                     source: str) -> list[tuple[str, int]]:
    """Where one leg's funding goes: the wallet for cross legs; the profile's source for isolated."""
    if not isolated or source == "wallet" or amount >= 0 and source == "wallet_then_margin":
        return [("wallet", amount)]
    if source == "isolated_margin":
        return [("isolated_margin", amount)]
    account = work.account(account_id)
    from_wallet = min(-amount, max(0, available_balance(work.config, account, work.mark_prices)))
    parts = [("wallet", -from_wallet)] if from_wallet else []
    if -amount - from_wallet:
        parts.append(("isolated_margin", amount + from_wallet))
    return parts


def _expire(work: Work, action: Expire) -> Outcome:
    return settlement.expire(work, action)


_POSITION_SIDES_OR_NONE: Final = ("", *POSITION_SIDES)  # none given, or a position side

_HANDLERS: dict[type, Callable[[Work, Any], Outcome]] = {
    Deposit: _deposit,
    Withdraw: _withdraw,
    SetPositionMode: _set_position_mode,
    SetMarginType: _set_margin_type,
    SetLeverage: _set_leverage,
    AdjustMargin: _adjust_margin,
    PlaceOrder: orders.place,
    CancelOrder: _cancel_order,
    MarketTrade: _market_trade,
    MarkPrice: _mark_price,
    Funding: _funding,
    Expire: _expire,
}


def _key_fields(action_type: type) -> tuple[bool, bool, bool]:
    names = {field.name for field in dataclasses.fields(action_type)}
    return "account" in names, "instrument" in names, "position_side" in names


_KEY_FIELDS: Final = {action_type: _key_fields(action_type) for action_type in _HANDLERS}
"""Per action type: whether it names an account, an instrument, a position side (read without an
AttributeError for the ones it lacks)."""

__all__ = ["step", "LedgerEntry", "ModeChange"]
