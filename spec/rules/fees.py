"""Chapter: fees."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..observe import D, choice, events, instruments, money_up, mul
from ..registry import StepView, Violation, rule


@rule(
    "HM-FEE-001", level="MUST", kind="accounting", title="Every fill pays its own fee; no hedge discount",
    statement="Every fill, opening or closing, pays |quantity x price| x the maker or taker rate of the instrument "
              "(rounded up to the money unit), whatever the other leg holds; settlement fills pay the profile's "
              "settlement rate, and liquidation fills the profile's clearance fee rate (the seed: none), charged "
              "either as the fill's fee or as a CLEARANCE_FEE transfer to the insurance fund, never both.",
    rationale="Maker/taker fees apply to every execution; opening the opposite leg instead of reducing pays fees "
              "twice, with no discount for being hedged. A liquidated leg's charge is the sum of its liquidation "
              "fills' fees and its CLEARANCE_FEE entries to the insurance fund in the step.",
    sources=["S-M3", "B-FEES", "B-TRADES"],
    observes=("events", "params"), requires=("fees",),
    profile_choices=("settlement_fee_rate", "liquidation_clearance_fee_rate"),
)
def fee_per_fill(view: StepView) -> Iterator[Violation]:
    """Implements HM-FEE-001."""
    insts = instruments(view.params)
    for fill in events(view.outcome, "fill"):
        inst = insts.get(fill["instrument"])
        if inst is None:
            continue
        if fill["cause"] == "liquidation":
            continue  # below, with the leg's clearance fee entries
        if fill["cause"] == "settlement":
            rate = D(choice(view.params, "settlement_fee_rate"))
        else:
            rate = D(inst["maker_rate"] if fill["liquidity"] == "MAKER" else inst["taker_rate"])
        expected = money_up(abs(mul(D(fill["quantity"]), D(fill["price"]), rate)))
        if D(fill["fee"]) != expected:
            yield Violation("HM-FEE-001", f"{fill['account']} {fill['instrument']} {fill['position_side']}: fee "
                                          f"{fill['fee']} on {fill['quantity']} @ {fill['price']} "
                                          f"({fill['liquidity']}), expected {expected}")
    yield from _clearance_fees(view)


def _clearance_fees(view: StepView) -> Iterator[Violation]:
    """Liquidation fills: fill fees plus CLEARANCE_FEE inflows of each leg = the clearance rate on its fills."""
    rate = D(choice(view.params, "liquidation_clearance_fee_rate") or "0")
    expected: dict[tuple, Decimal] = {}
    charged: dict[tuple, Decimal] = {}
    for fill in events(view.outcome, "fill"):
        if fill["cause"] == "liquidation":
            leg = (fill["account"], fill["instrument"], fill["position_side"])
            expected[leg] = expected.get(leg, Decimal(0)) + money_up(abs(mul(D(fill["quantity"]), D(fill["price"]),
                                                                             rate)))
            charged[leg] = charged.get(leg, Decimal(0)) + D(fill["fee"])
    for entry in events(view.outcome, "ledger"):
        if entry["kind"] == "CLEARANCE_FEE" and entry["bucket"] == "insurance_fund":
            leg = (entry["account"], entry.get("instrument"), entry.get("position_side"))
            charged[leg] = charged.get(leg, Decimal(0)) + D(entry["amount"])
    for leg in charged.keys() | expected.keys():
        amount = charged.get(leg, Decimal(0))
        if amount != expected.get(leg, Decimal(0)):
            yield Violation("HM-FEE-001", f"{' '.join(str(x) for x in leg)}: liquidation charged {amount.normalize():f} in fees "
                                          f"and clearance, the clearance rate {rate} gives "
                                          f"{expected.get(leg, Decimal(0)).normalize():f}")
