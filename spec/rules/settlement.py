"""Chapter: settlement of dated contracts."""

from __future__ import annotations

from collections.abc import Iterator

from ..observe import D, events, mul, refusals_checked_first, row, rows
from ..registry import StepView, Violation, rule


@rule(
    "HM-SETL-001", level="MUST", kind="transition", title="Each leg settles on its own at expiry",
    statement="At the expiry of a dated contract every open leg is settled separately at the settlement price: "
              "one settlement fill per leg for its whole quantity, realizing quantity x settlement price - its "
              "cost basis; no cross-leg reconciliation. Its orders are cancelled, and from then on the snapshot "
              "lists it among the expired instruments.",
    rationale="Quarterly contracts settle each position separately. The expired list is what HM-SETL-002 reads: "
              "an engine that leaves the instrument out, or drops it later, would escape that rule.",
    sources=["S-M5"],
    observes=("snapshot", "events"), requires=("expiry",),
)
def per_leg_settlement(view: StepView) -> Iterator[Violation]:
    """Implements HM-SETL-001."""
    for symbol in view.before.get("expired", []):
        if symbol not in view.after.get("expired", []):
            yield Violation("HM-SETL-001", f"{symbol} expired before this step but is no longer listed as expired")
    if view.action.get("kind") != "expire" or view.outcome["kind"] != "accepted":
        return
    if view.action["instrument"] not in view.after.get("expired", []):
        yield Violation("HM-SETL-001", f"{view.action['instrument']} accepted expiry but is not listed as expired")
    symbol, price = view.action["instrument"], D(view.action["settlement_price"])
    fills = {(f["account"], f["position_side"]): f for f in events(view.outcome, "fill")
             if f["cause"] == "settlement" and f["instrument"] == symbol}
    for account, sym, side, r in rows(view.before):
        if sym != symbol or D(r["quantity"]) == 0:
            continue
        fill = fills.get((account, side))
        if fill is None or D(fill["quantity"]) != abs(D(r["quantity"])) or D(fill["price"]) != price:
            yield Violation("HM-SETL-001", f"{account} {symbol} {side}: not settled on its own at {price}")
            continue
        expected = mul(D(r["quantity"]), price) - D(r["cost_basis"])
        if D(fill["realized_pnl"]) != expected:
            yield Violation("HM-SETL-001", f"{account} {symbol} {side}: settled PnL {fill['realized_pnl']}, "
                                           f"expected {expected}")
        after = row(view.after, account, symbol, side)
        if after and D(after["quantity"]) != 0:
            yield Violation("HM-SETL-001", f"{account} {symbol} {side}: open after expiry")
    for account, acc in view.after["accounts"].items():
        if any(o["instrument"] == symbol for o in acc["open_orders"].values()):
            yield Violation("HM-SETL-001", f"{account}: orders on {symbol} survive its expiry")


@rule(
    "HM-SETL-002", level="MUST", kind="rejection", title="An expired contract takes no orders",
    statement="Orders on an expired contract MUST be refused with INSTRUMENT_EXPIRED, or with a reason the format "
              "reference checks first: DUPLICATE_ORDER_ID while the order id is in use by an open order of the "
              "account, or INVALID_ARGUMENT on an order malformed in a way the format reference checks first (as "
              "HM-ORD-001 lists).",
    rationale="After settlement there is no leg to open or close.",
    sources=["S-M5"],
    applies_to=("place_order",), observes=("snapshot", "outcome"), requires=("expiry",),
)
def expired_refuses_orders(view: StepView) -> Iterator[Violation]:
    """Implements HM-SETL-002."""
    if view.action.get("kind") == "place_order" and view.action.get("instrument") in view.before.get("expired", []):
        if view.outcome["kind"] != "rejected":
            yield Violation("HM-SETL-002", f"order on expired {view.action['instrument']} accepted")
        elif view.outcome.get("reason") not in refusals_checked_first(view.before, view.params, view.action):
            yield Violation("HM-SETL-002", f"order on expired {view.action['instrument']} refused with "
                                           f"{view.outcome.get('reason')}, not INSTRUMENT_EXPIRED")


