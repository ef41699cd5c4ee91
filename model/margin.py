"""Margin chapter: initial and maintenance margin, margin balance, liquidation prices.

Implements HM-MARG-006 (maintenance margin from brackets), HM-LIQ-007 (liquidation price per
leg) and the availability rule behind HM-ORD-008.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from .positions import HedgePair, unrealized_pnl
from .state import CROSS, Account, Bracket, Config, Leg, LegSettings
from .units import RATE_ONE, apply_rate_up, ceil_div

if TYPE_CHECKING:
    from .ledger import MutableAccount


def initial_margin(abs_notional: int, leverage: int) -> int:
    """Initial margin of a notional at a leverage (MONEY), rounded up.

    pre: abs_notional >= 0 and leverage >= 1
    post: __return__ * leverage >= abs_notional  # HM-ORD-008
    post: (__return__ - 1) * leverage < abs_notional or __return__ == 0  # HM-ORD-008
    """
    return ceil_div(abs_notional, leverage)


def bracket_for(abs_notional: int, brackets: tuple[Bracket, ...]) -> Bracket:
    """The bracket whose [floor, cap) holds the notional; the last bracket is open-ended.

    Proved for tables of one to three contiguous brackets (HM-MARG-006); the loop is bounded by
    the table, so the same argument holds bracket by bracket for longer tables.

    pre: 1 <= len(brackets) <= 3
    pre: abs_notional >= 0
    pre: brackets[0].notional_floor == 0 and brackets[-1].notional_cap == 0
    pre: all(brackets[i].notional_cap == brackets[i + 1].notional_floor for i in range(len(brackets) - 1))
    pre: all(b.notional_floor < b.notional_cap for b in brackets[:-1])
    post: __return__ in brackets  # HM-MARG-006
    post: __return__.notional_floor <= abs_notional  # HM-MARG-006
    post: __return__.notional_cap == 0 or abs_notional < __return__.notional_cap  # HM-MARG-006
    """
    for bracket in brackets:
        if bracket.notional_cap == 0 or abs_notional < bracket.notional_cap:
            return bracket
    return brackets[-1]


def maintenance_for(abs_notional: int, maintenance_rate: int, maintenance_amount: int) -> int:
    """Maintenance margin in one bracket: notional x rate (rounded up) - amount, never below 0.

    pre: abs_notional >= 0 and maintenance_rate >= 0
    post: __return__ >= 0  # HM-MARG-006
    post: __return__ * RATE_ONE >= abs_notional * maintenance_rate - maintenance_amount * RATE_ONE  # HM-MARG-006
    post: implies(__return__ > 0, (__return__ - 1) * RATE_ONE < abs_notional * maintenance_rate - maintenance_amount * RATE_ONE)  # HM-MARG-006
    """
    return max(0, apply_rate_up(abs_notional, maintenance_rate) - maintenance_amount)


def maintenance_margin(leg: Leg, price: int, brackets: tuple[Bracket, ...]) -> int:
    """A leg's maintenance margin at ``price`` from the instrument's brackets.

    pre: 1 <= len(brackets) <= 3
    pre: brackets[0].notional_floor == 0 and brackets[-1].notional_cap == 0
    pre: all(brackets[i].notional_cap == brackets[i + 1].notional_floor for i in range(len(brackets) - 1))
    pre: all(b.notional_floor < b.notional_cap for b in brackets[:-1])
    pre: all(b.maintenance_rate >= 0 for b in brackets)
    post: any(b.notional_floor <= abs(leg.quantity * price) and (b.notional_cap == 0 or abs(leg.quantity * price) < b.notional_cap) and __return__ == maintenance_for(abs(leg.quantity * price), b.maintenance_rate, b.maintenance_amount) for b in brackets)  # HM-MARG-006
    post: __return__ >= 0  # HM-MARG-006
    """
    abs_notional = abs(leg.quantity * price)
    bracket = bracket_for(abs_notional, brackets)
    return maintenance_for(abs_notional, bracket.maintenance_rate, bracket.maintenance_amount)


def charged_maintenance(by_leg: list[tuple[str, int, int]], hedged: str) -> int:
    """What a cross pool is charged for its legs' maintenance margins, given as (instrument, |quantity|, margin):
    all of them (``both_legs``, the seed), or per instrument only the larger leg's, the one with the larger
    quantity (``larger_leg``). Implements HM-MARG-007.

    pre: all(m >= 0 for _, _, m in by_leg)
    post: 0 <= __return__ <= sum(m for _, _, m in by_leg)  # HM-MARG-007
    """
    if hedged == "both_legs":
        return sum(m for _, _, m in by_leg)
    larger: dict[str, tuple[int, int]] = {}
    for symbol, quantity, margin in by_leg:
        larger[symbol] = max((quantity, margin), larger.get(symbol, (quantity, margin)))
    return sum(margin for _, margin in larger.values())


def move_isolated_margin(wallet: int, pair: HedgePair, position_side: str, amount: int) -> tuple[int, HedgePair]:
    """Add (``amount`` > 0) or remove (< 0) isolated margin on one leg of a hedged pair.

    Two-leg statement of HM-MARG-002 for the transfer ``step`` books through ``Work.transfer``
    (wallet -> that leg's isolated margin): only the named leg's margin and the wallet move, by
    opposite amounts; the other leg and the leg's position are untouched (HM-NET-001).

    pre: position_side in ("LONG", "SHORT")
    post: __return__[0] + __return__[1].long.isolated_margin + __return__[1].short.isolated_margin == wallet + pair.long.isolated_margin + pair.short.isolated_margin  # HM-MARG-002
    post: implies(position_side == "LONG", __return__[1].short == pair.short)  # HM-MARG-002 HM-NET-001
    post: implies(position_side == "SHORT", __return__[1].long == pair.long)  # HM-MARG-002 HM-NET-001
    post: __return__[1].long.quantity == pair.long.quantity and __return__[1].long.cost_basis == pair.long.cost_basis and __return__[1].short.quantity == pair.short.quantity and __return__[1].short.cost_basis == pair.short.cost_basis  # HM-MARG-002
    """
    leg = pair.long if position_side == "LONG" else pair.short
    moved = Leg(leg.quantity, leg.cost_basis, leg.isolated_margin + amount, leg.realized_pnl, leg.fees_paid,
                leg.funding)
    if position_side == "LONG":
        return wallet - amount, HedgePair(moved, pair.short)
    return wallet - amount, HedgePair(pair.long, moved)


def margin_balance(leg: Leg, mark_price: int) -> int:
    """An isolated leg's margin balance: isolated margin + unrealized PnL."""
    return leg.isolated_margin + unrealized_pnl(leg, mark_price)


def is_breached(balance: int, maintenance: int, trigger: str) -> bool:
    """Liquidation criterion: balance below maintenance (or at it, under ``at_or_below``)."""
    return balance < maintenance or (trigger == "at_or_below" and balance == maintenance)


def settings_of(config: Config, account: Account, instrument: str, position_side: str) -> LegSettings:
    return account.settings.get((instrument, position_side), config.default_settings)


def order_margin(account: Account | MutableAccount) -> int:
    """What the account's open orders hold: their initial margin and fee reservations."""
    held = 0
    for order in account.orders.values():
        held += order.margin_reserved + order.fee_reserved
    return held


def available_balance(config: Config, account: Account | MutableAccount, mark_prices: dict[str, int]) -> int:
    """What new orders, withdrawals and margin additions may use (MONEY).

    wallet - order reservations - initial margin of cross legs (at cost) + cross unrealized loss.
    """
    available = account.wallet - order_margin(account)
    unrealized = 0
    default = config.default_settings
    settings, legs = account.settings, account.legs
    for key in account.open_legs:
        leg = legs[key]
        setting = settings.get(key, default)
        if setting.margin_type == CROSS:
            available -= initial_margin(abs(leg.cost_basis), setting.leverage)
            mark = mark_prices.get(key[0])
            if mark is not None:
                unrealized += unrealized_pnl(leg, mark)
    return available + min(0, unrealized)


def _price_in_bracket(numerator: int, denominator: int, abs_quantity: int, bracket: Bracket) -> Fraction | None:
    if denominator == 0:
        return None
    price = Fraction(numerator, denominator)
    if price <= 0:
        return None
    abs_notional = abs_quantity * price
    if abs_notional < bracket.notional_floor or (bracket.notional_cap and abs_notional >= bracket.notional_cap):
        return None
    return price


def isolated_liquidation_price(leg: Leg, brackets: tuple[Bracket, ...]) -> Fraction | None:
    """Price (PRICE atoms, exact fraction) at which the leg's margin balance equals maintenance.

    Solves isolated_margin + q x P - cost = |q| x P x mmr - cum in the bracket that holds |q| x P
    (Binance's isolated formula). None when the leg is flat or no positive price solves it.
    """
    if leg.quantity == 0:
        return None
    for bracket in brackets:
        numerator = (leg.cost_basis - leg.isolated_margin - bracket.maintenance_amount) * RATE_ONE
        denominator = leg.quantity * RATE_ONE - abs(leg.quantity) * bracket.maintenance_rate
        price = _price_in_bracket(numerator, denominator, abs(leg.quantity), bracket)
        if price is not None:
            return price
    return None


def cross_liquidation_price(
    config: Config, account: Account, instrument: str, mark_prices: dict[str, int]
) -> Fraction | None:
    """The shared liquidation price of an instrument's cross legs (Binance's cross formula, per leg).

    The lowest positive price P at which the account's cross pool equity equals its maintenance
    margin: every other cross leg is held at its current mark (its maintenance and PnL enter as
    constants); each of the instrument's own cross legs, both sides, adds q x P - cost and the
    maintenance of the bracket its own notional |q| x P falls in, unrounded as in the isolated
    formula. Solved exactly on each price interval where no own leg changes bracket, lowest first;
    None when no positive price solves it or another cross leg has no mark. Under ``hedged_maintenance:
    larger_leg`` only the larger of two opposite legs is charged maintenance, here and on other instruments.
    """
    own: list[Leg] = []
    others: list[tuple[str, int, int]] = []
    others_upnl = 0
    for (symbol, side), leg in account.legs.items():
        if not leg.quantity or settings_of(config, account, symbol, side).margin_type != CROSS:
            continue
        if symbol == instrument:
            own.append(leg)
            continue
        mark = mark_prices.get(symbol)
        if mark is None:
            return None
        others.append((symbol, abs(leg.quantity), maintenance_margin(leg, mark, config.instruments[symbol].brackets)))
        others_upnl += unrealized_pnl(leg, mark)
    if not own:
        return None
    hedged = config.choices["hedged_maintenance"]
    charged = own if hedged == "both_legs" else [max(own, key=lambda leg: abs(leg.quantity))]
    brackets = config.instruments[instrument].brackets
    base = charged_maintenance(others, hedged) - account.wallet - others_upnl + sum(leg.cost_basis for leg in own)
    # the prices where a charged leg's notional reaches a bracket floor split P > 0 into intervals
    starts = sorted({Fraction(0)} | {Fraction(b.notional_floor, abs(leg.quantity))
                                     for leg in charged for b in brackets[1:]})
    for low, high in zip(starts, [*starts[1:], None], strict=True):
        # caps are whole numbers, so the floor of a notional lies in the same bracket as the notional
        held = [bracket_for(abs(leg.quantity) * low.numerator // low.denominator, brackets) for leg in charged]
        numerator = (base - sum(b.maintenance_amount for b in held)) * RATE_ONE
        denominator = sum(leg.quantity * RATE_ONE for leg in own) - sum(
            abs(leg.quantity) * b.maintenance_rate for leg, b in zip(charged, held, strict=True))
        if denominator == 0:
            continue
        price = Fraction(numerator, denominator)
        if price > 0 and price >= low and (high is None or price < high):
            return price
    return None
