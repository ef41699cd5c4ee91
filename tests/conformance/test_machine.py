"""The reusable Hypothesis state machine: passes on the reference, fails a mutant under its rule."""

from __future__ import annotations

import unittest

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.machine import HedgeModeMachine
from hedgespec.conformance.mutants import MUTANT_BY_NAME
from hypothesis import HealthCheck, Phase, settings

QUICK = settings(max_examples=8, stateful_step_count=25, deadline=None, database=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))
NO_SHRINK = settings(QUICK, phases=(Phase.explicit, Phase.generate))

TestReferenceMachine = HedgeModeMachine.for_engine(lambda: ReferenceAdapter("seed"), "seed", test_settings=QUICK)


def run_case(case_cls: type) -> unittest.TestResult:
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(case_cls).run(result)
    return result


def test_machine_catches_a_hedge_discount_under_its_rule() -> None:
    mutant = MUTANT_BY_NAME["fee-hedge-discount"]
    case_cls = HedgeModeMachine.for_engine(lambda: mutant.adapter("seed"), "seed",
                                           test_settings=settings(NO_SHRINK, max_examples=30))
    result = run_case(case_cls)
    assert result.failures, "the mutant went unnoticed"
    assert "HM-FEE-001" in result.failures[0][1]


@pytest.mark.slow
def test_machine_shrinks_to_the_hedge() -> None:
    mutant = MUTANT_BY_NAME["fee-hedge-discount"]
    case_cls = HedgeModeMachine.for_engine(lambda: mutant.adapter("seed"), "seed",
                                           test_settings=settings(QUICK, max_examples=30))
    result = run_case(case_cls)
    text = result.failures[0][1]
    assert "HM-FEE-001" in text
    assert "open_both_legs" in text or "place_order" in text  # the shrunk steps are printed


def test_machine_reports_an_unexplained_divergence() -> None:
    class NoOrders(ReferenceAdapter):
        def snapshot(self):  # type: ignore[no-untyped-def]
            snap = super().snapshot()
            for account in snap["accounts"].values():
                account["open_orders"] = {}
            return snap

    from hedgespec.conformance.rulebook import Rulebook

    empty = Rulebook((), lambda view, rules=None: [], source="empty")
    case_cls = HedgeModeMachine.for_engine(lambda: NoOrders("seed"), "seed", rulebook=empty,
                                           test_settings=settings(NO_SHRINK, max_examples=40))
    result = run_case(case_cls)
    assert result.failures and "unexplained divergence" in result.failures[0][1]
    assert "open_orders" in result.failures[0][1]


def test_for_engine_rejects_a_bad_profile() -> None:
    from hedgespec.spec.profiles import ProfileError

    with pytest.raises(ProfileError):
        HedgeModeMachine.for_engine(lambda: ReferenceAdapter("seed"), "no-such-profile")


def test_machine_needs_an_engine() -> None:
    with pytest.raises(TypeError, match="for_engine"):
        HedgeModeMachine()
