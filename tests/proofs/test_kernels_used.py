"""``step`` really goes through the proved kernels, and their contracts hold on the calls it makes.

The CrossHair proofs (spec/proved.txt) are about kernel functions; these tests tie them to the model
that runs: the names ``step`` looks up are the proved functions themselves, spies see them called on
a hedged fill (HM-NET-001, HM-ORD-002/003, HM-FEE-001), on funding (HM-FUND-001), on an isolated
liquidation (HM-LIQ-001/002/003, HM-MARG-006), on a mode switch (HM-MODE-002/003) and on stop and
trailing-stop triggers (HM-STOP-002/003); and on long seeded runs every call ``step`` makes to a
proved kernel meets its preconditions and satisfies its postconditions.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from hedgespec.model import fees, funding, initial_state, ledger, liquidation, margin, mode, orders, positions
from hedgespec.model.codec import InputError, action_from_json
from hedgespec.model.state import Leg, State
from proof_helpers import Spy, contract_of, kernel, kernel_names
from scenarios import params, random_actions

step_module = importlib.import_module("hedgespec.model.step")  # the package re-exports the function ``step``

BTC = "BTCUSDT"

# Where step looks each proved kernel up (module, name) -> the module that defines it.
LOOKUPS = [
    (ledger, "open_leg", positions),
    (ledger, "reduce_leg", positions),
    (ledger, "is_opening", positions),
    (ledger, "fill_fee", fees),
    (step_module, "funding_amount", funding),
    (step_module, "mode_switch_guard", mode),
    (liquidation, "isolated_should_liquidate", liquidation),
    (liquidation, "maintenance_margin", margin),
    (liquidation, "fill_fee", fees),
    (margin, "bracket_for", margin),
    (margin, "maintenance_for", margin),
    (orders, "_stop_fires", orders),
    (orders, "trailing_update", orders),
]


def run(actions: list[dict[str, Any]], state: State | None = None, hedge: bool = True) -> tuple[list[Any], State]:
    state = state if state is not None else initial_state(params(hedge=hedge))
    outcomes = []
    for i, raw in enumerate(actions):
        outcome, state = step_module.step(state, action_from_json(raw, f"action {i}"))
        outcomes.append(outcome)
    return outcomes, state


def market(t: int, side: str, leg: str, qty: str, price: str = "100", account: str = "A") -> dict[str, Any]:
    return {"t": t, "kind": "place_order", "account": account, "order_id": f"m{t}", "instrument": BTC, "side": side,
            "position_side": leg, "order_type": "MARKET", "quantity": qty, "price": price}


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    spy = Spy(monkeypatch)
    for module, name, _ in LOOKUPS:
        spy.watch(module, name)
    return spy


def test_step_looks_up_the_proved_functions() -> None:
    """The names step's chapters call are the very function objects CrossHair checked."""
    for module, name, home in LOOKUPS:
        assert getattr(module, name) is getattr(home, name), f"{module.__name__}.{name}"
    proved = {f"{m}:{f}" for m, f in kernel_names()}
    for _, name, home in LOOKUPS:
        if name != "is_opening":
            assert f"{home.__name__}:{name}" in proved, f"{name} has no listed condition"


def test_hedged_fill_goes_through_open_and_reduce_leg(spy: Spy) -> None:
    """HM-NET-001, HM-ORD-002/003, HM-FEE-001 on the running model."""
    _, state = run([market(1, "BUY", "LONG", "0.1"), market(2, "SELL", "SHORT", "0.2")])
    short_before = state.accounts["A"].leg(BTC, "SHORT")
    spy.calls.clear()
    _, after = run([market(3, "SELL", "LONG", "0.04", "110")], state)
    (reduce,) = spy.of("reduce_leg")
    assert reduce.args[0] == state.accounts["A"].leg(BTC, "LONG") and reduce.args[1] == -4_000_000
    assert not spy.of("open_leg")
    assert len(spy.of("fill_fee")) == 1
    assert after.accounts["A"].leg(BTC, "SHORT") is short_before  # the other leg: the same object
    assert after.accounts["A"].leg(BTC, "LONG").quantity == 6_000_000
    spy.calls.clear()
    run([market(4, "SELL", "SHORT", "0.1")], after)
    (opened,) = spy.of("open_leg")
    assert opened.args[0].quantity == -20_000_000 and opened.args[1] == -10_000_000


def test_funding_goes_through_funding_amount_per_leg(spy: Spy) -> None:
    """HM-FUND-001: one call per open leg, each on the leg's own quantity (never the net)."""
    _, state = run([market(1, "BUY", "LONG", "0.3"), market(2, "SELL", "SHORT", "0.1")])
    spy.calls.clear()
    outcomes, after = run([{"t": 3, "kind": "funding", "instrument": BTC, "rate": "0.0001"}], state)
    assert outcomes[0].kind == "accepted"
    quantities = sorted(c.args[0] for c in spy.of("funding_amount") if c.args[1] == 100 * 10**8)
    assert quantities[-2:] == [-10_000_000, 30_000_000] or quantities == [-10_000_000, 30_000_000]
    long_leg = after.accounts["A"].leg(BTC, "LONG")
    short_leg = after.accounts["A"].leg(BTC, "SHORT")
    assert long_leg.funding < 0 < short_leg.funding  # the long pays, the short receives
    assert spy.of("isolated_should_liquidate")  # funding is followed by the liquidation check


def test_isolated_liquidation_goes_through_the_decision_kernel(spy: Spy) -> None:
    """HM-LIQ-002 decision, HM-MARG-006 maintenance from the bracket, HM-LIQ-001 only that leg."""
    setup = [
        {"t": 1, "kind": "set_leverage", "account": "A", "instrument": BTC, "position_side": "LONG", "leverage": "50"},
        market(2, "BUY", "LONG", "1"),
        market(3, "SELL", "SHORT", "1"),
    ]
    _, state = run(setup)
    short_before = state.accounts["A"].leg(BTC, "SHORT")
    spy.calls.clear()
    _, after = run([{"t": 4, "kind": "mark_price", "instrument": BTC, "price": "97"}], state)
    decisions = [c for c in spy.of("isolated_should_liquidate") if c.result]
    assert len(decisions) == 1 and decisions[0].args[0].quantity == 10**8
    assert spy.of("maintenance_margin") and spy.of("bracket_for") and spy.of("maintenance_for")
    closes = [c for c in spy.of("reduce_leg") if c.args[1] == -(10**8)]
    assert len(closes) == 1
    assert after.accounts["A"].leg(BTC, "LONG").quantity == 0
    assert after.accounts["A"].leg(BTC, "SHORT") == short_before


def test_mode_switch_goes_through_the_guard(spy: Spy) -> None:
    """HM-MODE-002: refused while a position is open, through mode_switch_guard; accepted when flat."""
    _, state = run([market(1, "BUY", "LONG", "0.1")])
    outcomes, _ = run([{"t": 2, "kind": "set_position_mode", "account": "A", "mode": "ONE_WAY"}], state)
    (guard,) = spy.of("mode_switch_guard")
    assert guard.result == "MODE_SWITCH_WITH_POSITIONS" and outcomes[0].reason == "MODE_SWITCH_WITH_POSITIONS"
    spy.calls.clear()
    outcomes, _ = run([{"t": 1, "kind": "set_position_mode", "account": "B", "mode": "ONE_WAY"}])
    (guard,) = spy.of("mode_switch_guard")
    assert guard.result is None and outcomes[0].kind == "accepted"


def test_stop_and_trailing_triggers_go_through_their_kernels(spy: Spy) -> None:
    """HM-STOP-002/003: the stop fires through _stop_fires, the trailing stop through trailing_update."""
    setup = [
        market(1, "BUY", "LONG", "0.2"),
        {"t": 2, "kind": "place_order", "account": "A", "order_id": "stop", "instrument": BTC, "side": "SELL",
         "position_side": "LONG", "order_type": "STOP_MARKET", "quantity": "0.1", "stop_price": "95"},
        {"t": 3, "kind": "place_order", "account": "A", "order_id": "trail", "instrument": BTC, "side": "SELL",
         "position_side": "LONG", "order_type": "TRAILING_STOP_MARKET", "quantity": "0.1", "callback_rate": "0.01"},
    ]
    _, state = run(setup)
    spy.calls.clear()
    _, state = run([{"t": 4, "kind": "mark_price", "instrument": BTC, "price": "104"}], state)
    assert [c.result for c in spy.of("_stop_fires")] == [False]
    assert [c.result for c in spy.of("trailing_update")] == [(104 * 10**8, False)]
    spy.calls.clear()
    _, state = run([{"t": 5, "kind": "mark_price", "instrument": BTC, "price": "94"}], state)
    assert [c.result for c in spy.of("_stop_fires")] == [True]
    assert [c.result for c in spy.of("trailing_update")] == [(104 * 10**8, True)]
    assert state.accounts["A"].leg(BTC, "LONG").quantity == 0


@pytest.mark.parametrize("seed", range(6))
def test_contracts_hold_on_every_kernel_call_step_makes(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Long seeded runs: every call step makes to a proved kernel meets its preconditions (so the proof
    applies to it) and satisfies its postconditions."""
    contracts = {name: contract_of(kernel(module, name)) for module, name in kernel_names()}
    spy = Spy(monkeypatch)
    for module, name, _ in LOOKUPS:
        spy.watch(module, name)
    state = initial_state(params(hedge=seed % 2 == 0))
    for i, raw in enumerate(random_actions(seed, 250)):
        try:
            action = action_from_json(raw, f"action {i}")
        except InputError:
            continue
        _, state = step_module.step(state, action)
    checked = 0
    for call in spy.calls:
        contract = contracts.get(call.name)
        if contract is None:
            continue
        bindings = contract.bindings(call.args, call.kwargs)
        assert contract.pre_holds(bindings), f"step calls {call.name}{call.args} outside its preconditions"
        assert not contract.failed_posts(bindings, call.result), f"{call.name}{call.args} -> {call.result}"
        checked += 1
    assert checked > 100
    assert {c.name for c in spy.calls} >= {"open_leg", "reduce_leg", "fill_fee", "funding_amount",
                                           "maintenance_margin", "isolated_should_liquidate"}


def test_a_hedged_step_never_touches_the_other_leg() -> None:
    """HM-NET-001 at the level of step, for the fill kernels' frame: fills on one leg, many runs."""
    for seed in range(4):
        _, state = run([market(1, "BUY", "LONG", "0.5"), market(2, "SELL", "SHORT", "0.3")])
        for t, (side, leg, qty) in enumerate([("BUY", "LONG", "0.1"), ("SELL", "LONG", "0.2"),
                                              ("SELL", "SHORT", "0.1"), ("BUY", "SHORT", "0.4")], start=3):
            other = "SHORT" if leg == "LONG" else "LONG"
            before = state.accounts["A"].leg(BTC, other)
            _, state = run([market(t, side, leg, qty, str(100 + seed))], state)
            assert state.accounts["A"].leg(BTC, other) == before
    assert isinstance(before, Leg)
