"""The compiled build of the reference model (``HEDGESPEC_COMPILE=1``, setup.py) is the same model.

Run against an installed compiled build, these tests load the interpreted model from ``model/``
beside it and step both through the same random runs (every profile, hedge and one-way, actions of
the format and not): every outcome and every snapshot must be equal. Where the installed model is
the interpreted one (the usual editable install) they are skipped, unless
``HEDGESPEC_EXPECT_COMPILED=1`` says a compiled build should be there (``.ci/compiled_model.sh``),
which makes the skip a failure.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import hedgespec.model as installed
import pytest
from hedgespec.conformance.generate import KINDS, Generator, RandomChooser, random_steps
from hedgespec.conformance.world import default_params, diff, mode_scopes
from hedgespec.spec.observe import action_format_problems
from hedgespec.spec.profiles import builtin_profile_names, load_profile

ROOT = Path(__file__).resolve().parents[1]
SOURCE_NAME = "hedgespec_model_from_source"


def _need_compiled() -> None:
    if installed.BUILD == "compiled":
        return
    if os.environ.get("HEDGESPEC_EXPECT_COMPILED") == "1":
        pytest.fail(f"HEDGESPEC_EXPECT_COMPILED=1 but hedgespec.model is {installed.BUILD} "
                    f"({Path(installed.__file__).parent})")
    pytest.skip("the installed model is the interpreted one (HEDGESPEC_COMPILE=1 pip install --no-build-isolation .)")


def load_model(name: str, folder: Path) -> ModuleType:
    """The model package in ``folder``, interpreted, imported as ``name`` (beside the installed one)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def source_model() -> ModuleType:
    """The model as interpreted from ``model/``."""
    return load_model(SOURCE_NAME, ROOT / "model")


class Build:
    """One build of the model, driven by JSON actions."""

    def __init__(self, model: ModuleType, params: dict[str, Any]) -> None:
        self.model = model
        self.codec = sys.modules[f"{model.__name__}.codec"]
        self.state = model.initial_state(params)

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        try:
            parsed = self.codec.action_from_json(action, "action")
        except self.codec.InputError as exc:
            return {"kind": "rejected", "reason": "INVALID_ARGUMENT", "message": str(exc)}
        previous = self.state
        shown = self.model.snapshot(previous)
        outcome, self.state = self.model.step(previous, parsed)
        assert self.model.snapshot(previous) == shown, f"{self.model.BUILD}: step changed its input state"
        again, state_again = self.model.step(previous, parsed)
        assert again == outcome and state_again == self.state, f"{self.model.BUILD}: the same step, another result"
        return self.codec.outcome_to_json(outcome)

    def snapshot(self) -> dict[str, Any]:
        return self.model.snapshot(self.state)


def test_the_source_model_is_interpreted_and_separate() -> None:
    source = source_model()
    assert source.BUILD == "interpreted"
    assert source.step is not installed.step
    assert Path(sys.modules[f"{SOURCE_NAME}.step"].__file__).parent == ROOT / "model"


def assert_agree(one: ModuleType, other: ModuleType, profile: str, mode: str, seeds: range, length: int) -> None:
    """Step both models through the same seeded random runs; fail at the first outcome or snapshot that differs."""
    params = default_params(profile, mode)
    scopes = mode_scopes(load_profile(profile), [i["symbol"] for i in params["instruments"]])
    for seed in seeds:
        run = LockStep(Build(one, params), Build(other, params), f"{profile}/{mode} seed {seed}")
        random_steps(params, scopes, seed, length, run.advance)
        assert run.steps == length


class LockStep:
    """Two builds advanced together by ``random_steps``; each step's outcomes and snapshots must be equal."""

    def __init__(self, first: Build, second: Build, run: str) -> None:
        self.first, self.second, self.run, self.steps = first, second, run, 0

    def advance(self, action: dict[str, Any] | None) -> dict[str, Any]:
        where = f"{self.run} step {self.steps}"
        if action is not None:
            got, want = self.first.apply(action), self.second.apply(action)
            assert got == want, f"{where} {action}: outcomes differ: {diff(want, got)}"
            self.steps += 1
        snap, expected = self.first.snapshot(), self.second.snapshot()
        assert snap == expected, f"{where}: snapshots differ: {diff(expected, snap)}"
        return snap


@pytest.mark.parametrize("mode", ["HEDGE", "ONE_WAY"])
@pytest.mark.parametrize("profile", builtin_profile_names())
def test_compiled_and_interpreted_agree_step_by_step(profile: str, mode: str) -> None:
    _need_compiled()
    assert_agree(installed, source_model(), profile, mode, range(3), 300)


def test_a_model_that_differs_is_told_apart(tmp_path: Path) -> None:
    """The comparison can fail: a copy of the model whose fees are one MONEY atom too high is caught."""
    shutil.copytree(ROOT / "model", tmp_path / "model", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    fees = tmp_path / "model" / "fees.py"
    text = fees.read_text()
    assert text.count("return apply_rate_up(abs(quantity * price), rate)") == 1
    fees.write_text(text.replace("return apply_rate_up(abs(quantity * price), rate)",
                                 "return apply_rate_up(abs(quantity * price), rate) + 1"))
    changed = load_model("hedgespec_model_fee_one_atom_high", tmp_path / "model")
    with pytest.raises(AssertionError, match="differ"):
        assert_agree(installed, changed, "seed", "HEDGE", range(3), 300)


def test_compiled_model_refuses_wrong_python_types_as_the_interpreted_one_does() -> None:
    """Fields of the wrong Python type are INVALID_ARGUMENT in both builds, never an exception."""
    _need_compiled()
    params = default_params("seed")
    for model in (installed, source_model()):
        actions = sys.modules[f"{model.__name__}.actions"]
        state = model.initial_state(params)
        for action in (actions.PlaceOrder(1, "A", "o", "BTCUSDT", "BUY", "LONG", "MARKET", "1", 100),
                       actions.PlaceOrder(1, "A", "o", "BTCUSDT", "BUY", "LONG", "MARKET", True, 100),
                       actions.Deposit(1, ["A"], 5), object()):
            outcome, after = model.step(state, action)
            assert outcome.reason == "INVALID_ARGUMENT" and after is state, (model.BUILD, action, outcome)


def test_states_copy_in_either_build() -> None:
    """A state taken mid-run copies (copy, deepcopy) to an equal state that steps the same way."""
    for model in (installed, source_model()):
        params = default_params("binance-usdm")
        build = Build(model, params)
        scopes = mode_scopes(load_profile("binance-usdm"), [i["symbol"] for i in params["instruments"]])
        run = LockStep(build, Build(model, params), f"{model.BUILD} binance-usdm seed 5")
        random_steps(params, scopes, 5, 60, run.advance)
        state = build.state
        assert run.steps == 60 and state.accounts
        for copied in (copy.copy(state), copy.deepcopy(state)):
            assert copied == state and model.snapshot(copied) == model.snapshot(state), model.BUILD
        action = build.codec.action_from_json({"t": 10**6, "kind": "mark_price", "instrument": "BTCUSDT",
                                               "price": "29000"}, "action")
        assert model.step(copy.deepcopy(state), action)[0] == model.step(state, action)[0], model.BUILD


def test_initial_state_refuses_what_is_not_parameters_in_either_build() -> None:
    """InputError, not a TypeError from the compiled build's type checks on entry."""
    for model in (installed, source_model()):
        codec = sys.modules[f"{model.__name__}.codec"]
        for params, profile in (([], None), ("x", None), (default_params("seed"), 7)):
            with pytest.raises(codec.InputError):
                model.initial_state(params, profile)


def test_mutants_that_replace_model_functions_refuse_the_compiled_build() -> None:
    """On the compiled build a replaced function is never called: such a broken engine would run as the
    reference. It refuses to start instead (and its server exits with status 2); the others run."""
    _need_compiled()
    from hedgespec.conformance import mutants

    patching = [m for m in mutants.MUTANT_BY_NAME.values() if m.patches]
    others = [m for m in mutants.MUTANT_BY_NAME.values() if not m.patches]
    assert patching and others
    for mutant in patching:
        with pytest.raises(mutants.CompiledModelError, match=mutant.name):
            mutant.adapter("seed")
    assert mutants.serve(patching[0].name) == 2
    for mutant in others:
        assert mutant.adapter("seed").mutant is mutant


class _Amount(int):
    """An int subclass: not of a field's exact type."""


class _Name(str):
    """A str subclass: not of a field's exact type."""


ODD_VALUES = (True, False, None, 1.5, 10**40, -(10**40), -1, 0, "", "x", [], _Amount(5), _Name("alice"))


def test_every_field_of_every_action_kind_with_odd_python_values_gives_the_same_outcome() -> None:
    """Actions built in Python (not from JSON) with any field set to a value of another type, a subclass, or
    an extreme integer: both builds answer alike, and neither raises."""
    _need_compiled()
    profile = "seed"
    params = default_params(profile)
    scopes = mode_scopes(load_profile(profile), [i["symbol"] for i in params["instruments"]])
    compiled, interpreted = Build(installed, params), Build(source_model(), params)
    run = LockStep(compiled, interpreted, f"{profile} seed 11")
    random_steps(params, scopes, 11, 80, run.advance)  # a state with legs and orders
    snap = compiled.snapshot()
    ch = RandomChooser(11)
    gen = Generator(params, scopes)
    tried = 0
    for kind in KINDS:
        raw = gen.propose(ch, snap, kind)
        while action_format_problems(raw):  # the generator now and then leaves the format on purpose
            raw = gen.propose(ch, snap, kind)
        raw["t"] = 10**6
        base = {build: build.codec.action_from_json(raw, kind) for build in (compiled, interpreted)}
        for field in dataclasses.fields(base[compiled]):
            for value in ODD_VALUES:
                outcomes = []
                for build in (compiled, interpreted):
                    action = dataclasses.replace(base[build], **{field.name: value})
                    outcome, _ = build.model.step(build.state, action)
                    outcomes.append(build.codec.outcome_to_json(outcome))
                    tried += 1
                assert outcomes[0] == outcomes[1], f"{kind}.{field.name} = {value!r}: {diff(outcomes[1], outcomes[0])}"
    assert tried > 1_000
