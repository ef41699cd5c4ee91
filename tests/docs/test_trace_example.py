"""The example trace of docs/audit/trace-format.md audits clean: its funding amount is what its fill,
rate and mark give (0.010 LONG x 30150 x 0.0001 = 0.03015 paid)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hedgespec.audit.engine import audit_lines
from hedgespec.spec.profiles import load_profile

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit" / "trace-format.md"


def example_lines() -> list[bytes]:
    text = DOC.read_text(encoding="utf-8").split("\n## Example\n", 1)[1]
    block = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    return [(line + "\n").encode() for line in block.splitlines()]


@pytest.mark.parametrize("profile", ["seed", "binance-usdm"])
def test_the_example_trace_has_no_finding(profile: str) -> None:
    result = audit_lines(example_lines(), load_profile(profile), trace_name="example.jsonl")
    assert not result.rejections
    assert result.finding_count == 0, [f"{f}" for f in result.findings]
    assert result.decided_by_rule.get("HM-FUND-001") == 1  # the funding amount was checked, not skipped
