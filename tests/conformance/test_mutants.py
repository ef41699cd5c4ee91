"""The mutant library (hedgespec.conformance.mutants) against the conformance suite.

Every mutant must be reported as a failure of its own rule ID: in process with the vectors and a
short random run (fast tier); over JSON lines for a representative few; and by the random
differential run alone, without vectors, within the default budget (slow tier; the detection
rate is printed and stated in bench/bench_conform.py's output).
"""

from __future__ import annotations

import sys

import pytest
from hedgespec.conformance.jsonl import JsonLinesAdapter
from hedgespec.conformance.mutants import MUTANT_BY_NAME, MUTANTS, Mutant
from hedgespec.conformance.runner import RunConfig, run

OVER_JSON_LINES = ("net-on-fill", "funding-on-net", "liquidate-both")


def failing_rules(report: dict) -> set[str]:
    return {r["id"] for r in report["rules"] if r["verdict"] == "fail"}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_is_caught_under_its_rule_in_process(mutant: Mutant) -> None:
    config = RunConfig(examples=2, steps=40, shrink_replays=0, max_examples=1)
    report = run(lambda: mutant.adapter("seed"), config)
    assert mutant.rule_id in failing_rules(report), f"{mutant.name} ({mutant.description}) went unnoticed"
    assert report["summary"]["exit_status"] == 1
    assert mutant.rule_id in report["summary"]["blocking_rules"]


@pytest.mark.parametrize("name", OVER_JSON_LINES)
def test_mutant_is_caught_over_json_lines(name: str) -> None:
    mutant = MUTANT_BY_NAME[name]
    cmd = [sys.executable, "-m", "hedgespec.conformance.mutants", name]
    report = run(lambda: JsonLinesAdapter(cmd, timeout=10), RunConfig(examples=3, steps=40, shrink_replays=10))
    assert report["provenance"]["adapter"]["name"] == f"mutant:{name}"
    assert mutant.rule_id in failing_rules(report)
    assert not report["engine_failures"]


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_random_run_alone_catches_mutant(mutant: Mutant) -> None:
    """Without vectors, the default random budget (100 cases of 40 steps) finds each mutant."""
    report = run(lambda: mutant.adapter("seed"), RunConfig(run_vectors=False, shrink_replays=0, max_examples=1,
                                                           stop_at_first_failure=False))
    assert mutant.rule_id in failing_rules(report)
