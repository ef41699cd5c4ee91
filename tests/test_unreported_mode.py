"""A mode scope an engine's snapshot leaves out of ``position_mode`` (HM-MODE-001).

Where the profile models ``default_position_mode`` (the seed, binance-usdm, bybit-v5), the scope is in
that mode and is judged so. Where it does not (gate, kucoin, okx-v5 leave it unconfirmed), the mode is
unknown: what depends on it is undecided, and only what holds under both modes is judged. The steps
come from the reference, edited the way an engine would report them (tests/test_check_strength.py's
helpers); the reference itself reports every scope.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hedgespec.spec.observe import instruments, scope_key
from hedgespec.spec.profiles import builtin_profile_names, load_profile
from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import get, run_step_checks
from scenarios import checked_steps, params
from test_check_strength import edited, ids, order, steps, under, variant


def run(p: dict[str, Any], actions: list[dict[str, Any]]) -> list[StepView]:
    """The reference's steps (an action's own t kept), every step check passing on each."""
    return checked_steps(p, actions, keep_t=True)

ACCEPTED = {"kind": "accepted", "reason": None, "message": "", "events": []}


def _unreported(view: StepView) -> StepView:
    """The step as an engine reports it that leaves every mode scope out of ``position_mode``."""
    before, after = copy.deepcopy(view.before), copy.deepcopy(view.after)
    for snapshot in (before, after):
        for acc in snapshot["accounts"].values():
            acc["position_mode"] = {}
    return edited(view, before=before, after=after)


def _found(view: StepView) -> list[str]:
    return [str(v) for v in run_step_checks(view)]


def _switch(profile: str, mode: str) -> dict:
    """A request for ``mode`` on the mode scope of BTCUSDT under the profile's mode_scope."""
    scope = scope_key(params(profile), "BTCUSDT")
    return {"kind": "set_position_mode", "account": "A", "mode": mode, **({} if scope == "*" else {"scope": scope})}


def _rows(view: StepView, **by_symbol: dict) -> StepView:
    """The step with the after snapshot's rows of account A replaced per instrument."""
    after = copy.deepcopy(view.after)
    after["accounts"]["A"]["positions"].update(copy.deepcopy(by_symbol))
    return edited(view, after=after)


def _walk(profile: str) -> list[dict]:
    """Steps through every check that reads the mode: orders on each position side (HM-ORD-001, HM-ORD-004,
    HM-ORD-008, HM-NET-002), a leverage setting (HM-MARG-001), switches refused with a position, accepted when
    flat and asked for the mode in force (HM-MODE-002 to HM-MODE-005), rows after each (HM-MODE-008)."""
    return [order("l", "BUY", "LONG", "1"), order("b", "BUY", "BOTH", "1"), order("n", "BUY", "", "1"),
            {"kind": "set_leverage", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG",
             "leverage": "5"},
            order("c", "SELL", "LONG", "2"), order("r", "SELL", "LONG", "1", "120", "LIMIT"),
            _switch(profile, "ONE_WAY"), _switch(profile, "HEDGE"),
            {"kind": "cancel_order", "account": "A", "order_id": "r"},
            order("cl", "SELL", "LONG", "1"), order("cb", "SELL", "BOTH", "1"),
            _switch(profile, "ONE_WAY"), _switch(profile, "ONE_WAY"),
            order("l2", "BUY", "LONG", "1"), order("b2", "BUY", "BOTH", "1"), order("b3", "SELL", "BOTH", "2"),
            _switch(profile, "HEDGE")]


# (a) the default modelled: the scope left out is in the profile's default mode ------------------------------

@pytest.mark.parametrize("profile", ["seed", "binance-usdm", "bybit-v5"])
def test_mode_001_unreported_scope_is_in_the_modelled_default(profile: str):
    """HM-MODE-001, HM-ORD-001, HM-MODE-005, HM-MODE-008: under a profile modelling the default (ONE_WAY), a
    one-way engine that reports no scope passes every check while it stays one-way, and a broken step is still
    caught: a switch to HEDGE that leaves the scope unreported (HM-MODE-005), a LONG order accepted (HM-ORD-001),
    hedge rows (HM-MODE-008)."""
    assert load_profile(profile).choices["default_position_mode"].status == "modelled"
    *one_way, to_hedge = steps(profile, _walk(profile), hedge=False)
    for view in one_way:
        assert _found(_unreported(view)) == [], view.action
    assert to_hedge.outcome["kind"] == "accepted" and to_hedge.action["mode"] == "HEDGE"
    assert "HM-MODE-005" in ids(_unreported(to_hedge), "HM-MODE-005")
    refused = next(v for v in one_way if v.outcome.get("reason") == "POSITION_SIDE_MISMATCH")
    assert "HM-ORD-001" in ids(_unreported(edited(refused, outcome=ACCEPTED)), "HM-ORD-001")
    hedge = steps(profile, [order("l", "BUY", "LONG", "1")])[0]  # a hedge engine that does not say so
    assert "HM-MODE-008" in ids(_unreported(hedge), "HM-MODE-008")
    assert "HM-ORD-001" in ids(_unreported(hedge), "HM-ORD-001")


def test_net_002_unreported_scope_judged_by_the_modelled_default():
    """HM-NET-002: under the seed, a BOTH fill in a scope left out is read against the default ONE_WAY: it passes,
    and a net row that does not net is caught."""
    fill = steps("seed", [order("b", "BUY", "BOTH", "1")], hedge=False)[0]
    assert ids(_unreported(fill), "HM-NET-002") == []
    broken = _rows(fill, BTCUSDT={"BOTH": {**fill.after["accounts"]["A"]["positions"]["BTCUSDT"]["BOTH"],
                                          "quantity": "2"}})
    assert "HM-NET-002" in ids(_unreported(broken), "HM-NET-002")


# (b) the default not modelled: the mode of a scope left out is unknown ---------------------------------------

@pytest.mark.parametrize("hedge", [True, False], ids=["hedge", "one-way"])
@pytest.mark.parametrize("profile", ["okx-v5", "gate", "kucoin"])
def test_mode_001_unconfirmed_default_gives_no_false_finding(profile: str, hedge: bool):
    """HM-MODE-001 (with HM-ORD-001, HM-ORD-004, HM-ORD-008, HM-MARG-001, HM-NET-002, HM-MODE-002 to HM-MODE-005,
    HM-MODE-008): under a profile leaving default_position_mode unconfirmed, an engine in either mode that reports
    no scope gets no finding on any step (the seed's ONE_WAY is not read for it)."""
    assert load_profile(profile).choices["default_position_mode"].status == "unconfirmed"
    views = steps(profile, _walk(profile), hedge=hedge)
    outcomes = {(v.outcome["kind"], v.outcome.get("reason")) for v in views}
    assert {("rejected", "POSITION_SIDE_MISMATCH"), ("rejected", "MODE_SWITCH_WITH_POSITIONS")} <= outcomes
    assert ("accepted", None) in outcomes
    for view in views:
        assert _found(_unreported(view)) == [], view.action


def test_mode_008_what_holds_in_both_modes_is_still_judged(tmp_path: Path):
    """HM-MODE-008: with the mode unknown (okx-v5, gate), rows that are those of neither mode, or that follow
    different modes within one mode scope, are caught; under a per-instrument scope two instruments may differ."""
    view = steps("okx-v5", [order("l", "BUY", "LONG", "1")])[0]
    legs = view.after["accounts"]["A"]["positions"]["BTCUSDT"]
    net = {"BOTH": {**legs["LONG"], "quantity": "0", "cost_basis": "0"}}
    assert "HM-MODE-008" in ids(_unreported(_rows(view, BTCUSDT={"LONG": legs["LONG"]})), "HM-MODE-008")
    assert "HM-MODE-008" in ids(_unreported(_rows(view, BTCUSDT={**legs, **net})), "HM-MODE-008")
    split = _rows(view, ETHUSDT_Q=net)  # BTCUSDT in hedge rows, ETHUSDT_Q in a net row, one account-wide scope
    for profile in ("okx-v5", "gate"):
        assert "HM-MODE-008" in ids(_unreported(under(split, profile)), "HM-MODE-008"), profile
    per_instrument = variant(tmp_path, "per-instrument-unknown", mode_scope=("instrument", "modelled"),
                             default_position_mode=(None, "unconfirmed"))
    assert ids(_unreported(under(split, per_instrument)), "HM-MODE-008") == []
    mode_scope_unknown = variant(tmp_path, "scope-unknown", mode_scope=(None, "unconfirmed"),
                                 default_position_mode=(None, "unconfirmed"))
    assert ids(_unreported(under(split, mode_scope_unknown)), "HM-MODE-008") == []



def test_mode_008_statement_says_what_is_judged_of_an_unknown_mode():
    """HM-MODE-008: the check judges rows of an unknown mode by what holds in both modes, the rows of one mode,
    and of one mode across a modelled mode scope; the statement says both."""
    statement = get("HM-MODE-008").statement
    assert "those of one of the two modes" in statement
    assert "of the same mode for every instrument of one scope" in statement

def test_net_002_a_net_row_that_does_not_net_is_caught_in_either_mode():
    """HM-NET-002: with the mode unknown (okx-v5), a BOTH fill is not judged out of place, but a net row that does
    not move by the fill is wrong in either mode and caught."""
    fill = steps("okx-v5", [order("b", "BUY", "BOTH", "1")], hedge=False)[0]
    assert ids(_unreported(fill), "HM-NET-002") == []
    broken = _rows(fill, BTCUSDT={"BOTH": {**fill.after["accounts"]["A"]["positions"]["BTCUSDT"]["BOTH"],
                                          "quantity": "2"}})
    assert "HM-NET-002" in ids(_unreported(broken), "HM-NET-002")


def test_mode_005_rows_changed_outside_the_scope_or_while_open_are_caught(tmp_path: Path):
    """HM-MODE-005: with the mode unknown before and after, whether an accepted switch switched is undecided; but
    rows that changed outside the requested scope, or that changed and hold a position, are wrong either way."""
    per_instrument = variant(tmp_path, "per-instrument-unknown", mode_scope=("instrument", "modelled"),
                             default_position_mode=(None, "unconfirmed"))
    switched = steps(per_instrument, [_switch(per_instrument, "ONE_WAY")])[0]
    assert switched.outcome["kind"] == "accepted" and switched.action["scope"] == "BTCUSDT"
    assert ids(_unreported(switched), "HM-MODE-005") == []
    eth = switched.after["accounts"]["A"]["positions"]["ETHUSDT_Q"]
    outside = _rows(switched, ETHUSDT_Q={"BOTH": {**eth["LONG"], "quantity": "0"}})
    assert "HM-MODE-005" in ids(_unreported(outside), "HM-MODE-005")
    both = switched.after["accounts"]["A"]["positions"]["BTCUSDT"]["BOTH"]
    opened = _rows(switched, BTCUSDT={"BOTH": {**both, "quantity": "1"}})
    assert "HM-MODE-005" in ids(_unreported(opened), "HM-MODE-005")


def test_mode_002_004_a_request_for_a_scope_of_unknown_mode_is_not_read_as_same_mode():
    """HM-MODE-002, HM-MODE-004: with the mode unknown (okx-v5), a request with a position open may be a switch,
    so its refusal for the position is not groundless; nor is it a request for the mode in force, so whatever
    it changes is not judged by HM-MODE-004. With the mode reported, both are judged as before."""
    refused = steps("okx-v5", [order("l", "BUY", "LONG", "1"), _switch("okx-v5", "ONE_WAY")])[-1]
    assert refused.outcome["reason"] == "MODE_SWITCH_WITH_POSITIONS"
    assert ids(_unreported(refused), "HM-MODE-002") == []
    same = steps("okx-v5", [order("l", "BUY", "LONG", "1"), _switch("okx-v5", "HEDGE")])[-1]
    moved = edited(same, after=steps("okx-v5", [_switch("okx-v5", "ONE_WAY")])[0].after)
    assert "HM-MODE-004" in ids(moved, "HM-MODE-004")
    assert ids(_unreported(moved), "HM-MODE-004") == []
    groundless = edited(same, outcome={**same.outcome, "kind": "rejected", "reason": "MODE_SWITCH_WITH_POSITIONS"})
    assert "HM-MODE-002" in ids(groundless, "HM-MODE-002")  # reported HEDGE: nothing to switch, no ground


# (c) the reference reports every scope --------------------------------------------------------------------

@pytest.mark.parametrize("profile", builtin_profile_names())
def test_mode_001_reference_reports_every_scope(profile: str):
    """HM-MODE-001: the reference's snapshots report the mode of every mode scope of the run's instruments, in
    either starting mode and after switches, so the checks never fall back on a default for it."""
    for hedge in (True, False):
        p = params(profile, hedge=hedge)
        scopes = {scope_key(p, symbol) for symbol in instruments(p)}
        for view in run(p, [_switch(profile, "ONE_WAY"), _switch(profile, "HEDGE"), order("l", "BUY", "LONG", "1")]):
            for snapshot in (view.before, view.after):
                for acc in snapshot["accounts"].values():
                    assert set(acc["position_mode"]) == scopes, (profile, hedge, acc["position_mode"])


# (d) the mode scope not modelled: the mode is read under whichever key the snapshot reports -----------------

def _reporting(view: StepView, **modes: str) -> StepView:
    """The step as an engine reports it whose ``position_mode`` is ``modes`` (key -> mode) in both snapshots."""
    before, after = copy.deepcopy(view.before), copy.deepcopy(view.after)
    for snapshot in (before, after):
        for acc in snapshot["accounts"].values():
            acc["position_mode"] = dict(modes)
    return edited(view, before=before, after=after)


def test_mode_001_unmodelled_scope_reads_the_key_the_engine_reports(tmp_path: Path):
    """HM-MODE-001, HM-MODE-008, HM-ORD-001: under a profile leaving mode_scope unconfirmed (its default ONE_WAY
    modelled), a hedge engine reporting its mode per instrument, per settle asset or account-wide passes; the seed's
    account key is not read for it. Keys that disagree leave the mode unknown; a one-way report is still judged."""
    scope_open = variant(tmp_path, "scope-open", mode_scope=(None, "unconfirmed"))
    hedge = steps("seed", [order("l", "BUY", "LONG", "1")])[0]
    reports = [{"BTCUSDT": "HEDGE", "ETHUSDT_Q": "HEDGE"}, {"USDT": "HEDGE"}, {"*": "HEDGE"},
               {"*": "HEDGE", "BTCUSDT": "HEDGE", "USDT": "HEDGE"}]
    for modes in reports:
        assert _found(under(_reporting(hedge, **modes), scope_open)) == [], modes
    assert _found(under(_reporting(hedge, BTCUSDT="HEDGE", ETHUSDT_Q="HEDGE"), "seed")) != []  # the seed reads '*'
    disagreeing = under(_reporting(hedge, BTCUSDT="HEDGE", ETHUSDT_Q="HEDGE", **{"*": "ONE_WAY"}), scope_open)
    assert _found(disagreeing) == []
    one_way = under(_reporting(hedge, BTCUSDT="ONE_WAY", ETHUSDT_Q="ONE_WAY"), scope_open)
    assert "HM-MODE-008" in ids(one_way, "HM-MODE-008") and "HM-ORD-001" in ids(one_way, "HM-ORD-001")


@pytest.mark.parametrize("scope", ["instrument", "settle_asset", "account"])
def test_mode_002_to_005_unmodelled_scope_judges_switches_of_any_scope(tmp_path: Path, scope: str):
    """HM-MODE-001 to HM-MODE-005, HM-MODE-008: under a profile leaving mode_scope unconfirmed, an engine of any
    scope gets no finding on a walk of switches and orders, whether it asks for its own scope's key or the account's
    (refused as INVALID_ARGUMENT where that is no scope of the engine); a refusal for a position on a scope left
    flat is still caught."""
    engine = variant(tmp_path, f"engine-{scope}", mode_scope=(scope, "modelled"))
    scope_open = variant(tmp_path, "scope-open", mode_scope=(None, "unconfirmed"))
    account_wide = {"kind": "set_position_mode", "account": "A", "mode": "ONE_WAY"}
    views = steps(engine, [*_walk(engine), account_wide, {**account_wide, "mode": "HEDGE"}])
    reasons = {v.outcome.get("reason") for v in views}
    assert {"MODE_SWITCH_WITH_POSITIONS", "POSITION_SIDE_MISMATCH"} <= reasons
    assert ("INVALID_ARGUMENT" in reasons) == (scope != "account")
    for view in views:
        assert _found(under(view, scope_open)) == [], view.action
    flat = steps(engine, [_switch(engine, "ONE_WAY")])[0]
    groundless = edited(flat, outcome={"kind": "rejected", "reason": "MODE_SWITCH_WITH_POSITIONS", "message": "",
                                       "events": []}, after=flat.before)
    assert "HM-MODE-002" in ids(under(groundless, scope_open), "HM-MODE-002")
