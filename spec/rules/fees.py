"""Chapter: fees."""

from __future__ import annotations

from collections.abc import Iterator

from ..observe import D, choice, events, instruments, money_up, mul
from ..registry import StepView, Violation, rule


@rule(
    "HM-FEE-001", level="MUST", kind="accounting", title="Every fill pays its own fee; no hedge discount",
    statement="Every fill, opening or closing, pays |quantity x price| x the maker or taker rate of the instrument "
              "(rounded up to the money unit), whatever the other leg holds; settlement fills pay the profile's "
              "settlement rate, liquidation fills the clearance fee booked to the insurance fund.",
    rationale="Maker/taker fees apply to every execution; opening the opposite leg instead of reducing pays fees "
              "twice, with no discount for being hedged.",
    sources=["S-M3", "B-FEES", "B-TRADES"],
    observes=("events", "params"), requires=("fees",),
)
def fee_per_fill(view: StepView) -> Iterator[Violation]:
    """Implements HM-FEE-001."""
    insts = instruments(view.params)
    for fill in events(view.outcome, "fill"):
        inst = insts.get(fill["instrument"])
        if inst is None:
            continue
        if fill["cause"] == "liquidation":
            continue
        if fill["cause"] == "settlement":
            rate = D(choice(view.params, "settlement_fee_rate"))
        else:
            rate = D(inst["maker_rate"] if fill["liquidity"] == "MAKER" else inst["taker_rate"])
        expected = money_up(abs(mul(D(fill["quantity"]), D(fill["price"]), rate)))
        if D(fill["fee"]) != expected:
            yield Violation("HM-FEE-001", f"{fill['account']} {fill['instrument']} {fill['position_side']}: fee "
                                          f"{fill['fee']} on {fill['quantity']} @ {fill['price']} "
                                          f"({fill['liquidity']}), expected {expected}")
