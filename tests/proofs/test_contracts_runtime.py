"""The kernels' PEP 316 contracts, checked at run time on many Hypothesis-generated inputs.

The same conditions CrossHair proves (spec/proved.txt: HM-NET-001, HM-ORD-002/003, HM-POS-001/002,
HM-FEE-001, HM-FUND-001, HM-MARG-002/003/006, HM-MODE-002/003, HM-LIQ-001..004, HM-STOP-002/003) are
parsed with CrossHair's own PEP 316 parser and evaluated on generated arguments: a second, independent
line of evidence that does not depend on the solver, and a guard against a contract that CrossHair
could only "prove" because its preconditions are unsatisfiable (every kernel must be exercised).
"""

from __future__ import annotations

from typing import Any

import pytest
from hedgespec.model.positions import HedgePair
from hedgespec.model.state import Bracket, Leg
from hedgespec.model.units import RATE_ONE
from hedgespec.spec.proofs import split_comment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from proof_helpers import contract_of, kernel, kernel_names, proved_list

QTY = st.integers(-(10**14), 10**14)
PRICE = st.integers(1, 10**15)
MONEY = st.integers(-(10**25), 10**25)
RATE = st.integers(-(10**7), 10**7)
SIDE = st.sampled_from(["LONG", "SHORT"])
DIRECTION = st.sampled_from([1, -1])


def legs(quantity: st.SearchStrategy[int] = QTY) -> st.SearchStrategy[Leg]:
    return st.builds(Leg, quantity=quantity, cost_basis=MONEY, isolated_margin=MONEY, realized_pnl=MONEY,
                     fees_paid=st.integers(0, 10**22), funding=MONEY)


def near_entry_legs(quantity: st.SearchStrategy[int] = QTY) -> st.SearchStrategy[Leg]:
    """Legs whose cost basis is quantity x an entry price (as fills build them), margins non-negative."""
    @st.composite
    def build(draw: st.DrawFn) -> Leg:
        q = draw(quantity)
        return Leg(q, q * draw(PRICE), draw(st.integers(0, 10**24)), draw(MONEY), draw(st.integers(0, 10**22)),
                   draw(MONEY))
    return build()


def any_leg(quantity: st.SearchStrategy[int] = QTY) -> st.SearchStrategy[Leg]:
    return st.one_of(legs(quantity), near_entry_legs(quantity))


def pairs() -> st.SearchStrategy[HedgePair]:
    return st.builds(HedgePair, any_leg(st.integers(0, 10**14)), any_leg(st.integers(-(10**14), 0)))


@st.composite
def open_leg_args(draw: st.DrawFn) -> tuple[Any, ...]:
    leg = draw(any_leg())
    sign = draw(DIRECTION) if leg.quantity == 0 else (1 if leg.quantity > 0 else -1)
    return leg, sign * draw(st.integers(1, 10**14)), draw(PRICE), draw(st.integers(0, 10**22))


@st.composite
def reduce_leg_args(draw: st.DrawFn) -> tuple[Any, ...]:
    leg = draw(any_leg(QTY.filter(bool)))
    size = abs(leg.quantity)
    closed = draw(st.one_of(st.just(size), st.integers(1, size)))
    return leg, (-closed if leg.quantity > 0 else closed), draw(PRICE), draw(st.integers(0, 10**22))


@st.composite
def fill_pair_args(draw: st.DrawFn) -> tuple[Any, ...]:
    pair, side = draw(pairs()), draw(SIDE)
    leg = pair.long if side == "LONG" else pair.short
    opening = leg.quantity == 0 or draw(st.booleans())
    direction = 1 if side == "LONG" else -1
    size = draw(st.integers(1, 10**14)) if opening else draw(st.integers(1, abs(leg.quantity)))
    return pair, side, (direction if opening else -direction) * size, draw(PRICE), draw(st.integers(0, 10**22))


@st.composite
def bracket_tables(draw: st.DrawFn) -> tuple[Bracket, ...]:
    count = draw(st.integers(1, 3))
    caps = sorted(draw(st.sets(st.integers(1, 10**26), min_size=count - 1, max_size=count - 1)))
    floors = [0, *caps]
    return tuple(Bracket(floors[i], caps[i] if i < count - 1 else 0, draw(st.integers(0, RATE_ONE)),
                         draw(st.integers(0, 10**24)), draw(st.integers(1, 125))) for i in range(count))


@st.composite
def bracket_for_args(draw: st.DrawFn) -> tuple[Any, ...]:
    table = draw(bracket_tables())
    edges = [b.notional_cap + d for b in table[:-1] for d in (-1, 0, 1)]
    notional = draw(st.one_of(st.integers(0, 10**27), st.sampled_from(edges) if edges else st.just(0)))
    return max(0, notional), table


@st.composite
def maintenance_margin_args(draw: st.DrawFn) -> tuple[Any, ...]:
    return draw(any_leg()), draw(PRICE), draw(bracket_tables())


@st.composite
def liquidate_pair_args(draw: st.DrawFn) -> tuple[Any, ...]:
    side = draw(SIDE)
    live = st.integers(1, 10**14) if side == "LONG" else st.integers(-(10**14), -1)
    long = draw(any_leg(live if side == "LONG" else st.integers(0, 10**14)))
    short = draw(any_leg(live if side == "SHORT" else st.integers(-(10**14), 0)))
    return HedgePair(long, short), side, draw(PRICE), draw(st.integers(0, 10**22))


@st.composite
def isolated_should_liquidate_args(draw: st.DrawFn) -> tuple[Any, ...]:
    leg, mark = draw(any_leg()), draw(PRICE)
    balance = leg.isolated_margin + leg.quantity * mark - leg.cost_basis
    maintenance = draw(st.one_of(MONEY, st.just(balance), st.just(balance + 1), st.just(balance - 1)))
    return leg, mark, maintenance, draw(st.sampled_from(["below", "at_or_below"]))


@st.composite
def stop_args(draw: st.DrawFn) -> tuple[Any, ...]:
    stop = draw(PRICE)
    price = draw(st.one_of(PRICE, st.just(stop), st.just(stop + 1), st.just(max(1, stop - 1))))
    return draw(st.sampled_from(["STOP_MARKET", "TAKE_PROFIT_MARKET"])), draw(DIRECTION), stop, price


@st.composite
def trailing_args(draw: st.DrawFn) -> tuple[Any, ...]:
    return (draw(DIRECTION), draw(st.one_of(st.just(0), PRICE)), draw(st.one_of(st.just(0), PRICE)),
            draw(st.integers(0, RATE_ONE - 1)), draw(PRICE))


STRATEGIES: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
    "hedgespec.model.positions:open_leg": open_leg_args(),
    "hedgespec.model.positions:reduce_leg": reduce_leg_args(),
    "hedgespec.model.positions:fill_pair": fill_pair_args(),
    "hedgespec.model.fees:fill_fee": st.tuples(QTY, PRICE, st.integers(0, 10**7)),
    "hedgespec.model.funding:funding_amount": st.tuples(QTY, PRICE, RATE),
    "hedgespec.model.funding:fund_pair": st.tuples(pairs(), PRICE, RATE),
    "hedgespec.model.margin:initial_margin": st.tuples(st.integers(0, 10**27), st.integers(1, 125)),
    "hedgespec.model.margin:bracket_for": bracket_for_args(),
    "hedgespec.model.margin:maintenance_for": st.tuples(st.integers(0, 10**27), st.integers(0, RATE_ONE), MONEY),
    "hedgespec.model.margin:maintenance_margin": maintenance_margin_args(),
    "hedgespec.model.margin:move_isolated_margin": st.tuples(MONEY, pairs(), SIDE, MONEY),
    "hedgespec.model.mode:mode_switch_guard": st.tuples(
        st.booleans(), st.booleans(), st.booleans(), st.booleans(),
        st.sampled_from(["positions_first", "orders_first", "either"])),
    "hedgespec.model.liquidation:isolated_should_liquidate": isolated_should_liquidate_args(),
    "hedgespec.model.liquidation:bankruptcy_price": st.tuples(any_leg(QTY.filter(bool))),
    "hedgespec.model.liquidation:liquidate_pair": liquidate_pair_args(),
    "hedgespec.model.orders:_stop_fires": stop_args(),
    "hedgespec.model.orders:trailing_update": trailing_args(),
}

KERNELS = [f"{module}:{function}" for module, function in kernel_names()]


def test_every_proved_kernel_has_a_generator() -> None:
    assert sorted(STRATEGIES) == sorted(KERNELS)


@pytest.mark.parametrize("name", KERNELS)
def test_listed_conditions_are_the_docstring_conditions(name: str) -> None:
    """spec/proved.txt names conditions that exist, verbatim, in the kernel's docstring."""
    module, function = name.split(":")
    written = {f"{name}: post: {split_comment(c.expr_source)[0]}" for c in contract_of(kernel(module, function)).post}
    listed = {n for n, _ in proved_list() if n.startswith(f"{name}: ")}
    assert listed and listed <= written


@pytest.mark.parametrize("name", KERNELS)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_contract_holds_at_run_time(name: str, data: st.DataObject) -> None:
    module, function = name.split(":")
    fn = kernel(module, function)
    contract = contract_of(fn)
    args = data.draw(STRATEGIES[name], label="args")
    bindings = contract.bindings(args, {})
    assert contract.pre_holds(bindings), f"generator produced arguments outside the preconditions: {args!r}"
    result = fn(*args)
    failed = contract.failed_posts(bindings, result)
    assert not failed, f"{function}{args!r} -> {result!r} breaks {failed}"
