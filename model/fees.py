"""Fees chapter. Implements HM-FEE-001: every fill pays its own rate on its own notional."""

from __future__ import annotations

from .units import apply_rate_up


def fill_fee(quantity: int, price: int, rate: int) -> int:
    """Fee of one fill: |qty x price| x rate, rounded up to a MONEY atom; no hedge discount."""
    return apply_rate_up(abs(quantity * price), rate)
