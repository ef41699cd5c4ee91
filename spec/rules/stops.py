"""Chapter: conditional orders — stops, take-profits and trailing stops bound to one leg."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

from ..observe import D, events, is_closing, modelled_choice, mul, row, rows
from ..registry import StepView, Violation, rule

RATE_ONE = Decimal(1)


def _sources(view: StepView) -> list[str]:
    """The trigger price sources the step may be judged under: the profile's where it models one, else both."""
    source = modelled_choice(view.params, "trigger_price_source")
    return [source] if source else ["mark", "last"]


def _under_some_source(view: StepView, check: Callable[[StepView, str], Iterator[Violation]]) -> Iterator[Violation]:
    """A violation only where every possible trigger price source gives one (an engine uses one source for
    every order, so the step passes when one source explains all of it)."""
    candidates = _sources(view)
    found = [list(check(view, source)) for source in candidates]
    if any(not violations for violations in found):
        return
    suffix = "" if len(candidates) == 1 else " (under either trigger price source; this one: mark price)"
    for violation in found[0]:
        yield Violation(violation.rule_id, violation.message + suffix)


def _trigger_price(view: StepView, source: str) -> Decimal | None:
    kind = view.action.get("kind")
    if view.outcome["kind"] != "accepted":
        return None
    if (source == "mark" and kind == "mark_price") or (source == "last" and kind == "market_trade"):
        return D(view.action["price"])
    return None


def _direction(view: StepView, account: str, order: dict) -> int:
    r = row(view.before, account, order["instrument"], order["position_side"])
    q = D(r["quantity"]) if r else Decimal(0)
    direction = (q > 0) - (q < 0)
    closes = (order["side"] == "SELL") == (direction > 0)
    return direction if closes else 0


def stop_fires(order_type: str, direction: int, stop: Decimal, price: Decimal) -> bool:
    if order_type == "STOP_MARKET":
        return price <= stop if direction > 0 else price >= stop
    return price >= stop if direction > 0 else price <= stop


def _triggered(view: StepView) -> dict[tuple[str, str], dict]:
    return {(e["account"], e["order_id"]): e for e in events(view.outcome, "order") if e["status"] == "TRIGGERED"}


@rule(
    "HM-STOP-001", level="MUST", kind="transition", title="A triggered order reduces only its own leg",
    statement="A conditional order is bound to one leg: when it fires, it fills on that leg only, reducing it, "
              "never the other leg of the instrument. It fills as taker, at the trigger price that fired it (the "
              "price of the mark-price or market-trade step).",
    rationale="A stop on the long never acts on the short. A fired stop is a market order: it takes liquidity, "
              "and with no book of other participants its observable fill is at the price that fired it, as a "
              "market order's is at the price given with it (HM-ORD-006).",
    sources=["S-Q3", "B-ORDER", "Y-TS"],
    observes=("snapshot", "events"), requires=("conditional-orders",),
)
def trigger_reduces_own_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-STOP-001: every trigger fill is a fired order's, on its leg, as taker at the step's price;
    every fired order fills."""
    triggered = _triggered(view)
    filled = {(f["account"], f["order_id"]) for f in events(view.outcome, "fill") if f["cause"] == "trigger"}
    for account, order_id in triggered.keys() - filled:
        yield Violation("HM-STOP-001", f"{account} {order_id} fired (TRIGGERED) but did not fill")
    for fill in events(view.outcome, "fill"):
        if fill["cause"] != "trigger":
            continue
        order = view.before["accounts"][fill["account"]]["open_orders"].get(fill["order_id"])
        if order is None or (fill["account"], fill["order_id"]) not in triggered:
            yield Violation("HM-STOP-001", f"trigger fill {fill['order_id']} without a waiting order that fired")
            continue
        if fill["position_side"] != order["position_side"] or fill["side"] != order["side"]:
            yield Violation("HM-STOP-001", f"{fill['order_id']} for {order['position_side']} filled on "
                                           f"{fill['position_side']}")
        if fill["liquidity"] != "TAKER":
            yield Violation("HM-STOP-001", f"{fill['order_id']} fired and filled as {fill['liquidity']}, not taker")
        if view.action.get("kind") in ("mark_price", "market_trade") and D(fill["price"]) != D(view.action["price"]):
            yield Violation("HM-STOP-001", f"{fill['order_id']} fired at {view.action['price']} but filled at "
                                           f"{fill['price']}")


@rule(
    "HM-STOP-002", level="MUST", kind="transition", title="A stop fires on its own leg's trigger only",
    statement="A stop-market or take-profit-market order fires if and only if the trigger price (mark or last, "
              "per the profile) crosses its stop price in the direction set by its own leg: a stop closing a long "
              "at or below, closing a short at or above; a take-profit the other way. Events of the other leg, "
              "including its liquidation, never fire it. Where the profile does not model the trigger price "
              "source, a step is judged under the mark and under the last price, and is a violation only if it "
              "is one under both.",
    rationale="Stops are bound to one position and never trigger from the other side's events.",
    sources=["S-Q3", "B-ORDER", "Y-TS", "O-ORDER"],
    applies_to=("mark_price", "market_trade"), observes=("snapshot", "events"), requires=("conditional-orders",),
    profile_choices=("trigger_price_source",),
)
def stop_iff_trigger(view: StepView) -> Iterator[Violation]:
    """Implements HM-STOP-002: a stop or take-profit fires only on a step that moves its own instrument's trigger
    price, and then if and only if its leg's trigger holds."""
    yield from _under_some_source(view, _stop_iff_trigger)


def _stop_iff_trigger(view: StepView, source: str) -> Iterator[Violation]:
    price = _trigger_price(view, source)
    triggered = _triggered(view)
    for key in triggered:
        order = view.before["accounts"][key[0]]["open_orders"].get(key[1])
        if price is None or order is None:
            yield Violation("HM-STOP-002", f"{key[1]} fired on a step that moves no trigger price")
        elif order["instrument"] != view.action["instrument"] and order["order_type"] != TRAILING:
            yield Violation("HM-STOP-002", f"{key[1]} of {order['instrument']} fired on a trigger price of "
                                           f"{view.action['instrument']}")
    if price is None:
        return
    for account, acc in view.before["accounts"].items():
        for oid, order in acc["open_orders"].items():
            if order["instrument"] != view.action["instrument"] or order["order_type"] not in (
                    "STOP_MARKET", "TAKE_PROFIT_MARKET"):
                continue
            direction = _direction(view, account, order)
            fires = direction != 0 and stop_fires(order["order_type"], direction, D(order["stop_price"]), price)
            did = (account, oid) in triggered
            if did and not fires:
                yield Violation("HM-STOP-002", f"{oid} fired at {price} though its trigger {order['stop_price']} "
                                               f"does not hold for its leg")
            if fires and not did and not _leg_closed_in_step(view, account, order, oid):  # closed by another fill
                yield Violation("HM-STOP-002", f"{oid} did not fire at {price} (stop {order['stop_price']})")


TRAILING = "TRAILING_STOP_MARKET"


def _optional(text: str | None) -> Decimal | None:
    return D(text) if text else None


def _trailing_update(direction: int, extreme: Decimal | None, order: dict, price: Decimal
                     ) -> tuple[Decimal | None, bool]:
    """One observation of a trailing stop: (extreme after it, fires)."""
    activation = D(order["activation_price"])
    if extreme is None:
        active = activation == 0 or (price >= activation if direction > 0 else price <= activation)
        if not active:
            return None, False
        extreme = price
    callback = D(order["callback_rate"])
    if direction > 0:
        extreme = max(extreme, price)
        return extreme, price <= mul(extreme, RATE_ONE - callback)
    extreme = min(extreme, price)
    return extreme, price >= mul(extreme, RATE_ONE + callback)


def _active_at_placement(view: StepView, account: str, oid: str, order: dict, source: str) -> Decimal | None:
    """The current trigger price when the step places this trailing stop and it activates at once (no
    activation price, or one the trigger price has already reached); an engine may report that price as
    its extreme on the placement step (or null, leaving activation to the next trigger-price step)."""
    action = view.action
    if action.get("kind") != "place_order" or action.get("account") != account or action.get("order_id") != oid:
        return None
    price = _optional(view.after.get("mark_prices" if source == "mark" else "last_prices", {}).get(
        order["instrument"]))
    if price is None:
        return None
    activation = D(order["activation_price"])
    direction = 1 if order["side"] == "SELL" else -1
    return price if activation == 0 or direction * (price - activation) >= 0 else None


def _leg_closed_in_step(view: StepView, account: str, order: dict, order_id: str = "") -> bool:
    """The order's leg was closed by a fill of this step (an earlier trigger, a resting close), not one of
    order ``order_id``'s own."""
    leg = (account, order["instrument"], order["position_side"])
    after = row(view.after, *leg)
    return (after is None or D(after["quantity"]) == 0) and any(
        (f["account"], f["instrument"], f["position_side"]) == leg and f["order_id"] != order_id
        for f in events(view.outcome, "fill"))


def _extreme_consistent(view: StepView, source: str) -> Iterator[Violation]:
    """A reported extreme agrees with the activation price and with the latest trigger price the order saw."""
    prices = view.after.get("mark_prices" if source == "mark" else "last_prices", {})
    for acc in view.after["accounts"].values():
        for oid, order in acc["open_orders"].items():
            if order["order_type"] != TRAILING or not order.get("trailing_extreme"):
                continue
            direction = 1 if order["side"] == "SELL" else -1
            extreme, activation = D(order["trailing_extreme"]), D(order["activation_price"])
            if activation != 0 and direction * (extreme - activation) < 0:
                yield Violation("HM-STOP-003", f"trailing {oid}: active with extreme {order['trailing_extreme']} "
                                               f"though its activation price {order['activation_price']} was never "
                                               f"reached")
            price = _optional(prices.get(order["instrument"]))
            if price is None:
                continue
            _, fires = _trailing_update(direction, extreme, order, price)
            if direction * (extreme - price) < 0 or fires:
                yield Violation("HM-STOP-003", f"trailing {oid}: extreme {order['trailing_extreme']} cannot follow "
                                               f"the latest trigger price {price} (it would have moved or fired)")


@rule(
    "HM-STOP-003", level="MUST", kind="transition", title="A trailing stop tracks its own leg's direction",
    statement="A trailing stop closing a long activates when the trigger price reaches its activation price (at "
              "once without one, or when the price has already reached it: on its placement step its extreme is "
              "then reported as null or as the current trigger price), then tracks the highest price since and "
              "fires on a fall of its callback rate "
              "from it; one closing a short tracks the lowest price and fires on a rise. It never fires on a move "
              "in the other direction, and one whose trigger holds is not withdrawn without firing unless its leg "
              "was closed in the same step. Where the profile does not model the trigger price source, a step is "
              "judged under the mark and under the last price, and is a violation only if it is one under both.",
    rationale="Trailing stops are per position and track only that position. Decided from the order's "
              "trailing_extreme (null before activation), which the check recomputes step by step from the "
              "observed trigger prices: a reported extreme must lie beyond the activation price and the latest "
              "trigger price without having fired at it, and changes only on a trigger-price step. The price path "
              "before a single step is not visible to a step check, so an extreme within those bounds is taken as "
              "reported; an engine that omits the field leaves the order undecided.",
    sources=["S-Q4", "B-ORDER", "Y-TS"],
    observes=("snapshot", "events"), requires=("trailing-stops",),
    profile_choices=("trigger_price_source",),
)
def trailing_direction(view: StepView) -> Iterator[Violation]:
    """Implements HM-STOP-003."""
    yield from _under_some_source(view, _trailing_direction)


def _trailing_direction(view: StepView, source: str) -> Iterator[Violation]:
    yield from _extreme_consistent(view, source)
    price = _trigger_price(view, source)
    moved = view.action.get("instrument") if price is not None else None
    for account, acc in view.after["accounts"].items():
        for oid, order in acc["open_orders"].items():
            if order["order_type"] != TRAILING or "trailing_extreme" not in order or order["instrument"] == moved:
                continue
            old = view.before["accounts"].get(account, {}).get("open_orders", {}).get(oid)
            was = _optional(old.get("trailing_extreme")) if old and old["order_type"] == TRAILING else None
            now = _optional(order["trailing_extreme"])
            if now != was and not (old is None and now == _active_at_placement(view, account, oid, order, source)):
                yield Violation("HM-STOP-003", f"trailing {oid}: extreme moved to {order['trailing_extreme']} on a "
                                               f"step that moves no trigger price of its instrument")
    if price is None:
        return
    triggered = _triggered(view)
    for account, acc in view.before["accounts"].items():
        for oid, order in acc["open_orders"].items():
            if order["order_type"] == TRAILING and order["instrument"] != view.action["instrument"] \
                    and (account, oid) in triggered:  # it tracks its own instrument's trigger price only
                yield Violation("HM-STOP-003", f"trailing {oid} of {order['instrument']} fired on a trigger price of "
                                               f"{view.action['instrument']}")
            if order["instrument"] != view.action["instrument"] or order["order_type"] != TRAILING:
                continue
            direction = _direction(view, account, order)
            if direction == 0 or "trailing_extreme" not in order:
                continue  # an engine that does not expose the tracked price leaves this undecided
            extreme = _optional(order["trailing_extreme"])
            activation = D(order["activation_price"])
            if extreme is not None and activation != 0 and direction * (extreme - activation) < 0:
                extreme = None  # an extreme short of the activation price is not one: not active yet
            extreme, fires = _trailing_update(direction, extreme, order, price)
            did = (account, oid) in triggered
            after = view.after["accounts"][account]["open_orders"].get(oid)
            if did != fires and not (fires and after is None and _leg_closed_in_step(view, account, order)):
                yield Violation("HM-STOP-003", f"trailing {oid} ({'long' if direction > 0 else 'short'} leg) "
                                               f"{'fired' if did else 'did not fire'} at {price}, extreme {extreme}")
            if after and not did and "trailing_extreme" in after and _optional(after["trailing_extreme"]) != extreme:
                yield Violation("HM-STOP-003", f"trailing {oid} tracks {after['trailing_extreme']}, expected {extreme}")


@rule(
    "HM-STOP-004", level="MUST", kind="state-invariant", title="A closed leg keeps no closing orders",
    statement="When a leg closes, its closing orders (conditional ones and resting reduce orders) are cancelled "
              "where the profile models orders_on_leg_close as cancel (the seed), so a flat leg never has closing "
              "orders waiting. Under every profile a flat hedge leg keeps no closing limit order: resting closing "
              "limit orders never exceed their leg (HM-ORD-004).",
    rationale="Bybit cancels position-attached TP/SL when the position closes; a stale stop on a flat leg would "
              "open the opposite leg in a netting engine.",
    sources=["S-Q3", "Y-TS"],
    observes=("snapshot", "events"), requires=("conditional-orders",), profile_choices=("orders_on_leg_close",),
)
def closed_leg_no_orders(view: StepView) -> Iterator[Violation]:
    """Implements HM-STOP-004.

    Where the profile keeps closing orders, or does not model ``orders_on_leg_close``, a flat leg may
    keep its conditional closing orders; a closing limit order on a flat hedge leg is wrong either way.

    A hedge leg closed and reopened within one step is flat in no snapshot: under ``cancel`` the closing orders
    it had before the step are gone after it all the same (the leg replayed through the step's fills).
    """
    cancel = modelled_choice(view.params, "orders_on_leg_close") == "cancel"
    for account, symbol, side in _closed_and_reopened(view) if cancel else ():
        for oid, order in view.before["accounts"][account]["open_orders"].items():
            if order["instrument"] == symbol and order["position_side"] == side and is_closing(order) \
                    and oid in view.after["accounts"][account]["open_orders"]:
                yield Violation("HM-STOP-004", f"{account} {symbol} {side} closed in this step (and reopened) but "
                                               f"its closing order {oid} still waits")
    for account, symbol, side, r in rows(view.after):
        if D(r["quantity"]) != 0:
            continue
        for oid, order in view.after["accounts"][account]["open_orders"].items():
            if order["instrument"] != symbol or order["position_side"] != side or not is_closing(order):
                continue
            if cancel:
                yield Violation("HM-STOP-004", f"{account} {symbol} {side} is flat but {oid} still waits")
            elif side in ("LONG", "SHORT") and order["order_type"] == "LIMIT":
                yield Violation("HM-STOP-004", f"{account} {symbol} {side} is flat but its closing limit order {oid} "
                                               f"still rests (closing limit orders never exceed the leg)")


def _closed_and_reopened(view: StepView) -> list[tuple[str, str, str]]:
    """Hedge legs open after the step that some fill of the step brought to zero (HM-STOP-004)."""
    held: dict[tuple[str, str, str], Decimal] = {}
    closed = set()
    for fill in events(view.outcome, "fill"):
        leg = (fill["account"], fill["instrument"], fill["position_side"])
        was = row(view.before, *leg)
        if leg[2] not in ("LONG", "SHORT") or was is None:
            continue
        quantity = held.get(leg, D(was["quantity"]))
        held[leg] = quantity + (D(fill["quantity"]) if fill["side"] == "BUY" else -D(fill["quantity"]))
        if quantity != 0 and held[leg] == 0:
            closed.add(leg)
    return [leg for leg in sorted(closed) if (after := row(view.after, *leg)) and D(after["quantity"]) != 0]


@rule(
    "HM-STOP-005", level="MUST", kind="transition", title="Close-position orders close the whole leg",
    statement="A triggered close-position order closes its whole leg, whatever the leg's size at trigger. Where "
              "the profile lets ordinary market and limit orders carry close_position: a close-position market "
              "order closes the whole leg at once (its resting closing limit orders are then cancelled, the leg "
              "being flat) and is refused only when the leg is flat; a close-position limit order rests (or "
              "fills) for what the leg has left to close (the leg's size less its resting closing limit orders) "
              "and is refused with REDUCE_EXCEEDS_LEG when nothing is left.",
    rationale="Binance closePosition=true closes all of the current long (SELL) or short (BUY) at trigger; Gate's "
              "ordinary orders with size 0 and auto_size close the whole leg. A resting close-position limit "
              "order keeps the quantity it took when placed, and reports it as its quantity.",
    sources=["B-ORDER", "G-ORDER"],
    observes=("snapshot", "events"), requires=("conditional-orders",), profile_choices=("close_position_orders",),
)
def close_position_whole_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-STOP-005."""
    for account, oid in _triggered(view):
        order = view.before["accounts"][account]["open_orders"].get(oid)
        if not order or not order["close_position"]:
            continue
        after = row(view.after, account, order["instrument"], order["position_side"])
        if after and D(after["quantity"]) != 0:
            yield Violation("HM-STOP-005", f"close-position {oid} left {after['quantity']} on the leg")
    yield from _ordinary_close_position(view)


def _ordinary_close_position(view: StepView) -> Iterator[Violation]:
    """HM-STOP-005 for a market or limit order carrying close_position: accepted, it takes what the leg has (left)
    to close; refused as exceeding the leg (REDUCE_EXCEEDS_LEG) on a hedge leg it closes, only when nothing is
    (left) to close. Refusals for other reasons (a malformed order, margin for the fee) are other rules'."""
    action = view.action
    if action.get("kind") != "place_order" or not action.get("close_position") \
            or action.get("order_type") not in ("MARKET", "LIMIT") or view.outcome["kind"] not in ("accepted", "rejected"):
        return
    account, symbol, oid = action["account"], action["instrument"], action["order_id"]
    if account not in view.before["accounts"]:
        return
    side = action.get("position_side") if action.get("position_side") in ("LONG", "SHORT") else "BOTH"
    leg = row(view.before, account, symbol, side)
    size = abs(D(leg["quantity"])) if leg else Decimal(0)
    resting = sum((D(o["quantity"]) for o in view.before["accounts"][account]["open_orders"].values()
                   if o["instrument"] == symbol and o["position_side"] == side and o["order_type"] == "LIMIT"
                   and is_closing(o)), Decimal(0))
    left = size - resting if action["order_type"] == "LIMIT" else size
    if view.outcome["kind"] == "rejected":
        closes = side != "BOTH" and leg is not None and (D(leg["quantity"]) > 0) == (action.get("side") == "SELL")
        if view.outcome.get("reason") == "REDUCE_EXCEEDS_LEG" and closes and left > 0:
            yield Violation("HM-STOP-005", f"close-position {action['order_type'].lower()} {oid} refused with "
                                           f"REDUCE_EXCEEDS_LEG though its {side} leg has {left.normalize():f} "
                                           f"{'left ' if action['order_type'] == 'LIMIT' else ''}to close")
        return
    if left <= 0:
        yield Violation("HM-STOP-005", f"close-position {oid} accepted with nothing "
                                       f"{'left to close' if size else 'to close'} on {symbol} {side}")
        return
    filled = sum((D(f["quantity"]) for f in events(view.outcome, "fill")
                  if f["account"] == account and f["order_id"] == oid and f["cause"] == "order"), Decimal(0))
    still = view.after["accounts"][account]["open_orders"].get(oid)
    taken = filled + (D(still["quantity"]) if still and action["order_type"] == "LIMIT" else Decimal(0))
    if taken != left:
        yield Violation("HM-STOP-005", f"close-position {action['order_type'].lower()} {oid} took {taken} of the "
                                       f"{left} its {side} leg had {'left ' if action['order_type'] == 'LIMIT' else ''}"
                                       f"to close")
