"""Rule IDs the audit may cite, kept in one place.

For now this is a constant copy of the list in ``docs/dev/team-notes.md``. When the rulebook
registry (``hedgespec.spec.rulebook``) is complete, ``known_rule_ids`` switches to it; nothing else
in the audit package names the source of rule IDs.
"""

from __future__ import annotations

_SHORT_IDS = (
    "MODE-001 MODE-002 MODE-003 MODE-004 MODE-005 MODE-006 MODE-007 MODE-008 "
    "ORD-001 ORD-002 ORD-003 ORD-004 ORD-005 ORD-006 ORD-007 ORD-008 "
    "NET-001 NET-002 POS-001 POS-002 POS-003 POS-004 "
    "MARG-001 MARG-002 MARG-003 MARG-004 MARG-005 MARG-006 MARG-007 "
    "FEE-001 FUND-001 FUND-002 FUND-003 "
    "LIQ-001 LIQ-002 LIQ-003 LIQ-004 LIQ-005 LIQ-006 LIQ-007 LIQ-008 "
    "STOP-001 STOP-002 STOP-003 STOP-004 STOP-005 SETL-001 SETL-002 "
    "ATOM-001 ACCT-001 LEDG-001 DET-001"
)
RULE_IDS: frozenset[str] = frozenset("HM-" + s for s in _SHORT_IDS.split())


def known_rule_ids() -> frozenset[str]:
    """The rule IDs a finding may carry (the single switch point to the registry)."""
    return RULE_IDS


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
