"""HM-MODE-009: a row a mode switch brings back carries the lifetime totals it showed when it was removed.

Judged over the rows the run showed earlier (``StepView.shown``): the reference keeps them under every built-in
profile, the library engine that starts such rows afresh is caught, and a step given without its run's history
is not judged (no step alone shows the earlier row)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from hedgespec.conformance.mutants import MUTANT_BY_NAME
from hedgespec.conformance.scenarios import SCENARIOS
from hedgespec.spec.profiles import builtin_profile_names, load_profile
from hedgespec.spec.rulebook import get
from scenarios import assert_mutant_caught, iter_step_views

SWITCH_BACK = next(s for s in SCENARIOS if s.name == "mode-switch-back")


@pytest.mark.parametrize("profile", builtin_profile_names())
def test_the_reference_keeps_the_totals_and_a_fresh_start_is_caught(profile: str) -> None:
    p, actions = SWITCH_BACK.build(load_profile(profile))
    assert_mutant_caught("switch-back-resets-totals", "HM-MODE-009", (p, actions))


def test_the_rows_brought_back_are_judged_both_ways_and_only_with_the_history() -> None:
    """The hedge rows come back at t 8 with realized PnL 1 and -1; the BOTH row at t 9 with its own. A step
    without the run's history (``shown`` None) is not judged: the check has nothing to compare with."""
    p, actions = SWITCH_BACK.build(load_profile("seed"))
    check = get("HM-MODE-009").check
    views = list(iter_step_views(MUTANT_BY_NAME["switch-back-resets-totals"].adapter("seed"), p, actions,
                                 keep_t=True))
    back_to_hedge, back_to_one_way = views[7], views[8]
    found = [str(v) for v in check(back_to_hedge)]
    assert any("LONG brought back with realized_pnl 1 -> 0" in f for f in found), found
    assert any("SHORT brought back with realized_pnl -1 -> 0" in f for f in found), found
    assert any(" BOTH brought back with " in str(v) for v in check(back_to_one_way))
    assert list(check(dataclasses.replace(back_to_hedge, shown=None))) == []
    first_switch = views[4]  # the BOTH row shows for the first time: it has never traded, its totals are zero
    assert list(check(first_switch)) == []
    merged = copy.deepcopy(first_switch.after)  # an engine starting BOTH with what the LONG and SHORT rows had
    merged["accounts"]["alice"]["positions"]["BTCUSDT"]["BOTH"]["fees_paid"] = "0.6"
    found = [str(v) for v in check(dataclasses.replace(first_switch, after=merged))]
    assert found == ["HM-MODE-009: alice BTCUSDT BOTH shown for the first time with fees_paid 0 -> 0.6"], found
