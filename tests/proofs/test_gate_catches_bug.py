"""The CrossHair gate is real: a kernel with a planted bug is refuted, a faithful copy is confirmed.

Copies of ``fill_pair`` (HM-NET-001) and ``fund_pair`` (HM-FUND-001), contracts included, are
written to a temporary module, once verbatim and once with a planted bug:

* a fill on LONG that also moves SHORT (a netting engine's mistake) -> the HM-NET-001 frame fails;
* funding computed on the net position of both legs -> the HM-FUND-001 per-leg amount fails.

``.ci/crosshair_gate.py`` runs CrossHair on each copy against a proved list naming those conditions:
the faithful copy passes, the planted one fails with a counterexample for each bug (slow tier,
about a minute). The fast tier does the same with the mode-switch guard (HM-MODE-003), in seconds.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hedgespec.model import funding, mode, positions
from proof_helpers import load_gate, proved_list

HEADER = '''"""Copies of hedgespec kernels for the gate test."""
from hedgespec.model.funding import _with_funding, funding_amount
from hedgespec.model.positions import HedgePair, is_opening, open_leg, reduce_leg
from hedgespec.model.state import Leg
from hedgespec.model.units import RATE_ONE

'''

NET_FRAME = 'implies(position_side == "LONG", __return__.short == pair.short)'
FUND_LONG = "2 * abs((__return__.long.funding - pair.long.funding) * RATE_ONE + pair.long.quantity"

BUGS = [
    ("return HedgePair(moved, pair.short)",
     "return HedgePair(moved, open_leg(pair.short, -signed_quantity, price, 0) if pair.short.quantity else pair.short)"),
    ("funding_amount(pair.long.quantity, mark_price, rate)",
     "funding_amount(pair.long.quantity + pair.short.quantity, mark_price, rate)"),
    ("funding_amount(pair.short.quantity, mark_price, rate)",
     "funding_amount(pair.long.quantity + pair.short.quantity, mark_price, rate)"),
]


def write_kernels(directory: Path, stem: str, planted: bool) -> tuple[Path, Path]:
    """The kernel copies as ``<stem>.py`` and a proved list naming their conditions."""
    source = HEADER + inspect.getsource(positions.fill_pair) + "\n\n" + inspect.getsource(funding.fund_pair)
    if planted:
        for old, new in BUGS:
            assert source.count(old) == 1, old
            source = source.replace(old, new)
    module = directory / f"{stem}.py"
    module.write_text(source, encoding="utf-8")
    lines = []
    for name, ids in proved_list():
        for real in ("hedgespec.model.positions:fill_pair: ", "hedgespec.model.funding:fund_pair: "):
            if name.startswith(real):
                function = real.split(":")[1]
                lines.append(f"{stem}:{function}: {name[len(real):]}  # {' '.join(ids)}")
    assert len(lines) == 9
    proved = directory / f"{stem}_proved.txt"
    proved.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return module, proved


@pytest.mark.slow
def test_gate_confirms_the_faithful_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gate = load_gate()
    module, proved = write_kernels(tmp_path, "faithful_kernels", planted=False)
    status = gate.main([str(module), "--proved", str(proved), "--timeout", "300"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "9 listed conditions, 9 confirmed" in out


@pytest.mark.slow
def test_gate_reports_the_planted_bugs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gate = load_gate()
    module, proved = write_kernels(tmp_path, "planted_kernels", planted=True)
    reports, _, timed_out = gate.run_crosshair([str(module)], total_timeout=300)
    assert not timed_out
    refuted = {r.condition for r in reports if r.counterexample}
    assert any(c and c.endswith(NET_FRAME) and ":fill_pair:" in c for c in refuted), refuted  # HM-NET-001
    assert any(c and FUND_LONG in c and ":fund_pair:" in c for c in refuted), refuted  # HM-FUND-001
    ids = {i for r in reports if r.counterexample for i in r.rule_ids}
    assert {"HM-NET-001", "HM-FUND-001"} <= ids
    status = gate.main([str(module), "--proved", str(proved), "--timeout", "300"])
    out = capsys.readouterr().out
    assert status == 1
    assert "counterexample/error" in out and "not confirmed: planted_kernels:fill_pair" in out


def test_gate_catches_a_planted_mode_guard_bug(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Fast tier: a guard that refuses on open orders even where the profile does not block them
    (HM-MODE-003) is refuted; the faithful guard in the same run is confirmed."""
    gate = load_gate()
    good = inspect.getsource(mode.mode_switch_guard)
    bad = good.replace("def mode_switch_guard(", "def planted_guard(").replace(
        '"MODE_SWITCH_WITH_OPEN_ORDERS" if has_orders and blocked_by_orders else None',
        '"MODE_SWITCH_WITH_OPEN_ORDERS" if has_orders else None')
    assert bad.count("planted_guard") == 1 and "if has_orders else None" in bad
    module = tmp_path / "guards.py"
    module.write_text(good + "\n\n" + bad, encoding="utf-8")
    listed = [name.split(": ", 1)[1] for name, _ in proved_list() if name.startswith("hedgespec.model.mode:mode_switch_guard: ")]
    proved = tmp_path / "proved.txt"
    proved.write_text("".join(f"guards:mode_switch_guard: {text}  # HM-MODE-002\n" for text in listed)
                      + "".join(f"guards:planted_guard: {text}  # HM-MODE-003\n" for text in listed), encoding="utf-8")
    status = gate.main([str(module), "--proved", str(proved), "--timeout", "120"])
    out = capsys.readouterr().out
    assert status == 1
    assert "not confirmed: guards:mode_switch_guard" not in out
    assert "not confirmed: guards:planted_guard: post: (__return__ is None) ==" in out
    assert "counterexample/error" in out and "condition: guards:planted_guard:" in out
