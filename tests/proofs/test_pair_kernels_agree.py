"""The two-leg kernels CrossHair proves agree with what ``step`` does to the two legs.

``step`` keeps legs in a dict keyed by (instrument, side) and does not call ``fill_pair``,
``fund_pair`` or ``liquidate_pair``; these kernels restate its per-leg path on a ``HedgePair`` so that
the two-leg frame can be proved (HM-NET-001, HM-FUND-001, HM-LIQ-001/003). Here every hedged fill,
funding event and isolated liquidation of long seeded runs, under every built-in profile, is replayed
through the pair kernel and compared with the legs ``step`` produced -- so what is proved about the
pair kernels is what the running model does to the pair.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest
from hedgespec.model import initial_state, ledger, liquidation
from hedgespec.model.codec import InputError, action_from_json
from hedgespec.model.fees import fill_fee
from hedgespec.model.funding import fund_pair
from hedgespec.model.liquidation import bankruptcy_price, liquidate_pair
from hedgespec.model.margin import move_isolated_margin
from hedgespec.model.positions import HedgePair, fill_pair
from hedgespec.model.state import BUY, LONG, SHORT, Leg
from hedgespec.spec.profiles import builtin_profile_names
from proof_helpers import contract_of
from scenarios import params, random_actions

step_module = importlib.import_module("hedgespec.model.step")

APPLY_FILL = inspect.signature(ledger.Work.apply_fill)
LIQUIDATE = inspect.signature(liquidation.liquidate_isolated)


def pair_of(work: Any, account_id: str, instrument: str) -> HedgePair:
    account = work.account(account_id)
    return HedgePair(account.leg(instrument, LONG), account.leg(instrument, SHORT))


def without_margin(leg: Leg) -> tuple[int, ...]:
    """A leg's fields but the isolated margin, which apply_fill moves through ledger transfers."""
    return leg.quantity, leg.cost_basis, leg.realized_pnl, leg.fees_paid, leg.funding


def drive(profile: str, seed: int, count: int = 250) -> None:
    state = initial_state(params(profile, hedge=True))
    for i, raw in enumerate(random_actions(seed, count)):
        try:
            action = action_from_json(raw, f"action {i}")
        except InputError:
            continue
        _, state = step_module.step(state, action)


CASES = [(profile, seed) for profile in builtin_profile_names() for seed in range(3)]


@pytest.mark.parametrize(("profile", "seed"), CASES)
def test_fill_pair_agrees_with_apply_fill(monkeypatch: pytest.MonkeyPatch, profile: str, seed: int) -> None:
    """HM-NET-001 / HM-ORD-002 / HM-ORD-003: each hedged fill of step equals fill_pair on the pair."""
    original = ledger.Work.apply_fill
    contract = contract_of(fill_pair)
    seen = []

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = APPLY_FILL.bind(self, *args, **kwargs)
        account_id, instrument = bound.arguments["account_id"], bound.arguments["instrument"]
        side = bound.arguments["position_side"]
        before = pair_of(self, account_id, instrument)
        fill = original(self, *args, **kwargs)
        if side in (LONG, SHORT):
            after = pair_of(self, account_id, instrument)
            signed = fill.quantity if fill.side == BUY else -fill.quantity
            call = (before, side, signed, fill.price, fill.fee)
            assert contract.pre_holds(dict(zip(("pair", "position_side", "signed_quantity", "price", "fee"), call,
                                               strict=True))), call
            expected = fill_pair(*call)
            if side == LONG:
                assert after.short == before.short and without_margin(after.long) == without_margin(expected.long)
            else:
                assert after.long == before.long and without_margin(after.short) == without_margin(expected.short)
            seen.append(side)
        return fill

    monkeypatch.setattr(ledger.Work, "apply_fill", spy)
    drive(profile, seed)
    if profile == "seed":
        assert {LONG, SHORT} <= set(seen)


@pytest.mark.parametrize(("profile", "seed"), CASES)
def test_fund_pair_agrees_with_funding(profile: str, seed: int) -> None:
    """HM-FUND-001: after each funding step, each leg's funding moved by fund_pair's per-leg amount."""
    state = initial_state(params(profile, hedge=True))
    events = 0
    for i, raw in enumerate(random_actions(seed, 250)):
        try:
            action = action_from_json(raw, f"action {i}")
        except InputError:
            continue
        outcome, after = step_module.step(state, action)
        if raw["kind"] == "funding" and outcome.kind == "accepted":
            symbol, rate = action.instrument, action.rate  # type: ignore[attr-defined]
            for account_id, account in state.accounts.items():
                pair = HedgePair(account.leg(symbol, LONG), account.leg(symbol, SHORT))
                expected = fund_pair(pair, state.mark_prices[symbol], rate)
                now = after.accounts[account_id]
                assert now.leg(symbol, LONG).funding == expected.long.funding
                assert now.leg(symbol, SHORT).funding == expected.short.funding
                events += pair.long.quantity != 0 or pair.short.quantity != 0
        state = after
    if profile == "seed":
        assert events > 0


@pytest.mark.parametrize(("profile", "seed"), CASES)
def test_liquidate_pair_agrees_with_liquidate_isolated(monkeypatch: pytest.MonkeyPatch, profile: str,
                                                       seed: int) -> None:
    """HM-LIQ-001 / HM-LIQ-003: each isolated liquidation of step equals liquidate_pair on the pair,
    the insurance fund and the wallet move as the kernel says, the other leg does not move."""
    original = liquidation.liquidate_isolated
    seen = []

    def spy(work: Any, *args: Any, **kwargs: Any) -> None:
        bound = LIQUIDATE.bind(work, *args, **kwargs)
        account_id, instrument, side = (bound.arguments[k] for k in ("account_id", "instrument", "side"))
        leg, mark = bound.arguments["leg"], bound.arguments["mark"]
        choices = work.config.choices
        before = pair_of(work, account_id, instrument)
        wallet, fund = work.account(account_id).wallet, work.insurance_fund
        original(work, *args, **kwargs)
        if side not in (LONG, SHORT):
            return
        price = mark if choices["liquidation_price_basis"] == "mark" else bankruptcy_price(leg)
        clearance = fill_fee(leg.quantity, price, choices["liquidation_clearance_fee_rate"])
        expected, cover, proceeds = liquidate_pair(before, side, price, clearance)
        assert pair_of(work, account_id, instrument) == expected
        to_fund = choices["isolated_liquidation_remainder"] == "insurance_fund"
        assert work.insurance_fund - fund == clearance - cover + (proceeds if to_fund else 0)
        assert work.account(account_id).wallet - wallet == (0 if to_fund else proceeds)
        seen.append(side)

    monkeypatch.setattr(liquidation, "liquidate_isolated", spy)
    drive(profile, seed, 300)
    if profile == "seed":
        assert seen


@pytest.mark.parametrize(("profile", "seed"), CASES)
def test_move_isolated_margin_agrees_with_adjust_margin(profile: str, seed: int) -> None:
    """HM-MARG-002: an accepted margin adjustment on a hedge leg moves the wallet and the legs exactly as
    move_isolated_margin says (the other leg untouched)."""
    state = initial_state(params(profile, hedge=True))
    actions = random_actions(seed, 250)
    # Margin adjustments on open legs are rare in the random stream: add one after every fill-bearing step.
    extra = []
    for raw in actions:
        extra.append(raw)
        if raw["kind"] == "place_order" and raw["position_side"] in (LONG, SHORT):
            extra.append({"t": raw["t"], "kind": "adjust_margin", "account": raw["account"],
                          "instrument": raw["instrument"], "position_side": raw["position_side"],
                          "amount": "-0.5" if raw["t"] % 3 == 0 else "2"})
    moved = 0
    for i, raw in enumerate(extra):
        try:
            action = action_from_json(raw, f"action {i}")
        except InputError:
            continue
        outcome, after = step_module.step(state, action)
        if raw["kind"] == "adjust_margin" and outcome.kind == "accepted" and raw["position_side"] in (LONG, SHORT):
            account_id, symbol, side = raw["account"], raw["instrument"], raw["position_side"]
            before = state.accounts[account_id]
            pair = HedgePair(before.leg(symbol, LONG), before.leg(symbol, SHORT))
            wallet, expected = move_isolated_margin(before.wallet, pair, side, action.amount)  # type: ignore[attr-defined]
            now = after.accounts[account_id]
            assert now.wallet == wallet
            assert HedgePair(now.leg(symbol, LONG), now.leg(symbol, SHORT)) == expected
            moved += 1
        state = after
    if profile == "seed":
        assert moved > 0
