"""Liquidation chapter: isolated legs one by one, the cross pool as a whole.

Implements HM-LIQ-001..006: an isolated leg is liquidated if and only if its margin balance is
below its maintenance margin, alone, its loss capped at its own margin (the insurance fund takes
the rest); under ``liquidation_extent: partial_by_bracket`` a leg above the first bracket is first
reduced to a lower bracket where that is enough (HM-LIQ-004). The cross pool is liquidated when its
equity is below the maintenance of all its legs, and then every cross leg is closed (under
``cross_liquidation_scope: offset_hedged_first`` after offsetting hedged cross legs, only if the pool is
still breached then). Neither draws on the other.
"""

from __future__ import annotations

from .events import Liquidation
from .fees import fill_fee
from .ledger import Work
from .margin import (
    bracket_for,
    charged_maintenance,
    is_breached,
    maintenance_for,
    maintenance_margin,
    margin_balance,
)
from .positions import HedgePair, reduce_leg, unrealized_pnl
from .state import BUY, CROSS, HEDGE_SIDES, ISOLATED, POSITION_SIDES, SELL, Bracket, Leg
from .units import ceil_div


def isolated_should_liquidate(leg: Leg, mark_price: int, maintenance: int, trigger: str) -> bool:
    """The isolated criterion for one open leg (HM-LIQ-002).

    Decided on this leg alone: its margin balance (isolated margin + q x mark - cost) against its
    maintenance; the other leg is not an argument (HM-LIQ-001).

    post: __return__ == (leg.quantity != 0 and (leg.isolated_margin + leg.quantity * mark_price - leg.cost_basis < maintenance or (trigger == "at_or_below" and leg.isolated_margin + leg.quantity * mark_price - leg.cost_basis == maintenance)))  # HM-LIQ-002
    post: implies(trigger == "below", __return__ == (leg.quantity != 0 and margin_balance(leg, mark_price) < maintenance))  # HM-LIQ-002
    """
    return leg.quantity != 0 and is_breached(margin_balance(leg, mark_price), maintenance, trigger)


def bankruptcy_price(leg: Leg) -> int:
    """Price at which the leg's margin balance is zero, rounded against the holder to a PRICE atom.

    For a long the lowest price, for a short the highest, at which the margin balance is not
    negative; never below one PRICE atom (HM-LIQ-004).

    pre: leg.quantity != 0
    post: __return__ >= 1  # HM-LIQ-004
    post: implies(leg.quantity > 0, leg.isolated_margin + leg.quantity * __return__ - leg.cost_basis >= 0)  # HM-LIQ-004
    post: implies(leg.quantity > 0 and __return__ > 1, leg.isolated_margin + leg.quantity * (__return__ - 1) - leg.cost_basis < 0)  # HM-LIQ-004
    post: implies(leg.quantity < 0 and __return__ > 1, leg.isolated_margin + leg.quantity * __return__ - leg.cost_basis >= 0)  # HM-LIQ-004
    post: implies(leg.quantity < 0, leg.isolated_margin + leg.quantity * (__return__ + 1) - leg.cost_basis < 0)  # HM-LIQ-004
    """
    numerator = leg.cost_basis - leg.isolated_margin
    if leg.quantity > 0:
        return max(1, ceil_div(numerator, leg.quantity))
    return max(1, numerator // leg.quantity)


def partial_liquidation_quantity(leg: Leg, mark_price: int, brackets: tuple[Bracket, ...], lot_size: int,
                                 trigger: str, clearance_rate: int) -> int:
    """How much of a breached isolated leg ``liquidation_extent: partial_by_bracket`` closes (HM-LIQ-004).

    Bybit's documented process (Y-LIQ-STEPS): a position above the first bracket is reduced, by a market
    close, to a lower bracket whose maintenance margin its margin then meets, and only if none does
    is it closed in full. Here the close is at the breaching mark and the leg keeps its margin,
    less the clearance fee, so its margin balance falls by that fee only. The lower brackets are tried from
    the highest down; in one, the leg keeps the largest lot multiple whose notional at the mark is
    below the bracket's cap. The result is the quantity closed: all of the leg when no lower bracket
    is enough, or when the leg is in the first bracket. The contract is stated for tables of one to three
    brackets, as ``maintenance_margin``'s is; the loop is bounded by the table, so it reads the same for
    longer ones.

    pre: leg.quantity != 0 and mark_price > 0 and lot_size > 0 and clearance_rate >= 0
    pre: 1 <= len(brackets) <= 3
    pre: brackets[0].notional_floor == 0 and brackets[-1].notional_cap == 0
    pre: all(brackets[i].notional_cap == brackets[i + 1].notional_floor for i in range(len(brackets) - 1))
    pre: all(b.notional_floor < b.notional_cap for b in brackets[:-1])
    pre: all(b.maintenance_rate >= 0 for b in brackets)
    post: 0 < __return__ <= abs(leg.quantity)  # HM-LIQ-004
    post: implies(__return__ < abs(leg.quantity), (abs(leg.quantity) - __return__) % lot_size == 0)  # HM-LIQ-004
    post: implies(__return__ < abs(leg.quantity), (abs(leg.quantity) - __return__) * mark_price < bracket_for(abs(leg.quantity * mark_price), brackets).notional_floor)  # HM-LIQ-004
    post: implies(__return__ < abs(leg.quantity), not is_breached(margin_balance(leg, mark_price) - fill_fee(__return__, mark_price, clearance_rate), maintenance_margin(Leg(abs(leg.quantity) - __return__), mark_price, brackets), trigger))  # HM-LIQ-004
    """
    size = abs(leg.quantity)
    balance = margin_balance(leg, mark_price)
    held = bracket_for(size * mark_price, brackets)
    for bracket in reversed(brackets[:brackets.index(held)]):
        kept = (bracket.notional_cap - 1) // mark_price // lot_size * lot_size
        if kept <= 0:
            break
        closed = size - kept
        kept_notional = kept * mark_price
        below = bracket_for(kept_notional, brackets)
        required = maintenance_for(kept_notional, below.maintenance_rate, below.maintenance_amount)
        if not is_breached(balance - fill_fee(closed, mark_price, clearance_rate), required, trigger):
            return closed
    return size


def liquidate_pair(pair: HedgePair, position_side: str, price: int, clearance: int) -> tuple[HedgePair, int, int]:
    """Close one isolated leg of a hedged pair in full at ``price``: (pair, insurance cover, proceeds).

    The steps of ``liquidate_isolated`` on one leg: the clearance fee leaves the leg's margin, the
    leg is closed by ``reduce_leg``, its PnL is booked on its margin, a loss beyond that margin is
    covered by the insurance fund and what is left (``proceeds``) goes to the profile's remainder
    bucket. The other leg is returned as it was (HM-LIQ-001) and the wallet is not an input, so
    the loss beyond margin is never taken from the other leg or the wallet (HM-LIQ-003).

    pre: position_side in ("LONG", "SHORT")
    pre: pair.long.quantity >= 0 and pair.short.quantity <= 0
    pre: (pair.long if position_side == "LONG" else pair.short).quantity != 0
    pre: clearance >= 0
    post: implies(position_side == "LONG", __return__[0].short == pair.short)  # HM-LIQ-001 HM-NET-001
    post: implies(position_side == "SHORT", __return__[0].long == pair.long)  # HM-LIQ-001 HM-NET-001
    post: (__return__[0].long if position_side == "LONG" else __return__[0].short).quantity == 0  # HM-LIQ-001
    post: (__return__[0].long if position_side == "LONG" else __return__[0].short).isolated_margin == 0  # HM-LIQ-003
    post: __return__[1] >= 0 and __return__[2] >= 0 and (__return__[1] == 0 or __return__[2] == 0)  # HM-LIQ-003
    post: __return__[2] - __return__[1] == margin_balance(pair.long if position_side == "LONG" else pair.short, price) - clearance  # HM-LIQ-003
    """
    leg = pair.long if position_side == "LONG" else pair.short
    after_fee = Leg(leg.quantity, leg.cost_basis, leg.isolated_margin - clearance, leg.realized_pnl, leg.fees_paid,
                    leg.funding)
    closed, realized, released = reduce_leg(after_fee, -leg.quantity, price, 0)
    proceeds = released + realized
    cover = -proceeds if proceeds < 0 else 0
    proceeds += cover
    flat = Leg(closed.quantity, closed.cost_basis, closed.isolated_margin + released + realized + cover - proceeds,
               closed.realized_pnl, closed.fees_paid, closed.funding)
    if position_side == "LONG":
        return HedgePair(flat, pair.short), cover, proceeds
    return HedgePair(pair.long, flat), cover, proceeds


def evaluate(work: Work, instrument: str) -> None:
    """After a mark-price or funding step: liquidate breached isolated legs, then breached cross pools.

    Each isolated leg of ``instrument`` is decided on its own values, so the decisions do not depend
    on the order; the breached ones are liquidated in leg order, then the cross pool is decided.
    """
    config = work.config
    trigger = config.choices["liquidation_trigger"]
    default = config.default_settings
    mark = work.mark_prices.get(instrument)
    if mark is None:
        return
    brackets = config.instruments[instrument].brackets
    for account_id in config.account_ids:
        account = work.current(account_id)
        settings = account.settings
        legs = account.legs
        breached: list[tuple[str, Leg, int]] = []
        for side in POSITION_SIDES:
            leg = legs.get((instrument, side))
            if leg and leg.quantity and settings.get((instrument, side), default).margin_type == ISOLATED:
                maintenance = maintenance_margin(leg, mark, brackets)
                if isolated_should_liquidate(leg, mark, maintenance, trigger):
                    breached.append((side, leg, maintenance))
        for side, leg, maintenance in breached:
            liquidate_isolated(work, account_id, instrument, side, leg, mark, maintenance)
        _evaluate_cross(work, account_id)


def _cancel_before(work: Work, account_id: str, legs: list[tuple[str, str]]) -> None:
    scope = work.config.choices["liquidation_cancels_orders"]
    instruments = {i for i, _ in legs}
    for order in sorted(work.account(account_id).orders.values(), key=lambda o: o.seq):
        if scope == "account" or (scope == "instrument" and order.instrument in instruments) or \
                (order.instrument, order.position_side) in legs:
            work.cancel(account_id, order.order_id, "liquidation")


def liquidate_isolated(work: Work, account_id: str, instrument: str, side: str, leg: Leg, mark: int,
                       maintenance: int) -> None:
    """Close one breached isolated leg, in full or (``partial_by_bracket``) in part; the other leg and the
    wallet are not touched."""
    choices = work.config.choices
    work.events.append(Liquidation(account_id, instrument, side, mark, margin_balance(leg, mark), maintenance))
    _cancel_before(work, account_id, [(instrument, side)])
    rate = choices["liquidation_clearance_fee_rate"]
    closed = abs(leg.quantity)
    if choices["liquidation_extent"] == "partial_by_bracket":
        inst = work.config.instruments[instrument]
        closed = partial_liquidation_quantity(leg, mark, inst.brackets, inst.lot_size, choices["liquidation_trigger"],
                                              rate)
    if closed < abs(leg.quantity):  # reduced to a lower bracket, at the mark: the margin stays with the leg
        price, remainder = mark, "isolated_margin"
    else:
        price = mark if choices["liquidation_price_basis"] == "mark" else bankruptcy_price(leg)
        remainder = "insurance_fund" if choices["isolated_liquidation_remainder"] == "insurance_fund" else "wallet"
    clearance = fill_fee(closed, price, rate)
    if clearance:
        work.transfer(account_id, instrument, side, "CLEARANCE_FEE", "isolated_margin", "insurance_fund", clearance)
    work.apply_fill(account_id, "", instrument, SELL if leg.quantity > 0 else BUY, side, closed, price,
                    "TAKER", "liquidation", 0, fee_rate=0, remainder_to=remainder)


def cross_pool(work: Work, account_id: str) -> tuple[int, int, list[tuple[str, str, Leg]]]:
    """(equity, maintenance, open cross legs in leg order) of an account's cross pool at current marks."""
    account = work.current(account_id)
    equity = account.wallet
    charges: list[tuple[str, int, int]] = []
    legs = []
    default = work.config.default_settings
    settings, by_key = account.settings, account.legs
    for symbol, side in account.open_legs:
        leg = by_key[(symbol, side)]
        if settings.get((symbol, side), default).margin_type != CROSS:
            continue
        mark = work.mark_prices.get(symbol)
        price = mark if mark is not None else leg.cost_basis // leg.quantity
        equity += unrealized_pnl(leg, price)
        charges.append((symbol, abs(leg.quantity),
                        maintenance_margin(leg, price, work.config.instruments[symbol].brackets)))
        legs.append((symbol, side, leg))
    legs.sort()  # the sums do not depend on the order; liquidation closes the legs in this one
    return equity, charged_maintenance(charges, work.config.choices["hedged_maintenance"]), legs


def hedged_overlap(legs: list[tuple[str, str, Leg]]) -> list[tuple[str, int]]:
    """Per instrument with both a LONG and a SHORT cross leg open: the quantity the two legs share, the
    smaller of the two (in symbol order). Implements HM-LIQ-005 (``offset_hedged_first``)."""
    longs = {symbol: leg.quantity for symbol, side, leg in legs if side == "LONG"}
    return [(symbol, min(longs[symbol], -leg.quantity)) for symbol, side, leg in legs
            if side == "SHORT" and symbol in longs]


def _close_cross_leg(work: Work, account_id: str, symbol: str, side: str, leg: Leg, quantity: int) -> None:
    """A liquidation fill of ``quantity`` of one cross leg at its mark, its clearance fee from the wallet."""
    mark = work.mark_prices.get(symbol, leg.cost_basis // leg.quantity)
    clearance = fill_fee(quantity, mark, work.config.choices["liquidation_clearance_fee_rate"])
    if clearance:
        work.transfer(account_id, symbol, side, "CLEARANCE_FEE", "wallet", "insurance_fund", clearance)
    work.apply_fill(account_id, "", symbol, SELL if leg.quantity > 0 else BUY, side, quantity, mark,
                    "TAKER", "liquidation", 0, fee_rate=0)


def _evaluate_cross(work: Work, account_id: str) -> None:
    """Liquidate a breached cross pool (HM-LIQ-005). Under ``cross_liquidation_scope: offset_hedged_first``
    each instrument's opposite cross legs are first reduced by the quantity they share, at the mark, and
    the pool is judged again: only a pool still breached then has every cross leg closed."""
    equity, maintenance, legs = cross_pool(work, account_id)
    if not legs or not is_breached(equity, maintenance, work.config.choices["liquidation_trigger"]):
        return
    work.events.append(Liquidation(account_id, "", "CROSS", 0, equity, maintenance))
    _cancel_before(work, account_id, [(s, side) for s, side, _ in legs])
    if work.config.choices["cross_liquidation_scope"] == "offset_hedged_first":
        overlap = hedged_overlap(legs)
        for symbol, quantity in overlap:
            for side in HEDGE_SIDES:
                leg = work.current(account_id).leg(symbol, side)
                _close_cross_leg(work, account_id, symbol, side, leg, quantity)
        if overlap:
            equity, maintenance, legs = cross_pool(work, account_id)
            if legs and not is_breached(equity, maintenance, work.config.choices["liquidation_trigger"]):
                return
    for symbol, side, leg in legs:
        _close_cross_leg(work, account_id, symbol, side, leg, abs(leg.quantity))
    deficit = -work.account(account_id).wallet
    if deficit > 0:
        work.transfer(account_id, "", "CROSS", "INSURANCE_COVER", "insurance_fund", "wallet", deficit)
