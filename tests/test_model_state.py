"""The model's state keeps its derived index exact: ``Account.open_legs`` lists exactly the legs whose
quantity is not 0, after every step of random runs under every profile (available balance and the
cross pool read only those legs)."""

from __future__ import annotations

import pytest
from hedgespec.model import initial_state, step
from hedgespec.model.codec import InputError, action_from_json, format_units
from hedgespec.spec.profiles import builtin_profile_names
from scenarios import directed_actions, params, random_actions


@pytest.mark.parametrize("profile", builtin_profile_names())
def test_open_legs_are_exactly_the_legs_with_a_quantity(profile: str) -> None:
    runs = [(params(profile, hedge=seed % 2 == 0), random_actions(seed, 150)) for seed in range(4)]
    runs += [(params(profile), actions) for actions in directed_actions()]
    opened = 0
    for run_params, actions in runs:
        state = initial_state(run_params)
        for raw in actions:
            try:
                action = action_from_json(raw, "run")
            except InputError:
                continue
            _, state = step(state, action)
            for account in state.accounts.values():
                expected = {key for key, leg in account.legs.items() if leg.quantity}
                assert set(account.open_legs) == expected
                opened += len(expected)
    assert opened > 0


def _with_settings(settings: object, account: str = "alice") -> dict:
    from hedgespec.conformance.world import default_params
    run_params = default_params("bybit-v5")
    run_params["accounts"][account]["leg_settings"] = settings
    return run_params


def test_stated_leg_settings_replace_the_profile_defaults_and_nothing_else() -> None:
    """``leg_settings`` in the run parameters: the stated legs start with those settings; a leg not stated
    keeps the profile's defaults; an opening order reserves margin at the stated leverage."""
    from hedgespec.model.state import LegSettings
    stated = {"BTCUSDT": {"LONG": {"margin_type": "CROSS", "leverage": "10"}}}
    state = initial_state(_with_settings(stated))
    assert state.accounts["alice"].settings == {("BTCUSDT", "LONG"): LegSettings("CROSS", 10)}
    assert state.accounts["bob"].settings == {}
    order = {"t": 1, "kind": "place_order", "account": "alice", "order_id": "o", "instrument": "BTCUSDT",
             "side": "BUY", "position_side": "LONG", "order_type": "LIMIT", "quantity": "1", "price": "20000"}
    outcome, after = step(state, action_from_json(order, "order"))
    assert outcome.kind == "accepted"
    assert format_units(after.accounts["alice"].orders["o"].margin_reserved, "money") == "2000"  # 20000 / 10


def test_instrument_scoped_settings_state_every_side_alike() -> None:
    """Under ``margin_type_scope: instrument`` one setting covers the instrument: stating one side only, or
    sides that differ, is an error naming the place; all three sides alike are accepted."""
    import dataclasses

    from hedgespec.spec.profiles import Choice, load_profile
    profile = load_profile("bybit-v5")
    profile = dataclasses.replace(profile, choices={**profile.choices,
                                                    "margin_type_scope": Choice("instrument", "modelled", "test")})
    one = {"margin_type": "CROSS", "leverage": "10"}
    with pytest.raises(InputError, match=r"accounts\.alice: leg_settings\.BTCUSDT: margin_type_scope is instrument"):
        initial_state(_with_settings({"BTCUSDT": {"LONG": one}}), profile)
    differ = {"LONG": one, "SHORT": {**one, "margin_type": "ISOLATED"}, "BOTH": one}
    with pytest.raises(InputError, match="LONG, SHORT and BOTH are all stated with the same margin_type"):
        initial_state(_with_settings({"BTCUSDT": differ}), profile)
    alike = {"LONG": one, "SHORT": {**one, "leverage": "3"}, "BOTH": one}  # leverage_scope stays per leg
    assert initial_state(_with_settings({"BTCUSDT": alike}), profile).accounts["alice"].settings[
        ("BTCUSDT", "SHORT")].leverage == 3
