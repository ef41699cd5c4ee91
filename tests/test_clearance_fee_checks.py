"""Liquidation clearance fees the checks must allow (HM-FEE-001, HM-LIQ-003, HM-LIQ-004), and what they
still catch: a rate the profile leaves unconfirmed is not judged as the seed's 0, and a cross pool's fee
may be booked at pool level (position_side "CROSS", instrument null)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import get, run_step_checks
from scenarios import checked_steps, directed_actions, params

FEE = Decimal("0.4765")  # 0.5 % of the liquidated notional 95.3


def order(oid: str, side: str, leg: str) -> dict[str, Any]:
    return {"kind": "place_order", "account": "A", "order_id": oid, "instrument": "BTCUSDT", "side": side,
            "position_side": leg, "order_type": "MARKET", "quantity": "1", "price": "100"}


def with_events(view: StepView, evs: list[dict[str, Any]]) -> StepView:
    return StepView(view.params, view.before, view.action, {**view.outcome, "events": evs}, view.after)


def found(view: StepView) -> list[str]:
    return [str(v) for v in run_step_checks(view)]


def binance_liquidation() -> StepView:
    """binance-usdm (clearance rate unconfirmed): the long's margin of 5 less its loss of 4.7 leaves 0.3."""
    return checked_steps(params("binance-usdm", wallet="100000"),
                         [order("l", "BUY", "LONG"), order("s", "SELL", "SHORT"),
                          {"kind": "mark_price", "instrument": "BTCUSDT", "price": "95.3"}])[-1]


def with_clearance(view: StepView, debit_bucket: str = "isolated_margin",
                   credit_bucket: str = "insurance_fund") -> StepView:
    """The long's liquidation charged FEE from its margin; the fund covers what the margin lacks."""
    evs = copy.deepcopy(view.outcome["events"])
    at = next(i for i, e in enumerate(evs) if e["type"] == "fill")
    leg = {"type": "ledger", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG", "kind": "CLEARANCE_FEE"}
    evs[at:at] = [{**leg, "bucket": debit_bucket, "amount": str(-FEE)},
                  {**leg, "bucket": credit_bucket, "amount": str(FEE)}]
    for e in evs:
        if e["type"] == "ledger" and e["kind"] == "INSURANCE_INFLOW":
            e["amount"] = str(Decimal(e["amount"]) + (FEE if e["bucket"] == "isolated_margin" else -FEE))
    return with_events(view, evs)


def test_unconfirmed_clearance_rate_allows_a_clearance_fee() -> None:
    """Binance charges a clearance fee whose rate the profile leaves unconfirmed: not judged as the seed's 0."""
    assert found(with_clearance(binance_liquidation())) == []


def test_unconfirmed_clearance_rate_still_checks_where_the_fee_goes() -> None:
    """The amount is undecided, not the rest: a 'clearance fee' paid to the wallet breaks HM-LIQ-004."""
    violations = found(with_clearance(binance_liquidation(), credit_bucket="wallet"))
    assert any(v.startswith("HM-LIQ-004:") for v in violations), violations


def test_seed_still_judges_the_clearance_amount() -> None:
    """The seed models a rate of 0: the same fee is flagged there."""
    view = binance_liquidation()
    seed = StepView({**view.params, "profile": "seed"}, view.before, view.action, view.outcome, view.after)
    violations = found(with_clearance(seed))
    assert any(v.startswith("HM-FEE-001:") for v in violations), violations


def cross_liquidation(tmp_path: Path) -> StepView:
    """A seed profile charging a 0.5 % clearance fee (modelled); a cross pool liquidated, fees booked per leg."""
    raw = json.loads((Path(__file__).parent.parent / "spec" / "profiles" / "seed.json").read_text())
    raw["name"] = "seed-with-clearance"
    raw["choices"]["liquidation_clearance_fee_rate"]["value"] = "0.005"
    path = tmp_path / "clearance.json"
    path.write_text(json.dumps(raw))
    p = {**params("seed"), "profile": str(path)}
    return checked_steps(p, [{k: v for k, v in a.items() if k != "t"} for a in directed_actions()[0]])[-1]


def pool_level(view: StepView, change: Decimal = Decimal(0)) -> StepView:
    """The per-leg CLEARANCE_FEE entries replaced by one pool-level transfer of their total (plus change)."""
    evs = [e for e in view.outcome["events"] if not (e["type"] == "ledger" and e["kind"] == "CLEARANCE_FEE")]
    total = sum(Decimal(e["amount"]) for e in view.outcome["events"] if e["type"] == "ledger"
                and e["kind"] == "CLEARANCE_FEE" and e["bucket"] == "insurance_fund") + change
    at = next(i for i, e in enumerate(evs) if e["type"] == "fill")
    pool = {"type": "ledger", "account": "A", "instrument": None, "position_side": "CROSS", "kind": "CLEARANCE_FEE"}
    evs[at:at] = [{**pool, "bucket": "wallet", "amount": str(-total)},
                  {**pool, "bucket": "insurance_fund", "amount": str(total)}]
    return with_events(view, evs)


def test_cross_pool_clearance_fee_booked_at_pool_level(tmp_path: Path) -> None:
    """outcomes.md allows pool-level entries: the pool's legs are compared as one."""
    view = cross_liquidation(tmp_path)
    assert sum(1 for e in view.outcome["events"] if e.get("kind") == "CLEARANCE_FEE") == 4  # two legs, per leg
    assert found(pool_level(view)) == []


def test_pool_level_clearance_fee_within_rounding(tmp_path: Path) -> None:
    """One money atom per leg (two here: one rounding of the pool's total) is accepted; more is not."""
    view = cross_liquidation(tmp_path)  # the snapshots then differ by the change: HM-FEE-001 alone is asked
    assert [str(v) for v in get("HM-FEE-001").check(pool_level(view, Decimal("-2e-16")))] == []
    assert [str(v) for v in get("HM-FEE-001").check(pool_level(view, Decimal("-3e-16")))]
    assert [str(v) for v in get("HM-FEE-001").check(pool_level(view, Decimal("3e-16")))]
