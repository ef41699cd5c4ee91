"""Rule IDs the audit may cite: those of the rulebook registry (one source of rule IDs)."""

from __future__ import annotations

from functools import cache


@cache
def known_rule_ids() -> frozenset[str]:
    """The rule IDs a finding may carry: every rule of ``hedgespec.spec.rulebook``."""
    from hedgespec.spec.rulebook import all_rules

    return frozenset(r.id for r in all_rules())


def rule(rule_id: str) -> str:
    """Return ``rule_id`` after checking it is a known rule; used for every constant below."""
    if rule_id not in known_rule_ids():
        raise ValueError(f"{rule_id}: not a rule ID of the rulebook")
    return rule_id


# The rules the audit decides (or reports as not decidable), validated at import time.
MODE_SWITCH_WITH_POSITIONS = rule("HM-MODE-002")
MODE_ROWS = rule("HM-MODE-008")
POSITION_SIDE_MATCHES_MODE = rule("HM-ORD-001")
FILL_OWN_LEG = rule("HM-ORD-002")
NO_FLIP = rule("HM-ORD-003")
OVERSIZED_CLOSE = rule("HM-ORD-004")
NETTING = rule("HM-NET-001")
ENTRY_PER_LEG = rule("HM-POS-001")
REALIZED_PNL = rule("HM-POS-002")
UNREALIZED_PNL = rule("HM-POS-003")
SNAPSHOT = rule("HM-POS-004")
FEES = rule("HM-FEE-001")
FUNDING_AMOUNT = rule("HM-FUND-001")
FUNDING_PER_LEG = rule("HM-FUND-002")
LIQUIDATION_ONE_LEG = rule("HM-LIQ-001")
LIQUIDATION_TRIGGER = rule("HM-LIQ-002")
LEDGER = rule("HM-LEDG-001")
