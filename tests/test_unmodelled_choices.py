"""A check judges a venue only by the choices its profile models.

For each choice a check reads, two tests in one: under a profile that models the choice, the broken
engine made for it is caught; under one that does not (its status documented or unconfirmed, where
``observe.choice`` would fall back to the seed's value), both behaviours the choice allows pass and
what stays decidable is still caught. The steps come from the reference, edited the way an engine
would report them (tests/test_check_strength.py's helpers).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import get
from scenarios import checked_steps, params
from test_check_strength import TRIM_RUN, edited, ids, order, steps, stop, under, variant

REFUSED = {"kind": "rejected", "reason": "REDUCE_EXCEEDS_LEG", "message": "", "events": []}


def _orders(view: StepView) -> dict:
    return view.after["accounts"]["A"]["open_orders"]


def _with_orders(view: StepView, kept: dict) -> StepView:
    """The step as an engine reports it that also keeps ``kept`` (order id -> order) open after it."""
    after = copy.deepcopy(view.after)
    after["accounts"]["A"]["open_orders"].update(copy.deepcopy(kept))
    return edited(view, after=after)


def _entries(view: StepView, kind: str) -> list[dict]:
    return [e for e in view.outcome["events"] if e["type"] == "ledger" and e["kind"] == kind]


def _with_events(view: StepView, events: list[dict]) -> StepView:
    return edited(view, outcome={**view.outcome, "events": events})


# HM-ORD-004: oversized_close (unconfirmed in binance-usdm, bybit-v5, kucoin) ---------------------------

def test_ord_004_oversized_close_refused_or_trimmed_where_not_modelled():
    """HM-ORD-004: the seed (reject) catches a trimmed oversized close, OKX (trim) a refused one; binance-usdm
    (not modelled) takes either, but still catches a wrong trim and a refusal with a wrong reason."""
    trimmed = steps("okx-v5", TRIM_RUN)[4]  # n (2 @ 111) admitted on a leg of 3 with 3 resting: a and c cut
    assert sorted(_orders(trimmed)) == ["b", "n"]
    refused = steps("seed", TRIM_RUN)[4]
    assert refused.outcome["reason"] == "REDUCE_EXCEEDS_LEG"
    assert "HM-ORD-004" in ids(under(trimmed, "seed"), "HM-ORD-004")
    assert "HM-ORD-004" in ids(under(refused, "okx-v5"), "HM-ORD-004")
    assert ids(under(trimmed, "binance-usdm"), "HM-ORD-004") == []
    assert ids(under(refused, "binance-usdm"), "HM-ORD-004") == []
    after = copy.deepcopy(trimmed.after)  # b (the most favourable, 112) cut instead of a (110)
    orders = after["accounts"]["A"]["open_orders"]
    orders["a"] = copy.deepcopy(trimmed.before["accounts"]["A"]["open_orders"]["a"])
    del orders["b"]
    events = [{**e, "order_id": "b"} if e.get("order_id") == "a" else e for e in trimmed.outcome["events"]]
    wrong_trim = edited(trimmed, outcome={**trimmed.outcome, "events": events}, after=after)
    assert "HM-ORD-004" in ids(under(wrong_trim, "binance-usdm"), "HM-ORD-004")
    wrong_reason = edited(refused, outcome={**refused.outcome, "reason": "INSUFFICIENT_BALANCE"})
    assert "HM-ORD-004" in ids(under(wrong_reason, "binance-usdm"), "HM-ORD-004")
    # rulebook 1.3.0: an engine that trims may refuse the trimmed order for margin (HM-ORD-008 judges that), so
    # where the choice is open INSUFFICIENT_MARGIN is one of the refusals; where refusing is modelled it is not
    for_margin = edited(refused, outcome={**refused.outcome, "reason": "INSUFFICIENT_MARGIN"})
    assert ids(under(for_margin, "binance-usdm"), "HM-ORD-004") == []
    assert "HM-ORD-004" in ids(for_margin, "HM-ORD-004")


def test_ord_004_flat_leg_refuses_a_close_whatever_the_profile():
    """HM-ORD-004: a close on a flat leg is refused under every oversized_close, modelled or not."""
    flat = steps("seed", [order("c", "SELL", "LONG", "1")])[0]
    accepted = edited(flat, outcome={"kind": "accepted", "reason": None, "message": "", "events": []})
    for profile in ("seed", "okx-v5", "binance-usdm", "kucoin"):
        assert "HM-ORD-004" in ids(under(accepted, profile), "HM-ORD-004"), profile


# HM-STOP-004: orders_on_leg_close (unconfirmed in binance-usdm, gate, kucoin) ---------------------------

CLOSE_RUN = [order("l", "BUY", "LONG", "1"), stop("tp", "90"), order("r", "SELL", "LONG", "0.4", "120", "LIMIT"),
             order("c", "SELL", "LONG", "1")]


def test_stop_004_flat_leg_may_keep_its_stops_where_not_modelled(tmp_path: Path):
    """HM-STOP-004: the seed (cancel) catches a stop kept on a flat leg; binance-usdm (not modelled) and a profile
    modelling keep allow it, but a closing limit order resting on the flat leg is caught under every profile."""
    views = steps("seed", CLOSE_RUN)
    closed = views[-1]
    assert _orders(closed) == {} and closed.after["accounts"]["A"]["positions"]["BTCUSDT"]["LONG"]["quantity"] == "0"
    stop_kept = _with_orders(closed, {"tp": _orders(views[1])["tp"]})
    limit_kept = _with_orders(closed, {"r": _orders(views[2])["r"]})
    assert "HM-STOP-004" in ids(stop_kept, "HM-STOP-004")
    keep = variant(tmp_path, "keep", orders_on_leg_close=("keep", "modelled"))
    kept = steps(keep, CLOSE_RUN)[-1]  # the reference under keep: the stop stays, the limit is cancelled
    assert sorted(_orders(kept)) == ["tp"]
    for profile in ("binance-usdm", "kucoin", keep):
        assert ids(under(stop_kept, profile), "HM-STOP-004") == [], profile
        assert ids(under(closed, profile), "HM-STOP-004") == [], profile
        assert "HM-STOP-004" in ids(under(limit_kept, profile), "HM-STOP-004"), profile


# HM-FUND-002 and HM-FUND-003: funding_report and funding_source -------------------------------------------

HEDGED = [order("l", "BUY", "LONG", "2"), order("s", "SELL", "SHORT", "1"),
          {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.001"}]
CROSS = [{"kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT", "position_side": leg,
          "margin_type": "CROSS"} for leg in ("LONG", "SHORT")]


def test_fund_002_per_instrument_row_allowed_where_the_report_is_not_modelled():
    """HM-FUND-002: the seed (per_leg) catches one netted row per instrument; binance-usdm (not modelled) takes
    it, and still catches a netted row that is not the exact sum of the legs' amounts."""
    view = steps("seed", [*CROSS, *HEDGED])[-1]
    entries = _entries(view, "FUNDING")
    assert sorted(e["amount"] for e in entries) == ["-0.2", "0.1"] and {e["bucket"] for e in entries} == {"wallet"}
    others = [e for e in view.outcome["events"] if e not in entries]

    def netted(amount: str) -> StepView:
        row = {**entries[0], "position_side": None, "amount": amount}
        return _with_events(view, [*others, row])

    assert "HM-FUND-002" in ids(netted("-0.1"), "HM-FUND-002")
    assert ids(under(netted("-0.1"), "binance-usdm"), "HM-FUND-002") == []
    assert ids(under(view, "binance-usdm"), "HM-FUND-002") == []
    assert "HM-FUND-002" in ids(under(netted("-0.0999999999999999"), "binance-usdm"), "HM-FUND-002")



def test_fund_002_entries_take_one_form_or_the_other_where_the_report_is_not_modelled(tmp_path: Path):
    """HM-FUND-002: where the report is not modelled (binance-usdm), the entries of an account and instrument are
    either one per leg with that leg's amount or one unsided row of the sum. Per-leg entries whose amounts are
    wrong but add up, one leg's entry beside an unsided row, and two unsided rows are neither, and caught; a leg's
    entry split in two that books its amount, or a row left out where the legs cancel, is allowed. Under a profile
    modelling per_instrument only the one row of the sum is taken (before rulebook 1.3.0, any entries adding up
    to it)."""
    view = steps("seed", [*CROSS, *HEDGED])[-1]
    entries = _entries(view, "FUNDING")
    others = [e for e in view.outcome["events"] if e not in entries]
    long_, short = (next(e for e in entries if e["position_side"] == side) for side in ("LONG", "SHORT"))
    assert (long_["amount"], short["amount"]) == ("-0.2", "0.1")
    wrong_split = _with_events(view, [*others, {**long_, "amount": "-0.3"}, {**short, "amount": "0.2"}])
    mixed = _with_events(view, [*others, {**long_, "amount": "-0.2"}, {**short, "position_side": None,
                                                                        "amount": "0.1"}])
    two_rows = _with_events(view, [*others, {**long_, "position_side": None, "amount": "-0.05"},
                                   {**short, "position_side": None, "amount": "-0.05"}])
    leg_split = _with_events(view, [*others, short, {**long_, "amount": "-0.05"}, {**long_, "amount": "-0.15"}])
    per_instrument = variant(tmp_path, "per-instrument", funding_report=("per_instrument", "modelled"))
    for broken in (wrong_split, mixed, two_rows):
        assert "HM-FUND-002" in ids(under(broken, "binance-usdm"), "HM-FUND-002")
        assert "HM-FUND-002" in ids(broken, "HM-FUND-002")  # the seed: per_leg
    assert ids(under(leg_split, "binance-usdm"), "HM-FUND-002") == []
    assert ids(leg_split, "HM-FUND-002") == []
    one_row = _with_events(view, [*others, {**long_, "position_side": None, "amount": "-0.1"}])
    for broken in (wrong_split, two_rows, leg_split):  # per_instrument modelled: one row (rulebook 1.3.0)
        assert "HM-FUND-002" in ids(under(broken, per_instrument), "HM-FUND-002")
    assert ids(under(one_row, per_instrument), "HM-FUND-002") == []
    assert "HM-FUND-002" in ids(one_row, "HM-FUND-002")  # the seed: per_leg
    cancel = steps("seed", [*CROSS, order("l", "BUY", "LONG", "1"), order("s", "SELL", "SHORT", "1"),
                            HEDGED[-1]])[-1]
    paid = sorted(p["amount"] for p in cancel.outcome["events"] if p["type"] == "funding")
    assert paid == ["-0.1", "0.1"]
    no_row = _with_events(cancel, [e for e in cancel.outcome["events"] if e not in _entries(cancel, "FUNDING")])
    assert ids(under(no_row, "binance-usdm"), "HM-FUND-002") == []
    assert "HM-FUND-002" in ids(no_row, "HM-FUND-002")

def test_fund_002_one_row_beside_what_isolated_legs_pay_from_their_own_margin(tmp_path: Path):
    """HM-FUND-002 (rulebook 1.3.0): under per_instrument, what an isolated leg pays from its own margin is booked
    to the leg and the rest is the account's one row; where the report is not modelled (bybit-v5) that is the
    one-row form, not a mix of the two. A row beside a leg's entry in the wallet is still caught."""
    per_instrument = variant(tmp_path, "per-instrument", funding_report=("per_instrument", "modelled"),
                             funding_source=("wallet_then_margin", "modelled"))
    view = checked_steps(params(per_instrument, wallet="60"), [
        order("l", "BUY", "LONG", "2"), {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.3"}])[-1]
    entries = _entries(view, "FUNDING")
    assert sorted((e["position_side"] or "", e["bucket"]) for e in entries) == [
        ("", "wallet"), ("LONG", "isolated_margin")], entries
    assert ids(under(view, "bybit-v5"), "HM-FUND-002") == []
    in_wallet = _with_events(view, [e if e["position_side"] is None else {**e, "bucket": "wallet"}
                                    for e in view.outcome["events"]])
    assert "HM-FUND-002" in ids(under(in_wallet, "bybit-v5"), "HM-FUND-002")


def test_fund_003_isolated_funding_in_any_source_where_not_modelled():
    """HM-FUND-003: the seed (isolated_margin) catches isolated funding booked to the wallet; binance-usdm (source
    not modelled) takes the wallet, the margin or a split, but a cross leg's funding must stay in the wallet
    and a leg's margin never takes the other leg's funding."""
    view = steps("seed", HEDGED)[-1]
    entries = _entries(view, "FUNDING")
    assert {(e["position_side"], e["bucket"]) for e in entries} == {("LONG", "isolated_margin"),
                                                                    ("SHORT", "isolated_margin")}
    others = [e for e in view.outcome["events"] if e not in entries]
    long_, short = (next(e for e in entries if e["position_side"] == side) for side in ("LONG", "SHORT"))
    wallet = _with_events(view, [*others, *({**e, "bucket": "wallet"} for e in entries)])
    split = _with_events(view, [*others, short, {**long_, "amount": "-0.05", "bucket": "wallet"},
                                {**long_, "amount": "-0.15"}])
    assert "HM-FUND-003" in ids(wallet, "HM-FUND-003")
    assert "HM-FUND-003" in ids(split, "HM-FUND-003")
    for allowed in (view, wallet, split):
        assert ids(under(allowed, "binance-usdm"), "HM-FUND-003") == []
    swapped = _with_events(view, [*others, {**long_, "position_side": "SHORT"}, {**short, "bucket": "wallet"}])
    assert "HM-FUND-003" in ids(under(swapped, "binance-usdm"), "HM-FUND-003")  # the long's payment, short's margin
    cross = steps("seed", [*CROSS, *HEDGED])[-1]
    to_margin = _with_events(cross, [{**e, "bucket": "isolated_margin"} if e in _entries(cross, "FUNDING") else e
                                     for e in cross.outcome["events"]])
    assert "HM-FUND-003" in ids(under(to_margin, "binance-usdm"), "HM-FUND-003")


def test_fund_003_one_open_leg_funds_only_its_own_margin():
    """HM-FUND-003 under every source, modelled or not: the funding of the only open leg booked to the flat
    leg's isolated margin is caught."""
    view = steps("seed", [order("l", "BUY", "LONG", "2"), {"kind": "funding", "instrument": "BTCUSDT",
                                                            "rate": "0.001"}])[-1]
    moved = _with_events(view, [{**e, "position_side": "SHORT"} if e in _entries(view, "FUNDING") else e
                                for e in view.outcome["events"]])
    for profile in ("seed", "bybit-v5", "binance-usdm", "kucoin"):
        assert "HM-FUND-003" in ids(under(moved, profile), "HM-FUND-003"), profile


# HM-MARG-001 and HM-MARG-005: margin_type_scope and leverage_scope (documented or unconfirmed in bybit-v5,
# gate, kucoin, okx-v5) -------------------------------------------------------------------------------------

LEVER = {"kind": "set_leverage", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG", "leverage": "5"}


def _leg_field(view: StepView, side: str, field: str, value: str) -> StepView:
    after = copy.deepcopy(view.after)
    after["accounts"]["A"]["positions"]["BTCUSDT"][side][field] = value
    return edited(view, after=after)


def test_marg_001_other_leg_kept_or_shared_where_the_scope_is_not_modelled():
    """HM-MARG-001: the seed (leg) catches a setting that also moved the other leg, binance-usdm (instrument) one
    that did not; kucoin (not modelled) takes either, and still catches the other leg moved to a third value."""
    view = steps("seed", [LEVER])[0]
    legs = view.after["accounts"]["A"]["positions"]["BTCUSDT"]
    assert (legs["LONG"]["leverage"], legs["SHORT"]["leverage"]) == ("5", "20")
    shared = _leg_field(view, "SHORT", "leverage", "5")
    assert "HM-MARG-001" in ids(shared, "HM-MARG-001")
    assert "HM-MARG-001" in ids(under(view, "binance-usdm"), "HM-MARG-001")
    assert ids(under(view, "kucoin"), "HM-MARG-001") == []
    assert ids(under(shared, "kucoin"), "HM-MARG-001") == []
    assert "HM-MARG-001" in ids(under(_leg_field(view, "SHORT", "leverage", "7"), "kucoin"), "HM-MARG-001")
    assert "HM-MARG-001" in ids(under(_leg_field(view, "LONG", "leverage", "7"), "kucoin"), "HM-MARG-001")


def test_marg_001_documented_scope_is_not_judged():
    """HM-MARG-001: a documented scope (bybit-v5's account-wide margin type) is not what the model runs, so the
    check does not judge by it: under it, the other leg kept and the other leg shared both pass."""
    view = steps("seed", [{"kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT",
                           "position_side": "LONG", "margin_type": "CROSS"}])[0]
    shared = _leg_field(view, "SHORT", "margin_type", "CROSS")
    assert "HM-MARG-001" in ids(shared, "HM-MARG-001")
    okx = under(view, "okx-v5")  # okx-v5 models a per-leg margin type: the same step is judged as under the seed
    assert ids(okx, "HM-MARG-001") == [] and "HM-MARG-001" in ids(under(shared, "okx-v5"), "HM-MARG-001")
    documented = steps("bybit-v5", [view.action])[0]
    assert ids(documented, "HM-MARG-001") == []
    assert ids(_leg_field(documented, "SHORT", "margin_type", "CROSS"), "HM-MARG-001") == []


SET_CROSS = {"kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG",
             "margin_type": "CROSS"}


def test_marg_005_cover_of_a_margin_type_request_undecided_where_not_modelled():
    """HM-MARG-005: with the short open, the seed (leg) changes the flat long and catches a refusal naming the
    short's position; binance-usdm (instrument) catches the acceptance. kucoin (not modelled) takes both, but
    catches the open short changed with it, a position reason with no position anywhere, and a wrong reason
    for the busy leg asked for."""
    view = steps("seed", [order("s", "SELL", "SHORT", "1"), SET_CROSS])[-1]
    assert view.outcome["kind"] == "accepted"
    refused = edited(view, outcome={**REFUSED, "reason": "MARGIN_TYPE_WITH_POSITION"}, after=view.before)
    assert "HM-MARG-005" in ids(refused, "HM-MARG-005")
    assert "HM-MARG-005" in ids(under(view, "binance-usdm"), "HM-MARG-005")
    assert ids(under(view, "kucoin"), "HM-MARG-005") == []
    assert ids(under(refused, "kucoin"), "HM-MARG-005") == []
    both = _leg_field(view, "SHORT", "margin_type", "CROSS")
    assert "HM-MARG-005" in ids(under(both, "kucoin"), "HM-MARG-005")
    idle = steps("seed", [SET_CROSS])[0]
    no_position = edited(idle, outcome={**REFUSED, "reason": "MARGIN_TYPE_WITH_POSITION"}, after=idle.before)
    assert "HM-MARG-005" in ids(under(no_position, "kucoin"), "HM-MARG-005")
    busy = steps("seed", [order("l", "BUY", "LONG", "1"), SET_CROSS])[-1]
    assert busy.outcome["reason"] == "MARGIN_TYPE_WITH_POSITION"
    assert ids(under(busy, "kucoin"), "HM-MARG-005") == []
    wrong = edited(busy, outcome={**busy.outcome, "reason": "INSUFFICIENT_MARGIN"})
    assert "HM-MARG-005" in ids(under(wrong, "kucoin"), "HM-MARG-005")


# HM-FEE-001: settlement_fee_rate (unconfirmed in every venue profile) -------------------------------------

def _with_settlement_fee(view: StepView, fill: dict, edited_fill: dict) -> StepView:
    """``view`` with its settlement ``fill`` replaced by ``edited_fill``, whose fee is booked as the leg's FEE
    entry (the fills' fees and the FEE entries agree, HM-FEE-001), so that only the fee's amount is judged."""
    charged = {"type": "ledger", "account": fill["account"], "instrument": fill["instrument"],
               "position_side": fill["position_side"], "kind": "FEE", "bucket": "wallet",
               "amount": str(-Decimal(edited_fill["fee"]))}
    events = [edited_fill if e is fill else e for e in view.outcome["events"]]
    return _with_events(view, events + ([charged] if Decimal(edited_fill["fee"]) else []))


def test_fee_001_settlement_fee_bounded_where_the_rate_is_not_modelled():
    """HM-FEE-001: the seed (no settlement fee) catches a charged one; binance-usdm (rate not modelled) takes any
    fee from zero to the settled notional, and catches a negative fee or one beyond the notional."""
    view = steps("seed", [order("q", "BUY", "LONG", "1", "50", instrument="ETHUSDT_Q"),
                          {"kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": "51"}])[-1]
    fill = next(e for e in view.outcome["events"] if e["type"] == "fill")
    assert fill["cause"] == "settlement" and fill["fee"] == "0"

    def fee(amount: str) -> StepView:
        return _with_settlement_fee(view, fill, {**fill, "fee": amount})

    assert "HM-FEE-001" in ids(fee("0.03"), "HM-FEE-001")
    for allowed in ("0", "0.03", "51"):
        assert ids(under(fee(allowed), "binance-usdm"), "HM-FEE-001") == [], allowed
    for wrong in ("-0.03", "51.0000000000000001"):
        assert "HM-FEE-001" in ids(under(fee(wrong), "binance-usdm"), "HM-FEE-001"), wrong


# HM-MODE-002 and HM-MODE-003: whether positions and orders block a switch (modelled in every built-in
# profile; a profile file may leave them unconfirmed) --------------------------------------------------------

def test_mode_002_003_blockers_undecided_where_not_modelled(tmp_path: Path):
    """HM-MODE-002 and HM-MODE-003: the seed catches a switch accepted with a position or an order open; a profile
    leaving the blocker unconfirmed does not judge that, but still catches the reason given without its cause."""
    switch = {"kind": "set_position_mode", "account": "A", "mode": "ONE_WAY"}
    accepted = {"kind": "accepted", "reason": None, "message": "", "events": []}
    for rule_id, opener, key in (("HM-MODE-002", order("l", "BUY", "LONG", "1"), "mode_switch_blocked_by_positions"),
                                 ("HM-MODE-003", order("b", "BUY", "LONG", "1", "90", "LIMIT"),
                                  "mode_switch_blocked_by_orders")):
        view = steps("seed", [opener, switch])[-1]
        assert view.outcome["kind"] == "rejected"
        through = edited(view, outcome=accepted)
        assert rule_id in ids(through, rule_id)
        unknown = variant(tmp_path, f"{key}-unknown", **{key: (None, "unconfirmed")})
        assert ids(under(through, unknown), rule_id) == []
        idle = steps("seed", [switch])[0]
        groundless = edited(idle, outcome={**REFUSED, "reason": view.outcome["reason"]}, after=idle.before)
        assert rule_id in ids(under(groundless, unknown), rule_id)


def test_mode_002_coin_level_request_not_judged_where_partial_switching_is_not_modelled(tmp_path: Path):
    """HM-MODE-002: under a per-instrument mode scope, a settle-asset request is a coin-level switch only where
    the profile models coin-level switching; left unconfirmed, such a request (refused as malformed, or applied
    to idle instruments) is not judged, while a per-instrument request still is."""
    coin = variant(tmp_path, "coin", mode_scope=("instrument", "modelled"),
                   mode_switch_coin_level_partial=(True, "modelled"))
    unknown = variant(tmp_path, "coin-unknown", mode_scope=("instrument", "modelled"),
                      mode_switch_coin_level_partial=(None, "unconfirmed"))
    switch = {"kind": "set_position_mode", "account": "A", "mode": "ONE_WAY"}
    partial = steps(coin, [order("l", "BUY", "LONG", "1"), {**switch, "scope": "USDT"}])[-1]
    assert partial.outcome["kind"] == "partially_applied"
    accepted = edited(partial, outcome={**partial.outcome, "kind": "accepted"})
    assert "HM-MODE-002" in ids(accepted, "HM-MODE-002")
    assert ids(under(accepted, unknown), "HM-MODE-002") == []
    one = steps(coin, [order("l", "BUY", "LONG", "1"), {**switch, "scope": "BTCUSDT"}])[-1]
    assert one.outcome["reason"] == "MODE_SWITCH_WITH_POSITIONS"
    assert "HM-MODE-002" in ids(under(edited(one, outcome=accepted.outcome), unknown), "HM-MODE-002")


def test_mode_003_either_reason_where_whether_positions_block_is_not_modelled(tmp_path: Path):
    """HM-MODE-003: with a position and an order open, the seed (positions_first) catches a refusal for the order;
    a profile leaving whether positions block unconfirmed takes it (there, positions may not block the switch at
    all), and still catches a reason neither blocker gives."""
    both = steps("seed", [order("l", "BUY", "LONG", "1"), order("b", "BUY", "LONG", "1", "90", "LIMIT"),
                          {"kind": "set_position_mode", "account": "A", "mode": "ONE_WAY"}])[-1]
    assert both.outcome["reason"] == "MODE_SWITCH_WITH_POSITIONS"
    for_orders = edited(both, outcome={**both.outcome, "reason": "MODE_SWITCH_WITH_OPEN_ORDERS"})
    assert "HM-MODE-003" in ids(for_orders, "HM-MODE-003")
    unknown = variant(tmp_path, "positions-unknown", mode_switch_blocked_by_positions=(None, "unconfirmed"))
    assert ids(under(for_orders, unknown), "HM-MODE-003") == []
    assert ids(under(both, unknown), "HM-MODE-003") == []
    wrong = edited(both, outcome={**both.outcome, "reason": "INSUFFICIENT_MARGIN"})
    assert "HM-MODE-003" in ids(under(wrong, unknown), "HM-MODE-003")


def test_mode_002_003_groundless_reason_names_what_the_switch_would_change(tmp_path: Path):
    """HM-MODE-002 and HM-MODE-003: with the blocker unconfirmed, a request for the mode in force refused for a
    position (an order) that is open is still groundless, since the switch changes no instrument; the finding and
    the statement say so, not that the scope holds none. HM-MODE-004 catches the same refusal."""
    for rule_id, opener, key, what in (
            ("HM-MODE-002", order("l", "BUY", "LONG", "1"), "mode_switch_blocked_by_positions", "a position"),
            ("HM-MODE-003", order("b", "BUY", "LONG", "1", "90", "LIMIT"), "mode_switch_blocked_by_orders",
             "an open order")):
        unknown = variant(tmp_path, f"{key}-unknown", **{key: (None, "unconfirmed")})
        same = steps("seed", [opener, {"kind": "set_position_mode", "account": "A", "mode": "HEDGE"}])[-1]
        assert same.outcome["kind"] == "unchanged"
        reason = "MODE_SWITCH_WITH_POSITIONS" if rule_id == "HM-MODE-002" else "MODE_SWITCH_WITH_OPEN_ORDERS"
        refused = under(edited(same, outcome={**REFUSED, "reason": reason}), unknown)
        found = [str(v) for v in get(rule_id).check(refused)]
        assert found == [f"{rule_id}: switch rejected with {reason} although no instrument the switch would "
                         f"change has {what}"]
        assert "HM-MODE-004" in ids(refused, "HM-MODE-004")
        assert "no instrument the switch would change" in get(rule_id).statement
        assert "no instrument of the scope" not in get(rule_id).statement


def test_fee_001_settlement_fee_may_equal_a_one_atom_notional():
    """HM-FEE-001: where the settlement rate is not modelled (binance-usdm) the fee lies from zero to the settled
    notional, both included: fees round up to the money unit, so on a notional of one money atom (1e-8 x 1e-8)
    any positive rate below 1 charges the whole atom. One atom more is caught."""
    view = steps("seed", [order("q", "BUY", "LONG", "1", "50", instrument="ETHUSDT_Q"),
                          {"kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": "51"}])[-1]
    fill = next(e for e in view.outcome["events"] if e["type"] == "fill")

    def tiny(fee: str) -> StepView:
        return _with_settlement_fee(view, fill, {**fill, "quantity": "0.00000001", "price": "0.00000001", "fee": fee})

    assert ids(under(tiny("0.0000000000000001"), "binance-usdm"), "HM-FEE-001") == []
    assert "HM-FEE-001" in ids(under(tiny("0.0000000000000002"), "binance-usdm"), "HM-FEE-001")
