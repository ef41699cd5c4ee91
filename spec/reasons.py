"""The rejection reason classes of the observable format (outcomes version 1), in published order,
with when each applies.

One definition for the model, the checks, the venue profiles' code maps, the audit and the
published format reference (docs/formats/outcomes.md).
"""

from __future__ import annotations

REASON_CLASSES: tuple[str, ...] = (
    "MODE_SWITCH_WITH_POSITIONS",
    "MODE_SWITCH_WITH_OPEN_ORDERS",
    "MODE_IN_FORCE",
    "POSITION_SIDE_MISMATCH",
    "REDUCE_EXCEEDS_LEG",
    "REDUCE_ONLY_FORBIDDEN",
    "INSUFFICIENT_MARGIN",
    "INSUFFICIENT_BALANCE",
    "INVALID_ARGUMENT",
    "UNKNOWN_ORDER",
    "DUPLICATE_ORDER_ID",
    "MARGIN_TYPE_WITH_POSITION",
    "MARGIN_TYPE_WITH_OPEN_ORDERS",
    "NO_MARK_PRICE",
    "INSTRUMENT_EXPIRED",
    "LEVERAGE_EXCEEDS_BRACKET",
)

REASON_MEANINGS: dict[str, str] = {
    "MODE_SWITCH_WITH_POSITIONS":
        "`set_position_mode`: a position of the scope is open ([HM-MODE-002][]). When the scope also has open "
        "orders, the profile's `mode_switch_precedence` says which of the two reasons is given.",
    "MODE_SWITCH_WITH_OPEN_ORDERS":
        "`set_position_mode`: an order of the scope, conditional orders included, is open ([HM-MODE-003][]).",
    "MODE_IN_FORCE":
        "`set_position_mode` asking for the mode already in force, under a profile whose `same_mode_request` is "
        "`rejected`; other profiles answer `unchanged` ([HM-MODE-004][]).",
    "POSITION_SIDE_MISMATCH":
        "`place_order`, `set_margin_type`, `set_leverage`, `adjust_margin`: the position side does not fit the "
        "mode in force: missing or `BOTH` in hedge mode, `LONG` or `SHORT` in one-way mode ([HM-ORD-001][]). A "
        "side that is none of these is `INVALID_ARGUMENT`.",
    "REDUCE_EXCEEDS_LEG":
        "`place_order` of a closing order (hedge: SELL+LONG, BUY+SHORT; one-way: reduce-only or close-position) "
        "on a flat leg; or asking for more than the leg has left to close (its size, less its resting closing "
        "limit orders for a limit order) under `oversized_close: reject`; or a reduce-only or close-position "
        "order that would increase its leg; or a one-way reduce-only, close-position or conditional order without an opposite position "
        "([HM-ORD-003][], [HM-ORD-004][]).",
    "REDUCE_ONLY_FORBIDDEN":
        "`place_order` with `reduce_only` in hedge mode, under a profile whose `reduce_only_in_hedge` is "
        "`forbidden` ([HM-ORD-007][], [HM-ORD-009][]).",
    "INSUFFICIENT_MARGIN":
        "`place_order`: the order's initial margin (opening orders: notional / leverage, rounded up) plus its fee "
        "reservation (quantity x price x the higher of the maker and taker rates, rounded up) exceeds the "
        "available balance ([HM-ORD-008][]); `set_leverage`: the open orders re-priced at the new leverage would "
        "exceed it; `adjust_margin` removing margin: the leg would keep less than its initial margin at the mark.",
    "INSUFFICIENT_BALANCE":
        "`withdraw`, or `adjust_margin` adding margin, for more than the available balance.",
    "INVALID_ARGUMENT":
        "A malformed action ([HM-ORD-005][]): a field of the wrong type; an unknown account, instrument or enum "
        "value; a logical time before the state's (the `t` of the last action not rejected); a deposit or "
        "withdrawal amount that is not positive; an order's or a market trade's quantity that is not a positive "
        "multiple of the lot size (a close-position order: a quantity other than 0, or `reduce_only`); an "
        "order's price (market and limit orders) or stop price (stop-market and take-profit-market orders) that "
        "is missing or not a positive multiple of the tick; a mark or trade price that is missing or not "
        "positive, or a settlement price that is not positive (none of these need be on the tick); a trailing "
        "stop's callback rate not between 0 and 1; a field the order type does not take (a price on a "
        "conditional order, a callback rate or activation price on any order but a trailing stop; "
        "`close_position` on a market or limit order under a profile whose `close_position_orders` is "
        "`conditional_only`); a conditional order that would trigger at once; a conditional order that would "
        "open a leg; leverage outside 1 to the instrument's maximum; a margin adjustment of zero or on a leg "
        "that is not an open isolated leg; the expiry of a perpetual.",
    "UNKNOWN_ORDER":
        "`cancel_order` of an order id that is not open.",
    "DUPLICATE_ORDER_ID":
        "`place_order` with the id of an order that is still open. Checked before the order's other fields, "
        "which HM-ORD-005 allows.",
    "MARGIN_TYPE_WITH_POSITION":
        "`set_margin_type` on a leg (or the legs the profile's `margin_type_scope` covers) holding a position "
        "([HM-MARG-005][]).",
    "MARGIN_TYPE_WITH_OPEN_ORDERS":
        "`set_margin_type` on a flat leg that has open orders ([HM-MARG-005][]).",
    "NO_MARK_PRICE":
        "`funding` for an instrument that has no mark price yet.",
    "INSTRUMENT_EXPIRED":
        "`place_order`, `market_trade`, `mark_price`, `funding` or `expire` on an instrument that has expired "
        "([HM-SETL-002][]).",
    "LEVERAGE_EXCEEDS_BRACKET":
        "`place_order` of an opening order: the leg's notional after it (its size and the order's, at the "
        "order's price) falls in a bracket whose maximum leverage is below the leg's leverage; `set_leverage` "
        "on an open leg to more than the maximum of the bracket its absolute cost basis falls in ([HM-MARG-006][]).",
}
"""When each reason class applies (Markdown; rule IDs as reference links), as the reference model gives it."""
