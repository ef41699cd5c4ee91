"""Engine authors' reports: commands as documented, malformed replies named, one case per distinct bug.

Each test here fails on the behaviour it replaces: an adapter module in the current directory that
could not be imported, a missing snapshot field reported as a rule's KeyError, one divergence
standing for every other, and so on.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
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


class _Reference:
    """The reference engine behind an engine's interface: the broken engines below change one part."""

    name = "reference"

    def __init__(self) -> None:
        from hedgespec.conformance.adapter import ReferenceAdapter

        self.inner = ReferenceAdapter("seed")
        self.capabilities = self.inner.capabilities

    def reset(self, params: dict[str, Any]) -> None:
        self.inner.reset(params)

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        return self.inner.apply(action)

    def snapshot(self) -> dict[str, Any]:
        return self.inner.snapshot()

    def close(self) -> None:
        self.inner.close()


class _MissingFlatShort(_Reference):
    """The reference engine, except that its snapshots leave out flat SHORT rows in hedge mode."""

    name = "missing-flat-short"

    def snapshot(self) -> dict[str, Any]:
        snap = self.inner.snapshot()
        for account in snap["accounts"].values():
            for rows in account["positions"].values():
                if "SHORT" in rows and rows["SHORT"]["quantity"] == "0":
                    del rows["SHORT"]
        return snap


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
    assert re.fullmatch(r"(alice|bob) BTCUSDT: rows \['LONG'\] in HEDGE mode",
                        failed["HM-MODE-008"]["first_violation"]["message"])
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


# -- one minimal case per distinct divergence ---------------------------------------------------------

class _TwoDivergences(_Reference):
    """The reference engine with two unrelated bugs no rule of an empty rulebook explains:
    every deposit credits 1 too much, and after a leverage change every leg shows one more leverage."""

    name = "two-divergences"

    def __init__(self) -> None:
        super().__init__()
        self.extra = 0
        self.leverage_bug = False

    def reset(self, params: dict[str, Any]) -> None:
        self.inner.reset(params)
        self.extra, self.leverage_bug = 0, False

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        outcome = self.inner.apply(action)
        if outcome["kind"] == "accepted" and action["kind"] == "deposit":
            self.extra += 1
        if outcome["kind"] == "accepted" and action["kind"] == "set_leverage":
            self.leverage_bug = True
        return outcome

    def snapshot(self) -> dict[str, Any]:
        snap = self.inner.snapshot()
        for account in snap["accounts"].values():
            account["wallet"] = str(Decimal(account["wallet"]) + self.extra)
            for rows in account["positions"].values():
                for row in rows.values():
                    if self.leverage_bug:
                        row["leverage"] = str(int(row["leverage"]) + 1)
        return snap


def test_distinct_divergences_each_get_their_own_minimal_case(tmp_path: Path) -> None:
    from hedgespec.conformance import report
    from hedgespec.conformance.rulebook import Rulebook
    from hedgespec.conformance.runner import divergence_key, run
    from hedgespec.conformance.vectors import load_corpus

    empty = Rulebook((), lambda view, rules=None: [], source="empty")
    result = run(_TwoDivergences, small(examples=12, steps=15, failures_dir=tmp_path, shrink_replays=60), empty)
    divergences = [f for f in result["differential_failures"] if f["category"] == "unexplained divergence"]
    saved = [f for f in divergences if not f.get("duplicate_of_earlier")]
    keys = [divergence_key(f["divergence"][0]) for f in saved]  # one saved case per distinct divergence
    assert len(keys) == len(set(keys)) and 2 <= len(saved) <= 3, [(f["case"], f["divergence"]) for f in divergences]
    assert {f["action"]["kind"] for f in saved} == {"deposit", "set_leverage"}
    for f in saved:
        # each minimal case shows the divergence it was saved for, not the other one
        if f["action"]["kind"] == "deposit":
            assert f["divergence"][0].startswith("accounts.alice.wallet: expected ")
            assert all(".wallet: expected " in line for line in f["minimal_divergence"])
        else:  # a LONG or SHORT row in hedge mode, a BOTH row in one-way mode: distinct
            assert ".leverage: expected " in f["divergence"][0]
            assert all(".leverage" in line for line in f["minimal_divergence"])
    corpus = load_corpus(tmp_path)
    last_kinds = sorted(vec.data["steps"][-1]["action"]["kind"] for vec in corpus.vectors)
    assert last_kinds == sorted(f["action"]["kind"] for f in saved)
    # later divergences of an already shown kind are duplicates of it
    for f in divergences:
        if f.get("duplicate_of_earlier"):
            assert f["action"]["kind"] in ("deposit", "set_leverage")
    text = report.to_text(result)
    assert text.count("unexplained divergence: ") == len(saved)


def test_divergence_keys_name_the_field_without_the_case() -> None:
    from hedgespec.conformance.runner import divergence_key

    assert divergence_key("accounts.bob.positions.BTCUSDT-0327.SHORT.quantity: expected '-1', got '0'") == \
        "accounts.*.positions.*.SHORT.quantity"
    assert divergence_key("accounts.alice.positions.BTCUSDT.LONG: missing (expected {...})") == \
        "accounts.*.positions.*.LONG (missing)"
    assert divergence_key("outcome.reason: model 'INVALID_ARGUMENT', engine None") == \
        "outcome.reason: model 'INVALID_ARGUMENT', engine None"
    assert divergence_key("insurance_fund: expected '1000', got '999'") == "insurance_fund"


# -- HM-ORD-005's two permitted refusals ---------------------------------------------------------------

class _InvalidNotDuplicate(_Reference):
    """The reference engine, except that it refuses a duplicate order id with INVALID_ARGUMENT."""

    name = "invalid-not-duplicate"

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        outcome = self.inner.apply(action)
        if outcome["reason"] == "DUPLICATE_ORDER_ID":
            outcome = {**outcome, "reason": "INVALID_ARGUMENT"}
        return outcome


def _limit(t: int, quantity: str, price: str = "29000") -> dict[str, Any]:
    return {"t": t, "kind": "place_order", "account": "alice", "order_id": "o1", "instrument": "BTCUSDT",
            "side": "BUY", "position_side": "LONG", "order_type": "LIMIT", "quantity": quantity, "price": price}


def _runner() -> Any:
    from hedgespec.conformance.rulebook import load_rulebook
    from hedgespec.conformance.runner import Engine, Runner

    return Runner(Engine(_InvalidNotDuplicate()), small(), load_rulebook())


def test_a_malformed_order_with_an_id_in_use_may_be_refused_either_way() -> None:
    from hedgespec.conformance.world import default_params

    runner = _runner()
    params = default_params("seed")
    for malformed in (_limit(2, "0.0015"), _limit(2, "0.01", "29000.3"), _limit(2, "-1")):
        replay = runner.replay(params, [_limit(1, "0.01"), malformed])
        assert replay.finding is None, (malformed, replay.finding)
        assert replay.steps_run == 2


def test_a_well_formed_duplicate_refused_as_invalid_is_still_a_divergence() -> None:
    from hedgespec.conformance.world import default_params

    replay = _runner().replay(default_params("seed"), [_limit(1, "0.01"), _limit(2, "0.02")])
    assert replay.finding is not None and replay.failed_at == 1
    assert replay.finding.violations == []
    assert replay.finding.divergence == ["outcome.reason: model 'DUPLICATE_ORDER_ID', engine 'INVALID_ARGUMENT'"]


def test_permitted_reasons_only_where_the_rule_demands_a_refusal() -> None:
    from hedgespec.conformance.adapter import ReferenceAdapter
    from hedgespec.conformance.runner import compare, permitted_reasons
    from hedgespec.conformance.world import default_params
    from hedgespec.spec.registry import StepView
    from hedgespec.spec.rulebook import get

    engine = ReferenceAdapter("seed")
    params = default_params("seed")
    engine.reset(params)
    engine.apply(_limit(1, "0.01"))
    before = engine.snapshot()
    refused = {"kind": "rejected", "reason": "INVALID_ARGUMENT", "message": "", "events": []}
    rules = [get("HM-ORD-005")]
    malformed = StepView(params, before, _limit(2, "0.0015"), refused, before)
    assert permitted_reasons(rules, malformed, "DUPLICATE_ORDER_ID") == {"INVALID_ARGUMENT", "DUPLICATE_ORDER_ID"}
    assert compare({"kind": "rejected", "reason": "DUPLICATE_ORDER_ID"}, before, refused, before,
                   permitted_reasons(rules, malformed, "DUPLICATE_ORDER_ID")) == []
    well_formed = StepView(params, before, _limit(2, "0.02"), refused, before)
    assert permitted_reasons(rules, well_formed, "DUPLICATE_ORDER_ID") == frozenset()
    other = {**refused, "reason": "INSUFFICIENT_MARGIN"}  # not one of HM-ORD-005's alternatives
    assert compare({"kind": "rejected", "reason": "DUPLICATE_ORDER_ID"}, before, other, before,
                   permitted_reasons(rules, StepView(params, before, _limit(2, "0.0015"), other, before),
                                     "DUPLICATE_ORDER_ID")) == \
        ["outcome.reason: model 'DUPLICATE_ORDER_ID', engine 'INSUFFICIENT_MARGIN'"]
    assert permitted_reasons([], malformed, "DUPLICATE_ORDER_ID") == frozenset()  # the rule not checked: no choice


def test_a_vector_accepts_the_permitted_alternative(tmp_path: Path) -> None:
    from hedgespec.conformance import vectors as V
    from hedgespec.conformance.runner import run
    from hedgespec.conformance.world import default_params
    from hedgespec.spec.profiles import load_profile

    vector = V.build_vector("review/malformed-duplicate", "a malformed order reusing an open order's id",
                            default_params("seed"), [_limit(1, "0.01"), _limit(2, "0.0015")], load_profile("seed"),
                            {}, {"generator": "hand"})
    assert vector["steps"][1]["expect"] == {"kind": "rejected", "reason": "DUPLICATE_ORDER_ID"}
    (tmp_path / "malformed-duplicate.json").write_text(V.dump_vector(vector))
    result = run(_InvalidNotDuplicate, small(run_vectors=True, vectors=tmp_path, examples=0))
    assert [v["status"] for v in result["vectors"]] == ["passed"], result["vectors"]


# -- the report says what it knows ------------------------------------------------------------------------

def test_an_expected_failure_that_passes_is_pointed_out_in_every_rendering() -> None:
    from hedgespec.conformance import report
    from hedgespec.conformance.adapter import ReferenceAdapter
    from hedgespec.conformance.runner import run

    result = run(lambda: ReferenceAdapter("seed"), small(examples=2, steps=8,
                                                         expected_failures={"HM-NET-001": "known gap"}))
    row = next(r for r in result["rules"] if r["id"] == "HM-NET-001")
    assert row["verdict"] == "pass"
    note = "HM-NET-001: listed as an expected failure but passes: remove it from the list"
    assert f"note: {note}\n" in report.to_text(result)
    assert f"- note: {note}\n" in report.to_markdown(result)
    junit = report.to_junit(result)
    case = next(line for line in junit.splitlines() if 'name="HM-NET-001 ' in line)
    assert "<skipped" not in case and "<failure" not in case
    assert "<system-out>listed as an expected failure but passes: remove it from the list</system-out>" in case


def test_failure_lines_are_whole_engine_failures_of_vectors_listed_and_never_shrunk() -> None:
    from hedgespec.conformance import report
    from hedgespec.conformance.runner import run

    result = run(_MissingFlatShort, small(run_vectors=True, examples=3, steps=5, max_engine_failures=50))
    text = report.to_text(result)
    failed = [v for v in result["vectors"] if v.get("engine_failure")]
    assert failed
    for vec in failed:  # every reason whole, with the step numbered from 1
        assert f"  failed {vec['path']} step {vec['step']}: {vec['reason']}\n" in text
        assert vec["step"] >= 1
    assert f"engine failures during the vectors: {len(failed)}\n" in text
    for vec in failed:
        assert f"  vector {vec['path']} step {vec['step']}: {vec['reason']}\n" in text
    markdown = report.to_markdown(result)
    assert f"- vector {failed[0]['path']} step {failed[0]['step']}: {failed[0]['reason']}\n" in markdown
    engine_lines = [line for line in text.splitlines() if ": engine failure: " in line]
    assert all("shrunk" not in line for line in engine_lines)
    for f in result["differential_failures"]:
        if f["category"] == "engine failure":
            assert "minimal_steps" not in f


def test_steps_are_numbered_from_one_in_the_report() -> None:
    from hedgespec.conformance import report
    from hedgespec.conformance.rulebook import Rulebook
    from hedgespec.conformance.runner import REPORT_FORMAT, run

    assert REPORT_FORMAT == "hedgespec-conformance-report/3"
    empty = Rulebook((), lambda view, rules=None: [], source="empty")
    result = run(_TwoDivergences, small(examples=6, steps=15), empty)
    entry = next(f for f in result["differential_failures"] if not f.get("duplicate_of_earlier"))
    # the failing action is the step-th action of the case, counted from 1: its logical time in this run
    assert entry["step"] == entry["original_steps"]
    assert f"case {entry['case']} step {entry['step']}: unexplained divergence" in report.to_text(result)
    assert result["report_format"] == REPORT_FORMAT


# -- protocol errors name the place ------------------------------------------------------------------------

TWISTED_ENGINE = r'''
import json
import sys

from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.jsonl import serve

MODE = sys.argv[1]


class Out:
    applies = 0

    def write(self, text):
        reply = json.loads(text)
        result = reply.get("result")
        line = json.dumps(reply)
        if MODE == "eventfloat" and isinstance(result, dict) and any(e["type"] == "fill" for e in result.get("events", [])):
            fill = next(e for e in result["events"] if e["type"] == "fill")
            line = line.replace('"fee": "%s"' % fill["fee"], '"fee": 0.5', 1)
        if MODE == "timefloat" and isinstance(result, dict) and "snapshot_version" in result:
            line = line.replace('"time": %d' % result["time"], '"time": 1.5', 1)
        if MODE == "blank" and isinstance(result, dict) and "kind" in result:
            Out.applies += 1
            if Out.applies == 2:
                sys.stdout.write("\n")
        sys.stdout.write(line + "\n")

    def flush(self):
        sys.stdout.flush()


sys.exit(serve(ReferenceAdapter("seed"), stdout=Out()))
'''


@pytest.mark.parametrize(("mode", "expected"), [
    ("eventfloat", r"^apply: outcome\.events\[\d+\]\.fee is the JSON number 0\.5; numbers are decimal strings "
                   r'\(e\.g\. "0\.5"\)$'),
    ("timefloat", r"^snapshot: snapshot\.time is the JSON number 1\.5; a whole number is required$"),
    ("blank", r"^apply: an empty line where the reply was expected \(one reply per line, nothing else on stdout; "
              r"log to stderr\)$"),
])
def test_protocol_errors_name_the_field(tmp_path: Path, mode: str, expected: str) -> None:
    import re

    from hedgespec.conformance.jsonl import JsonLinesAdapter
    from hedgespec.conformance.runner import run

    script = tmp_path / "twisted.py"
    script.write_text(TWISTED_ENGINE)
    result = run(lambda: JsonLinesAdapter([sys.executable, str(script), mode], timeout=20),
                 small(examples=2, steps=20, max_engine_failures=1))
    failure = result["engine_failures"][0]["engine_failure"]
    assert failure["kind"] == "malformed"
    assert re.match(expected, failure["reason"]), failure["reason"]


def test_decode_line_names_the_place_of_a_fraction() -> None:
    from hedgespec.conformance.jsonl import NumberError, decode_line, reply_path

    with pytest.raises(NumberError) as info:
        decode_line('{"id":3,"ok":true,"result":{"kind":"accepted","events":[{"type":"fill","fee":0.5}]}}')
    assert (info.value.path, info.value.text, info.value.integer) == ("result.events[0].fee", "0.5", False)
    assert reply_path(info.value.path, "apply") == "outcome.events[0].fee"
    with pytest.raises(NumberError, match=r"^result\.time: JSON number 1\.5 where a whole JSON number is required$"):
        decode_line('{"id":3,"ok":true,"result":{"time":1.5}}')
    with pytest.raises(NumberError, match=r"^result\[1\]: JSON number NaN"):
        decode_line('{"id":3,"ok":true,"result":["1",NaN]}')
    assert decode_line('{"id":3,"ok":true,"result":{"time":2,"wallet":"0.5"}}')["result"] == {"time": 2, "wallet": "0.5"}


# -- runs that check nothing, engines that refuse the profile ----------------------------------------------

def test_a_conform_run_that_checks_nothing_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from hedgespec.conformance.cli import main

    assert main(["conform", "--examples", "0", "--no-vectors"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("hedgespec conform: --examples 0 with --no-vectors checks nothing: give random cases "
                            "(--examples N) or leave the vectors on\n")


class _SeedOnly(_Reference):
    """An engine that supports the seed profile only and says so at reset."""

    name = "seed-only"

    def __init__(self) -> None:
        super().__init__()
        self.resets = 0

    def reset(self, params: dict[str, Any]) -> None:
        self.resets += 1
        if params.get("profile", "seed") != "seed":
            raise ValueError(f"unsupported profile {params['profile']}")
        self.inner.reset(params)


def test_an_engine_refusing_the_profile_is_reported_as_such() -> None:
    from hedgespec.conformance import report
    from hedgespec.conformance.runner import run

    engines: list[_SeedOnly] = []

    def factory() -> _SeedOnly:
        engines.append(_SeedOnly())
        return engines[-1]

    result = run(factory, small(profile="okx-v5", run_vectors=True, examples=3))
    reason = "the engine refused reset to profile okx-v5: reset: ValueError: unsupported profile okx-v5"
    assert result["engine_failures"] == [{"case": None, "step": None, "at": "reset", "category": "engine failure",
                                          "engine_failure": {"kind": "raised", "reason": reason}}]
    assert engines[0].resets == 1  # not once per vector
    assert result["vectors"] == [] and result["summary"]["differential"]["cases"] == 0
    assert result["summary"]["exit_status"] == 1
    text = report.to_text(result)
    assert f"  first reset: engine failure: {reason}\n" in text
    assert text.endswith(f"verdict: FAIL ({reason}; nothing was run)\n")
    ok = run(factory, small(examples=1, steps=3))  # the seed profile runs as before
    assert ok["summary"]["exit_status"] == 0 and ok["summary"]["differential"]["cases"] == 1


def test_an_engine_without_fees_is_run_on_fee_free_instruments() -> None:
    """protocol.md: without the ``fees`` capability the random run's instruments charge no fee, so an
    engine without fees is not compared on them; with it, the instruments keep their rates."""
    from hedgespec.conformance.world import RANDOM_WALLET, params_for
    from hedgespec.spec.profiles import load_profile

    seed = load_profile("seed")
    without = params_for(seed, frozenset({"hedge-mode"}), RANDOM_WALLET)
    assert {(i["maker_rate"], i["taker_rate"]) for i in without["instruments"]} == {("0", "0")}
    assert list(without["accounts"]) == ["alice"] and len(without["instruments"]) == 1
    with_fees = params_for(seed, frozenset({"hedge-mode", "fees", "expiry", "multi-account"}), RANDOM_WALLET)
    assert {(i["maker_rate"], i["taker_rate"]) for i in with_fees["instruments"]} == {("0.0002", "0.0005")}
    assert len(with_fees["accounts"]) == 2 and len(with_fees["instruments"]) == 2


def test_a_module_in_the_current_directory_never_shadows_an_installed_one(tmp_path: Path) -> None:
    """The adapter is found in the current directory, but a file there named like a standard-library
    module that hedgespec imports after loading it (``pprint``, through jsonschema) is not picked up."""
    (tmp_path / "cwd_engine.py").write_text(ADAPTER)
    (tmp_path / "pprint.py").write_text("raise RuntimeError('the pprint.py of the current directory was imported')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(Path(sys.executable).with_name("hedgespec")), "conform", "--engine",
                             "cwd_engine:make_adapter", "--examples", "1", "--steps", "3"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "current directory was imported" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
