"""spec/proved.txt as the rulebook reads it: hedgespec.spec.proofs.proved_conditions().

Every listed condition cites at least one rule ID of the rulebook (HM-NET-001, HM-FUND-001, ...);
a rule is "proved for the reference kernel" only when a listed condition states it, else "tested".
"""

from __future__ import annotations

from hedgespec.spec.proofs import PROVED, TESTED, proof_status, proved_conditions
from hedgespec.spec.rulebook import all_rules
from proof_helpers import proved_list


def test_every_listed_condition_cites_known_rules() -> None:
    known = {rule.id for rule in all_rules()}
    listed = proved_list()
    assert len(listed) == len({name for name, _ in listed}), "a condition is listed twice"
    for name, ids in listed:
        assert ids, f"{name} cites no rule ID"
        assert set(ids) <= known, f"{name} cites unknown {set(ids) - known}"


def test_proved_conditions_maps_rules_to_listed_conditions() -> None:
    by_rule = proved_conditions()
    names = {name for name, _ in proved_list()}
    assert {"HM-NET-001", "HM-FUND-001", "HM-FEE-001", "HM-ORD-003", "HM-LIQ-002", "HM-MODE-002",
            "HM-MARG-006", "HM-STOP-002", "HM-STOP-003"} <= set(by_rule)
    for rule_id, conditions in by_rule.items():
        assert conditions and set(conditions) <= names, rule_id
    assert any(":fill_pair: post: implies(position_side == \"LONG\", __return__.short == pair.short)" in c
               for c in by_rule["HM-NET-001"])


def test_proof_status_never_claims_more_than_the_list() -> None:
    by_rule = proved_conditions()
    for rule in all_rules():
        assert proof_status(rule.id) == (PROVED if rule.id in by_rule else TESTED)
    assert proof_status("HM-DET-001") == TESTED


def test_a_condition_under_one_profile_choice_proves_nothing_for_the_model() -> None:
    """bankruptcy_price runs only under liquidation_price_basis bankruptcy: HM-LIQ-004 stays tested."""
    from hedgespec.spec.proofs import conditionally_proved

    assert proof_status("HM-LIQ-004") == TESTED
    assert "HM-LIQ-004" not in proved_conditions()
    listed = conditionally_proved()["HM-LIQ-004"]
    assert listed and all(":bankruptcy_price:" in c and q == "liquidation_price_basis is bankruptcy" for c, q in listed)
