"""Checks the audit cannot decide are listed with their reason and what would decide them, never dropped:
funding rates without a mark price, fills and orders while the position mode is unknown; and what would
decide a funding time names the trace's own venue."""

from __future__ import annotations

from typing import Any

import pytest
from audit_helpers import audit_records, fill, meta, opening, rec

FUNDING_NEEDS = {
    "binance": "the funding-rate history with the mark price: GET /fapi/v1/fundingRate (hedgespec import binance "
               "--funding-rates)",
    "bybit": "the transaction-log SETTLEMENT row of the long leg at that funding time (feeRate, tradePrice); with "
             "only the short leg open, the rate (GET /v5/market/funding/history) and the mark price at that time",
    "okx": "the funding rate (GET /api/v5/public/funding-rate-history) and the mark price at each funding time (not "
           "read by hedgespec import okx yet)",
    "ccxt": "the funding rate (fetchFundingRateHistory) and the mark price at each funding time (not read by "
            "hedgespec import ccxt yet)",
    "synthetic": "the funding-rate history with the mark price at each funding time (e.g. Binance GET "
                 "/fapi/v1/fundingRate)",
}


def undecided(result: Any, rule_id: str) -> dict[str, tuple[str, int, list[str]]]:
    return {u.reason: (u.needs, u.count, [e["trace"] for e in u.examples])
            for u in result.undecided if u.rule_id == rule_id}


@pytest.mark.parametrize("venue", sorted(FUNDING_NEEDS))
def test_what_would_decide_funding_names_the_trace_venue(venue: str) -> None:
    rows = [meta(venue=venue), opening(), fill(1, "1", "BUY", "LONG", "1", "100"),
            rec("funding", 5, "f", instrument="BTCUSDT", position_side="LONG", amount="-0.1", asset="USDT")]
    result = audit_records(rows)
    assert undecided(result, "HM-FUND-001") == {
        "no funding rate and mark price at the funding time": (FUNDING_NEEDS[venue], 1, ["t.jsonl:4"])}
    # before: the Binance endpoint for every venue


@pytest.mark.parametrize("hot", [True, False])
def test_a_funding_rate_without_mark_price_is_listed_not_dropped(hot: bool) -> None:
    rows = [meta(funding_window_ms=1000), opening(), fill(1, "1", "BUY", "LONG", "1", "100"),
            rec("mark_price", 2, "m", instrument="BTCUSDT", price="100"),
            rec("funding_rate", 5000, "r", instrument="BTCUSDT", rate="0.001")]  # the mark is 4998 ms old
    result = audit_records(rows, hot=hot)
    assert result.findings == []
    assert undecided(result, "HM-FUND-001") == {
        "funding rate without a mark price, and no mark_price record of the instrument within funding_window_ms "
        "before it": ("the mark price at the funding time: on the funding_rate record, or a mark_price record at "
                      "most funding_window_ms before it", 1, ["t.jsonl:5"])}  # before: nothing at all
    assert result.summary["not_decidable"] == 1
    # a recent mark decides it (with the leg's funding row)
    near = rows[:3] + [rec("mark_price", 4500, "m", instrument="BTCUSDT", price="100"), rows[4],
                       rec("funding", 5000, "f", instrument="BTCUSDT", position_side="LONG", amount="-0.1",
                           asset="USDT")]
    decided = audit_records(near, hot=hot)
    assert decided.undecided == [] and decided.findings == []
    assert decided.decided_by_rule["HM-FUND-001"] == 1


@pytest.mark.parametrize("hot", [True, False])
def test_hedge_fills_while_the_mode_is_unknown_are_listed_for_hm_ord_001(hot: bool) -> None:
    rows = [meta(), opening(mode=None), fill(1, "1", "BUY", "LONG", "1", "100"),
            fill(2, "2", "SELL", "SHORT", "1", "100"), fill(3, "3", "SELL", "LONG", "1", "100")]
    result = audit_records(rows, hot=hot)
    assert result.findings == []
    assert "HM-ORD-001" not in result.decided_by_rule
    assert undecided(result, "HM-ORD-001") == {
        "hedge (LONG/SHORT) fill while the position mode is unknown": (
            "the position mode at the start (the opening record's position_mode)", 3,
            ["t.jsonl:3", "t.jsonl:4", "t.jsonl:5"])}  # before: neither decided nor listed
    # the same fills with the mode declared are decided
    declared = audit_records([rows[0], opening(mode="HEDGE"), *rows[2:]], hot=hot)
    assert declared.decided_by_rule["HM-ORD-001"] == 3 and undecided(declared, "HM-ORD-001") == {}


def test_an_accepted_order_while_the_mode_is_unknown_is_listed_for_hm_ord_001() -> None:
    order = rec("order", 1, "o", order_id="1", instrument="BTCUSDT", side="BUY", position_side="LONG",
                quantity="1", outcome="accepted")
    result = audit_records([meta(), opening(mode=None), order])
    assert undecided(result, "HM-ORD-001") == {
        "order while the position mode is unknown": (
            "the position mode at the start (the opening record's position_mode)", 1, ["t.jsonl:3"])}
    assert audit_records([meta(), opening(mode="HEDGE"), order]).decided_by_rule["HM-ORD-001"] == 1


# A behaviour the profile does not model (status documented or unconfirmed) is not judged by the seed's value:
# what depends on it is listed as not decidable, naming the choice that would decide it.

def _undecided_for(result: Any, rule_id: str) -> list[tuple[str, str]]:
    return [(u.reason, u.needs) for u in result.undecided if u.rule_id == rule_id]


def test_hm_ord_004_oversized_close_is_undecided_where_the_profile_leaves_oversized_close_open(tmp_path) -> None:  # noqa: ANN001
    from test_check_strength import variant

    records = [meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100"),
               rec("order", 2, "o", order_id="o", instrument="BTCUSDT", side="SELL", position_side="LONG",
                   quantity="3", outcome="accepted")]
    assert audit_records(records).findings_by_rule == {"HM-ORD-004": 1}  # seed: oversized closes are refused
    assert audit_records(records, "okx-v5").findings == []  # modelled: trimmed
    assert audit_records(records, "okx-v5").decided_by_rule["HM-ORD-004"] == 1
    for profile in ("binance-usdm", variant(tmp_path, "open-close", oversized_close=(None, "unconfirmed"))):
        result = audit_records(records, profile)
        assert result.findings == []
        assert _undecided_for(result, "HM-ORD-004") == [(
            "closing order larger than its leg, and the profile does not say whether such orders are refused or "
            "trimmed", "the profile's oversized_close choice modelled (a profile file that extends this one, given "
                        "to --profile)")]


def test_hm_fund_002_one_row_for_both_legs_is_undecided_where_the_profile_leaves_funding_report_open(
        tmp_path) -> None:  # noqa: ANN001
    from test_check_strength import variant

    legs = [meta(), opening(), fill(1, "1", "BUY", "LONG", "2", "100"), fill(2, "2", "SELL", "SHORT", "1", "100"),
            rec("funding_rate", 10, "r", instrument="BTCUSDT", rate="0.001", mark_price="100")]
    summed = legs + [rec("funding", 10, "f1", instrument="BTCUSDT", position_side=None, amount="-0.1",
                         asset="USDT")]
    one_leg = legs + [rec("funding", 10, "f1", instrument="BTCUSDT", position_side=None, amount="-0.2",
                          asset="USDT"), rec("balance", 11, "b", asset="USDT", wallet_balance="0")]
    per_instrument = variant(tmp_path, "per-instrument", funding_report=("per_instrument", "modelled"))
    unknown = variant(tmp_path, "unknown-report", funding_report=(None, "unconfirmed"))
    assert audit_records(summed).findings_by_rule == {"HM-FUND-002": 1}  # seed: per-leg entries, so netted
    assert audit_records(summed, per_instrument).findings == []
    for profile in ("binance-usdm", unknown):
        result = audit_records(summed, profile)
        assert result.findings == [] and result.decided_by_rule["HM-FUND-001"] == 1  # the sum is still right
        [(reason, needs)] = _undecided_for(result, "HM-FUND-002")
        assert reason.startswith("one funding row for both open legs, the sum of their amounts")
        assert "funding_report" in needs
    # one leg's amount alone is wrong under either report: the other leg's entry is missing, or the row is short
    assert audit_records(one_leg).findings_by_rule == {"HM-FUND-002": 1}
    assert audit_records(one_leg, per_instrument).findings_by_rule == {"HM-FUND-002": 1}
    assert audit_records(one_leg, unknown).findings_by_rule == {"HM-FUND-002": 1}


def test_hm_mode_002_switch_with_legs_open_is_undecided_where_the_profile_leaves_the_blocker_open(tmp_path) -> None:  # noqa: ANN001
    from test_check_strength import variant

    records = [meta(), opening(mode="HEDGE"), fill(1, "1", "BUY", "LONG", "1", "100"),
               rec("mode_change", 2, "m", requested="ONE_WAY", outcome="accepted")]
    assert audit_records(records).findings_by_rule == {"HM-MODE-002": 1}
    open_blocker = variant(tmp_path, "open-blocker", mode_switch_blocked_by_positions=(None, "unconfirmed"))
    result = audit_records(records, open_blocker)
    assert result.findings == []
    assert _undecided_for(result, "HM-MODE-002") == [(
        "the profile does not say whether open positions block a switch",
        "the profile's mode_switch_blocked_by_positions choice modelled (a profile file that extends this one, "
        "given to --profile)")]
    # every leg known flat: the switch is right under either value, so it is decided, not listed
    flat = audit_records([*records[:2], rec("mode_change", 2, "m", requested="ONE_WAY", outcome="accepted")],
                         open_blocker)
    assert flat.findings == [] and flat.undecided == [] and flat.decided_by_rule["HM-MODE-002"] == 1
