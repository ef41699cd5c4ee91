"""Settlement chapter. Implements HM-SETL-001/002: at expiry every leg settles on its own."""

from __future__ import annotations

from .actions import Expire
from .events import ACCEPTED, Outcome, rejected
from .ledger import Work
from .state import BUY, DATED, SELL


def expire(work: Work, action: Expire) -> Outcome:
    """Close every leg of the instrument at the settlement price, each alone; cancel its orders."""
    inst = work.config.instruments[action.instrument]
    if inst.kind != DATED:
        return rejected("INVALID_ARGUMENT", f"instrument: {action.instrument} is perpetual and does not expire")
    if action.instrument in work.state.expired:
        return rejected("INSTRUMENT_EXPIRED", f"{action.instrument} has already expired")
    if action.settlement_price <= 0:
        return rejected("INVALID_ARGUMENT", "settlement_price: must be positive")
    rate = work.config.choices["settlement_fee_rate"]
    work.copy_prices()
    work.mark_prices[action.instrument] = action.settlement_price
    for account_id in work.config.account_ids:
        account = work.current(account_id)
        for order in sorted(account.orders.values(), key=lambda o: o.seq):
            if order.instrument == action.instrument:
                work.cancel(account_id, order.order_id, "expiry")
        for (symbol, side), leg in sorted(account.legs.items()):
            if symbol == action.instrument and leg.quantity:
                work.apply_fill(account_id, "", symbol, SELL if leg.quantity > 0 else BUY, side, abs(leg.quantity),
                                action.settlement_price, "TAKER", "settlement", 0, fee_rate=rate)
    work.expired = work.expired | {action.instrument}
    return Outcome(ACCEPTED)
