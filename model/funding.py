"""Funding chapter. Implements HM-FUND-001: each leg pays or receives its own amount."""

from __future__ import annotations

from .positions import HedgePair
from .state import Leg
from .units import RATE_ONE, apply_rate_symmetric  # noqa: F401  (RATE_ONE: used by the PEP 316 contracts)


def funding_amount(quantity: int, mark_price: int, rate: int) -> int:
    """Signed funding for one leg (MONEY): -(q x mark x rate); a long pays when the rate is positive.

    Rounded half away from zero on the magnitude, so equal opposite legs get opposite amounts.

    post: 2 * abs(__return__ * RATE_ONE + quantity * mark_price * rate) <= RATE_ONE  # HM-FUND-001
    post: implies(quantity > 0 and mark_price > 0 and rate > 0, __return__ <= 0)  # HM-FUND-001
    post: implies(quantity < 0 and mark_price > 0 and rate > 0, __return__ >= 0)  # HM-FUND-001
    post: __return__ == -funding_amount(-quantity, mark_price, rate)  # HM-FUND-001
    """
    return -apply_rate_symmetric(quantity * mark_price, rate)


def _with_funding(leg: Leg, amount: int) -> Leg:
    return Leg(leg.quantity, leg.cost_basis, leg.isolated_margin, leg.realized_pnl, leg.fees_paid,
               leg.funding + amount)


def fund_pair(pair: HedgePair, mark_price: int, rate: int) -> HedgePair:
    """One funding event on a hedged pair: each leg books ``funding_amount`` of its own quantity.

    Thin two-leg statement of HM-FUND-001 over the kernel that ``step`` calls once per open leg:
    the long's amount is computed from the long alone and the short's from the short alone, never
    from the net position, and funding moves no quantity, cost or margin (HM-NET-001).

    post: 2 * abs((__return__.long.funding - pair.long.funding) * RATE_ONE + pair.long.quantity * mark_price * rate) <= RATE_ONE  # HM-FUND-001
    post: 2 * abs((__return__.short.funding - pair.short.funding) * RATE_ONE + pair.short.quantity * mark_price * rate) <= RATE_ONE  # HM-FUND-001
    post: __return__.long.quantity == pair.long.quantity and __return__.short.quantity == pair.short.quantity  # HM-NET-001
    post: __return__.long.isolated_margin == pair.long.isolated_margin and __return__.short.isolated_margin == pair.short.isolated_margin  # HM-NET-001
    """
    return HedgePair(
        _with_funding(pair.long, funding_amount(pair.long.quantity, mark_price, rate)),
        _with_funding(pair.short, funding_amount(pair.short.quantity, mark_price, rate)),
    )
