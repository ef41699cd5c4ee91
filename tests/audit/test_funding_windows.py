"""Funding windows: rate records and funding rows of one funding time meet, whatever their order."""

from __future__ import annotations

from typing import Any

import pytest
from audit_helpers import both_paths, fill, lines_of, meta, opening, rec


def _both_paths(records: list[dict[str, Any]]) -> dict[str, Any]:
    return both_paths(lines_of(records))


def _rate(t: int, ident: str | None = None) -> dict[str, Any]:
    return rec("funding_rate", t, ident or f"r{t}", instrument="BTCUSDT", rate="0.001", mark_price="100")


def _funding(t: int, ident: str, amount: str, side: str | None, **kw: Any) -> dict[str, Any]:
    return rec("funding", t, ident, instrument="BTCUSDT", position_side=side, amount=amount, asset="USDT", **kw)


def _later(t: int) -> dict[str, Any]:
    return rec("balance", t, f"b{t}", asset="USDT", wallet_balance="0")


def _setup(window: int = 60000, **meta_fields: Any) -> list[dict[str, Any]]:
    # LONG 2, SHORT 1 at 100; rate 0.001: LONG pays 0.2, SHORT receives 0.1
    return [meta(funding_window_ms=window, **meta_fields), opening(),
            fill(1, "L", "BUY", "LONG", "2", "100"), fill(2, "S", "SELL", "SHORT", "1", "100")]


def _funding_outcome(report: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    fund = ("HM-FUND-001", "HM-FUND-002")
    return ([(f["rule_id"], f["message"]) for f in report["findings"]],
            [(u["rule_id"], u["reason"]) for u in report["not_decidable"] if u["rule_id"] in fund])


def test_a_row_a_few_ms_before_the_rate_record_joins_its_funding_time() -> None:
    # Bybit import shape: the Sell SETTLEMENT row (mark, no rate) is earlier than the Buy row and its rate
    report = _both_paths([*_setup(),
                          _funding(10, "fs", "0.1", "SHORT", mark_price="100", quantity="1"),
                          _rate(12),
                          _funding(12, "fl", "-0.2", "LONG", mark_price="100", quantity="2", rate="0.001"),
                          _later(70000)])
    assert _funding_outcome(report) == ([], [])
    assert report["decided_by_rule"]["HM-FUND-001"] == 2
    # before: "no funding entry for the open BTCUSDT SHORT leg at t=12", the SHORT row not decidable


def test_rows_before_their_rate_record_at_the_same_instant_are_decided() -> None:
    report = _both_paths([*_setup(), _funding(10, "fl", "-0.2", "LONG"), _funding(10, "fs", "0.1", "SHORT"),
                          _rate(10), _later(70000)])
    assert _funding_outcome(report) == ([], [])
    assert report["decided_by_rule"]["HM-FUND-001"] == 2


def test_a_wrong_held_row_is_still_a_finding() -> None:
    report = _both_paths([*_setup(), _funding(10, "fs", "0.3", "SHORT"), _rate(12),
                          _funding(12, "fl", "-0.2", "LONG"), _later(70000)])
    findings, _ = _funding_outcome(report)
    assert [rule for rule, _ in findings] == ["HM-FUND-001"] and "funding 0.3" in findings[0][1]


@pytest.mark.parametrize("end", [True, False])
def test_a_row_with_no_rate_record_within_the_window_stays_not_decidable(end: bool) -> None:
    # released at the end of the trace, or by the first record past the window
    tail = [] if end else [_later(1011)]
    report = _both_paths([*_setup(1000), _funding(10, "fs", "0.1", "SHORT"), *tail])
    assert _funding_outcome(report) == ([], [("HM-FUND-001", "no funding rate and mark price at the funding time")])
    assert "HM-FUND-001" not in report["decided_by_rule"]
    # a rate record just past the window does not price the row
    late = _both_paths([*_setup(1000), _funding(10, "fs", "0.1", "SHORT"), _rate(1011), _later(5000)])
    assert ("HM-FUND-001", "no funding rate and mark price at the funding time") in _funding_outcome(late)[1]


def test_a_rate_record_after_a_row_carrying_its_own_rate_merges_into_its_window() -> None:
    report = _both_paths([*_setup(),
                          _funding(10, "fl", "-0.2", "LONG", mark_price="100", quantity="2", rate="0.001"),
                          _rate(10), _funding(10, "fs", "0.1", "SHORT"), _later(70000)])
    assert _funding_outcome(report) == ([], [])
    # before: two false HM-FUND-002 findings (no entry for SHORT in the first window, none at all in the second)


def test_a_duplicate_rate_record_does_not_split_the_window() -> None:
    report = _both_paths([*_setup(1000, ledger_complete=True), _rate(5, "r1"), _rate(5, "r2"),
                          _funding(5, "f1", "-0.2", "LONG"), _funding(5, "f2", "0.1", "SHORT"), _later(5000)])
    assert _funding_outcome(report) == ([], [])
    assert report["decided_by_rule"]["HM-FUND-001"] == 2
    # before: "no funding entry in the funding window (ledger declared complete)" for both legs


def test_a_rate_record_past_the_window_is_a_new_funding_time() -> None:
    report = _both_paths([*_setup(1000, ledger_complete=True), _rate(5), _funding(5, "f1", "-0.2", "LONG"),
                          _funding(5, "f2", "0.1", "SHORT"), _rate(2000), _later(5000)])
    findings, _ = _funding_outcome(report)
    assert len(findings) == 1 and "at t=2000" in findings[0][1]
