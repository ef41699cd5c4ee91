"""The example JavaScript engine (conformance/engines/hedge_engine.js), end to end over JSON lines.

The engine does not use hedgespec; it is started with ``node`` through the JSON-lines adapter and
compared with the reference model (outcomes and full snapshots, step by step), checked against the
rules its declared capabilities make checkable, and run through the conformance runner when the
runner is installed. Skipped when ``node`` is not on the PATH.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.failures import EngineFailure
from hedgespec.conformance.generate import Generator, RandomChooser
from hedgespec.conformance.jsonl import JsonLinesAdapter
from hedgespec.conformance.world import default_params
from hedgespec.spec.observe import action_format_problems, rows_shown
from hedgespec.spec.registry import CAPABILITIES, StepView

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "conformance" / "engines" / "hedge_engine.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not installed: the JavaScript engine cannot run")

DECLARED = frozenset({"hedge-mode", "one-way-mode", "mode-switching", "isolated-margin", "margin-adjustment",
                      "limit-orders", "market-trades", "fees", "funding", "multi-account"})
NOT_DECLARED = frozenset({"cross-margin", "liquidation", "conditional-orders", "trailing-stops", "expiry"})
SUPPORTED_EXAMPLES = ("hedge_round_trip", "funding_equal_legs", "mode_switch", "one_way_netting")


def engine_command() -> list[str]:
    return [str(NODE), str(ENGINE)]


@pytest.fixture
def engine() -> Iterator[JsonLinesAdapter]:
    adapter = JsonLinesAdapter(engine_command())
    try:
        yield adapter
    finally:
        adapter.close()


def needs_undeclared(action: dict[str, Any]) -> bool:
    """Whether an action needs a capability the engine does not declare."""
    kind = action.get("kind")
    if kind == "expire":
        return True
    if kind == "set_margin_type" and action.get("margin_type") == "CROSS":
        return True
    return kind == "place_order" and action.get("order_type") not in ("MARKET", "LIMIT")


def comparable(outcome: dict[str, Any]) -> dict[str, Any]:
    """An outcome without its free-text message."""
    return {k: v for k, v in outcome.items() if k != "message"}


def checkable_rules() -> list[Any]:
    from hedgespec.spec.rulebook import step_rules

    return [r for r in step_rules() if set(r.requires) <= DECLARED]


def test_handshake_declares_its_subset(engine: JsonLinesAdapter) -> None:
    assert engine.name == "hedge-engine-js"
    assert engine.capabilities == DECLARED
    assert DECLARED <= set(CAPABILITIES)
    assert not engine.capabilities & NOT_DECLARED


@pytest.mark.parametrize("name", SUPPORTED_EXAMPLES)
def test_examples_match_the_reference(engine: JsonLinesAdapter, name: str) -> None:
    scenario = json.loads((ROOT / "examples" / f"{name}.json").read_text(encoding="utf-8"))
    reference = ReferenceAdapter()
    reference.reset(scenario["params"])
    engine.reset(scenario["params"])
    assert engine.snapshot() == reference.snapshot()
    for i, action in enumerate(scenario["actions"]):
        expected = reference.apply(action)
        assert comparable(engine.apply(action)) == comparable(expected), f"{name} step {i}: {action}"
        assert engine.snapshot() == reference.snapshot(), f"{name} step {i}: {action}"


def _differential(engine: JsonLinesAdapter, seed: int, mode: str, length: int, calm: bool) -> int:
    """A seeded random run on both engines; returns how many steps were compared.

    Actions needing an undeclared capability are left out; the run ends where the reference model
    liquidates (this engine has no liquidation, so the two legitimately part there).
    """
    params = default_params("seed", mode=mode)
    reference = ReferenceAdapter()
    reference.reset(params)
    engine.reset(params)
    generator = Generator(params, ["*"])
    chooser = RandomChooser(seed)
    before = reference.snapshot()
    assert engine.snapshot() == before
    rules = checkable_rules()
    compared = 0
    shown: dict = {}
    for _ in range(length):
        action = generator.propose(chooser, before)
        if needs_undeclared(action):
            continue
        if calm and action["kind"] == "mark_price" and not action_format_problems(action):
            mark = before["mark_prices"][action["instrument"]]
            action["price"] = generator._moved(chooser, int(mark.split(".")[0]) * 10**8, (10, 50, 150))
        if action["kind"] == "place_order" and "position_side" not in action:
            continue  # the reference model's codec does not accept an absent position_side yet
        expected = reference.apply(action)
        if any(e["type"] == "liquidation" for e in expected["events"]):
            break
        got = engine.apply(action)
        after = engine.snapshot()
        assert comparable(got) == comparable(expected), f"seed {seed} {mode}: {action}"
        assert after == reference.snapshot(), f"seed {seed} {mode}: {action}"
        shown = rows_shown(shown, before)
        view = StepView(params, before, action, got, after, shown)
        from hedgespec.spec.rulebook import run_step_checks

        violations = run_step_checks(view, rules)
        assert not violations, [str(v) for v in violations]
        before = after
        compared += 1
    return compared


@pytest.mark.parametrize("mode", ["HEDGE", "ONE_WAY"])
def test_random_runs_match_the_reference_and_pass_the_checks(engine: JsonLinesAdapter, mode: str) -> None:
    compared = sum(_differential(engine, seed, mode, 120, calm=seed % 2 == 0) for seed in range(6))
    assert compared > 100


def test_undeclared_features_are_refused_as_unsupported(engine: JsonLinesAdapter) -> None:
    params = default_params("seed", mode="HEDGE")
    engine.reset(params)
    requests = [
        {"t": 1, "kind": "set_margin_type", "account": "alice", "instrument": "BTCUSDT", "position_side": "LONG",
         "margin_type": "CROSS"},
        {"t": 1, "kind": "place_order", "account": "alice", "order_id": "s1", "instrument": "BTCUSDT", "side": "SELL",
         "position_side": "LONG", "order_type": "STOP_MARKET", "quantity": "0.001", "stop_price": "29000"},
        {"t": 1, "kind": "expire", "instrument": "BTCUSDT-0327", "settlement_price": "30000"},
    ]
    for action in requests:
        with pytest.raises(EngineFailure) as info:
            engine.apply(action)
        assert "unsupported" in str(info.value)
        engine.reset(params)  # the process is kept after an engine-reported error
    with pytest.raises(EngineFailure, match="seed profile only"):
        engine.reset({**params, "profile": "binance-usdm"})


def test_numbers_are_exact_decimal_strings(engine: JsonLinesAdapter) -> None:
    params = default_params("seed", mode="HEDGE")
    reference = ReferenceAdapter()
    reference.reset(params)
    engine.reset(params)
    actions = [
        {"t": 1, "kind": "deposit", "account": "alice", "amount": "0.00000000000000001"},  # below a money atom
        {"t": 1, "kind": "deposit", "account": "alice", "amount": "1e2"},
        {"t": 1, "kind": "deposit", "account": "alice", "amount": " 0.0000000000000001 "},
        {"t": 1, "kind": "deposit", "account": "alice", "amount": 5},  # a JSON number is refused
        {"t": 0, "kind": "deposit", "account": "alice", "amount": "1"},  # time going back
        {"t": 2, "kind": "place_order", "account": "alice", "order_id": "a", "instrument": "BTCUSDT", "side": "BUY",
         "position_side": "LONG", "order_type": "MARKET", "quantity": "0.007", "price": "30000.5"},
        {"t": 3, "kind": "funding", "instrument": "BTCUSDT", "rate": "0.00000333"},
        {"t": 4, "kind": "place_order", "account": "alice", "order_id": "b", "instrument": "BTCUSDT", "side": "SELL",
         "position_side": "LONG", "order_type": "MARKET", "quantity": "0.003", "price": "29999"},
    ]
    for action in actions:
        assert comparable(engine.apply(action)) == comparable(reference.apply(action)), action
        assert engine.snapshot() == reference.snapshot(), action


def test_runner_reports_declared_rules_and_unsupported_ones() -> None:
    runner = pytest.importorskip("hedgespec.conformance.runner", reason="the conformance runner is not installed yet")
    try:
        report = runner.run(lambda: JsonLinesAdapter(engine_command()), runner.RunConfig(profile="seed", examples=12))
    except TypeError as exc:  # the model's codec refusing an order without position_side (being fixed)
        pytest.skip(f"the runner's reference side cannot run yet: {exc}")
    verdicts = {r["id"]: r for r in report["rules"]}
    from hedgespec.spec.rulebook import all_rules

    for rule in all_rules():
        row = verdicts[rule.id]
        if set(rule.requires) - DECLARED:
            assert row["verdict"] == "unsupported", rule.id
        else:
            assert row["verdict"] != "fail", (rule.id, row.get("first_violation"))
    summary = report["summary"]
    assert summary["differential"]["engine_failures"] == 0
    assert summary["differential"]["rule_failures"] == 0
    assert summary["rules"]["pass"] >= 25
    # The one way this engine parts from the reference: the model liquidates a breached leg on a
    # mark price or funding step and this engine (no "liquidation" capability) does not.
    for entry in report["unexplained_divergences"]:
        assert entry["action"]["kind"] in ("mark_price", "funding"), entry
