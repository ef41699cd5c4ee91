"""Synthetic traces: clean ones give no findings under every profile; planted violations are found."""

from __future__ import annotations

import pytest
from audit_helpers import synth_lines
from hedgespec.audit.engine import audit_lines
from hedgespec.audit.synth import PLANTS
from hedgespec.spec.profiles import builtin_profile_names, load_profile

# a plant can bring a second, consequential finding; these are the ones allowed with each plant
CONSEQUENCES = {
    "snapshot_netted": {"HM-POS-004"},
}


@pytest.mark.parametrize("profile_name", builtin_profile_names())
def test_clean_trace_has_no_findings(profile_name: str) -> None:
    profile = load_profile(profile_name)
    seed = sum(map(ord, profile_name))  # a different trace per profile
    lines, _ = synth_lines(2500, seed=seed, funding_report=profile.effective("funding_report"))
    result = audit_lines(lines, profile, trace_name="clean.jsonl")
    assert result.findings == []
    assert result.summary["records_rejected"] == 0
    assert result.summary["reconciles"]
    assert result.undecided == []
    # the trace exercised the rules it is meant to exercise
    for rule_id in ("HM-NET-001", "HM-POS-001", "HM-POS-002", "HM-POS-004", "HM-FEE-001", "HM-FUND-001",
                    "HM-ORD-001", "HM-ORD-003", "HM-LEDG-001"):
        assert result.decided_by_rule.get(rule_id, 0) > 0, rule_id
    assert result.exit_code == 0


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_planted_violation_is_found_where_it_was_planted(plant: str) -> None:
    lines, info = synth_lines(1500, seed=3, plant=(plant,))
    assert plant in info.planted, "the synthesizer could not place the plant"
    rule_id, t = info.planted[plant]
    result = audit_lines(lines, load_profile("seed"), trace_name="planted.jsonl")
    hits = [f for f in result.findings if f.rule_id == rule_id]
    assert hits, result.findings_by_rule
    assert any(f.t == t for f in hits)
    assert set(result.findings_by_rule) <= {rule_id} | CONSEQUENCES.get(plant, set())
    assert all(f.evidence and f.evidence[0]["trace"].startswith("planted.jsonl:") for f in hits)
    assert result.exit_code == 1


def test_all_plants_together_are_all_found() -> None:
    lines, info = synth_lines(6000, seed=5, plant=tuple(sorted(PLANTS)))
    result = audit_lines(lines, load_profile("seed"), trace_name="all.jsonl")
    found = {(f.rule_id, f.t) for f in result.findings}
    missing = {name: placed for name, placed in info.planted.items() if placed not in found}
    assert missing == {}
    assert len(info.planted) == len(PLANTS)


def test_netted_funding_is_clean_when_the_profile_reports_per_instrument() -> None:
    lines, _ = synth_lines(3000, seed=4, funding_report="per_instrument")
    seed_result = audit_lines(lines, load_profile("seed"))  # seed: per-leg entries
    assert set(seed_result.findings_by_rule) == {"HM-FUND-002"}


def test_tolerance_comes_from_the_profile(tmp_path) -> None:  # noqa: ANN001
    import json

    from hedgespec.spec.profiles import _raw_builtin

    raw = _raw_builtin("seed")
    raw["name"] = "loose"
    raw["choices"]["rounding_tolerance_money"]["value"] = "5"
    path = tmp_path / "loose.json"
    path.write_text(json.dumps(raw))
    lines, info = synth_lines(3000, seed=3, plant=("wrong_realized_pnl",))  # off by 2.5
    assert audit_lines(lines, load_profile("seed")).findings_by_rule == {"HM-POS-002": 1}
    loose = audit_lines(lines, load_profile(str(path)))
    assert loose.findings == []
    assert loose.provenance["tolerances"]["rounding_tolerance_money (profile)"] == "5"
