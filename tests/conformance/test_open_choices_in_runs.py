"""The random differential run and the choices a profile leaves open.

Where the engine departs from the reference and the reference, run with one open choice of the profile
set to another value it can run, takes every step of the case as the engine did, the engine followed a
behaviour the profile leaves open: the case ends there, the report says so in a note, and it is not a
failure. Under a profile that models the choice (the seed models every choice) the same engine fails.

The engines here do not declare ``leg-settings``, so their legs start in their own default margin type
and leverage; an engine that declares it is handed the settings (the last test).
"""

from __future__ import annotations

from conform_helpers import small
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.runner import run
from hedgespec.spec.profiles import load_profile
from test_open_choices_in_vectors import with_choice


class WithoutLegSettings(ReferenceAdapter):
    """The reference model under a profile, as an engine that cannot start its legs from stated settings."""

    capabilities = ReferenceAdapter.capabilities - {"leg-settings"}


def _other_margin_type(profile_name: str) -> str:
    return "CROSS" if load_profile(profile_name).effective("default_margin_type") == "ISOLATED" else "ISOLATED"


def test_an_engine_following_an_open_default_is_no_failure_under_the_venue_profile() -> None:
    """binance-usdm leaves default_margin_type unconfirmed: an engine with the other default passes."""
    other = _other_margin_type("binance-usdm")
    engine = with_choice(load_profile("binance-usdm"), "default_margin_type", other)
    report = run(lambda: WithoutLegSettings(engine), small(profile="binance-usdm", examples=6, steps=20))
    assert report["summary"]["exit_status"] == 0, report["differential_failures"]
    assert report["differential_failures"] == []
    [note] = [n for n in report["notes"] if "default_margin_type" in n]
    assert f"engine followed default_margin_type = {other!r}, which profile binance-usdm leaves unconfirmed" in note
    assert "not a failure" in note and "(first: case 0, step " in note


def test_the_same_engine_fails_where_the_profile_models_the_choice() -> None:
    """The seed models default_margin_type: the same departure is an unexplained divergence."""
    other = _other_margin_type("seed")
    engine = with_choice(load_profile("seed"), "default_margin_type", other)
    report = run(lambda: WithoutLegSettings(engine), small(profile="seed", examples=6, steps=20))
    assert report["summary"]["exit_status"] == 1
    assert {f["category"] for f in report["differential_failures"]} == {"unexplained divergence"}
    assert not any("default_margin_type" in n for n in report["notes"])


def test_the_reference_under_a_venue_profile_follows_no_open_choice() -> None:
    """The reference itself never ends a case early: every step compares."""
    report = run(lambda: ReferenceAdapter("binance-usdm"), small(profile="binance-usdm", examples=4, steps=20))
    assert report["summary"]["exit_status"] == 0 and report["differential_failures"] == []
    assert not any("random case(s) ended where the engine followed" in n for n in report["notes"])


def test_an_engine_following_two_open_choices_at_once_is_no_failure_either() -> None:
    """Two open choices of binance-usdm followed together (the default margin type and leverage): the case
    ends with one note naming both; under the seed, which models both, the same engine still fails."""
    other_type = _other_margin_type("binance-usdm")
    other_leverage = "5" if load_profile("binance-usdm").effective("default_leverage") != "5" else "10"
    engine = with_choice(with_choice(load_profile("binance-usdm"), "default_margin_type", other_type),
                         "default_leverage", other_leverage)
    report = run(lambda: WithoutLegSettings(engine), small(profile="binance-usdm", examples=6, steps=20))
    assert report["summary"]["exit_status"] == 0, report["differential_failures"]
    [note] = [n for n in report["notes"] if "default_leverage" in n]
    assert f"default_margin_type = {other_type!r}" in note and f"default_leverage = {other_leverage!r}" in note
    seed = with_choice(with_choice(load_profile("seed"), "default_margin_type", _other_margin_type("seed")),
                       "default_leverage", other_leverage)
    failed = run(lambda: WithoutLegSettings(seed), small(profile="seed", examples=6, steps=20))
    assert {f["category"] for f in failed["differential_failures"]} == {"unexplained divergence"}


def test_an_engine_handed_the_leg_settings_runs_every_step_whatever_its_defaults() -> None:
    """With ``leg-settings`` declared, the random run states every leg's margin type and leverage where the
    venue leaves the defaults open: the engine's own defaults decide nothing, no case ends early for them,
    and every step is compared."""
    other_type = _other_margin_type("binance-usdm")
    engine = with_choice(with_choice(load_profile("binance-usdm"), "default_margin_type", other_type),
                         "default_leverage", "5")
    report = run(lambda: ReferenceAdapter(engine), small(profile="binance-usdm", examples=6, steps=20))
    assert report["summary"]["exit_status"] == 0, report["differential_failures"]
    assert not any("random case(s) ended where the engine followed" in n for n in report["notes"]), report["notes"]
    without = run(lambda: WithoutLegSettings(engine), small(profile="binance-usdm", examples=6, steps=20))
    assert any("default_margin_type" in n for n in without["notes"])


def test_an_engine_default_leverage_no_fixed_variant_guesses_is_read_from_its_legs() -> None:
    """A venue engine starting legs at CROSS and 10x (binance-usdm leaves both defaults open; the variants tried
    for any profile are 5x and the other margin type): the leverage the engine's legs show is tried as its
    default, so the cases end with a note naming both values, and a hint to declare leg-settings."""
    engine = with_choice(with_choice(load_profile("binance-usdm"), "default_margin_type", "CROSS"),
                         "default_leverage", "10")
    report = run(lambda: WithoutLegSettings(engine), small(profile="binance-usdm", examples=6, steps=20))
    assert report["summary"]["exit_status"] == 0, report["differential_failures"]
    [note] = [n for n in report["notes"] if "default_leverage" in n]
    assert "default_margin_type = 'CROSS'" in note and "default_leverage = '10'" in note
    assert note.endswith("declare leg-settings to have every leg's settings stated in the run parameters instead")
    seed = with_choice(with_choice(load_profile("seed"), "default_margin_type", "CROSS"), "default_leverage", "10")
    failed = run(lambda: WithoutLegSettings(seed), small(profile="seed", examples=6, steps=20))
    assert {f["category"] for f in failed["differential_failures"]} == {"unexplained divergence"}


def test_the_random_run_states_other_settings_for_the_second_account() -> None:
    """The run states the first account's legs as the profile runs them and the second's otherwise (another
    margin type and leverage): an engine that declares leg-settings but starts every leg at the profile's own
    values, ignoring what is stated, is found out."""

    class IgnoresLegSettings(ReferenceAdapter):
        def reset(self, params: dict) -> None:
            super().reset({**params, "accounts": {name: {k: v for k, v in account.items() if k != "leg_settings"}
                                                  for name, account in params["accounts"].items()}})

    report = run(lambda: IgnoresLegSettings("binance-usdm"), small(profile="binance-usdm", examples=6, steps=20))
    assert report["summary"]["exit_status"] == 1
    divergences = [d for f in report["differential_failures"] for d in f.get("divergence", [])]
    assert any("accounts.bob" in d and ("margin_type" in d or "leverage" in d) for d in divergences), divergences
    assert run(lambda: ReferenceAdapter("binance-usdm"),
               small(profile="binance-usdm", examples=6, steps=20))["summary"]["exit_status"] == 0
