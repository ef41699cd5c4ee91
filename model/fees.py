"""Fees chapter. Implements HM-FEE-001: every fill pays its own rate on its own notional."""

from __future__ import annotations

from .units import RATE_ONE, apply_rate_up  # noqa: F401  (RATE_ONE: used by the PEP 316 contracts)


def fill_fee(quantity: int, price: int, rate: int) -> int:
    """Fee of one fill: |qty x price| x rate, rounded up to a MONEY atom; no hedge discount.

    The fee depends on the fill alone (its quantity, price and rate): no argument describes the
    other leg, so a hedged fill pays the same as an unhedged one (HM-FEE-001).

    pre: rate >= 0
    post: __return__ * RATE_ONE >= abs(quantity * price) * rate  # HM-FEE-001
    post: __return__ * RATE_ONE < abs(quantity * price) * rate + RATE_ONE  # HM-FEE-001
    post: __return__ == fill_fee(-quantity, price, rate)  # HM-FEE-001
    """
    return apply_rate_up(abs(quantity * price), rate)
