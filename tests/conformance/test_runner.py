"""The runner's verdicts, categories, shrinking, expected failures and byte-for-byte determinism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conform_helpers import small
from hedgespec.conformance import report as R
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.mutants import MUTANT_BY_NAME
from hedgespec.conformance.rulebook import Rulebook
from hedgespec.conformance.runner import RunConfig, run
from hedgespec.spec.registry import Rule, StepView, Violation


def make_rule(rule_id: str, check: Any, requires: tuple[str, ...] = (), applies_to: tuple[str, ...] = (),
              level: str = "MUST") -> Rule:
    return Rule(id=rule_id, level=level, kind="transition", title=f"stub {rule_id}", statement="stub",
                rationale="", sources=(), applies_to=applies_to, observes=("snapshot",), requires=requires,
                check=check)


def stub_rulebook(*rules: Rule) -> Rulebook:
    def run_step_checks(view: StepView, rules: Any = None) -> list[Violation]:
        return [v for r in rules for v in r.check(view)]

    return Rulebook(tuple(rules), run_step_checks, source="stub")


def never(view: StepView) -> list[Violation]:
    return []


def wallet_never_below(view: StepView) -> list[Violation]:
    """A stub rule: alice's wallet stays at or above 9000 (the random run breaks it)."""
    from decimal import Decimal

    wallet = Decimal(view.after["accounts"]["alice"]["wallet"])
    return [Violation("HM-TEST-002", f"wallet {wallet}")] if wallet < 9000 else []


def test_verdicts_pass_fail_unsupported_not_exercised(tmp_path: Path) -> None:
    book = stub_rulebook(
        make_rule("HM-TEST-001", never),
        make_rule("HM-TEST-002", wallet_never_below),
        make_rule("HM-TEST-003", never, requires=("no-such-capability",)),
        make_rule("HM-TEST-004", never, applies_to=("no_such_action",)),
    )
    report = run(lambda: ReferenceAdapter("seed"), small(examples=6, steps=30, failures_dir=tmp_path), book)
    verdicts = {r["id"]: r["verdict"] for r in report["rules"]}
    assert verdicts == {"HM-TEST-001": "pass", "HM-TEST-002": "fail", "HM-TEST-003": "unsupported",
                        "HM-TEST-004": "not exercised"}
    rows = {r["id"]: r for r in report["rules"]}
    assert rows["HM-TEST-003"]["missing_capabilities"] == ["no-such-capability"]
    assert rows["HM-TEST-001"]["checks"] > 0 and rows["HM-TEST-003"]["checks"] == 0
    assert report["summary"]["rules"] == {"pass": 1, "fail": 1, "unsupported": 1, "not exercised": 1}
    assert report["summary"]["exit_status"] == 1 and report["summary"]["blocking_rules"] == ["HM-TEST-002"]


def test_failure_is_shrunk_and_written_as_a_replayable_vector(tmp_path: Path) -> None:
    book = stub_rulebook(make_rule("HM-TEST-002", wallet_never_below))
    report = run(lambda: ReferenceAdapter("seed"), small(examples=6, steps=30, failures_dir=tmp_path), book)
    failure = next(f for f in report["differential_failures"] if f["category"] == "rule failure")
    assert failure["rules"] == ["HM-TEST-002"]
    assert failure["minimal_steps"] <= failure["original_steps"]
    example = Path(failure["example"])
    vector = json.loads(example.read_text())
    assert vector["format"] == "hedgespec-vector/1" and "HM-TEST-002" in vector["rules"]
    assert len(vector["steps"]) == failure["minimal_steps"]
    # the author replays it: the same rule fails on the vector alone
    replay = run(lambda: ReferenceAdapter("seed"), small(examples=0, run_vectors=True, vectors=tmp_path), book)
    assert replay["vectors"][0]["status"] == "failed"
    assert replay["vectors"][0]["failed_rules"] == ["HM-TEST-002"]


def test_divergence_no_rule_flags_is_unexplained_not_a_rule_failure() -> None:
    book = stub_rulebook(make_rule("HM-TEST-001", never))
    mutant = MUTANT_BY_NAME["cost-drift"]
    report = run(lambda: mutant.adapter("seed"), small(examples=6, steps=30), book)
    assert report["summary"]["rules"]["fail"] == 0
    assert report["summary"]["differential"]["unexplained_divergences"] >= 1
    divergence = report["unexplained_divergences"][0]
    assert any("cost_basis" in line for line in divergence["divergence"])
    assert report["summary"]["exit_status"] == 1


def test_expected_failures_do_not_fail_the_run() -> None:
    book = stub_rulebook(make_rule("HM-TEST-002", wallet_never_below), make_rule("HM-TEST-001", never))
    config = small(examples=6, steps=30, expected_failures={"HM-TEST-002": "known gap", "HM-TEST-001": "stale"})
    report = run(lambda: ReferenceAdapter("seed"), config, book)
    rows = {r["id"]: r for r in report["rules"]}
    assert rows["HM-TEST-002"]["verdict"] == "fail" and rows["HM-TEST-002"]["expected_failure"] == "known gap"
    assert "passes" in rows["HM-TEST-001"]["note"]
    assert report["summary"]["exit_status"] == 0
    assert "fail (xfail)" in R.to_text(report)


def test_should_failures_are_reported_and_configurable() -> None:
    book = stub_rulebook(make_rule("HM-TEST-002", wallet_never_below, level="SHOULD"))
    relaxed = run(lambda: ReferenceAdapter("seed"), small(examples=6, steps=30), book)
    strict = run(lambda: ReferenceAdapter("seed"), small(examples=6, steps=30, fail_on="SHOULD"), book)
    assert relaxed["rules"][0]["verdict"] == strict["rules"][0]["verdict"] == "fail"
    assert relaxed["summary"]["exit_status"] == 0 and strict["summary"]["exit_status"] == 1


def test_same_seed_same_report_byte_for_byte(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    mutant = MUTANT_BY_NAME["fee-hedge-discount"]
    renders = []
    for _ in range(2):
        config = RunConfig(examples=5, steps=20, failures_dir=Path("failures"), seed=7)
        report = run(lambda: mutant.adapter("seed"), config)
        renders.append((R.to_json(report), R.to_text(report), R.to_junit(report), R.to_markdown(report)))
    assert renders[0] == renders[1]
    text = renders[0][0]
    assert str(Path.cwd()) not in text and str(tmp_path) not in text
    provenance = json.loads(text)["provenance"]
    assert provenance["seed"] == 7 and provenance["profile"]["name"] == "seed"
    assert provenance["adapter"]["name"] == "mutant:fee-hedge-discount"
    assert provenance["profile"]["digest"].startswith("sha256:")
    different = run(lambda: mutant.adapter("seed"), RunConfig(examples=5, steps=20, seed=8))
    assert R.to_json(different) != renders[0][0]


def test_capabilities_steer_the_random_run() -> None:
    class NoExpiry(ReferenceAdapter):
        capabilities = ReferenceAdapter.capabilities - {"expiry", "trailing-stops", "multi-account"}

    seen: list[dict[str, Any]] = []

    def spy(view: StepView) -> list[Violation]:
        seen.append(view.action)
        return []

    run(lambda: NoExpiry("seed"), small(examples=5, steps=30), stub_rulebook(make_rule("HM-TEST-001", spy)))
    assert seen
    assert all(a["kind"] != "expire" for a in seen)
    assert all(a.get("order_type") != "TRAILING_STOP_MARKET" for a in seen)
    assert all(a.get("account", "alice") in ("alice", ["alice"]) for a in seen)  # a list: an action off the format


def test_reports_say_when_prices_were_kept_small() -> None:
    """An engine without liquidation gets small price moves only; every report rendering says so."""
    class NoLiquidation(ReferenceAdapter):
        capabilities = ReferenceAdapter.capabilities - {"liquidation"}

    rulebook = stub_rulebook(make_rule("HM-TEST-001", never))
    gentle = run(lambda: NoLiquidation("seed"), small(examples=2, steps=10), rulebook)
    full = run(lambda: ReferenceAdapter("seed"), small(examples=2, steps=10), rulebook)
    assert gentle["summary"]["differential"]["small_price_moves_only"] is True
    assert full["summary"]["differential"]["small_price_moves_only"] is False
    for render in (R.to_text, R.to_markdown):
        assert "no case drove a leg into liquidation" in render(gentle)
        assert "no case drove a leg into liquidation" not in render(full)


def test_junit_and_markdown_carry_the_provenance() -> None:
    import xml.etree.ElementTree as ET

    mutant = MUTANT_BY_NAME["fee-hedge-discount"]
    report = run(lambda: mutant.adapter("seed"), RunConfig(examples=3, steps=30, seed=3))
    root = ET.fromstring(R.to_junit(report))
    suite = root.find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["seed"] == "3" and props["adapter"] == "mutant:fee-hedge-discount"
    assert props["profile_digest"] == report["provenance"]["profile"]["digest"]
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert any(name.startswith("HM-FEE-001") for name in failed)
    markdown = R.to_markdown(report)
    assert report["provenance"]["profile"]["digest"] in markdown and "seed 3" in markdown
