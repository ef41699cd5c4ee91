"""Position-mode chapter: scopes, the mode in force, and the switch guard.

Implements HM-MODE-002, HM-MODE-003 (the guard) and HM-MODE-004 (same-mode requests).
"""

from __future__ import annotations

from .state import BOTH, HEDGE_SIDES, ONE_WAY, Account, Config


def scope_of(config: Config, instrument: str) -> str:
    """The mode-scope key an instrument belongs to under the profile's ``mode_scope``."""
    scope = config.choices["mode_scope"]
    if scope == "account":
        return "*"
    if scope == "settle_asset":
        return config.instruments[instrument].settle_asset
    return instrument


def mode_of(config: Config, account: Account, instrument: str) -> str:
    """The position mode in force for an instrument."""
    return account.modes.get(scope_of(config, instrument), config.choices["default_position_mode"])


def sides_for(mode: str) -> tuple[str, ...]:
    """The position rows a mode has: LONG and SHORT in hedge mode, BOTH in one-way mode."""
    return (BOTH,) if mode == ONE_WAY else HEDGE_SIDES


def instruments_in_scope(config: Config, scope: str) -> tuple[str, ...]:
    """Instruments a mode request for ``scope`` covers ("*", a settle asset or an instrument)."""
    if scope == "*":
        return tuple(config.instruments)
    return tuple(symbol for symbol, inst in config.instruments.items() if scope in (symbol, inst.settle_asset))


def valid_scope(config: Config, scope: str) -> bool:
    """Whether a mode request may name ``scope`` under the profile (coin-level requests where allowed)."""
    mode_scope = config.choices["mode_scope"]
    assets = {inst.settle_asset for inst in config.instruments.values()}
    if mode_scope == "account":
        return scope == "*"
    if mode_scope == "settle_asset":
        return scope in assets
    return scope in config.instruments or (config.choices["mode_switch_coin_level_partial"] and scope in assets)


def mode_switch_guard(
    has_positions: bool,
    has_orders: bool,
    blocked_by_positions: bool,
    blocked_by_orders: bool,
    precedence: str,
) -> str | None:
    """The reason a switch is refused, or None when it may go ahead.

    Positions and orders are checked in the profile's precedence (seed: positions first).

    post: (__return__ is None) == (not (has_positions and blocked_by_positions) and not (has_orders and blocked_by_orders))  # HM-MODE-002 HM-MODE-003
    post: implies(__return__ == "MODE_SWITCH_WITH_POSITIONS", has_positions and blocked_by_positions)  # HM-MODE-002
    post: implies(__return__ == "MODE_SWITCH_WITH_OPEN_ORDERS", has_orders and blocked_by_orders)  # HM-MODE-003
    post: __return__ in (None, "MODE_SWITCH_WITH_POSITIONS", "MODE_SWITCH_WITH_OPEN_ORDERS")  # HM-MODE-002 HM-MODE-003
    post: implies(has_positions and blocked_by_positions and has_orders and blocked_by_orders, __return__ == ("MODE_SWITCH_WITH_OPEN_ORDERS" if precedence == "orders_first" else "MODE_SWITCH_WITH_POSITIONS"))  # HM-MODE-002 HM-MODE-003
    """
    position_reason = "MODE_SWITCH_WITH_POSITIONS" if has_positions and blocked_by_positions else None
    order_reason = "MODE_SWITCH_WITH_OPEN_ORDERS" if has_orders and blocked_by_orders else None
    if precedence == "orders_first":
        return order_reason or position_reason
    return position_reason or order_reason


def instrument_busy(account: Account, instrument: str) -> tuple[bool, bool]:
    """(has an open position, has an open order) on one instrument."""
    has_positions = any(leg.quantity for (symbol, _), leg in account.legs.items() if symbol == instrument)
    has_orders = any(order.instrument == instrument for order in account.orders.values())
    return has_positions, has_orders
