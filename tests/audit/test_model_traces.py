"""Traces from the reference model: under every built-in profile, the audit finds nothing."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from audit_helpers import lines_of
from hedgespec.audit.engine import audit_lines
from hedgespec.audit.model_trace import trace_from_model_run
from hedgespec.spec.profiles import builtin_profile_names, load_profile

INSTRUMENT = {
    "symbol": "BTCUSDT", "settle_asset": "USDT", "kind": "PERPETUAL", "tick_size": "0.1", "lot_size": "0.001",
    "maker_rate": "0.0002", "taker_rate": "0.0005",
    "brackets": [{"notional_floor": "0", "notional_cap": "0", "maintenance_rate": "0.004",
                  "maintenance_amount": "0", "max_leverage": "125"}],
}
SCOPE_KEY = {"account": "*", "settle_asset": "USDT", "instrument": "BTCUSDT"}


def _params(profile_name: str) -> dict[str, Any]:
    scope = load_profile(profile_name).effective("mode_scope")
    modes = {SCOPE_KEY[scope]: "HEDGE"}
    return {"instruments": [INSTRUMENT], "profile": profile_name,
            "accounts": {"A": {"wallet": "100000", "position_mode": modes},
                         "B": {"wallet": "100000", "position_mode": modes}},
            "insurance_fund": "1000", "mark_prices": {"BTCUSDT": "30000"}}


def hedge_actions(seed: int, count: int, switch_modes: bool) -> list[dict[str, Any]]:
    """Orders on both legs (market and resting limit orders), marks, funding, and mode-switch attempts."""
    rng = random.Random(seed)
    price = Decimal(30000)
    out: list[dict[str, Any]] = []
    for t in range(1, count + 1):
        price = max(Decimal(1000), price + Decimal(rng.randint(-300, 300)) / 10)
        r = rng.random()
        account = rng.choice(["A", "A", "B"])
        if r < 0.55:
            leg = rng.choice(["LONG", "SHORT"])
            side = rng.choice(["BUY", "SELL"])
            limit = rng.random() < 0.3
            out.append({"t": t, "kind": "place_order", "account": account, "order_id": f"o{t}",
                        "instrument": "BTCUSDT", "side": side, "position_side": leg,
                        "order_type": "LIMIT" if limit else "MARKET",
                        "quantity": str(Decimal(rng.randint(1, 40)) / 1000),
                        "price": str(price + (Decimal(-50) if side == "BUY" else Decimal(50)) * (1 if limit else 0))})
        elif r < 0.70:
            out.append({"t": t, "kind": "market_trade", "instrument": "BTCUSDT", "price": str(price),
                        "quantity": "1"})
        elif r < 0.85:
            out.append({"t": t, "kind": "mark_price", "instrument": "BTCUSDT", "price": str(price)})
        elif r < 0.95:
            out.append({"t": t, "kind": "funding", "instrument": "BTCUSDT",
                        "rate": rng.choice(["0.0001", "-0.0003", "0.00025"])})
        elif switch_modes:
            out.append({"t": t, "kind": "set_position_mode", "account": "A",
                        "mode": rng.choice(["HEDGE", "ONE_WAY"])})
    return out


@pytest.mark.parametrize("profile_name", builtin_profile_names())
def test_model_trace_is_clean_under_its_profile(profile_name: str) -> None:
    profile = load_profile(profile_name)
    switch = profile.effective("mode_scope") == "account"
    actions = hedge_actions(sum(map(ord, profile_name)), 300, switch)
    records = list(trace_from_model_run(_params(profile_name), actions, account="A", profile=profile))
    result = audit_lines(lines_of(records), profile, trace_name=f"model-{profile_name}.jsonl")
    assert result.summary["records_rejected"] == 0, result.rejections[:3]
    assert result.findings == [], [f.message for f in result.findings[:3]]
    for rule_id in ("HM-POS-002", "HM-POS-004", "HM-FEE-001", "HM-FUND-001", "HM-NET-001"):
        assert result.decided_by_rule.get(rule_id, 0) > 0, rule_id


def test_model_trace_with_a_tampered_fill_is_caught() -> None:
    profile = load_profile("seed")
    records = list(trace_from_model_run(_params("seed"), hedge_actions(7, 400, True), account="A",
                                        profile=profile))
    closing = next(r for r in records if r["type"] == "fill" and Decimal(r["realized_pnl"]) != 0)
    closing["realized_pnl"] = str(Decimal(closing["realized_pnl"]) + Decimal("0.5"))
    result = audit_lines(lines_of(records), profile)
    assert result.findings_by_rule == {"HM-POS-002": 1}
    assert result.findings[0].t == closing["t"]
