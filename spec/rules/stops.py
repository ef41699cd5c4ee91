"""Chapter: conditional orders — stops, take-profits and trailing stops bound to one leg."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..observe import D, choice, events, is_closing, mul, row, rows
from ..registry import StepView, Violation, rule

RATE_ONE = Decimal(1)


def _trigger_price(view: StepView) -> Decimal | None:
    source = choice(view.params, "trigger_price_source")
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
              "never the other leg of the instrument.",
    rationale="A stop on the long never acts on the short.",
    sources=["S-Q3", "B-ORDER", "Y-TS"],
    observes=("snapshot", "events"), requires=("conditional-orders",),
)
def trigger_reduces_own_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-STOP-001."""
    triggered = _triggered(view)
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


@rule(
    "HM-STOP-002", level="MUST", kind="transition", title="A stop fires on its own leg's trigger only",
    statement="A stop-market or take-profit-market order fires if and only if the trigger price (mark or last, "
              "per the profile) crosses its stop price in the direction set by its own leg: a stop closing a long "
              "at or below, closing a short at or above; a take-profit the other way. Events of the other leg, "
              "including its liquidation, never fire it.",
    rationale="Stops are bound to one position and never trigger from the other side's events.",
    sources=["S-Q3", "B-ORDER", "Y-TS", "O-ORDER"],
    applies_to=("mark_price", "market_trade"), observes=("snapshot", "events"), requires=("conditional-orders",),
    profile_choices=("trigger_price_source",),
)
def stop_iff_trigger(view: StepView) -> Iterator[Violation]:
    """Implements HM-STOP-002."""
    price = _trigger_price(view)
    triggered = _triggered(view)
    for key in triggered:
        order = view.before["accounts"][key[0]]["open_orders"].get(key[1])
        if price is None or order is None:
            yield Violation("HM-STOP-002", f"{key[1]} fired on a step that moves no trigger price")
    if price is None:
        return
    fired_legs = {(a, view.before["accounts"][a]["open_orders"][o]["position_side"]) for a, o in triggered
                  if o in view.before["accounts"][a]["open_orders"]}
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
            if fires and not did and (account, order["position_side"]) not in fired_legs:
                yield Violation("HM-STOP-002", f"{oid} did not fire at {price} (stop {order['stop_price']})")


@rule(
    "HM-STOP-003", level="MUST", kind="transition", title="A trailing stop tracks its own leg's direction",
    statement="A trailing stop closing a long activates when the trigger price reaches its activation price (at "
              "once without one), then tracks the highest price since and fires on a fall of its callback rate "
              "from it; one closing a short tracks the lowest price and fires on a rise. It never fires on a move "
              "in the other direction.",
    rationale="Trailing stops are per position and track only that position. Decided from the order's "
              "trailing_extreme (null before activation); an engine that omits the field leaves it undecided.",
    sources=["S-Q4", "B-ORDER", "Y-TS"],
    applies_to=("mark_price", "market_trade"), observes=("snapshot", "events"), requires=("trailing-stops",),
    profile_choices=("trigger_price_source",),
)
def trailing_direction(view: StepView) -> Iterator[Violation]:
    """Implements HM-STOP-003."""
    price = _trigger_price(view)
    if price is None:
        return
    triggered = _triggered(view)
    for account, acc in view.before["accounts"].items():
        for oid, order in acc["open_orders"].items():
            if order["instrument"] != view.action["instrument"] or order["order_type"] != "TRAILING_STOP_MARKET":
                continue
            direction = _direction(view, account, order)
            if direction == 0 or "trailing_extreme" not in order:
                continue  # an engine that does not expose the tracked price leaves this undecided
            extreme = D(order["trailing_extreme"]) if order["trailing_extreme"] else None
            activation = D(order["activation_price"])
            if extreme is None:
                active = activation == 0 or (price >= activation if direction > 0 else price <= activation)
                extreme = price if active else None
            if extreme is None:
                fires = False
            else:
                callback = D(order["callback_rate"])
                extreme = max(extreme, price) if direction > 0 else min(extreme, price)
                fires = price <= mul(extreme, RATE_ONE - callback) if direction > 0 else \
                    price >= mul(extreme, RATE_ONE + callback)
            did = (account, oid) in triggered
            if did != fires and not (fires and oid not in view.after["accounts"][account]["open_orders"]):
                yield Violation("HM-STOP-003", f"trailing {oid} ({'long' if direction > 0 else 'short'} leg) "
                                               f"{'fired' if did else 'did not fire'} at {price}, extreme {extreme}")
            after = view.after["accounts"][account]["open_orders"].get(oid)
            if after and not did and extreme is not None and after.get("trailing_extreme") and \
                    D(after["trailing_extreme"]) != extreme:
                yield Violation("HM-STOP-003", f"trailing {oid} tracks {after['trailing_extreme']}, expected {extreme}")


@rule(
    "HM-STOP-004", level="MUST", kind="state-invariant", title="A closed leg keeps no closing orders",
    statement="When a leg closes, its closing orders (conditional ones and resting reduce orders) are cancelled "
              "(the seed), so a flat leg never has closing orders waiting.",
    rationale="Bybit cancels position-attached TP/SL when the position closes; a stale stop on a flat leg would "
              "open the opposite leg in a netting engine.",
    sources=["S-Q3", "Y-TS"],
    observes=("snapshot",), requires=("conditional-orders",), profile_choices=("orders_on_leg_close",),
)
def closed_leg_no_orders(view: StepView) -> Iterator[Violation]:
    """Implements HM-STOP-004."""
    if choice(view.params, "orders_on_leg_close") != "cancel":
        return
    for account, symbol, side, r in rows(view.after):
        if D(r["quantity"]) != 0:
            continue
        for oid, order in view.after["accounts"][account]["open_orders"].items():
            if order["instrument"] == symbol and order["position_side"] == side and is_closing(order):
                yield Violation("HM-STOP-004", f"{account} {symbol} {side} is flat but {oid} still waits")


@rule(
    "HM-STOP-005", level="MUST", kind="transition", title="Close-position orders close the whole leg",
    statement="A triggered close-position order closes its whole leg, whatever the leg's size at trigger.",
    rationale="Binance closePosition=true closes all of the current long (SELL) or short (BUY) at trigger.",
    sources=["B-ORDER"],
    observes=("snapshot", "events"), requires=("conditional-orders",),
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
