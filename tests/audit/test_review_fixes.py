"""Funding windows per instrument, unbooked funding, exact netting in snapshots, liquidation instants and BOTH
fills (HM-FUND-001/002, HM-NET-001, HM-LIQ-001, HM-ORD-001)."""

from __future__ import annotations

from typing import Any

import pytest
from audit_helpers import audit_records, both_paths, fill, lines_of, meta, opening, rec, to_json
from hedgespec.audit.engine import audit_lines
from hedgespec.audit.report import as_json, render_text
from hedgespec.spec.profiles import load_profile

# --------------------------------------------------------------------------- helpers


def _rate(t: int, instrument: str = "BTCUSDT", rate: str = "0.001", mark: str = "100") -> dict[str, Any]:
    return rec("funding_rate", t, f"r{instrument}{t}", instrument=instrument, rate=rate, mark_price=mark)


def _funding(t: int, ident: str, amount: str, instrument: str = "BTCUSDT", side: str | None = None) -> dict[str, Any]:
    return rec("funding", t, ident, instrument=instrument, position_side=side, amount=amount, asset="USDT")


def _later(t: int) -> dict[str, Any]:
    """A record after the funding window: the trace goes on past it."""
    return rec("balance", t, f"b{t}", asset="USDT", wallet_balance="0")


def _hedged(instrument: str = "BTCUSDT", t: int = 1, long: str = "2", short: str = "1") -> list[dict[str, Any]]:
    return [fill(t, f"{instrument}L", "BUY", "LONG", long, "100", instrument=instrument),
            fill(t + 1, f"{instrument}S", "SELL", "SHORT", short, "100", instrument=instrument)]



# --------------------------------------------------------------------------- 2. funding windows


def test_funding_rows_of_several_instruments_at_one_instant_are_grouped_per_instrument() -> None:
    # LONG 2 / SHORT 1 on BTCUSDT at mark 100, LONG 1 / SHORT 3 on ETHUSDT at mark 10; rate 0.001
    records = [meta(), opening(), *_hedged("BTCUSDT", 1), *_hedged("ETHUSDT", 3, "1", "3"),
               _rate(10, "BTCUSDT"), _rate(10, "ETHUSDT", mark="10"),
               _funding(10, "f1", "-0.01", "ETHUSDT"), _funding(10, "f2", "-0.2", "BTCUSDT"),
               _funding(10, "f3", "0.03", "ETHUSDT"), _funding(10, "f4", "0.1", "BTCUSDT"), _later(11)]
    report = both_paths(lines_of(records))
    assert report["findings"] == [] and report["not_decidable"] == []
    assert report["decided_by_rule"]["HM-FUND-001"] == 2 and report["decided_by_rule"]["HM-FUND-002"] == 2
    # before: each row was judged alone, four false HM-FUND-001 findings


def test_funding_rows_a_millisecond_apart_share_their_funding_window() -> None:
    records = [meta(funding_window_ms=60000), opening(), *_hedged(), _rate(10),
               _funding(15, "f1", "-0.2"), fill(15, "o", "BUY", "LONG", "1", "100"), _funding(16, "f2", "0.1"),
               _later(60011)]
    report = both_paths(lines_of(records))
    assert report["findings"] == [] and report["decided_by_rule"]["HM-FUND-002"] == 1
    # a row after the window is not priced by this funding time
    late = audit_records(records[:-1] + [_funding(60011, "f3", "0.1")])
    assert [(u.rule_id, u.reason) for u in late.undecided] == [
        ("HM-FUND-001", "no funding rate and mark price at the funding time")]


# --------------------------------------------------------------------------- 3. funding never booked


def test_unbooked_funding_is_a_finding_only_under_a_complete_ledger_past_the_window() -> None:
    base = [*_hedged(), _rate(10)]
    complete = audit_records([meta(ledger_complete=True), opening(), *base, _later(11)])
    [finding] = complete.findings
    assert finding.rule_id == "HM-FUND-002" and finding.t == 10
    assert "no funding entry in the funding window (ledger declared complete)" in finding.message
    assert "LONG and SHORT legs" in finding.message and finding.expected == "LONG -0.2, SHORT 0.1"
    undeclared = audit_records([meta(), opening(), *base, _later(11)])
    assert undeclared.findings == []
    assert [(u.rule_id, u.count) for u in undeclared.undecided] == [("HM-FUND-002", 1)]
    assert "does not declare a complete ledger" in undeclared.undecided[0].reason
    ends_inside = audit_records([meta(ledger_complete=True), opening(), *base])
    assert ends_inside.findings == [] and "ends inside the funding window" in ends_inside.undecided[0].reason
    flat = audit_records([meta(ledger_complete=True), opening(), _rate(10), _later(11)])
    assert flat.findings == [] and flat.undecided == []
    unknown = audit_records([meta(ledger_complete=True), opening(complete=False), _rate(10), _later(11)])
    assert unknown.findings == [] and "sizes at the funding time are unknown" in unknown.undecided[0].reason


def test_an_unreadable_record_in_the_window_keeps_a_missing_entry_undecided() -> None:
    lines = lines_of([meta(), opening(), *_hedged(), _rate(10), _funding(10, "f1", "-0.2"),
                      _funding(10, "f2", "0.1", side="SHORT"), _later(11)])
    lines[5] = lines[5].replace(b"BTCUSDT", b"BTC\xe9USDT")  # the unsided LONG row
    report = both_paths(lines)
    assert report["findings"] == [] and report["verdict"] == "incomplete"
    assert any(u["rule_id"] == "HM-FUND-002" and "could not be read" in u["reason"] for u in report["not_decidable"])


# --------------------------------------------------------------------------- 6. one entry for two legs


def test_one_entry_matching_one_leg_is_a_missing_entry_for_the_other() -> None:
    records = [meta(), opening(), *_hedged(), _rate(10), _funding(10, "f1", "-0.2"), _later(11)]
    result = audit_records(records, "binance-usdm")
    [finding] = result.findings
    assert finding.rule_id == "HM-FUND-002"
    assert finding.message == ("one funding entry -0.2 on BTCUSDT, the LONG leg's amount; no entry for the open "
                               "BTCUSDT SHORT leg at t=10 (expected SHORT 0.1)")
    assert result.decided_by_rule["HM-FUND-001"] == 1  # the entry itself is the LONG leg's amount
    neither = audit_records(records[:-2] + [_funding(10, "f1", "-0.5"), _later(11)], "binance-usdm")
    assert [f.rule_id for f in neither.findings] == ["HM-FUND-001"]
    assert "match neither the per-leg amounts -0.2, 0.1 nor their sum" in neither.findings[0].message


# --------------------------------------------------------------------------- 4. netting in a snapshot


def test_a_snapshot_short_by_less_than_the_other_legs_opening_is_not_netting() -> None:
    base = [meta(), opening(), fill(1, "1", "BUY", "LONG", "2", "100"), fill(2, "2", "SELL", "SHORT", "2", "100")]

    def snapshot(qty: str) -> dict[str, Any]:
        return rec("position", 3, "p", instrument="BTCUSDT", position_side="LONG", quantity=qty, entry_price="100")

    missing_close = audit_records(base + [snapshot("0.5")])  # short by 1.5: a close missing from the export
    assert missing_close.findings_by_rule == {"HM-POS-004": 1}
    netted = audit_records(base + [snapshot("0")])  # short by exactly the 2 opened on SHORT
    assert netted.findings_by_rule == {"HM-NET-001": 1, "HM-POS-004": 1}
    one_of_two = audit_records(base[:3] + [fill(2, "2", "SELL", "SHORT", "0.5", "100"),
                                           fill(3, "3", "SELL", "SHORT", "1.5", "100"), snapshot("1.5")])
    assert one_of_two.findings_by_rule == {"HM-NET-001": 1, "HM-POS-004": 1}
    assert "exactly an opening fill of 0.5 on the SHORT leg" in one_of_two.findings[1].message


# --------------------------------------------------------------------------- 5. liquidations


def _liquidated(*sides: str, t: int = 5) -> list[dict[str, Any]]:
    closing = {"LONG": "SELL", "SHORT": "BUY"}
    return [fill(t, f"liq{s}", closing[s], s, "1", "90", pnl=None, cause="liquidation") for s in sides]


def _liq_record(side: str | None, margin: str | None = "ISOLATED", t: int = 5) -> dict[str, Any]:
    return rec("liquidation", t, f"L{side}", instrument="BTCUSDT", position_side=side, margin_type=margin)


def _liq_report(records: list[dict[str, Any]]) -> Any:
    return audit_records([meta(), opening(), *_hedged(long="1")] + records + [_later(9)])


def test_a_liquidation_record_after_its_fills_is_judged_with_them() -> None:
    # importers write liquidation records after the fills of the same instant
    both = _liq_report(_liquidated("LONG", "SHORT") + [_liq_record("LONG")])
    assert both.findings_by_rule == {"HM-LIQ-001": 1}
    assert "isolated liquidation of BTCUSDT LONG also closed 1 of the SHORT leg" in both.findings[0].message
    assert both.decided_by_rule["HM-LIQ-001"] == 2
    before = _liq_report([_liq_record("LONG")] + _liquidated("LONG", "SHORT"))
    assert before.findings_by_rule == {"HM-LIQ-001": 1}
    one = _liq_report(_liquidated("LONG") + [_liq_record("LONG")])
    assert one.findings == [] and one.decided_by_rule["HM-LIQ-001"] == 1
    announced_both = _liq_report(_liquidated("LONG", "SHORT") + [_liq_record("LONG"), _liq_record("SHORT")])
    assert announced_both.findings == [] and announced_both.decided_by_rule["HM-LIQ-001"] == 2


@pytest.mark.parametrize(("records", "reason"), [
    (_liquidated("LONG"), "liquidation fill without a liquidation record at its time"),
    (_liquidated("LONG", "SHORT"), "both legs liquidated at one instant without a liquidation record: allowed "
                                   "only if each leg was itself breached"),
    (_liquidated("LONG") + [_liq_record("LONG", t=4)], "liquidation fill without a liquidation record at its time"),
    (_liquidated("LONG") + [_liq_record("LONG", None)], "liquidation without its margin type"),
    (_liquidated("LONG", "SHORT") + [_liq_record("LONG", "CROSS")],
     "cross-margin liquidation: the rule covers isolated legs"),
    (_liquidated("LONG") + [_liq_record(None)], "liquidation record without the leg it was announced for"),
])
def test_every_liquidation_fill_not_judged_is_listed_as_not_decidable(records: list[dict[str, Any]],
                                                                      reason: str) -> None:
    if records[-1]["type"] == "liquidation" and records[-1]["t"] == 4:
        records = [records[-1]] + records[:-1]  # (times never go back)
    result = _liq_report(records)
    fills = sum(r["type"] == "fill" for r in records)
    assert result.findings == [] and "HM-LIQ-001" not in result.decided_by_rule
    assert [(u.reason, u.count) for u in result.undecided if u.rule_id == "HM-LIQ-001"] == [(reason, fills)]


# --------------------------------------------------------------------------- 7. BOTH fills


def test_a_both_fill_in_hedge_mode_is_one_finding_and_nothing_else() -> None:
    both = fill(3, "b", "BUY", "BOTH", "1", "100")
    hedge = audit_records([meta(), opening(), both])
    assert hedge.findings_by_rule == {"HM-ORD-001": 1} and hedge.undecided == []
    one_way = audit_records([meta(), opening(mode="ONE_WAY"), both])
    assert one_way.findings == [] and one_way.undecided == [] and one_way.decided_by_rule["HM-ORD-001"] == 1
    unknown = audit_records([meta(), opening(mode=None), both])
    assert [(u.rule_id, u.reason) for u in unknown.undecided] == [
        ("HM-ORD-001", "one-way (BOTH) fill while the position mode is unknown")]


# --------------------------------------------------------------------------- 8. the verdict


def test_a_report_with_rejected_records_is_never_clean() -> None:
    records = [meta(), opening(), *_hedged()]
    clean = to_json(audit_records(records))
    assert clean["verdict"] == "clean" and clean["report_format"] == 3
    lines = lines_of(records) + [b'{"v":1,"type":"fill","t":9,"price":"abc"}\n']
    result = audit_lines(lines, load_profile("seed"), trace_name="t.jsonl")
    report = as_json(result)
    assert report["verdict"] == "incomplete" and report["summary"]["records_rejected"] == 1
    assert "VERDICT: INCOMPLETE: no findings in the records read, but 1 record(s) were rejected" in render_text(result)
    findings = lines_of(records + [fill(5, "x", "BUY", "LONG", "1", "100", pnl="3")]) + lines[-1:]
    assert as_json(audit_lines(findings, load_profile("seed")))["verdict"] == "findings"
