"""Orders chapter: admission, execution, matching against market trades, conditional triggers.

Implements HM-ORD-001 (position side matches the mode), HM-ORD-003/004 (closing orders never
exceed or flip their leg), HM-ORD-005 (malformed orders), HM-ORD-006 (fill prices and matching),
HM-ORD-008 (initial margin reserved at placement), HM-STOP-001..003 and HM-STOP-005.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Final

from .actions import PlaceOrder
from .codec import format_units
from .events import ACCEPTED, OrderUpdate, Outcome, rejected
from .fees import fill_fee
from .ledger import Work
from .margin import available_balance, bracket_for, initial_margin, settings_of
from .mode import mode_of
from .positions import released_share
from .state import (
    BOTH,
    BUY,
    CONDITIONAL_TYPES,
    FLAT,
    HEDGE_SIDES,
    LIMIT,
    LONG,
    MARKET,
    ONE_WAY,
    ORDER_TYPES,
    SELL,
    SHORT,
    STOP_MARKET,
    TAKE_PROFIT_MARKET,
    TRAILING_STOP_MARKET,
    Order,
    record,
)
from .units import RATE_ONE


def check_price(work: Work, instrument: str, price: int, field: str, tick: bool = True) -> Outcome | None:
    """A rejection when ``price`` is not a positive price (a multiple of the tick when ``tick``)."""
    if price <= 0:
        return rejected("INVALID_ARGUMENT", f"{field}: must be positive")
    if tick and price % work.config.instruments[instrument].tick_size:
        return rejected("INVALID_ARGUMENT", f"{field}: not a multiple of the tick size")
    return None


def closing_side(position_side: str) -> str:
    """The order side that reduces a hedge leg: SELL reduces LONG, BUY reduces SHORT."""
    return SELL if position_side == LONG else BUY


def leg_direction(quantity: int) -> int:
    return (quantity > 0) - (quantity < 0)


def place(work: Work, action: PlaceOrder) -> Outcome:
    """Admit an order (all checks before any change), then execute or rest it."""
    config = work.config
    choices = config.choices
    # the fields' types, for the compiled build (step has checked them: well_typed)
    account_id: str
    order_id: str
    instrument: str
    side: str
    order_type: str
    requested_side: str
    quantity: int
    price: int
    stop_price: int
    activation_price: int
    callback_rate: int
    reduce_only: bool
    close_position: bool
    (account_id, order_id, instrument, side, order_type, requested_side, quantity, price, stop_price,
     activation_price, callback_rate, reduce_only, close_position) = _ORDER_FIELDS(action)
    inst = config.instruments[instrument]
    account = work.state.accounts[account_id]
    if not order_id or order_id in account.orders:
        return rejected("DUPLICATE_ORDER_ID" if order_id else "INVALID_ARGUMENT",
                        f"order_id: {order_id!r} is {'in use' if order_id else 'empty'}")
    if side not in (BUY, SELL):
        return rejected("INVALID_ARGUMENT", f"side: must be BUY or SELL, got {side!r}")
    if order_type not in ORDER_TYPES:
        return rejected("INVALID_ARGUMENT", f"order_type: unknown type {order_type!r}")
    if requested_side not in _REQUESTED_SIDES:
        return rejected("INVALID_ARGUMENT", f"position_side: unknown side {requested_side!r}")
    conditional = order_type in CONDITIONAL_TYPES
    if close_position:
        if not conditional and choices["close_position_orders"] == "conditional_only":
            return rejected("INVALID_ARGUMENT", "close_position: only stop-market, take-profit-market and "
                                                "trailing-stop-market orders may carry it")
        if quantity != 0 or reduce_only:
            return rejected("INVALID_ARGUMENT", "close_position: takes no quantity and no reduce_only")
    elif quantity <= 0 or quantity % inst.lot_size:
        return rejected("INVALID_ARGUMENT", "quantity: must be a positive multiple of the lot size")
    if order_type == MARKET or order_type == LIMIT:
        problem = check_price(work, instrument, price, "price")
        if problem:
            return problem
    elif price:
        return rejected("INVALID_ARGUMENT", "price: conditional orders execute at market; give stop_price")
    if order_type == STOP_MARKET or order_type == TAKE_PROFIT_MARKET:
        problem = check_price(work, instrument, stop_price, "stop_price")
        if problem:
            return problem
    if order_type == TRAILING_STOP_MARKET:
        if not 0 < callback_rate < RATE_ONE:
            return rejected("INVALID_ARGUMENT", "callback_rate: must be between 0 and 1")
        if activation_price < 0:
            return rejected("INVALID_ARGUMENT", "activation_price: must not be negative")
    elif activation_price or callback_rate:
        return rejected("INVALID_ARGUMENT", "activation_price/callback_rate: trailing stops only")

    if instrument in work.state.expired:
        return rejected("INSTRUMENT_EXPIRED", f"{instrument} has expired")
    position_side = requested_side
    if mode_of(config, account, instrument) == ONE_WAY:
        if position_side in HEDGE_SIDES:
            return rejected("POSITION_SIDE_MISMATCH", f"position_side {position_side} in one-way mode")
        position_side = BOTH
    elif position_side not in HEDGE_SIDES:
        return rejected("POSITION_SIDE_MISMATCH", "hedge mode needs position_side LONG or SHORT")
    leg = account.legs.get((instrument, position_side), FLAT)
    if position_side == BOTH:
        opening = not (reduce_only or close_position or conditional)
        signed = quantity if side == BUY else -quantity
        reducing_direction = leg.quantity != 0 and leg_direction(leg.quantity) != leg_direction(signed)
        if not opening and not reducing_direction:
            return rejected("REDUCE_EXCEEDS_LEG", "a reduce-only order needs an opposite position to reduce")
    else:
        opening = side != closing_side(position_side)
        if reduce_only and choices["reduce_only_in_hedge"] == "forbidden":
            return rejected("REDUCE_ONLY_FORBIDDEN", "reduce_only is not accepted in hedge mode")
        if opening and (reduce_only or close_position):
            return rejected("REDUCE_EXCEEDS_LEG", "a reduce-only order would increase the leg")
        if conditional and opening:
            return rejected("INVALID_ARGUMENT", "conditional orders close a leg; opening ones are not modelled")

    trim = choices["oversized_close"] == "trim"
    if not opening:
        leg_size = abs(leg.quantity)
        if leg_size == 0:
            return rejected("REDUCE_EXCEEDS_LEG", "there is nothing to reduce on this leg")
        if conditional or order_type == MARKET:
            limit = leg_size
        else:
            limit = leg_size - sum([o.quantity for o in account.orders.values()
                                    if o.instrument == instrument and o.position_side == position_side
                                    and not o.opening and o.order_type == LIMIT])
        if close_position and not conditional:  # a market or limit order for all the leg has left to close
            if limit <= 0:
                return rejected("REDUCE_EXCEEDS_LEG", "resting closing orders already cover the whole leg")
            quantity = limit
        if quantity > limit and not trim:
            return rejected("REDUCE_EXCEEDS_LEG", "quantity exceeds what the leg has left to close "
                                                  f"({format_units(limit, 'qty')})")
        if order_type == MARKET:
            quantity = min(quantity, leg_size)

    margin = 0
    if opening:
        leverage = settings_of(config, account, instrument, position_side).leverage
        margin = initial_margin(abs(quantity * price), leverage)
        new_size = abs(leg.quantity * price) + abs(quantity * price)
        if bracket_for(new_size, inst.brackets).max_leverage < leverage:
            return rejected("LEVERAGE_EXCEEDS_BRACKET", "the resulting position's bracket allows less leverage")
    fee_reserve = fill_fee(quantity, price, max(inst.maker_rate, inst.taker_rate)) if price else 0
    available = available_balance(config, account, work.state.mark_prices)
    if margin + fee_reserve > available:
        return rejected("INSUFFICIENT_MARGIN", f"needs {format_units(margin + fee_reserve, 'money')}, "
                                               f"available {format_units(available, 'money')}")

    if conditional:
        trigger_price = work.state.mark_prices.get(instrument) if choices[
            "trigger_price_source"] == "mark" else work.state.last_prices.get(instrument)
        if trigger_price is not None and order_type != TRAILING_STOP_MARKET and _stop_fires(
                order_type, leg_direction(leg.quantity), stop_price, trigger_price):
            return rejected("INVALID_ARGUMENT", "stop_price: the order would trigger immediately")

    work.seq += 1
    order = record(Order, (order_id, instrument, side, position_side, order_type, quantity, price, stop_price,
                           activation_price, callback_rate, reduce_only, close_position, work.seq, margin, fee_reserve,
                           opening, 0))
    if order_type == MARKET:
        execute(work, account_id, order, quantity, price, "TAKER", "order")
        return _ACCEPTED
    work.put_order(account_id, order)
    work.events.append(record(OrderUpdate, (account_id, order_id, "NEW", "request", quantity)))
    if order_type != LIMIT:
        return _ACCEPTED
    if not opening and trim:
        work.trim_closing_limits(account_id, [o for o in work.closing_orders(account_id, instrument, position_side)
                                              if o.order_type == LIMIT], abs(leg.quantity))
    last = work.state.last_prices.get(instrument)
    if last is not None and _crosses(side, price, last):
        resting = work.current(account_id).orders.get(order_id)
        if resting is not None:
            execute(work, account_id, resting, resting.quantity, price, "TAKER", "order")
    return _ACCEPTED


_ORDER_FIELDS: Final = attrgetter("account", "order_id", "instrument", "side", "order_type", "position_side", "quantity",
                           "price", "stop_price", "activation_price", "callback_rate", "reduce_only",
                           "close_position")
_REQUESTED_SIDES: Final = ("", BOTH, *HEDGE_SIDES)
_ACCEPTED: Final = Outcome(ACCEPTED)


def _crosses(side: str, limit_price: int, trade_price: int) -> bool:
    return limit_price >= trade_price if side == BUY else limit_price <= trade_price


def execute(work: Work, account_id: str, order: Order, quantity: int, price: int, liquidity: str,
            cause: str) -> None:
    """Fill ``quantity`` of ``order`` at ``price``; the order keeps the reservation of what is left."""
    account = work.account(account_id)
    account.pop_order(order.order_id)
    margin = released_share(order.margin_reserved, quantity, order.quantity) if order.opening else 0
    if order.opening and order.position_side == BOTH:
        leg = account.leg(order.instrument, BOTH)
        signed = quantity if order.side == BUY else -quantity
        if leg.quantity and leg_direction(leg.quantity) != leg_direction(signed):
            opening_qty = max(0, quantity - abs(leg.quantity))
            margin = released_share(margin, opening_qty, quantity) if opening_qty else 0
    remaining = order.quantity - quantity
    work.apply_fill(account_id, order.order_id, order.instrument, order.side, order.position_side, quantity,
                    price, liquidity, cause, margin)
    if remaining > 0:
        rest = order.with_remaining(
            remaining,
            order.margin_reserved - released_share(order.margin_reserved, quantity, order.quantity),
            order.fee_reserved - released_share(order.fee_reserved, quantity, order.quantity))
        work.put_order(account_id, rest)
        work.events.append(record(OrderUpdate, (account_id, order.order_id, "PARTIALLY_FILLED", cause, remaining)))
    else:
        work.events.append(record(OrderUpdate, (account_id, order.order_id, "FILLED", cause, 0)))


def match_resting(work: Work, instrument: str, price: int, quantity: int) -> None:
    """A market trade fills the resting limit orders it trades through (HM-ORD-006).

    Buys priced at or above the trade and sells at or below it fill at their own limit price as
    maker, best price first then time; each side is filled up to the trade's quantity.
    """
    work.copy_prices()
    for side in (BUY, SELL):
        candidates = []
        for account_id in work.config.account_ids:
            for order in work.current(account_id).orders.values():
                if order.instrument == instrument and order.order_type == LIMIT and order.side == side \
                        and _crosses(side, order.price, price):
                    candidates.append((-order.price if side == BUY else order.price, order.seq, account_id,
                                       order.order_id))
        budget = quantity
        for _, _, account_id, order_id in sorted(candidates):
            if budget <= 0:
                break
            account = work.current(account_id)
            resting = account.orders.get(order_id)
            if resting is None:  # cancelled by an earlier fill (its leg closed)
                continue
            fill_qty = min(budget, resting.quantity)
            if not resting.opening:  # a closing order fills what its leg holds, in the direction that reduces it
                held = account.leg(instrument, resting.position_side).quantity
                fill_qty = min(fill_qty, abs(held)) if (resting.side == BUY) != (held > 0) else 0
                if fill_qty == 0:
                    work.cancel(account_id, order_id, "leg_closed")
                    continue
            budget -= fill_qty
            execute(work, account_id, resting, fill_qty, resting.price, "MAKER", "order")


def _stop_fires(order_type: str, direction: int, stop_price: int, price: int) -> bool:
    """Stop / take-profit trigger for a leg of ``direction`` (+1 long, -1 short) (HM-STOP-002).

    A stop closing a long fires at or below its stop price, closing a short at or above; a
    take-profit the other way round. Stated as the leg's own price move: a stop fires iff the
    price has reached its stop against the leg, a take-profit iff in the leg's favour.

    pre: order_type in ("STOP_MARKET", "TAKE_PROFIT_MARKET")
    pre: direction in (1, -1)
    post: implies(order_type == "STOP_MARKET", __return__ == (direction * (price - stop_price) <= 0))  # HM-STOP-002
    post: implies(order_type == "TAKE_PROFIT_MARKET", __return__ == (direction * (price - stop_price) >= 0))  # HM-STOP-002
    """
    falls = price <= stop_price
    rises = price >= stop_price
    if order_type == STOP_MARKET:
        return falls if direction > 0 else rises
    return rises if direction > 0 else falls


def stop_triggered(order: Order, direction: int, price: int) -> bool:
    """Whether a waiting stop or take-profit fires at ``price`` on its own leg (HM-STOP-002)."""
    return _stop_fires(order.order_type, direction, order.stop_price, price)


def trailing_update(direction: int, extreme: int, activation_price: int, callback_rate: int,
                    price: int) -> tuple[int, bool]:
    """One trailing-stop observation (HM-STOP-003): (new extreme, fires).

    Closing a long, it activates once the price reaches the activation price (at once if 0),
    tracks the highest price since and fires on a fall of ``callback_rate`` from it; closing a
    short, it tracks the lowest price and fires on a rise.

    pre: direction in (1, -1)
    pre: extreme >= 0 and activation_price >= 0 and price > 0
    pre: 0 <= callback_rate < RATE_ONE
    post: implies(extreme == 0 and activation_price != 0 and direction * (price - activation_price) < 0, __return__ == (0, False))  # HM-STOP-003
    post: implies(__return__[0] != 0, direction * (__return__[0] - price) >= 0)  # HM-STOP-003
    post: implies(extreme != 0, direction * (__return__[0] - extreme) >= 0)  # HM-STOP-003
    post: __return__[0] in (0, extreme, price)  # HM-STOP-003
    post: __return__[1] == (__return__[0] != 0 and direction * (__return__[0] - price) * RATE_ONE >= __return__[0] * callback_rate)  # HM-STOP-003
    """
    if extreme == 0:
        active = activation_price == 0 or (price >= activation_price if direction > 0 else price <= activation_price)
        if not active:
            return 0, False
        extreme = price
    if direction > 0:
        extreme = max(extreme, price)
        return extreme, price * RATE_ONE <= extreme * (RATE_ONE - callback_rate)
    extreme = min(extreme, price)
    return extreme, price * RATE_ONE >= extreme * (RATE_ONE + callback_rate)


def trigger_conditionals(work: Work, instrument: str, price: int) -> None:
    """Fire the conditional orders whose own leg's trigger holds at ``price`` (HM-STOP-001/002).

    A fired order closes its own leg at ``price`` as taker: the whole leg for close_position,
    else its quantity up to what the leg holds.
    """
    touched, accounts = work.touched, work.state.accounts
    waiting = []
    for account_id in work.config.account_ids:
        for candidate in (touched.get(account_id) or accounts[account_id]).orders.values():
            if candidate.order_type in CONDITIONAL_TYPES and candidate.instrument == instrument:
                waiting.append((candidate.seq, account_id, candidate.order_id))
    if not waiting:
        return
    waiting.sort()
    for _, account_id, order_id in waiting:
        account = touched.get(account_id) or accounts[account_id]
        order = account.orders.get(order_id)
        if order is None:
            continue
        held = account.legs.get((instrument, order.position_side), FLAT).quantity
        direction = (held > 0) - (held < 0)
        if direction == 0 or (order.side == BUY) == (direction > 0):
            work.cancel(account_id, order_id, "leg_closed")
            continue
        if order.order_type == TRAILING_STOP_MARKET:
            extreme, fires = trailing_update(direction, order.extreme, order.activation_price,
                                             order.callback_rate, price)
            if not fires:
                if extreme != order.extreme:
                    work.put_order(account_id, order.with_extreme(extreme))
                continue
        elif not stop_triggered(order, direction, price):
            continue
        quantity = abs(held) if order.close_position else min(order.quantity, abs(held))
        work.events.append(OrderUpdate(account_id, order_id, "TRIGGERED", "trigger", quantity))
        execute(work, account_id, order.with_remaining(quantity, 0, 0), quantity, price, "TAKER",
                "trigger")


__all__ = ["place", "execute", "match_resting", "trigger_conditionals", "check_price", "SHORT"]
