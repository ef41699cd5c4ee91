"""Partial liquidation by bracket (HM-LIQ-004 under ``liquidation_extent: partial_by_bracket``).

The worked example of examples/partial_liquidation.json derived by hand; the model's kernel against its
contract and against the check's own computation on generated legs; what the check leaves undecided where
the profile does not model what the size depends on. The broken engines made for this check are in
tests/test_stronger_checks.py (partial-in-full, partial-one-lot-deeper, partial-releases-margin).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from hedgespec.model.codec import format_units
from hedgespec.model.liquidation import partial_liquidation_quantity
from hedgespec.model.state import Bracket, Leg
from hedgespec.model.units import RATE_ONE
from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import get, run_step_checks
from hedgespec.spec.rules.liquidation import partial_reduction
from hypothesis import given, settings
from hypothesis import strategies as st
from proof_helpers import contract_of
from scenarios import checked_steps
from test_check_strength import variant  # a profile file with some choices changed


def run_params(p: dict[str, Any], actions: list[dict[str, Any]]) -> list[StepView]:
    """The reference's steps (an action's own t kept), every step check passing on each."""
    return checked_steps(p, actions, keep_t=True)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "examples" / "partial_liquidation.json").read_text())
PARTIAL = str(ROOT / "examples" / "profiles" / "partial-by-bracket.json")


def run(profile: str, actions: list[dict[str, Any]] | None = None) -> list[StepView]:
    """The example's steps (or ``actions`` on its parameters) under ``profile``."""
    return run_params({**EXAMPLE["params"], "profile": profile}, actions or EXAMPLE["actions"])


def leg(view: StepView, side: str) -> dict[str, Any]:
    return view.after["accounts"]["alice"]["positions"]["BTCUSDT"][side]


def fills(view: StepView) -> list[dict[str, Any]]:
    return [e for e in view.outcome["events"] if e["type"] == "fill"]


def violations(view: StepView) -> list[str]:
    return [str(v) for v in get("HM-LIQ-004").check(view)]


# --- the worked example ---------------------------------------------------------------------------

def test_worked_example_reduces_to_the_first_bracket_then_closes():
    """2 BTC LONG and 2 SHORT at 60000, isolated at 20x: 6000 margin each, notional 120000 in the second
    bracket (mmr 0.005, cum 50); taker fee 60 each, so the wallet is 13000 - 12120 = 880.

    At 57200: LONG balance 6000 + 2 x (57200 - 60000) = 400 < maintenance 114400 x 0.005 - 50 = 522.
    The first bracket's cap is 50000: 50000 / 57200 = 0.8741..., so the leg keeps 0.874 (notional
    49992.8 < 50000), whose maintenance is 49992.8 x 0.004 = 199.9712 <= 400: it closes 2 - 0.874 = 1.126
    at 57200, realizing 1.126 x (57200 - 60000) = -3152.8 on its margin, which keeps 6000 - 3152.8 = 2847.2.
    New liquidation price: 2847.2 + 0.874 P - 52440 = 0.004 x 0.874 P, P = 49592.8 / 0.870504 = 56970.21...
    At 57000 balance 2847.2 + 0.874 x -3000 = 225.2 >= 0.004 x 49818 = 199.272: it survives.
    At 56900 balance 2847.2 - 0.874 x 3100 = 137.8 < 0.004 x 49730.6 = 198.9224: first bracket, closed in
    full; the 137.8 left go to the insurance fund. The SHORT leg and the wallet never move.
    """
    views = run(PARTIAL)
    reduced = next(v for v in views if v.action.get("price") == "57200")
    (fill,) = fills(reduced)
    assert (fill["quantity"], fill["price"], fill["realized_pnl"]) == ("1.126", "57200", "-3152.8")
    long = leg(reduced, "LONG")
    assert (long["quantity"], long["isolated_margin"]) == ("0.874", "2847.2")
    assert Decimal(long["liquidation_price"]).quantize(Decimal("0.01")) == Decimal("56970.21")
    liquidation = next(e for e in reduced.outcome["events"] if e["type"] == "liquidation")
    assert (liquidation["margin_balance"], liquidation["maintenance_margin"]) == ("400", "522")
    assert not any(e["type"] == "ledger" and e["bucket"] != "isolated_margin" for e in reduced.outcome["events"])
    survived = next(v for v in views if v.action.get("price") == "57000")
    assert fills(survived) == [] and leg(survived, "LONG")["quantity"] == "0.874"
    closed = views[-1]
    (fill,) = fills(closed)
    assert (fill["quantity"], fill["price"], fill["realized_pnl"]) == ("0.874", "56900", "-2709.4")
    assert leg(closed, "LONG")["quantity"] == "0"
    assert Decimal(closed.after["insurance_fund"]) - Decimal(closed.before["insurance_fund"]) == Decimal("137.8")
    for view in views[1:]:
        assert view.after["accounts"]["alice"]["wallet"] == "880"
        assert leg(view, "SHORT")["isolated_margin"] == "6000" and leg(view, "SHORT")["quantity"] == "-2"


def test_the_seed_closes_the_same_leg_in_full():
    """Under the seed (liquidation_extent: full) the breach at 57200 closes all 2 BTC; the 400 left go to the fund."""
    views = run("seed", EXAMPLE["actions"][:5])
    (fill,) = fills(views[-1])
    assert (fill["quantity"], fill["price"]) == ("2", "57200")
    assert Decimal(views[-1].after["insurance_fund"]) == Decimal("400")


def test_a_reduction_is_at_the_mark_under_the_bankruptcy_basis_and_the_full_close_is_not(tmp_path):
    """The reduction is a market close at the breaching mark; a close in full uses the basis (HM-LIQ-004)."""
    path = variant(tmp_path, base=PARTIAL, name="partial-bankruptcy", liquidation_price_basis=("bankruptcy", "modelled"))
    views = run(path)
    reduced = next(v for v in views if v.action.get("price") == "57200")
    assert [(f["quantity"], f["price"]) for f in fills(reduced)] == [("1.126", "57200")]
    # closed in full at 56900: bankruptcy price of 0.874 with margin 2847.2 and cost 52440:
    # (52440 - 2847.2) / 0.874 = 56742.3340961..., rounded up for a long: 56742.33409611
    (fill,) = fills(views[-1])
    assert (fill["quantity"], fill["price"]) == ("0.874", "56742.33409611")
    moved = copy.deepcopy(reduced.outcome)
    next(e for e in moved["events"] if e["type"] == "fill")["price"] = "56700"  # at a "bankruptcy" price
    view = StepView(reduced.params, reduced.before, reduced.action, moved, reduced.after)
    assert any("not at the mark price 57200" in v for v in violations(view)), violations(view)


def test_a_clearance_fee_on_the_reduced_part_can_make_a_lower_bracket_too_little(tmp_path):
    """With a clearance rate of 0.0035, reducing to 0.874 costs 1.126 x 57200 x 0.0035 = 225.4252, and
    400 - 225.4252 = 174.5748 < 199.9712: no lower bracket is enough and the leg is closed in full."""
    path = variant(tmp_path, base=PARTIAL, name="partial-fee", liquidation_clearance_fee_rate=("0.0035", "modelled"))
    reduced = next(v for v in run(path, EXAMPLE["actions"][:5]) if v.action.get("price") == "57200")
    assert [f["quantity"] for f in fills(reduced)] == ["2"]
    cheaper = variant(tmp_path, base=PARTIAL, name="partial-small-fee", liquidation_clearance_fee_rate=("0.003", "modelled"))
    reduced = next(v for v in run(cheaper, EXAMPLE["actions"][:5]) if v.action.get("price") == "57200")
    assert [f["quantity"] for f in fills(reduced)] == ["1.126"]  # 400 - 193.2216 = 206.7784 >= 199.9712


def test_the_size_is_undecided_where_what_it_depends_on_is_not_modelled(tmp_path):
    reduced = next(v for v in run(PARTIAL) if v.action.get("price") == "57200")
    after, outcome = copy.deepcopy(reduced.after), copy.deepcopy(reduced.outcome)
    next(e for e in outcome["events"] if e["type"] == "fill")["quantity"] = "1.2"  # 0.8 kept: also a lower bracket
    after["accounts"]["alice"]["positions"]["BTCUSDT"]["LONG"]["quantity"] = "0.8"
    deeper = StepView(reduced.params, reduced.before, reduced.action, outcome, after)
    assert any("closed 1.2 of 2" in v for v in violations(deeper))
    for name, choices in {"extent-open": {"liquidation_extent": ("partial_by_bracket", "documented")},
                          "rate-open": {"liquidation_clearance_fee_rate": (None, "unconfirmed")}}.items():
        params = {**reduced.params, "profile": variant(tmp_path, base=PARTIAL, name=name, **choices)}
        assert violations(StepView(params, deeper.before, deeper.action, outcome, after)) == []


# --- the kernel -----------------------------------------------------------------------------------

@st.composite
def breached_legs(draw: st.DrawFn) -> tuple[Any, ...]:
    """A leg at an entry price with some margin, a mark, a three-bracket table, a lot, a trigger and a rate."""
    lot = draw(st.sampled_from([1, 10**5, 10**6, 10**8]))
    quantity = draw(st.integers(1, 5_000)) * lot * draw(st.sampled_from([1, -1]))
    entry = draw(st.integers(1, 10**6)) * 10**6
    mark = draw(st.integers(1, 10**6)) * 10**6
    caps = sorted(draw(st.sets(st.integers(1, 10**8), min_size=2, max_size=2)))
    money = 10**16
    brackets = (Bracket(0, caps[0] * money, draw(st.integers(0, 10**6)), 0, 125),
                Bracket(caps[0] * money, caps[1] * money, draw(st.integers(0, 10**6)),
                        draw(st.integers(0, caps[0])) * money // 1000, 100),
                Bracket(caps[1] * money, 0, draw(st.integers(0, 10**7)), draw(st.integers(0, caps[1])) * money // 100,
                        50))
    margin = draw(st.integers(0, abs(quantity * entry) // 5))
    rate = draw(st.sampled_from([0, 0, 5 * 10**4, 5 * 10**5]))
    return (Leg(quantity, quantity * entry, margin), mark, brackets, lot, draw(st.sampled_from(["below", "at_or_below"])),
            rate)


def as_instrument(brackets: tuple[Bracket, ...], lot: int) -> dict[str, Any]:
    return {"lot_size": format_units(lot, "qty"), "brackets": [
        {"notional_floor": format_units(b.notional_floor, "money"), "notional_cap": format_units(b.notional_cap, "money"),
         "maintenance_rate": format_units(b.maintenance_rate, "rate"),
         "maintenance_amount": format_units(b.maintenance_amount, "money")} for b in brackets]}


@settings(max_examples=400, deadline=None)
@given(breached_legs())
def test_kernel_meets_its_contract_and_agrees_with_the_check(args: tuple[Any, ...]) -> None:
    """HM-LIQ-004: the model's integer kernel and the check's Decimal computation give the same size."""
    leg_, mark, brackets, lot, trigger, rate = args
    closed = partial_liquidation_quantity(*args)
    contract = contract_of(partial_liquidation_quantity)
    bindings = contract.bindings(args, {})
    assert contract.pre_holds(bindings)
    assert not contract.failed_posts(bindings, closed)
    expected = partial_reduction(as_instrument(brackets, lot), Decimal(format_units(leg_.quantity, "qty")),
                                 Decimal(format_units(leg_.cost_basis, "money")),
                                 Decimal(format_units(leg_.isolated_margin, "money")),
                                 Decimal(format_units(mark, "price")), trigger, Decimal(format_units(rate, "rate")))
    assert Decimal(format_units(closed, "qty")) == expected


def test_kernel_reduces_to_the_highest_lower_bracket_that_is_enough():
    """A 3-bracket table (caps 100 and 1000 at price 1, lot 1): a leg of 2000 keeps 999 if that is enough,
    else 99, else nothing; the next lower bracket is tried only when the higher one is not enough."""
    one = 10**8  # one QTY or PRICE atom unit
    money = 10**16
    brackets = (Bracket(0, 100 * money, RATE_ONE // 100, 0, 125), Bracket(100 * money, 1000 * money, RATE_ONE // 10, 0, 100),
                Bracket(1000 * money, 0, RATE_ONE // 2, 0, 50))
    def closed(margin: int) -> int:  # long 2000 at 1, mark 1: balance = margin
        return partial_liquidation_quantity(Leg(2000 * one, 2000 * money, margin * money), one, brackets, one,
                                            "below", 0) // one
    # 999 kept: maintenance 99.9; 99 kept: 0.99
    assert closed(100) == 2000 - 999
    assert closed(50) == 2000 - 99
    assert closed(0) == 2000
    assert partial_liquidation_quantity(Leg(50 * one, 50 * money, 0), one, brackets, one, "below", 0) == 50 * one


# --- random walks through partial liquidations ----------------------------------------------------

def test_random_walks_reduce_and_close_legs_under_every_liquidation_variant(tmp_path):
    """Seeded walks of the mark over hedged isolated legs of random sizes and leverages, under the partial
    profile and its variants (bankruptcy basis, a clearance fee, the at-or-below trigger, the remainder to
    the wallet): every check passes after every step, and both outcomes of HM-LIQ-004's partial branch
    (a reduction that leaves the leg open, a close in full after one) occur under each variant."""
    import random

    variants = {"partial": PARTIAL,
                "bankruptcy": variant(tmp_path, base=PARTIAL, name="w-bankruptcy", liquidation_price_basis=("bankruptcy", "modelled")),
                "fee": variant(tmp_path, base=PARTIAL, name="w-fee", liquidation_clearance_fee_rate=("0.0005", "modelled")),
                "at-or-below": variant(tmp_path, base=PARTIAL, name="w-trigger", liquidation_trigger=("at_or_below", "modelled")),
                "wallet": variant(tmp_path, base=PARTIAL, name="w-wallet", isolated_liquidation_remainder=("wallet", "modelled"))}
    for name, profile in variants.items():
        rng = random.Random(name)
        reduced = closed_after_reduction = 0
        for _ in range(12):
            size = str(Decimal(rng.randint(900, 4000)) / 1000)
            leverage = rng.choice(["10", "20", "25"])
            settings = {"margin_type": "ISOLATED", "leverage": leverage}
            p = copy.deepcopy({**EXAMPLE["params"], "profile": profile})
            p["accounts"]["alice"].update(wallet="100000", leg_settings={"BTCUSDT": {"LONG": settings,
                                                                                      "SHORT": settings}})
            actions = [{**a, "quantity": size} for a in EXAMPLE["actions"][:2]]
            mark, direction = Decimal(60000), rng.choice([-1, 1])
            for t in range(3, 40):
                mark += direction * rng.randint(0, 700) - direction * 150
                actions.append({"t": t, "kind": "mark_price", "instrument": "BTCUSDT", "price": str(mark)})
            p_views = run_params(p, actions)
            partial_steps = [v for v in p_views if any(f["cause"] == "liquidation" for f in fills(v))
                             and any(leg(v, s)["quantity"] != "0" for s in ("LONG", "SHORT")
                                     if any(f["position_side"] == s for f in fills(v)))]
            reduced += len(partial_steps)
            if partial_steps:
                side = next(f["position_side"] for f in fills(partial_steps[0]))
                closed_after_reduction += leg(p_views[-1], side)["quantity"] == "0"
        assert reduced >= 3 and closed_after_reduction >= 1, (name, reduced, closed_after_reduction)



# --- cases an independent review found ------------------------------------------------------------

def bracket_params(profile: str, quantity_mark: str = "60000", **account: Any) -> dict[str, Any]:
    """The example's parameters with a third bracket, a large wallet and both legs isolated at 20x."""
    p = copy.deepcopy({**EXAMPLE["params"], "profile": profile})
    p["instruments"][0]["brackets"] = [
        {"notional_floor": "0", "notional_cap": "50000", "maintenance_rate": "0.004", "maintenance_amount": "0",
         "max_leverage": "125"},
        {"notional_floor": "50000", "notional_cap": "250000", "maintenance_rate": "0.005", "maintenance_amount": "50",
         "max_leverage": "100"},
        {"notional_floor": "250000", "notional_cap": "0", "maintenance_rate": "0.01", "maintenance_amount": "1300",
         "max_leverage": "50"}]
    p["mark_prices"] = p["last_prices"] = {"BTCUSDT": quantity_mark}
    settings = {"margin_type": "ISOLATED", "leverage": "20"}
    p["accounts"]["alice"].update(wallet="1000000", leg_settings={"BTCUSDT": {"LONG": settings, "SHORT": settings}},
                                  **account)
    return p


def mark(t: int, price: str) -> dict[str, Any]:
    return {"t": t, "kind": "mark_price", "instrument": "BTCUSDT", "price": price}


def market(t: int, oid: str, side: str, position_side: str, quantity: str, price: str) -> dict[str, Any]:
    return {"t": t, "kind": "place_order", "account": "alice", "order_id": oid, "instrument": "BTCUSDT", "side": side,
            "position_side": position_side, "order_type": "MARKET", "quantity": quantity, "price": price}


def test_a_profitable_leg_whose_margin_funding_drained_is_reduced_and_keeps_its_negative_margin():
    """A long of 1.5 from 40000 at a mark of 50000 (notional 75000, second bracket) pays funding from its
    margin (the seed's funding_source) until the margin is below zero while the profit holds the balance up.
    A breach then reduces it to the first bracket: it keeps its (negative) margin, which is no shortfall
    while the leg is open (HM-LIQ-003), and every check passes on the reference."""
    p = bracket_params(PARTIAL, "40000")
    actions = [market(1, "L", "BUY", "LONG", "1.5", "40000"), mark(2, "50000"),
               *[{"t": t, "kind": "funding", "instrument": "BTCUSDT", "rate": "0.005"} for t in range(3, 50)],
               {"t": 50, "kind": "funding", "instrument": "BTCUSDT", "rate": "0.0017"}]
    views = run_params(p, actions)
    reduced = views[-1]
    (fill,) = [f for f in fills(reduced) if f["cause"] == "liquidation"]
    assert Decimal(fill["quantity"]) < Decimal("1.5") and Decimal(fill["realized_pnl"]) > 0
    assert Decimal(leg(reduced, "LONG")["isolated_margin"]) < 0 < Decimal(leg(reduced, "LONG")["quantity"])


def stop_then_liquidation(profile: str) -> StepView:
    """A stop on the LONG leg fires at the breaching mark (57200), then the leg is liquidated in the same step."""
    stop = {"t": 3, "kind": "place_order", "account": "alice", "order_id": "sl", "instrument": "BTCUSDT",
            "side": "SELL", "position_side": "LONG", "order_type": "STOP_MARKET", "quantity": "0.1",
            "stop_price": "57300"}
    actions = [*EXAMPLE["actions"][:2], stop, mark(4, "58000"), mark(5, "57200")]
    view = run(profile, actions)[-1]
    assert [f["cause"] for f in fills(view)] == ["trigger", "liquidation"]
    return view


def test_a_leg_a_stop_reduced_earlier_in_the_step_is_judged_as_it_stood_when_liquidated(tmp_path):
    """The stop closes 0.1 of the LONG at 57200 first: the leg is liquidated as 1.9 with its margin less the
    0.1's release. Its reduction's size, the margin it keeps and (under the bankruptcy basis) the price of a
    close in full are all judged from that leg, rebuilt from the stop's fill and margin entries."""
    from hedgespec.conformance.mutants import _partial_releases_margin

    view = stop_then_liquidation(PARTIAL)
    liquidation = next(e for e in view.outcome["events"] if e["type"] == "fill" and e["cause"] == "liquidation")
    assert liquidation["quantity"] == "1.026"  # 1.9 reduced to 0.874
    outcome, after = copy.deepcopy(view.outcome), copy.deepcopy(view.after)
    _partial_releases_margin(view.action, view.before, outcome, after)
    assert any("moved margin off the leg" in v for v in violations(
        StepView(view.params, view.before, view.action, outcome, after)))
    outcome = copy.deepcopy(view.outcome)
    next(e for e in outcome["events"] if e is not None and e.get("cause") == "liquidation")["quantity"] = "1.1"
    assert any("closed 1.1 of 1.9; a partial liquidation by bracket closes 1.026" in v
               for v in violations(StepView(view.params, view.before, view.action, outcome, view.after)))
    for extent in ("full", "partial_by_bracket"):
        path = variant(tmp_path, base=PARTIAL, name=f"sl-{extent}", liquidation_price_basis=("bankruptcy", "modelled"),
                            liquidation_extent=(extent, "modelled"), liquidation_trigger=("below", "modelled"))
        view = stop_then_liquidation(path)  # run() asserts that every check passes on the reference
        outcome = copy.deepcopy(view.outcome)
        fill = next(e for e in outcome["events"] if e["type"] == "fill" and e["cause"] == "liquidation")
        if extent == "full":
            # 1.9 left after the stop: cost 1.9 x 60000 = 114000; margin 6000 - 0.1's share 300 = 5700;
            # bankruptcy price (114000 - 5700) / 1.9 = 57000
            assert (fill["quantity"], fill["price"]) == ("1.9", "57000")
        fill["price"] = str(Decimal(fill["price"]) + 1)
        assert any("liquidation fill at" in v for v in violations(
            StepView(view.params, view.before, view.action, outcome, view.after))), extent


def test_a_reduction_at_the_mark_is_accepted_where_the_extent_is_open_and_the_basis_is_bankruptcy(tmp_path):
    """bybit-v5 and okx-v5 leave the extent open: a leg left partly open is not judged on the basis's price."""
    modelled = variant(tmp_path, base=PARTIAL, name="b-modelled", liquidation_price_basis=("bankruptcy", "modelled"))
    opened = variant(tmp_path, base=PARTIAL, name="b-open", liquidation_price_basis=("bankruptcy", "modelled"),
                          liquidation_extent=("partial_by_bracket", "documented"))
    view = run(modelled, EXAMPLE["actions"][:5])[-1]
    assert [(f["quantity"], f["price"]) for f in fills(view)] == [("1.126", "57200")]
    assert run_step_checks(StepView({**view.params, "profile": opened}, view.before, view.action, view.outcome,
                                    view.after)) == []


def test_a_first_bracket_leg_left_open_is_caught_whatever_the_clearance_rate(tmp_path):
    """A breached leg in the first bracket is closed in full under any fee: halving it is a violation even
    where the profile leaves the clearance rate open (the size at a fee of 0 is the least any fee closes)."""
    actions = [market(1, "L", "BUY", "LONG", "0.5", "60000"), mark(2, "57500"), mark(3, "57100")]
    for name, rate in {"fee-modelled": ("0", "modelled"), "fee-open": (None, "unconfirmed")}.items():
        path = variant(tmp_path, base=PARTIAL, name=name, liquidation_clearance_fee_rate=rate)
        view = run_params(bracket_params(path), actions)[-1]
        (fill,) = fills(view)
        assert fill["quantity"] == "0.5"
        outcome, after = copy.deepcopy(view.outcome), copy.deepcopy(view.after)
        next(e for e in outcome["events"] if e["type"] == "fill")["quantity"] = "0.25"
        after["accounts"]["alice"]["positions"]["BTCUSDT"]["LONG"]["quantity"] = "0.25"
        found = violations(StepView(view.params, view.before, view.action, outcome, after))
        assert any("closed 0.25 of 0.5; a partial liquidation by bracket closes it in full" in v for v in found), found


def test_an_unreported_liquidation_is_judged_at_its_first_entry_but_not_after_a_stop():
    """A liquidation fill without a liquidation event: judged as the leg stood before the liquidation's entries
    (the library's missed-liquidation mutant, tests/test_rules_on_model.py); after a stop's fill in the same step
    the entries between the two fills could be either's, so HM-LIQ-002 leaves that leg undecided."""
    from hedgespec.conformance.mutants import _missed_liquidation

    plain = run(PARTIAL, EXAMPLE["actions"][:5])[-1]
    stopped = stop_then_liquidation(PARTIAL)
    found = {}
    for name, view in (("plain", plain), ("after a stop", stopped)):
        outcome = copy.deepcopy(view.outcome)
        _missed_liquidation(view.action, view.before, outcome, None)
        found[name] = [str(v) for v in get("HM-LIQ-002").check(StepView(view.params, view.before, view.action,
                                                                         outcome, view.after))]
    assert found["plain"] == ["HM-LIQ-002: alice BTCUSDT LONG: balance 400 below maintenance, not liquidated"], found
    assert found["after a stop"] == []


def test_a_missed_liquidation_after_a_stop_is_caught_whichever_order_an_engine_reports_a_fill_and_its_entries():
    """An engine that fires the stop and then never liquidates the 1.9 left is caught by HM-LIQ-002, whether
    it reports the stop's ledger entries before its fill (as the reference does) or after it."""
    view = stop_then_liquidation(PARTIAL)
    evs = view.outcome["events"]
    cut = next(i for i, e in enumerate(evs) if e["type"] == "liquidation")
    entries_first = {**view.outcome, "events": copy.deepcopy(evs[:cut])}
    fill_first = copy.deepcopy(entries_first)
    stop_fill = next(e for e in fill_first["events"] if e["type"] == "fill")
    fill_first["events"].remove(stop_fill)
    first_entry = next(i for i, e in enumerate(fill_first["events"])
                       if e["type"] == "ledger" and e.get("position_side") == "LONG")
    fill_first["events"].insert(first_entry, stop_fill)
    for outcome in (entries_first, fill_first):
        found = [str(v) for v in get("HM-LIQ-002").check(StepView(view.params, view.before, view.action, outcome,
                                                                    view.after))]
        assert found == ["HM-LIQ-002: alice BTCUSDT LONG: balance 380.0 below maintenance, not liquidated"], found
