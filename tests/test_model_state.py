"""The model's state keeps its derived index exact: ``Account.open_legs`` lists exactly the legs whose
quantity is not 0, after every step of random runs under every profile (available balance and the
cross pool read only those legs)."""

from __future__ import annotations

import pytest
from hedgespec.model import initial_state, step
from hedgespec.model.codec import InputError, action_from_json
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
