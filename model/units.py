"""Fixed-point units of the reference model and the explicit roundings between them.

Every number inside the model is an ``int`` counted in one of these units; decimal strings
exist only at the edges (``hedgespec.model.codec``). Each unit is fixed per kind of quantity:

========  ==========  ==============================================================
unit      one atom    used for
========  ==========  ==============================================================
QTY       1e-8        position and order quantities (base asset / contracts)
PRICE     1e-8        order, trade, mark, settlement and liquidation prices
MONEY     1e-16       wallet, margins, PnL, fees, funding, insurance (quote asset)
RATE      1e-8        fee, funding, maintenance-margin and callback rates
========  ==========  ==============================================================

``QTY x PRICE`` is exactly ``MONEY`` (1e-8 x 1e-8 = 1e-16), so notional and cost basis are
exact. ``MONEY x RATE`` needs one rounding back to ``MONEY``; the helpers below are the only
places where the model rounds, and each use names its direction:

* fees round **up** (``ceil``): the venue never charges less than the exact fee;
* funding rounds **half away from zero on the magnitude** (``round_half_away``), so two equal
  legs get equal and opposite amounts;
* margin requirements round **up**; proportional releases (margin, cost basis on a partial
  close) round **toward zero**, and the remainder stays with the leg.
"""

from __future__ import annotations

from typing import Final

QTY_DECIMALS: Final = 8
PRICE_DECIMALS: Final = 8
MONEY_DECIMALS: Final = 16
RATE_DECIMALS: Final = 8

QTY_ONE: Final = 10**QTY_DECIMALS
PRICE_ONE: Final = 10**PRICE_DECIMALS
MONEY_ONE: Final = 10**MONEY_DECIMALS
RATE_ONE: Final = 10**RATE_DECIMALS


def ceil_div(numerator: int, denominator: int) -> int:
    """Exact ceiling of ``numerator / denominator`` for a positive denominator."""
    return -((-numerator) // denominator)


def trunc_div(numerator: int, denominator: int) -> int:
    """Exact quotient rounded toward zero, for a positive denominator."""
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def round_half_away(numerator: int, denominator: int) -> int:
    """Quotient rounded half away from zero, for a positive denominator (symmetric in sign)."""
    quotient = (2 * abs(numerator) + denominator) // (2 * denominator)
    return quotient if numerator >= 0 else -quotient


def notional(quantity: int, price: int) -> int:
    """Signed notional in MONEY atoms: QTY x PRICE, exact."""
    return quantity * price


def apply_rate_up(money: int, rate: int) -> int:
    """``money x rate`` rounded up to a MONEY atom (fees, margin requirements); money >= 0."""
    return ceil_div(money * rate, RATE_ONE)


def apply_rate_symmetric(money: int, rate: int) -> int:
    """``money x rate`` rounded half away from zero to a MONEY atom (funding)."""
    return round_half_away(money * rate, RATE_ONE)
