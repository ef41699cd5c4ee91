"""Chapter: fees."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..observe import MONEY_ATOM, D, events, instruments, modelled_choice, money_up, mul, row
from ..registry import StepView, Violation, rule


@rule(
    "HM-FEE-001", level="MUST", kind="accounting", title="Every fill pays its own fee; no hedge discount",
    statement="Every fill, opening or closing, pays |quantity x price| x the maker or taker rate of the instrument "
              "(rounded up to the money unit), whatever the other leg holds; settlement fills pay the profile's "
              "settlement rate where the profile models it (elsewhere the amount is not decided, but lies between "
              "zero and the settled notional), and liquidation fills the profile's clearance fee rate (the seed: "
              "none), charged either as the fill's fee or as a CLEARANCE_FEE transfer to the insurance fund, never "
              "both.",
    rationale="Maker/taker fees apply to every execution; opening the opposite leg instead of reducing pays fees "
              "twice, with no discount for being hedged. A liquidated leg's charge is the sum of its liquidation "
              "fills' fees and its CLEARANCE_FEE entries to the insurance fund in the step.",
    sources=["S-M3", "B-FEES", "B-TRADES"],
    observes=("events", "params"), requires=("fees",),
    profile_choices=("settlement_fee_rate", "liquidation_clearance_fee_rate"),
)
def fee_per_fill(view: StepView) -> Iterator[Violation]:
    """Implements HM-FEE-001 (a settlement fill's amount is judged only where the profile models the rate)."""
    insts = instruments(view.params)
    settlement_rate = modelled_choice(view.params, "settlement_fee_rate")
    for fill in events(view.outcome, "fill"):
        inst = insts.get(fill["instrument"])
        if inst is None:
            continue
        if fill["cause"] == "liquidation":
            continue  # below, with the leg's clearance fee entries
        if fill["cause"] == "settlement" and settlement_rate is None:
            yield from _settlement_fee_bounds(fill)
            continue
        if fill["cause"] == "settlement":
            rate = D(settlement_rate)
        else:
            rate = D(inst["maker_rate"] if fill["liquidity"] == "MAKER" else inst["taker_rate"])
        expected = money_up(abs(mul(D(fill["quantity"]), D(fill["price"]), rate)))
        if D(fill["fee"]) != expected:
            yield Violation("HM-FEE-001", f"{fill['account']} {fill['instrument']} {fill['position_side']}: fee "
                                          f"{fill['fee']} on {fill['quantity']} @ {fill['price']} "
                                          f"({fill['liquidity']}), expected {expected}")
    yield from _clearance_fees(view)
    yield from _fees_booked(view)


def _fees_booked(view: StepView) -> Iterator[Violation]:
    """What a leg pays is what its fills say: the step's FEE ledger entries of each leg (whatever bucket they draw
    on) take exactly the fees of its fills, so an engine cannot report the full fee on the fill and book a hedge
    discount to the wallet."""
    fees: dict[tuple, Decimal] = {}
    booked: dict[tuple, Decimal] = {}
    for fill in events(view.outcome, "fill"):
        leg = (fill["account"], fill["instrument"], fill["position_side"])
        fees[leg] = fees.get(leg, Decimal(0)) + D(fill["fee"])
    for entry in events(view.outcome, "ledger"):
        if entry["kind"] == "FEE":
            leg = (entry["account"], entry.get("instrument"), entry.get("position_side"))
            booked[leg] = booked.get(leg, Decimal(0)) - D(entry["amount"])
    for leg in fees.keys() | booked.keys():
        if fees.get(leg, Decimal(0)) != booked.get(leg, Decimal(0)):
            yield Violation("HM-FEE-001", f"{' '.join(str(x) for x in leg)}: fills charge "
                                          f"{fees.get(leg, Decimal(0)).normalize():f} in fees, FEE entries take "
                                          f"{booked.get(leg, Decimal(0)).normalize():f}")


def _settlement_fee_bounds(fill: dict) -> Iterator[Violation]:
    """A settlement fill's fee where the profile does not model the rate: undecided, but any rate lies in
    [0, 1), so the fee is never negative and never more than the settled notional."""
    fee, notional = D(fill["fee"]), abs(mul(D(fill["quantity"]), D(fill["price"])))
    if not Decimal(0) <= fee <= notional:
        yield Violation("HM-FEE-001", f"{fill['account']} {fill['instrument']} {fill['position_side']}: settlement "
                                      f"fee {fill['fee']} on {fill['quantity']} @ {fill['price']}, outside 0 to the "
                                      f"settled notional {notional.normalize():f}")


def _clearance_fees(view: StepView) -> Iterator[Violation]:
    """Liquidation fills: fill fees plus CLEARANCE_FEE inflows of each leg = the clearance rate on its fills.

    A cross pool's fee may be booked at pool level (position_side "CROSS", instrument null): the
    account's cross legs are then compared as one, within one money atom per liquidation fill. Where
    the profile does not model the rate, the amount is undecided; the CLEARANCE_FEE entries must still
    move what they take to the insurance fund, and no charge may be negative.
    """
    rate_text = modelled_choice(view.params, "liquidation_clearance_fee_rate")
    rate = None if rate_text is None else D(rate_text)
    ledger = [e for e in events(view.outcome, "ledger") if e["kind"] == "CLEARANCE_FEE"]
    pooled = {e["account"] for e in ledger if e.get("position_side") == "CROSS"}

    def key(account: str, symbol: str | None, side: str | None) -> tuple:
        if account in pooled and symbol is not None:
            before = row(view.before, account, symbol, side or "")
            if before is not None and before["margin_type"] == "CROSS":
                return (account, None, "CROSS")
        return (account, symbol, side)

    expected: dict[tuple, Decimal] = {}
    charged: dict[tuple, Decimal] = {}
    fills: dict[tuple, int] = {}
    for fill in events(view.outcome, "fill"):
        if fill["cause"] == "liquidation":
            leg = key(fill["account"], fill["instrument"], fill["position_side"])
            fills[leg] = fills.get(leg, 0) + 1
            if rate is not None:
                expected[leg] = expected.get(leg, Decimal(0)) + money_up(abs(mul(D(fill["quantity"]), D(fill["price"]),
                                                                                 rate)))
            charged[leg] = charged.get(leg, Decimal(0)) + D(fill["fee"])
    net: dict[str, Decimal] = {}
    for entry in ledger:
        net[entry["account"]] = net.get(entry["account"], Decimal(0)) + D(entry["amount"])
        if entry["bucket"] == "insurance_fund":
            leg = key(entry["account"], entry.get("instrument"), entry.get("position_side"))
            charged[leg] = charged.get(leg, Decimal(0)) + D(entry["amount"])
    for account, total in net.items():
        if total != 0:
            yield Violation("HM-FEE-001", f"{account}: CLEARANCE_FEE entries sum to {total.normalize():f}, not a "
                                          f"transfer to the insurance fund")
    for leg in charged.keys() | expected.keys():
        name = f"{leg[0]} cross pool" if leg[1] is None else " ".join(str(x) for x in leg)
        amount = charged.get(leg, Decimal(0))
        if amount < 0:
            yield Violation("HM-FEE-001", f"{name}: liquidation charged {amount.normalize():f} in fees and clearance")
            continue
        if rate is None:
            continue  # the profile does not model the rate: the amount is undecided
        want = expected.get(leg, Decimal(0))
        slack = MONEY_ATOM * fills.get(leg, 0) if leg[1] is None else Decimal(0)
        if abs(amount - want) > slack:
            yield Violation("HM-FEE-001", f"{name}: liquidation charged {amount.normalize():f} in fees "
                                          f"and clearance, the clearance rate {rate} gives {want.normalize():f}")
