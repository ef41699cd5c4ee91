"""Positions chapter: how a fill changes one leg. Pure single-leg kernels.

Implements HM-POS-001 (cost basis and entry per leg), HM-POS-002 (realized PnL only from the
reducing quantity) and HM-ORD-003 (a reducing fill never flips a leg).

The kernels carry PEP 316 contracts (``pre:``/``post:`` lines, each citing its rule IDs) that
CrossHair checks symbolically (``.ci/crosshair_gate.py``, ``spec/proved.txt``) and the Hypothesis
tests in ``tests/proofs`` evaluate at run time. ``HedgePair``/``fill_pair`` state the two-leg frame
(HM-NET-001) on top of the same ``open_leg``/``reduce_leg`` that ``Work.apply_fill`` calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from .state import Leg, record
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

    pre: signed_quantity != 0
    pre: leg.quantity == 0 or (leg.quantity > 0) == (signed_quantity > 0)
    post: abs(__return__.quantity) == abs(leg.quantity) + abs(signed_quantity)  # HM-ORD-002
    post: (__return__.quantity > 0) == (signed_quantity > 0)  # HM-ORD-002
    post: __return__.realized_pnl == leg.realized_pnl  # HM-POS-002
    post: __return__.isolated_margin == leg.isolated_margin and __return__.funding == leg.funding  # HM-NET-001
    post: implies(leg.quantity != 0, min(leg.cost_basis * __return__.quantity, price * leg.quantity * __return__.quantity) <= __return__.cost_basis * leg.quantity <= max(leg.cost_basis * __return__.quantity, price * leg.quantity * __return__.quantity))  # HM-POS-001
    """
    return record(Leg, (leg.quantity + signed_quantity,  # quantity
                        leg.cost_basis + signed_quantity * price,  # cost_basis
                        leg.isolated_margin, leg.realized_pnl,
                        leg.fees_paid + fee,  # fees_paid
                        leg.funding))


def released_share(amount: int, closed: int, quantity: int) -> int:
    """The part of ``amount`` that goes with ``closed`` of ``quantity`` (same sign), toward zero."""
    if closed == quantity:
        return amount
    return trunc_div(amount * closed, quantity) if quantity > 0 else trunc_div(amount * -closed, -quantity)


def reduce_leg(leg: Leg, signed_quantity: int, price: int, fee: int) -> tuple[Leg, int, int]:
    """A reducing fill of ``signed_quantity`` (opposite in sign to the leg, not larger than it).

    Returns the new leg (margin not yet released), the realized PnL and the isolated margin
    released in proportion (the caller moves it to the wallet).

    pre: leg.quantity != 0
    pre: (leg.quantity > 0 and -leg.quantity <= signed_quantity < 0) or (leg.quantity < 0 and 0 < signed_quantity <= -leg.quantity)
    post: (leg.quantity > 0 and __return__[0].quantity >= 0) or (leg.quantity < 0 and __return__[0].quantity <= 0)  # HM-ORD-003
    post: abs(__return__[0].quantity) == abs(leg.quantity) - abs(signed_quantity)  # HM-ORD-002
    post: abs(__return__[1] * leg.quantity + (price * leg.quantity - leg.cost_basis) * signed_quantity) < abs(leg.quantity)  # HM-POS-002
    post: abs(__return__[0].cost_basis * leg.quantity - leg.cost_basis * __return__[0].quantity) < abs(leg.quantity)  # HM-POS-001
    post: __return__[0].realized_pnl == leg.realized_pnl + __return__[1]  # HM-POS-002
    post: implies(__return__[0].quantity == 0, __return__[1] == -signed_quantity * price - leg.cost_basis and __return__[0].cost_basis == 0)  # HM-POS-002 HM-SETL-001
    post: implies(leg.isolated_margin >= 0, 0 <= __return__[2] <= leg.isolated_margin)  # HM-MARG-003
    post: abs(__return__[2] * leg.quantity + leg.isolated_margin * signed_quantity) < abs(leg.quantity)  # HM-MARG-003
    post: implies(__return__[0].quantity == 0, __return__[2] == leg.isolated_margin)  # HM-MARG-003
    post: implies(leg.isolated_margin >= 0, __return__[2] * abs(leg.quantity) <= leg.isolated_margin * abs(signed_quantity))  # HM-MARG-003
    post: __return__[0].funding == leg.funding  # HM-NET-001
    """
    closed = -signed_quantity  # same sign as leg.quantity
    cost_released = released_share(leg.cost_basis, closed, leg.quantity)
    margin_released = released_share(leg.isolated_margin, closed, leg.quantity)
    realized = closed * price - cost_released
    new_leg = record(Leg, (leg.quantity - closed,  # quantity
                           leg.cost_basis - cost_released,  # cost_basis
                           leg.isolated_margin - margin_released,  # isolated_margin
                           leg.realized_pnl + realized,  # realized_pnl
                           leg.fees_paid + fee,  # fees_paid
                           leg.funding))
    return new_leg, realized, margin_released


def unrealized_pnl(leg: Leg, mark_price: int) -> int:
    """Unrealized PnL at ``mark_price`` (MONEY): q x mark - cost (Implements HM-POS-003)."""
    return leg.quantity * mark_price - leg.cost_basis



@dataclass(frozen=True, slots=True)
class HedgePair:
    """The two legs of one (account, instrument) in hedge mode: LONG >= 0, SHORT <= 0 (HM-NET-001)."""

    long: Leg
    short: Leg


def fill_pair(pair: HedgePair, position_side: str, signed_quantity: int, price: int, fee: int) -> HedgePair:
    """A fill of ``signed_quantity`` (BUY > 0, SELL < 0) on one leg of a hedged pair.

    Built on the same kernels as ``Work.apply_fill`` (``is_opening``, ``open_leg``,
    ``reduce_leg``): the named leg moves, the other is returned as it was (HM-NET-001), and a
    reducing fill no larger than its leg never flips it (HM-ORD-003).

    pre: position_side in ("LONG", "SHORT")
    pre: pair.long.quantity >= 0 and pair.short.quantity <= 0
    pre: signed_quantity != 0
    pre: implies(position_side == "LONG" and signed_quantity < 0, -signed_quantity <= pair.long.quantity)
    pre: implies(position_side == "SHORT" and signed_quantity > 0, signed_quantity <= -pair.short.quantity)
    post: implies(position_side == "LONG", __return__.short == pair.short)  # HM-NET-001
    post: implies(position_side == "SHORT", __return__.long == pair.long)  # HM-NET-001
    post: __return__.long.quantity + __return__.short.quantity == pair.long.quantity + pair.short.quantity + signed_quantity  # HM-ORD-002
    post: __return__.long.quantity >= 0 and __return__.short.quantity <= 0  # HM-ORD-003
    post: __return__.long.fees_paid + __return__.short.fees_paid == pair.long.fees_paid + pair.short.fees_paid + fee  # HM-FEE-001
    """
    leg = pair.long if position_side == "LONG" else pair.short
    if is_opening(leg.quantity, signed_quantity, position_side):
        moved = open_leg(leg, signed_quantity, price, fee)
    else:
        moved = reduce_leg(leg, signed_quantity, price, fee)[0]
    if position_side == "LONG":
        return HedgePair(moved, pair.short)
    return HedgePair(pair.long, moved)
