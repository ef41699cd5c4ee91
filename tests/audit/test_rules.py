"""Individual checks on small hand-made traces, including what is not decidable."""

from __future__ import annotations

from audit_helpers import audit_records, fill, meta, opening, rec


def _funding_setup(extra: list[dict]) -> list[dict]:  # noqa: ANN001
    return [meta(), opening(), fill(1, "1", "BUY", "LONG", "2", "100"), fill(2, "2", "SELL", "SHORT", "1", "100")] + extra


def test_realized_pnl_uses_the_legs_own_entry() -> None:
    records = [meta(), opening(),
               fill(1, "1", "BUY", "LONG", "1", "100"), fill(2, "2", "BUY", "LONG", "1", "110"),
               fill(3, "3", "SELL", "SHORT", "2", "200"),
               fill(4, "4", "SELL", "LONG", "1", "120", pnl="15")]  # (120 - 105) x 1
    assert audit_records(records).findings == []
    blended = records[:-1] + [fill(4, "4", "SELL", "LONG", "1", "120", pnl="-51.25")]  # entry over both legs
    result = audit_records(blended)
    assert result.findings_by_rule == {"HM-POS-002": 1}
    finding = result.findings[0]
    assert finding.expected == "15" and finding.observed == "-51.25"
    assert finding.evidence == [{"trace": "t.jsonl:6", "source": "test", "record_id": "4"}]


def test_short_leg_pnl_sign_and_partial_close() -> None:
    records = [meta(), opening(), fill(1, "1", "SELL", "SHORT", "3", "100"),
               fill(2, "2", "BUY", "SHORT", "1", "90", pnl="10"), fill(3, "3", "BUY", "SHORT", "2", "110", pnl="-20")]
    result = audit_records(records)
    assert result.findings == []
    assert [leg["quantity"] for leg in result.legs if leg["position_side"] == "SHORT"] == ["0"]


def test_closing_fill_larger_than_its_leg() -> None:
    result = audit_records([meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100"),
                            fill(2, "2", "SELL", "SHORT", "5", "100"),
                            fill(3, "3", "SELL", "LONG", "2", "100")])
    assert result.findings_by_rule == {"HM-ORD-003": 1}


def test_declared_opening_state_is_used_with_its_printed_precision() -> None:
    legs = [{"instrument": "BTCUSDT", "position_side": "LONG", "quantity": "2", "entry_price": "100.5"}]
    ok = audit_records([meta(), opening(legs=legs), fill(5, "1", "SELL", "LONG", "2", "101.5", pnl="2.00")])
    assert ok.findings == []
    # the declared entry is printed to 0.1: a PnL within 2 x 0.05 is venue rounding, beyond it is not
    near = audit_records([meta(), opening(legs=legs), fill(5, "1", "SELL", "LONG", "2", "101.5", pnl="2.09")])
    assert near.findings == []
    far = audit_records([meta(), opening(legs=legs), fill(5, "1", "SELL", "LONG", "2", "101.5", pnl="2.2")])
    assert far.findings_by_rule == {"HM-POS-002": 1}


def test_fee_rate_consistency_and_hedge_discount() -> None:
    base = [meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100", fee="0.04"),
            fill(2, "2", "BUY", "LONG", "2", "100", fee="0.08")]
    assert audit_records(base).findings == []
    discounted = base + [fill(3, "3", "SELL", "SHORT", "1", "100", fee="0.02")]  # hedged entry at half rate
    result = audit_records(discounted)
    assert result.findings_by_rule == {"HM-FEE-001": 1}
    assert "hedged entries" in result.findings[0].message
    off = base + [fill(3, "3", "BUY", "LONG", "1", "100", fee="0.05")]
    assert audit_records(off).findings_by_rule == {"HM-FEE-001": 1}
    maker = base + [fill(3, "3", "BUY", "LONG", "1", "100", fee="0.02", liquidity="MAKER")]
    assert audit_records(maker).findings == []


def test_fee_in_another_asset_is_not_decidable() -> None:
    result = audit_records([meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100", fee="0.0001",
                                                    fee_asset="BNB")])
    assert result.findings == []
    [entry] = result.undecided
    assert entry.rule_id == "HM-FEE-001" and "BNB/USDT" in entry.needs


def test_funding_per_leg_rows_without_position_side() -> None:
    rate = [rec("funding_rate", 10, "r", instrument="BTCUSDT", rate="0.001", mark_price="100")]
    per_leg = [rec("funding", 10, "f1", instrument="BTCUSDT", position_side=None, amount="-0.2", asset="USDT"),
               rec("funding", 10, "f2", instrument="BTCUSDT", position_side=None, amount="0.1", asset="USDT")]
    assert audit_records(_funding_setup(rate + per_leg)).findings == []
    netted = [rec("funding", 10, "f1", instrument="BTCUSDT", position_side=None, amount="-0.1", asset="USDT")]
    assert audit_records(_funding_setup(rate + netted)).findings_by_rule == {"HM-FUND-002": 1}
    wrong = [rec("funding", 10, "f1", instrument="BTCUSDT", position_side="LONG", amount="-0.3", asset="USDT"),
             rec("funding", 10, "f2", instrument="BTCUSDT", position_side="SHORT", amount="0.1", asset="USDT")]
    assert audit_records(_funding_setup(rate + wrong)).findings_by_rule == {"HM-FUND-001": 1}
    missing_leg = [rec("funding", 10, "f1", instrument="BTCUSDT", position_side="LONG", amount="-0.2", asset="USDT")]
    later = [rec("balance", 11, "b", asset="USDT", wallet_balance="0")]  # the trace goes on past the funding window
    assert audit_records(_funding_setup(rate + missing_leg + later)).findings_by_rule == {"HM-FUND-002": 1}
    # a trace ending inside the funding window may have been cut before the other entry: not decidable
    cut = audit_records(_funding_setup(rate + missing_leg))
    assert cut.findings == [] and [u.rule_id for u in cut.undecided] == ["HM-FUND-002"]


def test_funding_not_decidable_without_rate_or_at_a_fill_instant() -> None:
    rows = [rec("funding", 10, "f1", instrument="BTCUSDT", position_side=None, amount="-0.2", asset="USDT")]
    no_rate = audit_records(_funding_setup(rows))
    assert no_rate.findings == []
    assert [(u.rule_id, u.count) for u in no_rate.undecided] == [("HM-FUND-001", 1)]
    assert "funding-rate history" in no_rate.undecided[0].needs
    same_instant = _funding_setup([rec("funding_rate", 10, "r", instrument="BTCUSDT", rate="0.001",
                                       mark_price="100"),
                                   fill(10, "9", "BUY", "LONG", "1", "100")] + rows)
    result = audit_records(same_instant)
    assert result.findings == []
    assert [u.reason for u in result.undecided] == ["a fill at the same instant as the funding time"]


def test_mode_change_accepted_with_open_legs() -> None:
    records = [meta(), opening(mode="HEDGE"), fill(1, "1", "BUY", "LONG", "1", "100"),
               rec("mode_change", 2, "m", requested="ONE_WAY", outcome="accepted")]
    result = audit_records(records)
    assert result.findings_by_rule == {"HM-MODE-002": 1}
    rejected = records[:-1] + [rec("mode_change", 2, "m", requested="ONE_WAY", outcome="rejected", code="-4068")]
    result = audit_records(rejected)
    assert result.findings == [] and result.summary["venue_codes_seen"] == {"-4068": 1}
    unknown = [meta(), opening(mode="HEDGE", complete=False), rec("mode_change", 2, "m", requested="ONE_WAY",
                                                                 outcome="accepted")]
    assert [u.rule_id for u in audit_records(unknown).undecided] == ["HM-MODE-002"]


def test_orders_position_side_and_oversized_close() -> None:
    records = [meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100"),
               rec("order", 2, "o1", order_id="o1", instrument="BTCUSDT", side="BUY", position_side="BOTH",
                   quantity="1", outcome="rejected", code="-4061"),
               rec("order", 3, "o2", order_id="o2", instrument="BTCUSDT", side="SELL", position_side="LONG",
                   quantity="1", outcome="accepted")]
    assert audit_records(records).findings == []
    bad = records + [rec("order", 4, "o3", order_id="o3", instrument="BTCUSDT", side="BUY", position_side=None,
                         quantity="1", outcome="accepted"),
                     rec("order", 5, "o4", order_id="o4", instrument="BTCUSDT", side="SELL", position_side="LONG",
                         quantity="3", outcome="accepted", code=None)]
    result = audit_records(bad)
    assert result.findings_by_rule == {"HM-ORD-001": 1, "HM-ORD-004": 1}


def test_snapshot_checks_and_netting_signature() -> None:
    records = [meta(), opening(), fill(1, "1", "SELL", "SHORT", "2", "100"),
               fill(2, "2", "BUY", "LONG", "1", "90"),
               rec("position", 3, "pL", instrument="BTCUSDT", position_side="LONG", quantity="1", entry_price="90",
                   mark_price="95", unrealized_pnl="5"),
               rec("position", 3, "pS", instrument="BTCUSDT", position_side="SHORT", quantity="1",
                   entry_price="100")]
    result = audit_records(records)
    assert result.findings_by_rule == {"HM-NET-001": 1, "HM-POS-004": 1}
    entry = records[:4] + [rec("position", 3, "pL", instrument="BTCUSDT", position_side="LONG", quantity="1",
                               entry_price="95")]
    assert audit_records(entry).findings_by_rule == {"HM-POS-001": 1}
    upnl = records[:4] + [rec("position", 3, "pL", instrument="BTCUSDT", position_side="LONG", quantity="1",
                              entry_price="90", mark_price="95", unrealized_pnl="-5")]
    assert audit_records(upnl).findings_by_rule == {"HM-POS-003": 1}


def test_no_opening_state_means_closing_fills_are_not_decidable() -> None:
    result = audit_records([meta(), fill(1, "1", "SELL", "LONG", "1", "100", pnl="3")])
    assert result.findings == []
    assert {u.rule_id for u in result.undecided} == {"HM-ORD-001", "HM-ORD-003", "HM-POS-002"}
    assert all("opening" in u.needs for u in result.undecided)


def test_isolated_liquidation_touches_only_its_leg() -> None:
    base = [meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100"), fill(2, "2", "SELL", "SHORT", "1", "100"),
            rec("liquidation", 3, "l", instrument="BTCUSDT", position_side="LONG", margin_type="ISOLATED"),
            fill(3, "3", "SELL", "LONG", "1", "80", pnl="-20", fee="0", cause="liquidation")]
    result = audit_records(base)
    assert result.findings == [] and result.decided_by_rule["HM-LIQ-001"] == 1
    netted = base + [fill(3, "4", "BUY", "SHORT", "1", "80", pnl="20", fee="0", cause="liquidation")]
    assert audit_records(netted).findings_by_rule == {"HM-LIQ-001": 1}
    # the trigger itself needs margin data the trace does not have
    assert "HM-LIQ-002" in {u.rule_id for u in result.undecided}


def test_cited_rules_exist_in_the_rulebook() -> None:
    import re
    from pathlib import Path

    import pytest
    from hedgespec.audit.rules import known_rule_ids, rule
    from hedgespec.spec import rulebook

    assert known_rule_ids() == {r.id for r in rulebook.all_rules()}
    cited = set(re.findall(r"HM-[A-Z]+-\d{3}", (Path(__file__).parents[2] / "audit" / "rules.py").read_text()))
    assert cited and all(rule(rule_id) == rule_id for rule_id in cited)
    with pytest.raises(ValueError, match="not a rule ID"):
        rule("HM-NET-900")


def test_funding_uses_the_mark_price_history_when_the_rate_has_no_mark() -> None:
    rows = [rec("mark_price", 10, "m", instrument="BTCUSDT", price="100"),
            rec("funding_rate", 10, "r", instrument="BTCUSDT", rate="0.001"),
            rec("funding", 10, "f1", instrument="BTCUSDT", position_side=None, amount="-0.2", asset="USDT"),
            rec("funding", 10, "f2", instrument="BTCUSDT", position_side=None, amount="0.1", asset="USDT")]
    result = audit_records(_funding_setup(rows))
    assert result.findings == [] and result.undecided == []
    assert result.decided_by_rule["HM-FUND-001"] == 1
    stale_rows = [rec("mark_price", 9, "m", instrument="BTCUSDT", price="100")] + rows[1:]
    stale = audit_records(_funding_setup(stale_rows))  # the trace's funding window is 0 ms
    assert [(u.rule_id, u.reason, u.count) for u in stale.undecided] == [
        ("HM-FUND-001", "funding rate without a mark price, and no mark_price record of the instrument within "
                        "funding_window_ms before it", 1),
        ("HM-FUND-001", "no funding rate and mark price at the funding time", 2)]
