"""Engine authors' reports: commands as documented, malformed replies named, one case per distinct bug.

Each test here fails on the behaviour it replaces: an adapter module in the current directory that
could not be imported, a missing snapshot field reported as a rule's KeyError, one divergence
standing for every other, and so on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conform_helpers import small

ADAPTER = '''
from hedgespec.conformance.adapter import ReferenceAdapter


def make_adapter(profile="seed"):
    return ReferenceAdapter(profile)
'''


def _reader_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


# -- an adapter module in the current directory ------------------------------------------------------

def test_conform_imports_an_adapter_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "my_adapter.py").write_text(ADAPTER)
    hedgespec = Path(sys.executable).parent / "hedgespec"
    result = subprocess.run([str(hedgespec), "conform", "--engine", "my_adapter:make_adapter", "--examples", "1",
                             "--steps", "5", "--no-vectors"], cwd=tmp_path, env=_reader_env(),
                            capture_output=True, text=True, timeout=300, check=False)
    assert "cannot import" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert "engine my_adapter:make_adapter (adapter hedgespec-reference)" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("verdict: PASS")


def test_pytest_plugin_imports_an_adapter_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "my_adapter.py").write_text(ADAPTER)
    pytest_cmd = Path(sys.executable).parent / "pytest"
    result = subprocess.run([str(pytest_cmd), "-p", "no:cacheprovider", "--hedgespec-engine", "my_adapter:make_adapter",
                             "--hedgespec-examples", "1", "-q", "-k", "stateful"], cwd=tmp_path, env=_reader_env(),
                            capture_output=True, text=True, timeout=300, check=False)
    assert "cannot import" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_load_factory_puts_the_current_directory_on_sys_path_once(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from hedgespec.conformance.loading import load_factory

    (tmp_path / "cwd_adapter_mod.py").write_text(ADAPTER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    factory = load_factory("cwd_adapter_mod:make_adapter")
    assert factory("seed").name == "hedgespec-reference"
    load_factory("cwd_adapter_mod:make_adapter")
    assert sys.path.count(str(tmp_path)) == 1
    monkeypatch.delitem(sys.modules, "cwd_adapter_mod")


# -- malformed snapshots are the engine's failure, never a rule's ------------------------------------

def _reference_snapshot_with_an_order() -> dict[str, Any]:
    from hedgespec.conformance.adapter import ReferenceAdapter
    from hedgespec.conformance.world import default_params

    engine = ReferenceAdapter("seed")
    engine.reset(default_params("seed"))
    outcome = engine.apply({"t": 1, "kind": "place_order", "account": "alice", "order_id": "o1",
                            "instrument": "BTCUSDT", "side": "BUY", "position_side": "LONG", "order_type": "LIMIT",
                            "quantity": "0.01", "price": "29000"})
    assert outcome["kind"] == "accepted"
    return engine.snapshot()


@pytest.mark.parametrize(("where", "path"), [
    (("accounts", "alice", "order_margin"), "snapshot.accounts.alice"),
    (("accounts", "alice", "positions", "BTCUSDT", "LONG", "entry_price"), "snapshot.accounts.alice.positions.BTCUSDT.LONG"),
    (("accounts", "alice", "positions", "BTCUSDT", "SHORT", "maintenance_margin"),
     "snapshot.accounts.alice.positions.BTCUSDT.SHORT"),
    (("accounts", "alice", "open_orders", "o1", "price"), "snapshot.accounts.alice.open_orders.o1"),
    (("accounts", "alice", "open_orders", "o1", "reduce_only"), "snapshot.accounts.alice.open_orders.o1"),
    (("mark_prices",), "snapshot"),
    (("time",), "snapshot"),
])
def test_every_documented_snapshot_field_is_required(where: tuple[str, ...], path: str) -> None:
    from hedgespec.conformance.failures import EngineFailure
    from hedgespec.conformance.shapes import check_snapshot

    snap = _reference_snapshot_with_an_order()
    check_snapshot(snap)
    holder = snap
    for key in where[:-1]:
        holder = holder[key]
    del holder[where[-1]]
    with pytest.raises(EngineFailure) as info:
        check_snapshot(snap)
    assert info.value.kind == "malformed"
    assert info.value.reason == f"snapshot: {path}: '{where[-1]}' is a required property"


def test_optional_and_nullable_snapshot_fields_stay_optional() -> None:
    from hedgespec.conformance.shapes import check_snapshot

    snap = _reference_snapshot_with_an_order()
    order = snap["accounts"]["alice"]["open_orders"]["o1"]
    order.pop("trailing_extreme", None)
    order.pop("arrival", None)
    row = snap["accounts"]["alice"]["positions"]["BTCUSDT"]["SHORT"]
    row.update(entry_price=None, unrealized_pnl=None, maintenance_margin=None, liquidation_price=None)
    check_snapshot(snap)  # no EngineFailure


class _MissingFlatShort:
    """The reference engine, except that its snapshots leave out flat SHORT rows in hedge mode."""

    name = "missing-flat-short"

    def __init__(self) -> None:
        from hedgespec.conformance.adapter import ReferenceAdapter

        self.inner = ReferenceAdapter("seed")
        self.capabilities = self.inner.capabilities

    def reset(self, params: dict[str, Any]) -> None:
        self.inner.reset(params)

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        return self.inner.apply(action)

    def snapshot(self) -> dict[str, Any]:
        snap = self.inner.snapshot()
        for account in snap["accounts"].values():
            for rows in account["positions"].values():
                if "SHORT" in rows and rows["SHORT"]["quantity"] == "0":
                    del rows["SHORT"]
        return snap

    def close(self) -> None:
        self.inner.close()


def test_a_check_that_cannot_read_a_step_is_a_malformed_engine_failure_not_a_rule_failure() -> None:
    from hedgespec.conformance import report
    from hedgespec.conformance.runner import run

    result = run(_MissingFlatShort, small(run_vectors=True, examples=2, steps=5))
    reasons = [f["engine_failure"] for f in result["engine_failures"]]
    assert reasons, result["engine_failures"]
    assert any(r.startswith("engine malformed: snapshot: snapshot.accounts.alice.positions.BTCUSDT.SHORT: missing; "
                            "HM-MARG-001's check reads it (TypeError") for r in reasons), reasons
    failed = {row["id"]: row for row in result["rules"] if row["verdict"] == "fail"}
    assert "HM-MARG-001" not in failed
    for row in failed.values():  # the rule that does speak to missing rows still fails, with its own finding
        assert "could not read" not in row["first_violation"]["message"]
        assert "cannot read" not in row["first_violation"]["message"]
    assert failed["HM-MODE-008"]["first_violation"]["message"] == "alice BTCUSDT: rows ['LONG'] in HEDGE mode"
    assert "HM-MARG-001" not in report.verdict_line(result)


def test_unreadable_names_the_missing_place_before_and_after() -> None:
    from hedgespec.conformance.rulebook import Rulebook, run_checks
    from hedgespec.spec.registry import StepView
    from hedgespec.spec.rulebook import get

    snap = _reference_snapshot_with_an_order()
    before = json.loads(json.dumps(snap))
    del snap["accounts"]["alice"]["positions"]["BTCUSDT"]["SHORT"]
    rule = get("HM-MARG-001")
    book = Rulebook((rule,), run_checks)
    action = {"t": 2, "kind": "set_leverage", "account": "alice", "instrument": "BTCUSDT", "position_side": "LONG",
              "leverage": "10"}
    outcome = {"kind": "accepted", "reason": None, "message": "", "events": []}
    violations, unread = book.check_step(StepView({}, before, action, outcome, snap), [rule])
    assert violations == []
    assert [(u.rule_id, u.path) for u in unread] == [("HM-MARG-001", "snapshot.accounts.alice.positions.BTCUSDT.SHORT")]
    failure = unread[0].failure()
    assert failure.kind == "malformed"
    assert str(failure).startswith("engine malformed: snapshot: snapshot.accounts.alice.positions.BTCUSDT.SHORT: "
                                   "missing; HM-MARG-001's check reads it (")
    _, unread = book.check_step(StepView({}, snap, action, outcome, before), [rule])
    assert unread and str(unread[0]).startswith("snapshot.accounts.alice.positions.BTCUSDT.SHORT (the snapshot "
                                                "before the step): missing")
