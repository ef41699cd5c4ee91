"""Chapter: orders — position side, direction, reducing orders, malformed input, fill prices, margin."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from ..observe import (
    CTX,
    D,
    choice,
    events,
    instruments,
    is_closing,
    mode_in_force,
    money_up,
    mul,
    open_orders,
    row,
    rows,
)
from ..registry import StepView, Violation, declare, rule

declare(
    "HM-ORD-007", level="MAY", title="What a reduce-only flag means in hedge mode",
    statement="In hedge mode a closing order (SELL on LONG, BUY on SHORT) is reduce-only by construction. "
              "Whether the explicit flag is forbidden (Binance), accepted (Bybit, Gate) or ignored (OKX) is a "
              "profile choice.",
    rationale="Binance documents -4062 for the flag in hedge mode but returns -1106; Bybit and Gate accept it; "
              "OKX restricts it to net mode and makes every hedge close reduce-only.",
    sources=["B-ORDER", "GH-NT4231", "GH-8304", "Y-ORDER", "O-ORDER", "G-ORDER"],
    profile_choices=("reduce_only_in_hedge",),
)


def _place(view: StepView) -> bool:
    return view.action.get("kind") == "place_order" and view.action.get("account") in view.before["accounts"] \
        and view.action.get("instrument") in instruments(view.params)


@rule(
    "HM-ORD-001", level="MUST", kind="rejection", title="The position side matches the mode",
    statement="In hedge mode an order MUST name the leg it acts on (LONG or SHORT); without it, or with the "
              "one-way value BOTH, it is refused with POSITION_SIDE_MISMATCH. In one-way mode an order naming "
              "LONG or SHORT is refused the same way.",
    rationale="Binance -4061, Bybit 10001 'position idx not match position mode', OKX 51000.",
    sources=["S-F1", "S-F2", "B-ORDER", "B-DEV5970", "Y-ORDER", "GH-24848", "O-ORDER"],
    applies_to=("place_order",), observes=("snapshot", "outcome"), requires=("hedge-mode",),
)
def position_side_matches_mode(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-001."""
    if not _place(view):
        return
    mode = mode_in_force(view.before, view.params, view.action["account"], view.action["instrument"])
    side = view.action.get("position_side", "")
    mismatch = side not in ("LONG", "SHORT") if mode == "HEDGE" else side in ("LONG", "SHORT")
    if mismatch and view.outcome["kind"] != "rejected":
        yield Violation("HM-ORD-001", f"order with position_side {side or 'missing'} accepted in {mode} mode")
    if not mismatch and view.outcome.get("reason") == "POSITION_SIDE_MISMATCH":
        yield Violation("HM-ORD-001", f"POSITION_SIDE_MISMATCH for {side or 'missing'} in {mode} mode")


@rule(
    "HM-ORD-002", level="MUST", kind="transition", title="A fill moves only its own leg, in its direction",
    statement="The effect of a fill is fixed by (side, position side): BUY+LONG increases the long, SELL+LONG "
              "reduces it, SELL+SHORT increases the short, BUY+SHORT reduces it. A fill of an order is on the "
              "order's own leg, and the leg's quantity changes by exactly the signed fill quantities of the step.",
    rationale="The mapping is the same on Binance, Bybit and OKX; a netting engine would report or apply a "
              "fill on the other leg.",
    sources=["S-F1", "S-P2", "B-DEV59", "CCXT-BN-FIX", "CCXT-BY-FIX"],
    observes=("snapshot", "events"), requires=("hedge-mode",),
)
def fill_moves_own_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-002."""
    moved: dict[tuple[str, str, str], Decimal] = {}
    for fill in events(view.outcome, "fill"):
        key = (fill["account"], fill["instrument"], fill["position_side"])
        signed = D(fill["quantity"]) if fill["side"] == "BUY" else -D(fill["quantity"])
        moved[key] = moved.get(key, Decimal(0)) + signed
        if _place(view) and fill["order_id"] == view.action["order_id"] and view.action.get("position_side") in (
                "LONG", "SHORT") and fill["position_side"] != view.action["position_side"]:
            yield Violation("HM-ORD-002", f"order on {view.action['position_side']} filled on {fill['position_side']}")
    for account, symbol, side, before in rows(view.before):
        after = row(view.after, account, symbol, side)
        if after is None:
            continue
        delta = moved.get((account, symbol, side), Decimal(0))
        if D(after["quantity"]) - D(before["quantity"]) != delta:
            yield Violation("HM-ORD-002", f"{account} {symbol} {side}: quantity moved "
                                          f"{D(after['quantity']) - D(before['quantity'])}, fills say {delta}")


@rule(
    "HM-ORD-003", level="MUST", kind="transition", title="A reducing fill never flips a leg",
    statement="A reducing fill (SELL on LONG, BUY on SHORT, or a reduce-only fill in one-way mode) MUST NOT "
              "take more than the leg holds: a leg reduced to zero stays at zero, never crossing into the other "
              "direction.",
    rationale="Hedge closing orders are reduce-only by construction (Binance -2022, OKX 51169, Bybit 110017).",
    sources=["S-P4", "S-P2", "GH-8304", "O-ERR", "GH-24864"],
    observes=("snapshot", "events"), requires=("hedge-mode",),
)
def reducing_never_flips(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-003."""
    for fill in events(view.outcome, "fill"):
        side = fill["position_side"]
        if side not in ("LONG", "SHORT"):
            continue
        before = row(view.before, fill["account"], fill["instrument"], side)
        after = row(view.after, fill["account"], fill["instrument"], side)
        if before is None or after is None:
            continue
        if (side == "LONG" and D(after["quantity"]) < 0) or (side == "SHORT" and D(after["quantity"]) > 0):
            yield Violation("HM-ORD-003", f"{fill['account']} {fill['instrument']} {side} flipped to {after['quantity']}")
        reducing = (side == "LONG") == (fill["side"] == "SELL")
        if reducing and D(fill["quantity"]) > abs(D(before["quantity"])) and not any(
                f["position_side"] == side and f is not fill for f in events(view.outcome, "fill")):
            yield Violation("HM-ORD-003", f"reducing fill of {fill['quantity']} on a leg of {before['quantity']}")
    if _place(view) and view.action.get("reduce_only") and view.action.get("position_side", "") in ("", "BOTH"):
        b = row(view.before, view.action["account"], view.action["instrument"], "BOTH")
        a = row(view.after, view.action["account"], view.action["instrument"], "BOTH")
        if a and b and D(a["quantity"]) * D(b["quantity"]) < 0:
            yield Violation("HM-ORD-003", "a reduce-only order flipped the one-way position")


@rule(
    "HM-ORD-004", level="MUST", kind="rejection", title="A closing order never exceeds its leg",
    statement="A closing order larger than what its leg has left to close (the leg's size less the closing "
              "limit orders already resting on it) MUST be refused with REDUCE_EXCEEDS_LEG, or, where the profile "
              "trims, accepted with the resting closing orders trimmed, least favourable price first, so that "
              "they never exceed the leg. A closing order on a flat leg is refused.",
    rationale="Gate rejects (REDUCE_EXCEEDED); OKX trims since its 2023 change; Binance rejects with -2022 when "
              "there is nothing to close.",
    sources=["S-P4", "G-ERR", "O-CLOSEUPG", "GH-8304"],
    applies_to=("place_order",), observes=("snapshot", "outcome"), requires=("hedge-mode", "limit-orders"),
    profile_choices=("oversized_close",),
)
def closing_within_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-004."""
    if not _place(view) or view.action.get("position_side") not in ("LONG", "SHORT"):
        return
    action = view.action
    closing = (action["position_side"] == "LONG") == (action.get("side") == "SELL")
    if not closing or action.get("order_type") != "LIMIT" or mode_in_force(
            view.before, view.params, action["account"], action["instrument"]) != "HEDGE":
        return
    try:
        quantity = D(action["quantity"])
    except (InvalidOperation, KeyError, TypeError):
        return
    leg = abs(D(row(view.before, action["account"], action["instrument"], action["position_side"])["quantity"]))
    resting = sum((D(o["quantity"]) for o in open_orders(view.before, action["account"]).values()
                   if o["instrument"] == action["instrument"] and o["position_side"] == action["position_side"]
                   and o["order_type"] == "LIMIT" and is_closing(o)), Decimal(0))
    over = quantity > leg - resting or leg == 0
    if action.get("close_position") is True:  # it takes what the leg has left to close, if anything
        over = leg - resting <= 0
    trim = choice(view.params, "oversized_close") == "trim" and leg > 0
    if over and not trim and view.outcome["kind"] != "rejected":
        yield Violation("HM-ORD-004", f"closing order of {quantity} accepted with {leg - resting} left on the leg")
    if over and not trim and view.outcome["kind"] == "rejected" and view.outcome.get("reason") not in (
            "REDUCE_EXCEEDS_LEG", "INVALID_ARGUMENT", "INSUFFICIENT_MARGIN", "DUPLICATE_ORDER_ID", "INSTRUMENT_EXPIRED",
            "REDUCE_ONLY_FORBIDDEN"):
        yield Violation("HM-ORD-004", f"oversized close refused with {view.outcome.get('reason')}")
    if not over and view.outcome.get("reason") == "REDUCE_EXCEEDS_LEG":
        yield Violation("HM-ORD-004", "REDUCE_EXCEEDS_LEG for an order the leg can take")
    after_leg = abs(D(row(view.after, action["account"], action["instrument"], action["position_side"])["quantity"]))
    after_resting = sum((D(o["quantity"]) for o in open_orders(view.after, action["account"]).values()
                         if o["instrument"] == action["instrument"] and o["position_side"] == action["position_side"]
                         and o["order_type"] == "LIMIT" and is_closing(o)), Decimal(0))
    if after_resting > after_leg:
        yield Violation("HM-ORD-004", f"resting closing orders {after_resting} exceed the leg {after_leg}")


def _off_grid(text: object, step: str) -> bool:
    try:
        value = D(text)
        return value <= 0 or value % D(step) != 0
    except (InvalidOperation, TypeError):
        return True


@rule(
    "HM-ORD-005", level="MUST", kind="rejection", title="Malformed orders are refused, never half-applied",
    statement="An order whose quantity is zero, negative, not a number or not a multiple of the lot size, or whose "
              "price is not a positive multiple of the tick, or that names an unknown account or instrument, MUST "
              "be refused with INVALID_ARGUMENT.",
    rationale="Engines must validate before they act; a malformed order that partly applies corrupts the legs.",
    sources=["B-ERR", "O-ERR"],
    applies_to=("place_order",), observes=("outcome",),
)
def malformed_orders(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-005."""
    action = view.action
    if action.get("kind") != "place_order":
        return
    insts = instruments(view.params)
    problems = []
    if action.get("account") not in view.before["accounts"]:
        problems.append("unknown account")
    inst = insts.get(action.get("instrument"))
    if inst is None:
        problems.append("unknown instrument")
    elif not action.get("close_position") and _off_grid(action.get("quantity"), inst["lot_size"]):
        problems.append(f"quantity {action.get('quantity')!r} off the lot grid")
    elif action.get("order_type") in ("MARKET", "LIMIT") and _off_grid(action.get("price"), inst["tick_size"]):
        problems.append(f"price {action.get('price')!r} off the tick grid")
    if problems and not (view.outcome["kind"] == "rejected" and view.outcome.get("reason") == "INVALID_ARGUMENT"):
        yield Violation("HM-ORD-005", f"{'; '.join(problems)}: got {view.outcome['kind']} "
                                      f"{view.outcome.get('reason') or ''}".strip())


@rule(
    "HM-ORD-006", level="MUST", kind="transition", title="Fill prices and matching",
    statement="A market order fills at the price given with the action; a limit order fills at its limit price "
              "(as maker when a market trade trades through it, as taker when it crosses the last trade on "
              "arrival). A market trade fills the resting limit orders it trades through, best price first, then "
              "time, on each side up to the trade's quantity.",
    rationale="The model has no book of other participants; these are the observable matching rules the "
              "rulebook fixes so that fills, fees and PnL are comparable across engines.",
    sources=["B-TRADES", "B-FEES"],
    applies_to=("place_order", "market_trade"), observes=("snapshot", "events"), requires=("limit-orders",),
)
def fill_prices(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-006."""
    action = view.action
    if _place(view) and action.get("order_type") in ("MARKET", "LIMIT"):
        for fill in events(view.outcome, "fill"):
            if fill["order_id"] == action["order_id"] and D(fill["price"]) != D(action["price"]):
                yield Violation("HM-ORD-006", f"{action['order_type']} order filled at {fill['price']}, "
                                              f"not at {action['price']}")
    if action.get("kind") != "market_trade" or view.outcome["kind"] != "accepted":
        return
    price, quantity = D(action["price"]), D(action["quantity"])
    filled = {"BUY": Decimal(0), "SELL": Decimal(0)}
    for fill in events(view.outcome, "fill"):
        if fill["cause"] != "order":
            continue
        order = open_orders(view.before, fill["account"]).get(fill["order_id"])
        if order is None:
            yield Violation("HM-ORD-006", f"market trade filled {fill['order_id']}, which was not resting")
            continue
        if D(fill["price"]) != D(order["price"]) or fill["liquidity"] != "MAKER":
            yield Violation("HM-ORD-006", f"resting order {fill['order_id']} filled at {fill['price']} "
                                          f"{fill['liquidity']}, not at its limit {order['price']} as maker")
        filled[fill["side"]] += D(fill["quantity"])
    for side, total in filled.items():
        if total > quantity:
            yield Violation("HM-ORD-006", f"{side} fills {total} exceed the trade quantity {quantity}")
    for account, acc in view.before["accounts"].items():
        for oid, order in acc["open_orders"].items():
            if order["instrument"] != action["instrument"] or order["order_type"] != "LIMIT":
                continue
            crosses = D(order["price"]) >= price if order["side"] == "BUY" else D(order["price"]) <= price
            untouched = view.after["accounts"][account]["open_orders"].get(oid) == order
            if crosses and untouched and filled[order["side"]] < quantity:
                yield Violation("HM-ORD-006", f"{oid} was traded through at {price} but not filled")


@rule(
    "HM-ORD-008", level="MUST", kind="rejection", title="Initial margin is reserved when an order opens",
    statement="An order that opens or increases a hedge leg MUST be refused with INSUFFICIENT_MARGIN if and only "
              "if the available balance is below its initial margin (notional / leverage, rounded up) plus its "
              "fee at the higher of the maker and taker rates; once accepted, its fill never fails for lack of "
              "margin.",
    rationale="Venues reserve initial margin at placement (Binance 'cost required to open a position').",
    sources=["B-COST", "B-LM"],
    applies_to=("place_order",), observes=("snapshot", "outcome"), requires=("hedge-mode", "isolated-margin"),
)
def initial_margin_reserved(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-008."""
    action = view.action
    if not _place(view) or action.get("order_type") not in ("MARKET", "LIMIT"):
        return
    side = action.get("position_side")
    if side not in ("LONG", "SHORT") or (side == "LONG") != (action.get("side") == "BUY"):
        return
    if mode_in_force(view.before, view.params, action["account"], action["instrument"]) != "HEDGE":
        return
    reason = view.outcome.get("reason")
    if view.outcome["kind"] == "rejected" and reason != "INSUFFICIENT_MARGIN":
        return
    inst = instruments(view.params)[action["instrument"]]
    leg = row(view.before, action["account"], action["instrument"], side)
    notional = mul(D(action["quantity"]), D(action["price"]))
    margin = money_up(CTX.divide(notional, D(leg["leverage"])))
    fee = money_up(mul(notional, max(D(inst["maker_rate"]), D(inst["taker_rate"]))))
    available = D(view.before["accounts"][action["account"]]["available_balance"])
    needed = margin + fee
    if view.outcome["kind"] == "accepted" and needed > available:
        yield Violation("HM-ORD-008", f"accepted with {available} available, {needed} needed")
    if reason == "INSUFFICIENT_MARGIN" and needed <= available:
        yield Violation("HM-ORD-008", f"INSUFFICIENT_MARGIN with {available} available, {needed} needed")
