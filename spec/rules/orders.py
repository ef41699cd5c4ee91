"""Chapter: orders — position side, direction, reducing orders, malformed input, fill prices, margin."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from ..observe import (
    CTX,
    D,
    events,
    instruments,
    is_closing,
    mode_in_force,
    modelled_choice,
    money_up,
    mul,
    off_grid,
    open_orders,
    refusals_checked_first,
    row,
    rows,
)
from ..registry import StepView, Violation, declare, rule
from .positions import _replay

declare(
    "HM-ORD-007", level="MAY", title="What a reduce-only flag means in hedge mode",
    statement="In hedge mode a closing order (SELL on LONG, BUY on SHORT) is reduce-only by construction. "
              "Whether the explicit flag is forbidden (Binance), accepted (Bybit, Gate) or implied by "
              "construction and not otherwise stated (OKX: whether the flag is then ignored or refused is not "
              "stated) is a profile choice.",
    rationale="Binance documents -4062 for the flag in hedge mode but returns -1106; Bybit and Gate accept it; "
              "OKX restricts it to net mode and makes every hedge close reduce-only, without saying what it does "
              "with the flag in long/short mode.",
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
              "LONG or SHORT is refused the same way. A reason the format reference checks first may be given "
              "instead: DUPLICATE_ORDER_ID while the order id is in use by an open order of the account, "
              "INSTRUMENT_EXPIRED on an expired instrument, or INVALID_ARGUMENT on an order malformed in a way the "
              "format reference checks first (an unknown account or instrument, an earlier logical time, a field "
              "of the wrong type or none of the order's, a value outside its enumeration, or a quantity, price, "
              "stop price or trailing field the order type does not take as given). POSITION_SIDE_MISMATCH is "
              "given for no other order.",
    rationale="Binance -4061, Bybit 10001 'position idx not match position mode', OKX 51000.",
    sources=["S-F1", "S-F2", "B-ORDER", "B-DEV5970", "Y-ORDER", "GH-24848", "O-ORDER"],
    applies_to=("place_order",), observes=("snapshot", "outcome"), requires=("hedge-mode",),
)
def position_side_matches_mode(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-001. Where the mode is unknown (HM-MODE-001: not reported, the profile's default not
    modelled), nothing is judged: every position side matches one of the two modes."""
    if not _place(view):
        return
    mode = mode_in_force(view.before, view.params, view.action["account"], view.action["instrument"])
    if mode is None:
        return
    side = view.action.get("position_side", "")
    mismatch = side not in ("LONG", "SHORT") if mode == "HEDGE" else side in ("LONG", "SHORT")
    reason = view.outcome.get("reason")
    if mismatch and view.outcome["kind"] != "rejected":
        yield Violation("HM-ORD-001", f"order with position_side {side or 'missing'} accepted in {mode} mode")
    elif mismatch and reason not in refusals_checked_first(view.before, view.params, view.action) | {
            "POSITION_SIDE_MISMATCH"}:
        yield Violation("HM-ORD-001", f"order with position_side {side or 'missing'} in {mode} mode refused with "
                                      f"{reason}, not POSITION_SIDE_MISMATCH")
    if not mismatch and view.outcome.get("reason") == "POSITION_SIDE_MISMATCH":
        yield Violation("HM-ORD-001", f"POSITION_SIDE_MISMATCH for {side or 'missing'} in {mode} mode")


@rule(
    "HM-ORD-009", level="MUST", kind="rejection", since="1.1.0",
    title="The reduce-only flag in hedge mode is treated as the profile says",
    statement="Where the profile forbids the explicit reduce-only flag in hedge mode (Binance), an order that names "
              "a leg (LONG or SHORT) in hedge mode and carries the flag MUST be refused with REDUCE_ONLY_FORBIDDEN, "
              "or with a reason the format reference checks first: DUPLICATE_ORDER_ID while the order id is in use "
              "by an open order of the account, INSTRUMENT_EXPIRED on an expired instrument, or INVALID_ARGUMENT on an "
              "order malformed in a way the format reference checks first (as HM-ORD-001 lists). "
              "REDUCE_ONLY_FORBIDDEN is given for no other order: never without the flag, never in one-way mode, and "
              "never where the profile accepts the flag (Bybit, Gate). Where the profile takes the flag as implied "
              "by construction (OKX) or does not model the choice, an order carrying it may be refused with "
              "REDUCE_ONLY_FORBIDDEN or not.",
    rationale="HM-ORD-007 makes the flag a profile choice; this rule holds an engine to the choice its profile "
              "makes. Binance refuses reduceOnly in hedge mode (documented -4062, returned as -1106); Bybit and Gate "
              "accept it on a closing order. An engine that takes what its venue refuses, or refuses what it takes, "
              "sends a client's closing orders down a path the venue never follows.",
    sources=["B-ORDER", "GH-NT4231", "Y-ORDER", "G-ORDER"],
    applies_to=("place_order",), observes=("snapshot", "outcome"), requires=("hedge-mode",),
    profile_choices=("reduce_only_in_hedge",),
)
def reduce_only_flag_as_profile_says(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-009. Where the mode is unknown (HM-MODE-001), only "never without the flag" is judged."""
    if not _place(view):
        return
    flagged = view.action.get("reduce_only") is True
    refused = view.outcome.get("reason") == "REDUCE_ONLY_FORBIDDEN"
    if refused and not flagged:
        yield Violation("HM-ORD-009", "REDUCE_ONLY_FORBIDDEN for an order without the reduce-only flag")
    mode = mode_in_force(view.before, view.params, view.action["account"], view.action["instrument"])
    if mode is None or not flagged:
        return
    choice = modelled_choice(view.params, "reduce_only_in_hedge")
    if refused and (mode != "HEDGE" or choice == "accepted"):
        yield Violation("HM-ORD-009", f"REDUCE_ONLY_FORBIDDEN in {mode} mode under reduce_only_in_hedge "
                                      f"{choice or 'not modelled'}")
    if mode != "HEDGE" or choice != "forbidden" or view.action.get("position_side") not in ("LONG", "SHORT"):
        return
    allowed = refusals_checked_first(view.before, view.params, view.action) | {"REDUCE_ONLY_FORBIDDEN"}
    if view.outcome["kind"] != "rejected":
        yield Violation("HM-ORD-009", f"reduce-only order on {view.action['position_side']} {view.outcome['kind']} "
                                      "in hedge mode, where the profile forbids the flag")
    elif view.outcome.get("reason") not in allowed:
        yield Violation("HM-ORD-009", f"reduce-only order in hedge mode refused with {view.outcome.get('reason')}, "
                                      "not REDUCE_ONLY_FORBIDDEN")


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
        if _place(view) and (fill["account"], fill["order_id"]) == (view.action["account"], view.action["order_id"]):
            if view.action.get("position_side") in ("LONG", "SHORT") and \
                    fill["position_side"] != view.action["position_side"]:
                yield Violation("HM-ORD-002",
                                f"order on {view.action['position_side']} filled on {fill['position_side']}")
            if fill["side"] != view.action["side"]:
                yield Violation("HM-ORD-002", f"{view.action['side']} order filled as {fill['side']}")
            continue
        if fill["cause"] not in ("order", "trigger"):
            continue
        order = open_orders(view.before, fill["account"]).get(fill["order_id"])
        if order is None:
            yield Violation("HM-ORD-002", f"{fill['account']}: fill of {fill['order_id']!r}, which is neither "
                                          "placed by this step nor open before it")
        elif (fill["side"], fill["position_side"]) != (order["side"], order["position_side"]):
            yield Violation("HM-ORD-002", f"{fill['account']} order {fill['order_id']} ({order['side']} "
                                          f"{order['position_side']}) filled as {fill['side']} {fill['position_side']}")
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
    """Implements HM-ORD-003. Each leg with fills is replayed from the snapshot before through the step's fills
    in event order (``positions._replay``): a reducing fill of a hedge leg never takes more than the leg holds at
    that fill, whatever other fills of the leg the step has before or after it (a leg crossed and brought back by
    a later fill ends on the right side); a reduce-only fill of a one-way position never takes more than it holds
    at that fill, whatever action brought the fill (the order placed, a resting order traded through, a
    conditional order fired)."""
    by_leg: dict[tuple[str, str, str], list[dict]] = {}
    for fill in events(view.outcome, "fill"):
        by_leg.setdefault((fill["account"], fill["instrument"], fill["position_side"]), []).append(fill)
    for (account, symbol, side), fills in by_leg.items():
        before, after = row(view.before, account, symbol, side), row(view.after, account, symbol, side)
        if before is None or after is None:
            continue
        if side == "BOTH":
            yield from _reduce_only_within(view, account, symbol, D(before["quantity"]), fills)
            continue
        if side not in ("LONG", "SHORT"):
            continue
        if (side == "LONG" and D(after["quantity"]) < 0) or (side == "SHORT" and D(after["quantity"]) > 0):
            yield Violation("HM-ORD-003", f"{account} {symbol} {side} flipped to {after['quantity']}")
        if _replay(before, fills)[1] is None:
            taken = ", ".join(f"{f['side']} {f['quantity']}" for f in fills)
            yield Violation("HM-ORD-003", f"{account} {symbol} {side}: a reducing fill takes more than the leg holds "
                                          f"(the leg of {before['quantity']} replayed through the fills {taken})")
    if _place(view) and view.action.get("reduce_only") and view.action.get("position_side", "") in ("", "BOTH"):
        b = row(view.before, view.action["account"], view.action["instrument"], "BOTH")
        a = row(view.after, view.action["account"], view.action["instrument"], "BOTH")
        if a and b and D(a["quantity"]) * D(b["quantity"]) < 0:
            yield Violation("HM-ORD-003", "a reduce-only order flipped the one-way position")


def _order_of(view: StepView, fill: dict) -> dict | None:
    """The order an order or trigger fill belongs to: the one the step places, or one open before the step."""
    action = view.action
    if fill["cause"] not in ("order", "trigger"):
        return None
    if _place(view) and (fill["account"], fill["order_id"]) == (action["account"], action.get("order_id")):
        return action
    return view.before["accounts"].get(fill["account"], {}).get("open_orders", {}).get(fill["order_id"])


def _reduce_only_within(view: StepView, account: str, symbol: str, held: Decimal,
                        fills: list[dict]) -> Iterator[Violation]:
    """HM-ORD-003 in one-way mode: the net position replayed through the step's fills; a fill of a reduce-only
    order (the flag, close_position, or a conditional order, which closes in one-way mode) takes at most what
    the position holds at that fill, in the direction that reduces it."""
    for fill in fills:
        signed = D(fill["quantity"]) if fill["side"] == "BUY" else -D(fill["quantity"])
        order = _order_of(view, fill)
        reduce_only = order is not None and bool(order.get("reduce_only") or order.get("close_position")
                                                  or order.get("order_type") not in ("MARKET", "LIMIT"))
        if reduce_only and (held == 0 or (held > 0) == (signed > 0) or abs(signed) > abs(held)):
            yield Violation("HM-ORD-003", f"{account} {symbol}: reduce-only fill {fill['side']} {fill['quantity']} "
                                          f"of {fill['order_id']} on a net position of {held}")
        held += signed


_CONDITIONAL = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")


def _closing_limits(snapshot: dict, account: str, symbol: str, side: str) -> dict[str, dict]:
    return {oid: o for oid, o in open_orders(snapshot, account).items()
            if o["instrument"] == symbol and o["position_side"] == side and o["order_type"] == "LIMIT"
            and is_closing(o)}


def _trimmed(closing: dict[str, tuple[Decimal, Decimal, int]], leg: Decimal, buy: bool) -> dict[str, Decimal]:
    """Closing limit orders (id -> quantity, price, age rank: higher is newer) cut to the leg's size, least
    favourable price first (the lowest-priced sell, the highest-priced buy), the newest first on a tie."""
    left = {oid: q for oid, (q, _, _) in closing.items()}
    excess = sum(left.values(), Decimal(0)) - leg
    for oid in sorted(closing, key=lambda o: (-closing[o][1] if buy else closing[o][1], -closing[o][2])):
        if excess <= 0:
            break
        cut = min(excess, left[oid])
        left[oid] -= cut
        excess -= cut
    return left


def _by_level(quantities: dict[str, Decimal], prices: dict[str, Decimal], skip: str) -> dict[Decimal, Decimal]:
    levels: dict[Decimal, Decimal] = {}
    for oid, q in quantities.items():
        if oid != skip:
            levels[prices[oid]] = levels.get(prices[oid], Decimal(0)) + q
    return levels


@rule(
    "HM-ORD-004", level="MUST", kind="rejection", title="A closing order never exceeds its leg",
    statement="A closing order (SELL on LONG, BUY on SHORT) of any type on a flat leg MUST be refused with "
              "REDUCE_EXCEEDS_LEG (or NO_MARK_PRICE while its instrument has no mark price). Otherwise a "
              "closing limit order must fit what its leg has left to close (the "
              "leg's size less the closing limit orders already resting on it), and a closing market or "
              "conditional order must fit the leg's size. One that does not fit is refused with "
              "REDUCE_EXCEEDS_LEG or, where the profile trims, accepted (either, where the profile does not model "
              "oversized_close); a refusal may instead give a reason the format reference checks first, where it "
              "applies (as HM-ORD-001 lists, or REDUCE_ONLY_FORBIDDEN on an order carrying the flag), and, where "
              "the profile does not model oversized_close, INSUFFICIENT_MARGIN, an engine that trims refusing the "
              "trimmed order (HM-ORD-008 judges that refusal). Accepted, it "
              "is a market or conditional order cut to the "
              "leg's size when it executes, a limit order with the leg's resting closing limit orders then "
              "trimmed, least favourable price first "
              "(the lowest-priced sell, the highest-priced buy; the newest first on a tie), until they fit the "
              "leg. Where the profile allows ordinary close-position orders, a close-position market order closes "
              "the whole leg at once (its resting closing limit orders are then cancelled, the leg being flat) "
              "and is refused only when the leg is flat; a close-position limit order rests (or fills) for what "
              "the leg has left to close and is refused with REDUCE_EXCEEDS_LEG when nothing is left. After every "
              "step the resting closing limit "
              "orders of a leg never exceed it: fills that shrink the leg trim or cancel them.",
    rationale="Gate rejects (REDUCE_EXCEEDED); OKX trims since its 2023 change; Binance rejects with -2022 when "
              "there is nothing to close.",
    sources=["S-P4", "G-ERR", "O-CLOSEUPG", "GH-8304"],
    applies_to=("place_order",), observes=("snapshot", "outcome"), requires=("hedge-mode", "limit-orders"),
    profile_choices=("oversized_close",),
)
def closing_within_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-004.

    Where the profile does not model ``oversized_close``, an oversized order is judged by what the
    engine did: refused, its reason must be one a refusal may give; accepted, the trim must be right.
    Time priority among resting orders at one price is not observable (snapshots list open orders
    by ID), so a trim is checked order by order for the new order and per price level for the rest.
    After every step, whatever its action (a stop fired, a trade through a resting order, a
    liquidation), no hedge leg's resting closing limit orders exceed it.
    """
    yield from _closing_limits_within_legs(view)
    if not _place(view) or view.action.get("position_side") not in ("LONG", "SHORT"):
        return
    action = view.action
    account, symbol, side = action["account"], action["instrument"], action["position_side"]
    closing = (side == "LONG") == (action.get("side") == "SELL")
    order_type = action.get("order_type")
    if not closing or order_type not in ("MARKET", "LIMIT", *_CONDITIONAL) or mode_in_force(
            view.before, view.params, account, symbol) != "HEDGE":  # one-way, or unknown: not judged here
        return
    close_position = action.get("close_position") is True
    try:
        quantity = Decimal(0) if close_position else D(action["quantity"])
    except (InvalidOperation, KeyError, TypeError):
        return
    outcome = view.outcome
    accepted, reason = outcome["kind"] == "accepted", outcome.get("reason")
    leg = abs(D(row(view.before, account, symbol, side)["quantity"]))
    before_limits = _closing_limits(view.before, account, symbol, side)
    resting = sum((D(o["quantity"]) for o in before_limits.values()), Decimal(0))
    room = leg - resting if order_type == "LIMIT" else leg
    policy = modelled_choice(view.params, "oversized_close")  # None: refused or trimmed, either
    trim = accepted if policy is None else policy == "trim"
    if leg == 0:
        over, cut = True, False
    elif close_position and order_type in ("MARKET", "LIMIT"):
        over, cut = room <= 0, False
    else:
        over = quantity > room
        cut = over and trim
    no_mark = reason == "NO_MARK_PRICE" and symbol not in view.before.get("mark_prices", {})
    if over and not cut:
        refusals = refusals_checked_first(view.before, view.params, action) | {"REDUCE_EXCEEDS_LEG"}
        if action.get("reduce_only") is True:
            refusals.add("REDUCE_ONLY_FORBIDDEN")  # whether the flag is forbidden: HM-ORD-009
        if policy is None and leg != 0:
            refusals.add("INSUFFICIENT_MARGIN")  # an engine that trims may refuse the trimmed order: HM-ORD-008's
        if not accepted and reason not in refusals and not no_mark:
            yield Violation("HM-ORD-004", f"closing {order_type} order beyond its leg refused with {reason}")
        elif accepted:
            yield Violation("HM-ORD-004", f"closing {order_type} order of {quantity} accepted with {room} left "
                                          f"to close on a leg of {leg}")
    if reason == "REDUCE_EXCEEDS_LEG" and not (over and not cut):
        yield Violation("HM-ORD-004", f"REDUCE_EXCEEDS_LEG for a closing {order_type} order the leg can take "
                                      f"({room} left{', trimmed' if cut else ''})")
    events_ = outcome.get("events", [])
    own_fills = [e for e in events_ if e.get("type") == "fill" and e.get("order_id") == action["order_id"]]
    if accepted and order_type == "MARKET" and not (over and not cut):  # fits, or cut to the leg's size
        expected = leg if close_position else min(quantity, leg)
        filled = sum((D(f["quantity"]) for f in own_fills), Decimal(0))
        if filled != expected:
            yield Violation("HM-ORD-004", f"closing market order of {quantity or 'the whole leg'} filled {filled} "
                                          f"on a leg of {leg}, expected {expected}")
    if accepted and order_type == "LIMIT" and not (over and not cut):
        yield from _check_trim(view, before_limits, leg, room if close_position else quantity, trim)


def _closing_limits_within_legs(view: StepView) -> Iterator[Violation]:
    """HM-ORD-004 after every step: the resting closing limit orders of each hedge leg total at most the leg."""
    for account, symbol, side, leg in rows(view.after):
        if side not in ("LONG", "SHORT"):
            continue
        resting = sum((D(o["quantity"]) for o in _closing_limits(view.after, account, symbol, side).values()),
                      Decimal(0))
        if resting > abs(D(leg["quantity"])):
            yield Violation("HM-ORD-004", f"{account} {symbol} {side}: resting closing limit orders {resting} exceed "
                                          f"the leg {abs(D(leg['quantity']))} after the step")


def _check_trim(view: StepView, before_limits: dict[str, dict], leg: Decimal, quantity: Decimal,
                trim: bool) -> Iterator[Violation]:
    """The closing limit orders of the leg once a new closing limit order is admitted: unchanged when
    they fit (or the profile refuses), else trimmed least favourable price first, the new order first on
    a tie; read from the order events before the step's first fill (the snapshot after when none)."""
    action = view.action
    oid, buy = action["order_id"], action.get("side") == "BUY"
    book = {o: (D(x["quantity"]), D(x["price"]), 0) for o, x in before_limits.items()}
    book[oid] = (quantity, D(action["price"]), 1)
    expected = _trimmed(book, leg, buy) if trim else {o: q for o, (q, _, _) in book.items()}
    events_ = view.outcome.get("events", [])
    if any(e.get("type") == "fill" for e in events_):
        observed = {o: q for o, (q, _, _) in book.items()}
        for event in events_:
            if event.get("type") == "fill":
                break
            if event.get("type") == "order" and event.get("order_id") in observed and event.get("account") in (
                    None, action["account"]):
                observed[event["order_id"]] = D(event.get("quantity") or 0) if event.get(
                    "status") != "CANCELLED" else Decimal(0)
    else:
        after = _closing_limits(view.after, action["account"], action["instrument"], action["position_side"])
        observed = {o: D(after[o]["quantity"]) if o in after else Decimal(0) for o in book}
    prices = {o: p for o, (_, p, _) in book.items()}
    if observed[oid] != expected[oid] or _by_level(observed, prices, oid) != _by_level(expected, prices, oid):
        wrong = {o: str(observed[o]) for o in book if observed[o] != expected[o]}
        yield Violation("HM-ORD-004", f"closing limit orders of the leg after admitting {oid}: {wrong}, expected "
                                      f"{ {o: str(expected[o]) for o in wrong} } (least favourable price first)")


@rule(
    "HM-ORD-005", level="MUST", kind="rejection", title="Malformed orders are refused, never half-applied",
    statement="An order whose quantity is zero, negative, not a number or not a multiple of the lot size, or whose "
              "price (a market or limit order's) or stop price (a stop-market or take-profit-market order's) is not "
              "a positive multiple of the tick, or that names an unknown account or instrument, MUST "
              "be refused with INVALID_ARGUMENT (or DUPLICATE_ORDER_ID when its order id is already in use by an "
              "open order of the account: either refusal leaves everything as it was).",
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
    elif not action.get("close_position") and off_grid(action.get("quantity"), inst["lot_size"]):
        problems.append(f"quantity {action.get('quantity')!r} off the lot grid")
    elif action.get("order_type") in ("MARKET", "LIMIT") and off_grid(action.get("price"), inst["tick_size"]):
        problems.append(f"price {action.get('price')!r} off the tick grid")
    elif action.get("order_type") in ("STOP_MARKET", "TAKE_PROFIT_MARKET") and off_grid(action.get("stop_price"),
                                                                                          inst["tick_size"]):
        problems.append(f"stop price {action.get('stop_price')!r} off the tick grid")
    in_use = action.get("order_id") in view.before["accounts"].get(action.get("account"), {}).get("open_orders", {})
    allowed = ("INVALID_ARGUMENT", "DUPLICATE_ORDER_ID") if in_use else ("INVALID_ARGUMENT",)
    if problems and not (view.outcome["kind"] == "rejected" and view.outcome.get("reason") in allowed):
        yield Violation("HM-ORD-005", f"{'; '.join(problems)}: got {view.outcome['kind']} "
                                      f"{view.outcome.get('reason') or ''}".strip())


@rule(
    "HM-ORD-006", level="MUST", kind="transition", title="Fill prices and matching",
    statement="A market order fills at the price given with the action; a limit order fills at its limit price "
              "(as maker when a market trade trades through it, as taker when it crosses the last trade on "
              "arrival). A market trade fills the resting limit orders it trades through, best price first, then "
              "time, on each side up to the trade's quantity: no order fills while one at a better price on its "
              "side still has quantity it could take (a hedge closing order at most its leg; a one-way "
              "reduce-only order the position only when it opposes it, otherwise nothing). No order fills more "
              "than it has left, a resting order partly filled keeps the rest open (unless trimmed to its leg), and "
              "an accepted market order that may open or increase its leg fills its whole quantity.",
    rationale="The model has no book of other participants; these are the observable matching rules the "
              "rulebook fixes so that fills, fees and PnL are comparable across engines.",
    sources=["B-TRADES", "B-FEES"],
    applies_to=("place_order", "market_trade"), observes=("snapshot", "events"), requires=("limit-orders",),
)
def fill_prices(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-006.

    Price priority is read from the order of the step's events; time priority among orders at one
    price from the open orders' optional ``arrival`` field. Where an engine omits it (or two orders
    share one), time priority is left to the vectors, which compare the fills themselves.
    """
    action = view.action
    if _place(view) and action.get("order_type") in ("MARKET", "LIMIT"):
        own = [f for f in events(view.outcome, "fill")
               if (f["account"], f["order_id"]) == (action["account"], action["order_id"])]
        for fill in own:
            if D(fill["price"]) != D(action["price"]) or fill["liquidity"] != "TAKER":
                yield Violation("HM-ORD-006", f"{action['order_type']} order filled at {fill['price']} "
                                              f"{fill['liquidity']}, not at {action['price']} as taker")
        total = sum((D(f["quantity"]) for f in own), Decimal(0))
        if own and not action.get("close_position") and total > D(action["quantity"]):
            yield Violation("HM-ORD-006", f"an order of {action['quantity']} filled {total}")
        if action["order_type"] == "MARKET" and view.outcome["kind"] == "accepted" and _opening(action) \
                and total != D(action["quantity"]):
            yield Violation("HM-ORD-006", f"an accepted opening market order of {action['quantity']} filled {total}")
        if action["order_type"] == "LIMIT" and view.outcome["kind"] == "accepted":
            yield from _limit_on_arrival(view, bool(own))
    if action.get("kind") != "market_trade" or view.outcome["kind"] != "accepted":
        return
    price, quantity = D(action["price"]), D(action["quantity"])
    filled = {"BUY": Decimal(0), "SELL": Decimal(0)}
    by_order: dict[tuple[str, str], Decimal] = {}
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
        key = (fill["account"], fill["order_id"])
        by_order[key] = by_order.get(key, Decimal(0)) + D(fill["quantity"])
    trimmed = {(e["account"], e["order_id"]) for e in events(view.outcome, "order") if e["status"] == "TRIMMED"}
    for (account, oid), total in by_order.items():
        resting = open_orders(view.before, account)[oid]
        left = open_orders(view.after, account).get(oid)
        if total > D(resting["quantity"]):
            yield Violation("HM-ORD-006", f"resting order {oid} of {resting['quantity']} filled {total}")
        elif left is not None and (account, oid) not in trimmed and \
                D(left["quantity"]) != D(resting["quantity"]) - total:
            yield Violation("HM-ORD-006", f"resting order {oid} of {resting['quantity']} filled {total} and "
                                          f"left {left['quantity']} open")
    for side, total in filled.items():
        if total > quantity:
            yield Violation("HM-ORD-006", f"{side} fills {total} exceed the trade quantity {quantity}")
    for account, acc in view.before["accounts"].items():
        for oid, order in acc["open_orders"].items():
            if order["instrument"] != action["instrument"] or order["order_type"] != "LIMIT":
                continue
            crosses = D(order["price"]) >= price if order["side"] == "BUY" else D(order["price"]) <= price
            untouched = view.after["accounts"][account]["open_orders"].get(oid) == order
            if crosses and untouched and filled[order["side"]] < quantity and all(
                    _capacity(order, _leg_quantity(snap, account, order)) != 0 for snap in (view.before, view.after)):
                yield Violation("HM-ORD-006", f"{oid} was traded through at {price} but not filled")
    yield from _price_priority(view, price)


def _limit_on_arrival(view: StepView, filled: bool) -> Iterator[Violation]:
    """HM-ORD-006 for a limit order the step places: it fills on arrival (as taker) only when it crosses the last
    trade of its instrument in the snapshot before (a buy at or above it, a sell at or below it), and one that
    crosses does not rest untouched. Without a last trade nothing crosses: the order rests."""
    action = view.action
    last = view.before.get("last_prices", {}).get(action["instrument"])
    try:
        price = D(action["price"])
        crosses = last is not None and (price >= D(last) if action["side"] == "BUY" else price <= D(last))
    except (InvalidOperation, KeyError, TypeError):
        return
    trade = f"the last trade {last}" if last is not None else "no trade yet"
    if filled and not crosses:
        yield Violation("HM-ORD-006", f"limit {action['side']} at {action['price']} filled on arrival, with {trade}: "
                                      "it does not cross, so it rests")
    resting = open_orders(view.after, action["account"]).get(action["order_id"])
    if crosses and not filled and resting is not None and D(resting["quantity"]) == D(action.get("quantity") or 0):
        yield Violation("HM-ORD-006", f"limit {action['side']} at {action['price']} crosses {trade} on arrival "
                                      "but rests unfilled")


def _opening(action: dict) -> bool:
    """An order that may open or increase its leg: BUY LONG or SELL SHORT in hedge mode; in one-way mode one
    without reduce_only or close_position."""
    if action.get("position_side") in ("LONG", "SHORT"):
        return (action["position_side"] == "LONG") == (action["side"] == "BUY")
    return not (action.get("reduce_only") or action.get("close_position"))


def _leg_quantity(snapshot: dict, account: str, order: dict) -> Decimal:
    leg = row(snapshot, account, order["instrument"], order["position_side"])
    return D(leg["quantity"]) if leg else Decimal(0)


def _capacity(order: dict, leg: Decimal) -> Decimal | None:
    """The most a resting limit order could fill against its leg's signed quantity (None: no bound). A hedge
    closing order takes at most the leg; a one-way reduce-only (or close-position) order takes the position
    only when it opposes it (a SELL on a long, a BUY on a short), otherwise nothing."""
    if order["position_side"] in ("LONG", "SHORT"):
        return abs(leg) if is_closing(order) else None
    if not (order["reduce_only"] or order["close_position"]):
        return None
    opposes = leg > 0 if order["side"] == "SELL" else leg < 0
    return abs(leg) if opposes else Decimal(0)


def _arrival(order: dict) -> int | None:
    """An open order's ``arrival`` (a larger value arrived later), None when the engine omits it."""
    arrival = order.get("arrival")
    return int(arrival) if isinstance(arrival, str) and arrival.isascii() and arrival.isdigit() else None


def _arrived_earlier(order: dict, than: dict) -> bool:
    """Whether ``order`` holds time priority over ``than``: both report an arrival, and its is smaller."""
    first, second = _arrival(order), _arrival(than)
    return first is not None and second is not None and first < second


def _price_priority(view: StepView, price: Decimal) -> Iterator[Violation]:
    """Replay the step's events: when a resting order fills, no order on its side at a better price, or
    at the same price and arrived earlier, may still have quantity it could take (a closing order can
    take none once its leg is flat)."""
    symbol = view.action["instrument"]
    book: dict[tuple[str, str], dict] = {}
    for account, acc in view.before["accounts"].items():
        for oid, order in acc["open_orders"].items():
            if order["instrument"] == symbol and order["order_type"] == "LIMIT" and (
                    D(order["price"]) >= price if order["side"] == "BUY" else D(order["price"]) <= price):
                book[(account, oid)] = order
    remaining = {key: D(order["quantity"]) for key, order in book.items()}
    legs: dict[tuple[str, str, str], Decimal] = {}
    last: dict[str, tuple[Decimal, str]] = {}
    for event in view.outcome.get("events", []):
        key = (event.get("account"), event.get("order_id"))
        if event.get("type") == "order" and key in remaining:
            remaining[key] = Decimal(0) if event.get("status") == "CANCELLED" else D(event.get("quantity") or 0)
        if event.get("type") != "fill":
            continue
        leg_key = (event["account"], event["instrument"], event["position_side"])
        if leg_key not in legs:
            before_row = row(view.before, *leg_key)
            legs[leg_key] = D(before_row["quantity"]) if before_row else Decimal(0)
        legs[leg_key] += D(event["quantity"]) if event["side"] == "BUY" else -D(event["quantity"])
        if event.get("cause") != "order" or key not in book:
            continue
        order = book[key]
        better = (lambda a, b: a > b) if order["side"] == "BUY" else (lambda a, b: a < b)
        p = D(order["price"])
        if order["side"] in last and better(p, last[order["side"]][0]):
            yield Violation("HM-ORD-006", f"{event['order_id']} at {p} filled after {last[order['side']][1]} at "
                                          f"the worse price {last[order['side']][0]}")
        last[order["side"]] = (p, event["order_id"])
        for other, waiting in book.items():
            if other == key or waiting["side"] != order["side"]:
                continue
            waiting_price = D(waiting["price"])
            earlier = waiting_price == p and _arrived_earlier(waiting, order)
            if not (earlier or better(waiting_price, p)):
                continue
            open_qty = remaining[other]
            waiting_leg = (other[0], symbol, waiting["position_side"])
            capacity = _capacity(waiting, legs.get(waiting_leg, _leg_quantity(view.before, other[0], waiting)))
            if capacity is not None:
                open_qty = min(open_qty, capacity)
            if open_qty > 0 and other[1] != event["order_id"]:
                ahead = (f"placed earlier at the same price (arrival {waiting['arrival']} < {order['arrival']})"
                         if earlier else f"at the better price {waiting['price']}")
                yield Violation("HM-ORD-006", f"{event['order_id']} at {p} filled while {other[1]} {ahead} still "
                                              f"had {open_qty} to fill")
        remaining[key] -= D(event["quantity"])


def _leverage(snapshot: dict, account: str, symbol: str, side: str) -> Decimal | None:
    leg = row(snapshot, account, symbol, side)
    return None if leg is None else D(leg["leverage"])


def available_balance(snapshot: dict, account: str) -> Decimal:
    """The available balance of the format reference, recomputed from the snapshot's own fields.

    wallet - order margin - the initial margin of each open cross leg at cost (|cost basis| /
    leverage, rounded up) + min(0, the unrealized PnL at the mark summed over the account's open
    cross legs): netted across the legs, then counted only when negative.
    """
    acc = snapshot["accounts"][account]
    marks = snapshot.get("mark_prices", {})
    available = D(acc["wallet"]) - D(acc["order_margin"])
    unrealized = Decimal(0)
    for symbol, sides in acc["positions"].items():
        for leg in sides.values():
            if leg["margin_type"] != "CROSS" or D(leg["quantity"]) == 0:
                continue
            available -= money_up(CTX.divide(abs(D(leg["cost_basis"])), D(leg["leverage"])))
            if symbol in marks:
                unrealized += mul(D(leg["quantity"]), D(marks[symbol])) - D(leg["cost_basis"])
    return available + min(Decimal(0), unrealized)


def _reserve_rate(inst: dict) -> Decimal:
    """The rate an order's fee is reserved at: the higher of the instrument's maker and taker rates (HM-ORD-008)."""
    return max(D(inst["maker_rate"]), D(inst["taker_rate"]))


def _reserve_floor(params: dict, snapshot: dict, account: str, order: dict) -> Decimal:
    """The least a resting limit order can hold: the fee of its remaining quantity at the higher rate and,
    when it opens or increases a hedge leg, the initial margin of its remaining quantity at the highest
    leverage its leg could have had since it was placed. One step does not show the leverage in force at
    placement (an engine may keep that reservation, or re-price it when the leg's leverage changes), so the
    bound is the highest leverage the instrument's brackets allow, or the leg's current one if higher.
    One-way orders hold at least the fee: the statement fixes only what opens a hedge leg."""
    if order["order_type"] != "LIMIT":
        return Decimal(0)
    inst = instruments(params)[order["instrument"]]
    notional = mul(D(order["quantity"]), D(order["price"]))
    floor = mul(notional, _reserve_rate(inst))
    if order["position_side"] in ("LONG", "SHORT") and not is_closing(order):
        highest = max(D(b["max_leverage"]) for b in inst["brackets"])
        leverage = _leverage(snapshot, account, order["instrument"], order["position_side"])
        floor += CTX.divide(notional, max(highest, leverage or highest))
    return floor


_ROUNDING_SLACK = Decimal("1e-14")  # per order: proportional releases round toward zero, one atom at a time


def _order_margin_moves(view: StepView) -> Iterator[Violation]:
    """HM-ORD-008 on every step but a leverage change (which may re-price what orders hold): each account's order
    margin rises by no more than the reservation of an order the step placed and left open (at its leg's leverage,
    rounded up), and falls by at least the least the quantity that left its open orders held (``_reserve_floor`` of
    what was cancelled, filled, trimmed or expired)."""
    if view.action.get("kind") == "set_leverage":
        return
    for account, acc in view.after["accounts"].items():
        before = view.before["accounts"].get(account)
        if before is None:
            continue
        released = Decimal(0)
        for order_id, order in before["open_orders"].items():
            left = acc["open_orders"].get(order_id)
            gone = D(order["quantity"]) - (D(left["quantity"]) if left else Decimal(0))
            if gone > 0:
                released += _reserve_floor(view.params, view.before, account, {**order, "quantity": str(gone)})
        added = Decimal(0)
        for order_id in acc["open_orders"].keys() - before["open_orders"].keys():
            reservation = _reservation(view.params, view.before, account, acc["open_orders"][order_id])
            if reservation is None:
                break
            added += reservation + _ROUNDING_SLACK
        else:
            rise = D(acc["order_margin"]) - D(before["order_margin"])
            if rise > added - released + _ROUNDING_SLACK * len(before["open_orders"]):
                yield Violation("HM-ORD-008", f"{account}: order margin moved by {rise}; the orders placed reserve at "
                                              f"most {added} and the quantity that left open orders held at least "
                                              f"{released}")


def _reservation(params: dict, snapshot: dict, account: str, order: dict) -> Decimal | None:
    """What a newly placed open order holds at most: the fee of its quantity at the higher rate and, unless it
    closes a hedge leg, its initial margin at its leg's leverage in ``snapshot`` (both rounded up). None where the
    leg's row, and so its leverage, is not reported."""
    if order["order_type"] != "LIMIT":
        return Decimal(0)
    inst = instruments(params)[order["instrument"]]
    leverage = _leverage(snapshot, account, order["instrument"], order["position_side"])
    if leverage is None:
        return None
    notional = mul(D(order["quantity"]), D(order["price"]))
    margin = Decimal(0) if order["position_side"] in ("LONG", "SHORT") and is_closing(order) else money_up(
        CTX.divide(notional, leverage))
    return margin + money_up(mul(notional, _reserve_rate(inst)))


@rule(
    "HM-ORD-008", level="MUST", kind="rejection", title="Initial margin is reserved when an order opens",
    statement="An order that opens or increases a hedge leg MUST be refused with INSUFFICIENT_MARGIN if and only "
              "if the available balance is below its initial margin (notional / leverage, rounded up) plus its "
              "fee at the higher of the maker and taker rates. A market or limit order that closes or reduces a "
              "hedge leg is never refused with INSUFFICIENT_MARGIN while that fee on its whole quantity fits in the "
              "available balance: it needs no initial margin. A limit order that rests adds exactly that "
              "reservation to the order margin (a closing one: "
              "its fee only), and a resting order keeps at least its remaining quantity's share of what was reserved "
              "when it was placed (or of that reservation re-priced at a new leverage of its leg). What an order "
              "holds is released with the quantity that leaves it: outside a leverage change, the order margin "
              "rises by no more than the reservations of the orders the step placed, and falls by at least the "
              "share of every quantity filled, cancelled, trimmed or expired out of the open orders. Every "
              "snapshot reports as available balance the wallet, less the order margin, less the initial margin "
              "of each open cross leg at cost (|cost basis| / leverage, rounded up), plus the unrealized PnL at "
              "the mark of the account's open cross legs, netted across all of them (gains offset losses) and "
              "counted only when that sum is negative.",
    rationale="Venues reserve initial margin at placement (Binance 'cost required to open a position'); an "
              "engine that misstates what is available can accept orders the wallet cannot carry.",
    sources=["B-COST", "B-LM"],
    observes=("snapshot", "outcome"), requires=("hedge-mode", "isolated-margin"),
)
def initial_margin_reserved(view: StepView) -> Iterator[Violation]:
    """Implements HM-ORD-008.

    On every snapshot after a step: the reported available balance against the documented
    formula, the order margin against the least its open orders hold, and its move against what
    the step placed and released (``_order_margin_moves``). On placements: the
    decision against the recomputed available balance of the snapshot before (an opening order's
    both ways; a closing order's refusal only), and the exact reservation of a limit order that
    rests without a fill.
    """
    for account, acc in view.after["accounts"].items():
        expected = available_balance(view.after, account)
        if D(acc["available_balance"]) != expected:
            yield Violation("HM-ORD-008", f"{account}: available balance {acc['available_balance']}, the wallet, "
                                          f"order margin and cross legs give {expected}")
        orders = acc["open_orders"].values()
        floor = sum((_reserve_floor(view.params, view.after, account, o) - _ROUNDING_SLACK for o in orders),
                    Decimal(0))
        if D(acc["order_margin"]) < max(Decimal(0), floor) or (not orders and D(acc["order_margin"]) != 0):
            yield Violation("HM-ORD-008", f"{account}: order margin {acc['order_margin']} with open orders that "
                                          f"hold at least {max(Decimal(0), floor)}")
    yield from _order_margin_moves(view)
    action = view.action
    if not _place(view) or action.get("order_type") not in ("MARKET", "LIMIT"):
        return
    side = action.get("position_side")
    if side not in ("LONG", "SHORT") or mode_in_force(
            view.before, view.params, action["account"], action["instrument"]) != "HEDGE":  # one-way or unknown
        return
    reason = view.outcome.get("reason")
    if view.outcome["kind"] == "rejected" and reason != "INSUFFICIENT_MARGIN":
        return
    try:
        notional = mul(D(action["quantity"]), D(action["price"]))
    except (InvalidOperation, KeyError, TypeError):
        return
    inst = instruments(view.params)[action["instrument"]]
    opening = (side == "LONG") == (action.get("side") == "BUY")
    margin = money_up(CTX.divide(notional, _leverage(view.before, action["account"], action["instrument"], side)))
    fee = money_up(mul(notional, _reserve_rate(inst)))
    events_ = view.outcome.get("events", [])
    if action["order_type"] == "LIMIT" and view.outcome["kind"] == "accepted" and not action.get("close_position") \
            and [(e.get("type"), e.get("order_id"), e.get("status")) for e in events_] == [
                ("order", action["order_id"], "NEW")]:
        moved = D(view.after["accounts"][action["account"]]["order_margin"]) - D(
            view.before["accounts"][action["account"]]["order_margin"])
        reserved = (margin if opening else Decimal(0)) + fee
        if moved != reserved:
            yield Violation("HM-ORD-008", f"resting limit order moved the order margin by {moved}, its reservation "
                                          f"is {reserved}")
    available = available_balance(view.before, action["account"])
    if not opening:
        if reason == "INSUFFICIENT_MARGIN" and not action.get("close_position") and fee <= available:
            yield Violation("HM-ORD-008", f"closing order refused with INSUFFICIENT_MARGIN: {available} available, "
                                          f"its fee is {fee} and it needs no initial margin")
        return
    needed = margin + fee
    if view.outcome["kind"] == "accepted" and needed > available:
        yield Violation("HM-ORD-008", f"accepted with {available} available, {needed} needed")
    if reason == "INSUFFICIENT_MARGIN" and needed <= available:
        yield Violation("HM-ORD-008", f"INSUFFICIENT_MARGIN with {available} available, {needed} needed")
