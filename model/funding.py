"""Funding chapter. Implements HM-FUND-001: each leg pays or receives its own amount."""

from __future__ import annotations

from .units import apply_rate_symmetric


def funding_amount(quantity: int, mark_price: int, rate: int) -> int:
    """Signed funding for one leg (MONEY): -(q x mark x rate); a long pays when the rate is positive.

    Rounded half away from zero on the magnitude, so equal opposite legs get opposite amounts.
    """
    return -apply_rate_symmetric(quantity * mark_price, rate)
