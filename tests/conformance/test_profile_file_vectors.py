"""A run under a profile file gets vectors made for that file (docs/guides/engine-authors.md, "Under a venue
profile"): the built-in corpus is for the built-in profiles only, and a file that decides a venue's open
choices is compared on everything it decides."""

from __future__ import annotations

import json
from pathlib import Path

from conform_helpers import small
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.runner import run
from hedgespec.spec.profiles import load_profile
from test_open_choices_in_runs import WithoutLegSettings


def profile_file(tmp_path: Path, name: str, **choices: str) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({
        "profile_format": "1", "name": name, "title": "an engine's own values", "extends": "binance-usdm",
        "choices": {c: {"value": v, "status": "modelled", "source": "the engine's documentation"}
                    for c, v in choices.items()}}))
    return str(path)


def test_a_profile_file_gets_vectors_that_state_what_it_models(tmp_path: Path) -> None:
    """binance-usdm leaves the default margin type and leverage open; a file that models them (CROSS, 10x) gets
    vectors stating them without leg settings. The engine that follows the file passes them; one that starts
    its legs at the seed's ISOLATED 20x, which the built-in binance-usdm vectors cannot tell apart, fails them."""
    mine = profile_file(tmp_path, "my-binance", default_margin_type="CROSS", default_leverage="10")
    report = run(lambda: WithoutLegSettings(load_profile(mine)),
                 small(profile=mine, examples=2, run_vectors=True))
    statuses = {v["path"]: v["status"] for v in report["vectors"]}
    assert len(statuses) >= 35 and set(statuses.values()) == {"passed"}, statuses
    assert report["summary"]["exit_status"] == 0
    assert any("profile my-binance is not built in: its vectors were made" in n for n in report["notes"])
    adjust = next(v for v in report["vectors"] if v["path"] == "scenario/adjust-margin.json")
    assert adjust["status"] == "passed"  # no leg-settings needed: the file decides the defaults

    other = run(lambda: WithoutLegSettings("binance-usdm"), small(profile=mine, examples=0, run_vectors=True))
    assert any(v["status"] == "failed" for v in other["vectors"])
    builtin = run(lambda: WithoutLegSettings("binance-usdm"),
                  small(profile="binance-usdm", examples=0, run_vectors=True))
    assert {v["status"] for v in builtin["vectors"]} <= {"passed", "unsupported"}


def test_a_file_reusing_a_built_in_name_does_not_get_the_built_in_vectors(tmp_path: Path) -> None:
    """The built-in corpus is chosen by the profile's digest, not its name."""
    mine = profile_file(tmp_path, "binance-usdm", oversized_close="trim")
    report = run(lambda: ReferenceAdapter(load_profile(mine)), small(profile=mine, examples=0, run_vectors=True))
    assert any("is not built in" in n for n in report["notes"])
    assert {v["status"] for v in report["vectors"]} == {"passed"}
    assert "scenario/close-exceeds-leg.json" in {v["path"] for v in report["vectors"]}  # trim is now modelled


def test_a_default_leverage_above_the_instruments_maximum_is_stated_at_the_maximum(tmp_path: Path) -> None:
    """The run's instruments allow at most 50x; a file whose default is 100x still runs: the legs' settings are
    stated at what a leverage request could set, never refused at the reset."""
    mine = profile_file(tmp_path, "my-100x", default_leverage="100")
    report = run(lambda: ReferenceAdapter(load_profile(mine)), small(profile=mine, examples=2))
    assert report["summary"]["exit_status"] == 0, report["engine_failures"]
    assert report["summary"]["differential"]["steps"] > 0


def test_vectors_given_for_a_reused_name_are_not_run_against_another_text(tmp_path: Path) -> None:
    """``--vectors`` with the built-in binance-usdm corpus under a file named binance-usdm that decides a choice
    differently: the vectors were made for another text of the profile and are reported unsupported."""
    from hedgespec.conformance import vectors as V

    mine = profile_file(tmp_path, "binance-usdm", oversized_close="trim")
    report = run(lambda: ReferenceAdapter(load_profile(mine)),
                 small(profile=mine, examples=0, run_vectors=True, vectors=V.builtin_root() / "binance-usdm"))
    assert report["vectors"] and {v["status"] for v in report["vectors"]} == {"unsupported"}
    assert all("made for another text of profile binance-usdm" in v["reason"] for v in report["vectors"])
