"""Positions chapter: how a fill changes one leg. Pure single-leg kernels.

Implements HM-POS-001 (cost basis and entry per leg), HM-POS-002 (realized PnL only from the
reducing quantity) and HM-ORD-003 (a reducing fill never flips a leg).
"""

from __future__ import annotations

from .state import Leg
from .units import trunc_div


def is_opening(leg_quantity: int, signed_quantity: int, position_side: str) -> bool:
    """Whether a fill of ``signed_quantity`` (BUY > 0, SELL < 0) opens or increases the leg."""
    if position_side == "LONG":
        return signed_quantity > 0
    if position_side == "SHORT":
        return signed_quantity < 0
    return leg_quantity == 0 or (leg_quantity > 0) == (signed_quantity > 0)


def open_leg(leg: Leg, signed_quantity: int, price: int, fee: int) -> Leg:
    """An opening fill: quantity and cost basis grow by the fill; nothing is realized.

    The margin the fill brings is added by the caller (``margin.allocate``).
    """
    return Leg(
        quantity=leg.quantity + signed_quantity,
        cost_basis=leg.cost_basis + signed_quantity * price,
        isolated_margin=leg.isolated_margin,
        realized_pnl=leg.realized_pnl,
        fees_paid=leg.fees_paid + fee,
        funding=leg.funding,
    )


def released_share(amount: int, closed: int, quantity: int) -> int:
    """The part of ``amount`` that goes with ``closed`` of ``quantity`` (same sign), toward zero."""
    if closed == quantity:
        return amount
    return trunc_div(amount * closed, quantity) if quantity > 0 else trunc_div(amount * -closed, -quantity)


def reduce_leg(leg: Leg, signed_quantity: int, price: int, fee: int) -> tuple[Leg, int, int]:
    """A reducing fill of ``signed_quantity`` (opposite in sign to the leg, not larger than it).

    Returns the new leg (margin not yet released), the realized PnL and the isolated margin
    released in proportion (the caller moves it to the wallet).
    """
    closed = -signed_quantity  # same sign as leg.quantity
    cost_released = released_share(leg.cost_basis, closed, leg.quantity)
    margin_released = released_share(leg.isolated_margin, closed, leg.quantity)
    realized = closed * price - cost_released
    new_leg = Leg(
        quantity=leg.quantity - closed,
        cost_basis=leg.cost_basis - cost_released,
        isolated_margin=leg.isolated_margin - margin_released,
        realized_pnl=leg.realized_pnl + realized,
        fees_paid=leg.fees_paid + fee,
        funding=leg.funding,
    )
    return new_leg, realized, margin_released


def unrealized_pnl(leg: Leg, mark_price: int) -> int:
    """Unrealized PnL at ``mark_price`` (MONEY): q x mark - cost (Implements HM-POS-003)."""
    return leg.quantity * mark_price - leg.cost_basis
