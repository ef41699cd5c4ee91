"""The observable state (snapshot format "1"): what an outside observer can see.

Rows: for every account, instrument and position side the instrument's mode has (LONG and
SHORT in hedge mode, BOTH in one-way mode). Fields marked derived in the format reference
(entry_price, unrealized_pnl, maintenance_margin, liquidation_price, available_balance,
order_margin) are computed from the exact ones; null where there is nothing to compute.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .codec import format_fraction, format_units
from .margin import (
    available_balance,
    cross_liquidation_price,
    isolated_liquidation_price,
    maintenance_margin,
    order_margin,
    settings_of,
)
from .mode import mode_of, scope_of, sides_for
from .positions import unrealized_pnl
from .state import CROSS, Account, Config, Order, State

SNAPSHOT_VERSION = "1"


def _money(x: int) -> str:
    return format_units(x, "money")


def order_json(order: Order) -> dict[str, Any]:
    return {
        "instrument": order.instrument, "side": order.side, "position_side": order.position_side,
        "order_type": order.order_type, "quantity": format_units(order.quantity, "qty"),
        "price": format_units(order.price, "price"), "stop_price": format_units(order.stop_price, "price"),
        "activation_price": format_units(order.activation_price, "price"),
        "callback_rate": format_units(order.callback_rate, "rate"), "reduce_only": order.reduce_only,
        "close_position": order.close_position,
        "trailing_extreme": format_units(order.extreme, "price") if order.extreme else None,
        "arrival": str(order.seq),
    }


def _rows(state: State, config: Config, account: Account, instrument: str) -> dict[str, Any]:
    mark = state.mark_prices.get(instrument)
    inst = config.instruments[instrument]
    rows = {}
    cross_price: str | None | bool = False
    for side in sides_for(mode_of(config, account, instrument)):
        leg = account.leg(instrument, side)
        settings = settings_of(config, account, instrument, side)
        liquidation: str | None = None
        if leg.quantity:
            if settings.margin_type == CROSS:
                if cross_price is False:
                    cross_price = (format_fraction(cross_liquidation_price(config, account, instrument,
                                                                           state.mark_prices), "price")
                                   if config.choices["cross_liquidation_price"] == "shared" else None)
                liquidation = cross_price if isinstance(cross_price, str) else None
            else:
                liquidation = format_fraction(isolated_liquidation_price(leg, inst.brackets), "price")
        rows[side] = {
            "quantity": format_units(leg.quantity, "qty"),
            "cost_basis": _money(leg.cost_basis),
            "entry_price": format_fraction(Fraction(leg.cost_basis, leg.quantity), "price") if leg.quantity else None,
            "margin_type": settings.margin_type,
            "leverage": str(settings.leverage),
            "isolated_margin": _money(leg.isolated_margin),
            "realized_pnl": _money(leg.realized_pnl),
            "fees_paid": _money(leg.fees_paid),
            "funding": _money(leg.funding),
            "unrealized_pnl": _money(unrealized_pnl(leg, mark)) if mark is not None else None,
            "maintenance_margin": _money(maintenance_margin(leg, mark, inst.brackets)) if mark is not None else None,
            "liquidation_price": liquidation,
        }
    return rows


def account_json(state: State, account: Account) -> dict[str, Any]:
    config = state.config
    scopes = sorted({scope_of(config, symbol) for symbol in config.instruments})
    modes = {scope: account.modes.get(scope, config.choices["default_position_mode"]) for scope in scopes}
    return {
        "wallet": _money(account.wallet),
        "available_balance": _money(available_balance(config, account, state.mark_prices)),
        "order_margin": _money(order_margin(account)),
        "position_mode": modes,
        "positions": {symbol: _rows(state, config, account, symbol) for symbol in sorted(config.instruments)},
        "open_orders": {oid: order_json(o) for oid, o in sorted(account.orders.items())},
    }


def snapshot(state: State) -> dict[str, Any]:
    """The snapshot of ``state`` in the documented JSON form (every number a decimal string)."""
    return {
        "snapshot_version": SNAPSHOT_VERSION,
        "time": state.time,
        "accounts": {aid: account_json(state, acc) for aid, acc in sorted(state.accounts.items())},
        "mark_prices": {k: format_units(v, "price") for k, v in sorted(state.mark_prices.items())},
        "last_prices": {k: format_units(v, "price") for k, v in sorted(state.last_prices.items())},
        "insurance_fund": _money(state.insurance_fund),
        "expired": sorted(state.expired),
    }
