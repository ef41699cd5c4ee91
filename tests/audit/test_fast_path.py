"""The fused fast path for plain fills decides exactly what the reference path decides."""

from __future__ import annotations

import io

import pytest
from audit_helpers import synth_lines
from hedgespec.audit.engine import audit_lines, audit_stream
from hedgespec.audit.report import as_json
from hedgespec.audit.synth import PLANTS
from hedgespec.spec.profiles import load_profile


@pytest.mark.parametrize("plant", [(), tuple(sorted(PLANTS))])
def test_fast_and_reference_paths_agree(plant: tuple[str, ...]) -> None:
    lines, _ = synth_lines(3000, seed=11, plant=plant)
    lines.insert(40, b'{"v": 1, "type": "fill", "t": 5}\n')  # a broken fill in the middle
    profile = load_profile("seed")
    fast = as_json(audit_stream(io.BytesIO(b"".join(lines)), profile, trace_name="t"))
    reference = as_json(audit_lines(lines, profile, trace_name="t", hot=False))
    assert fast == reference
    assert fast["summary"]["records_rejected"] == 1
