"""A vector states only what holds under every value its profile leaves open (docs/formats/vectors.md).

Scenarios an open choice decides are left out for that profile, random runs are cut before the
first step one decides, and ``<profile>/OMITTED.md`` says which and why.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from pathlib import Path

import pytest
from conform_helpers import small
from hedgespec.conformance import corpus
from hedgespec.conformance import vectors as V
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.runner import run
from hedgespec.spec.profiles import Choice, Profile, load_profile

ROOT = V.builtin_root()
VENUES = tuple(p for p in corpus.PROFILES if p != "seed")


def with_choice(profile: Profile, name: str, value: object) -> Profile:
    """The profile with ``name`` modelled as ``value``: an engine that follows that value."""
    choices = {**profile.choices, name: Choice(value, "modelled", "test")}
    return dataclasses.replace(profile, choices=choices)


def statuses(profile: Profile | str, corpus_profile: str, vectors: Path | None = None) -> dict[str, str]:
    """Vector path -> verdict of the reference run under ``profile`` against ``corpus_profile``'s vectors."""
    report = run(lambda: ReferenceAdapter(profile), small(profile=corpus_profile, examples=0, run_vectors=True,
                                                           vectors=vectors))
    return {v["path"]: v["status"] + (f": {v.get('reason')}" if v["status"] != "passed" else "")
            for v in report["vectors"]}


def test_mode_default_is_stated_only_where_the_default_mode_is_modelled() -> None:
    """HM-MODE-001's scenario (mode-default): gate, kucoin and okx-v5 leave default_position_mode open,
    so they have no such vector and OMITTED.md names the choice; the seed keeps it whole. binance-usdm and
    bybit-v5 model the default mode but leave default_margin_type and default_leverage open: their vector
    states the legs' settings in params (requiring leg-settings), so the mode, the sizes and the margin
    values are all stated."""
    for name in ("gate", "kucoin", "okx-v5"):
        assert not (ROOT / name / "scenario" / "mode-default.json").exists(), name
        line = next(x for x in (ROOT / name / corpus.OMITTED).read_text().splitlines() if "`mode-default`" in x)
        assert "`default_position_mode`" in line, line
    seed = (ROOT / "seed" / "scenario" / "mode-default.json").read_text()
    assert '"$any"' not in seed
    for name in ("binance-usdm", "bybit-v5"):
        vector = json.loads((ROOT / name / "scenario" / "mode-default.json").read_text())
        assert "leg-settings" in vector["requires"]
        assert vector["params"]["accounts"]["alice"]["leg_settings"]["BTCUSDT"]["BOTH"]["margin_type"] == "ISOLATED"
        last = vector["steps"][-1].get("state") or next(s["state"] for s in reversed(vector["steps"]) if "state" in s)
        alice = last["accounts"]["alice"]
        assert set(alice["position_mode"].values()) == {"ONE_WAY"}  # per account or per instrument
        [(side, leg)] = alice["positions"]["BTCUSDT"].items()
        assert side == "BOTH" and leg["quantity"] == "0.01" and leg["margin_type"] == "ISOLATED"
        assert corpus.ANY not in leg.values()


def test_merged_state_keeps_what_every_value_gives_and_opens_only_patterned_fields() -> None:
    """A value two runs disagree on becomes {"$any": true} only where the vector format allows a pattern;
    disagreeing on which legs or accounts are listed cannot be stated (the step is cut instead)."""
    leg = {"quantity": "1", "cost_basis": "100", "isolated_margin": "5", "margin_type": "ISOLATED"}
    a = {"accounts": {"A": {"wallet": "10", "positions": {"X": {"LONG": leg}}}}, "insurance_fund": "0"}
    b = json.loads(json.dumps(a))
    b["accounts"]["A"]["wallet"] = "9"
    b["accounts"]["A"]["positions"]["X"]["LONG"]["isolated_margin"] = "6"
    merged = corpus.merged_state(a, b)
    assert merged["accounts"]["A"]["wallet"] == corpus.ANY
    assert merged["accounts"]["A"]["positions"]["X"]["LONG"] == {**leg, "isolated_margin": corpus.ANY}
    assert corpus.merged_state(a, a) == a
    c = json.loads(json.dumps(a))
    c["accounts"]["A"]["positions"]["X"]["SHORT"] = leg
    assert corpus.merged_state(a, c) is corpus._CLASH  # noqa: SLF001 - which legs are listed is not a value


def test_the_seed_models_every_choice_and_loses_nothing() -> None:
    """The seed profile has no open choice: all its scenarios and full-length random runs are kept."""
    assert corpus.open_variants(load_profile("seed")) == []
    assert len(list((ROOT / "seed" / "scenario").glob("*.json"))) == len(corpus.SCENARIOS)
    for path in (ROOT / "seed" / "random").glob("*.json"):
        assert len(json.loads(path.read_text())["steps"]) == corpus.RANDOM_LENGTH
    assert "nothing is left out" in (ROOT / "seed" / corpus.OMITTED).read_text()


def test_omitted_lists_every_scenario_a_venue_lacks_and_every_cut_run() -> None:
    """OMITTED.md accounts for each scenario not generated for a venue and each random run shorter than
    RANDOM_LENGTH (with its length), so users see what the corpus does not state."""
    for name in VENUES:
        text = (ROOT / name / corpus.OMITTED).read_text()
        have = {p.stem for p in (ROOT / name / "scenario").glob("*.json")}
        for sc in corpus.SCENARIOS:
            if sc.profiles is None or name in sc.profiles:
                assert (sc.name in have) != (f"* `{sc.name}`: decided by" in text), (name, sc.name)
        for path in sorted((ROOT / name).glob("*/*.json")):  # a vector with an open value says which choice
            listed = f"* `{path.parent.name}/{path.stem}`: values left open by" in text
            assert ('"$any"' in path.read_text()) == listed, (name, path.name)
        for n in range(corpus.RANDOM_VECTORS):
            path = ROOT / name / "random" / f"random-{n}.json"
            steps = len(json.loads(path.read_text())["steps"]) if path.exists() else 0
            if steps == corpus.RANDOM_LENGTH:
                assert f"`random-{n}`" not in text
            else:
                kept = f"{steps} of {corpus.RANDOM_LENGTH} steps kept" if steps else "not generated"
                assert f"* `random-{n}`: {kept}" in text, (name, n)


def test_omitted_names_only_the_choices_that_decide_a_scenario() -> None:
    """A pair of variants that clashes only because one of its two choices decides the step alone does not
    blame the other: binance-usdm's close-exceeds-leg is decided by oversized_close and nothing else."""
    profile = load_profile("binance-usdm")
    variants = corpus.open_variants(profile)
    sc = next(s for s in corpus.SCENARIOS if s.name == "close-exceeds-leg")
    params, actions = sc.build(profile)
    run_ = corpus.open_run(params, actions, profile, variants)
    assert sorted(run_.cut) == ["oversized_close"]
    alone = corpus.open_run(params, actions, profile, [v for v in variants if v.choice == "oversized_close"])
    assert run_.cut == alone.cut  # the pairs add nothing: no two choices decide it together
    line = next(x for x in (ROOT / "binance-usdm" / corpus.OMITTED).read_text().splitlines()
                if "`close-exceeds-leg`" in x)
    assert line == "* `close-exceeds-leg`: decided by `oversized_close`"


def test_cases_the_open_defaults_decide_are_kept_with_the_leg_settings_stated() -> None:
    """binance-usdm leaves default_margin_type and default_leverage open. adjust-margin (isolated legs) and
    cross-pool-liquidated (leverage) turn on them, so their vectors state every leg's settings in params
    and require leg-settings; a case the defaults do not decide keeps its parameters. An engine without
    the capability is told the vector is unsupported, naming it; the reference passes it."""
    for name in ("adjust-margin", "cross-pool-liquidated"):
        vector = json.loads((ROOT / "binance-usdm" / "scenario" / f"{name}.json").read_text())
        assert "leg-settings" in vector["requires"]
        for account in vector["params"]["accounts"].values():
            assert account["leg_settings"]["BTCUSDT"]["LONG"] == {"margin_type": "ISOLATED", "leverage": "20"}
        assert f"`{name}`" not in (ROOT / "binance-usdm" / corpus.OMITTED).read_text()
    plain = json.loads((ROOT / "binance-usdm" / "scenario" / "order-malformed.json").read_text())
    assert "leg-settings" not in plain["requires"]
    assert all("leg_settings" not in a for a in plain["params"]["accounts"].values())

    class WithoutLegSettings(ReferenceAdapter):
        capabilities = ReferenceAdapter.capabilities - {"leg-settings"}

    report = run(lambda: WithoutLegSettings("binance-usdm"),
                 small(profile="binance-usdm", examples=0, run_vectors=True))
    got = {v["path"]: v for v in report["vectors"]}
    skipped = got["scenario/adjust-margin.json"]
    assert skipped["status"] == "unsupported" and "leg-settings" in skipped["reason"], skipped
    assert got["scenario/order-malformed.json"]["status"] == "passed"
    assert statuses("binance-usdm", "binance-usdm")["scenario/adjust-margin.json"] == "passed"


@pytest.mark.parametrize("name", VENUES)
def test_every_venue_vector_holds_under_each_open_choice(name: str) -> None:
    """The rule itself: the reference run under each single-choice variant of a venue profile (one
    open choice set to another value the model can run) passes every vector of that venue."""
    profile = load_profile(name)
    variants = corpus.open_variants(profile)
    assert variants
    for variant in variants:
        got = statuses(variant.profile, name)
        assert got and all(s == "passed" for s in got.values()), (variant.choice, variant.value, got)


@pytest.mark.slow
@pytest.mark.parametrize("name", VENUES)
def test_every_venue_vector_holds_under_two_open_choices(name: str) -> None:
    """Interactions: with any two open choices set to other values at once, every vector still holds
    (the corpus is generated against single-choice variants only)."""
    profile = load_profile(name)
    variants = corpus.open_variants(profile)
    for a, b in itertools.combinations(variants, 2):
        if a.choice != b.choice:
            both = with_choice(with_choice(profile, a.choice, a.value), b.choice, b.value)
            got = statuses(both, name)
            assert all(s == "passed" for s in got.values()), (a.choice, a.value, b.choice, b.value, got)


@pytest.mark.parametrize(("choice", "value"), [("oversized_close", "trim"), ("funding_source", "wallet"),
                                               ("liquidation_extent", "partial_by_bracket")])
def test_an_engine_following_the_venue_on_an_open_choice_passes_and_the_seed_keeps_its_teeth(
        choice: str, value: str, tmp_path: Path) -> None:
    """An engine that follows another value on a choice binance-usdm leaves open passes the whole
    binance-usdm corpus; the same behaviour still fails the seed corpus, where the choice is modelled."""
    venue = with_choice(load_profile("binance-usdm"), choice, value)
    got = statuses(venue, "binance-usdm")
    assert got and all(s == "passed" for s in got.values()), got
    seed_vectors = tmp_path / "seed"
    shutil.copytree(ROOT / "seed", seed_vectors)
    seed = statuses(with_choice(load_profile("seed"), choice, value), "seed", seed_vectors)
    assert any(s.startswith("failed") for s in seed.values()), seed
    named = {"oversized_close": "scenario/close-exceeds-leg.json", "funding_source": "scenario/funding-per-leg.json",
             "liquidation_extent": "scenario/isolated-liquidated-above-first-bracket.json"}
    assert seed[named[choice]].startswith("failed"), seed[named[choice]]


def test_verify_flags_a_changed_missing_or_extra_omitted_list(tmp_path: Path) -> None:
    """OMITTED.md is part of the generated corpus: verify reports it changed or missing, and export
    removes generated vectors the open choices now leave out."""
    shutil.copytree(ROOT / "gate", tmp_path / "gate")
    assert corpus.verify(tmp_path, ("gate",)).ok
    (tmp_path / "gate" / corpus.OMITTED).write_text("edited\n")
    (tmp_path / "gate" / "scenario" / "mode-default.json").write_text(
        (ROOT / "seed" / "scenario" / "mode-default.json").read_text())
    result = corpus.verify(tmp_path, ("gate",))
    assert result.changed == ["gate/OMITTED.md"] and result.extra == ["gate/scenario/mode-default.json"]
    (tmp_path / "gate" / corpus.OMITTED).unlink()
    assert corpus.verify(tmp_path, ("gate",)).missing == ["gate/OMITTED.md"]
    corpus.export(tmp_path, ("gate",))
    assert corpus.verify(tmp_path, ("gate",)).ok


def test_an_engine_that_ignores_the_stated_leg_settings_is_pointed_at_them() -> None:
    """An engine that declares leg-settings but starts its legs at its own defaults fails the vectors that state
    them, and the reason says where the expected settings come from."""
    ignoring = with_choice(with_choice(load_profile("binance-usdm"), "default_margin_type", "CROSS"),
                           "default_leverage", "10")

    class IgnoresLegSettings(ReferenceAdapter):
        def reset(self, params: dict) -> None:
            super().reset({**params, "accounts": {name: {k: v for k, v in account.items() if k != "leg_settings"}
                                                  for name, account in params["accounts"].items()}})

    report = run(lambda: IgnoresLegSettings(ignoring), small(profile="binance-usdm", examples=0, run_vectors=True))
    failed = [v for v in report["vectors"] if v["status"] == "failed"]
    assert failed and all("leg_settings" in v["reason"] for v in failed if ".margin_type: " in v["reason"])
    assert any("params leg_settings" in v["reason"] for v in failed)
