"""The reference model satisfies every step check, and every mutant trips its own rule.

Cites every checkable rule through the mutant library (HM-NET-001, HM-ORD-002, ...).
"""

from __future__ import annotations

import collections

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.mutants import MUTANTS, Mutant
from hedgespec.spec.observe import rows_shown
from hedgespec.spec.profiles import builtin_profile_names
from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import get, run_step_checks, step_rules
from scenarios import directed_actions, params, random_actions


def run(adapter, p, actions, rules=None):
    adapter.reset(p)
    before = adapter.snapshot()
    found = []
    kinds = collections.Counter()
    shown: dict = {}
    for action in actions:
        outcome = adapter.apply(action)
        after = adapter.snapshot()
        shown = rows_shown(shown, before)
        for event in outcome["events"]:
            kinds[event["type"] + ":" + event.get("status", event.get("cause", ""))] += 1
        kinds["action:" + action["kind"] + ":" + outcome["kind"]] += 1
        found.extend(run_step_checks(StepView(p, before, action, outcome, after, shown), rules))
        before = after
    return found, kinds


@pytest.mark.parametrize("profile", builtin_profile_names())
def test_reference_satisfies_every_check(profile):
    for actions in directed_actions():
        found, _ = run(ReferenceAdapter(profile), params(profile), actions)
        assert found == [], [str(v) for v in found[:5]]
    seen = collections.Counter()
    for seed in range(6):
        found, kinds = run(ReferenceAdapter(profile), params(profile, hedge=seed % 2 == 0), random_actions(seed, 150))
        assert found == [], [str(v) for v in found[:5]]
        seen.update(kinds)
    if profile == "seed":
        for needed in ("fill:order", "fill:trigger", "fill:liquidation", "fill:settlement", "funding:",
                       "action:set_position_mode:accepted", "action:adjust_margin:accepted", "liquidation:"):
            assert any(k.startswith(needed) for k in seen), f"workload never produced {needed}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_trips_its_rule(mutant: Mutant):
    rule = get(mutant.rule_id)
    assert rule.check is not None
    if rule.kind == "run":  # a run rule: the same actions played twice on one engine must agree
        adapter, p, actions = mutant.adapter("seed"), params("seed"), random_actions(0, 60)
        traces = []
        for _ in range(2):
            adapter.reset(p)
            traces.append([x for action in actions for x in (adapter.apply(action), adapter.snapshot())])
        assert [v.rule_id for v in rule.check(traces)] == [mutant.rule_id]
        return
    for actions in directed_actions():
        found, _ = run(mutant.adapter("seed"), params("seed"), actions, [rule])
        if any(v.rule_id == mutant.rule_id for v in found):
            return
    for seed in range(12):
        wallet = "1000" if seed < 6 else "3"
        found, _ = run(mutant.adapter("seed"), params("seed", wallet=wallet, hedge=seed % 3 != 2),
                       random_actions(seed, 200), [rule])
        if any(v.rule_id == mutant.rule_id for v in found):
            return
    pytest.fail(f"{mutant.name} was not caught by {mutant.rule_id}")


def test_step_rules_count():
    assert len(step_rules()) >= 40
