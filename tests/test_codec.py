"""The model's edge: decimal strings, exact units, and errors that name the place and the field."""

from __future__ import annotations

import pytest
from hedgespec.model import initial_state, step
from hedgespec.model.actions import PlaceOrder
from hedgespec.model.codec import InputError, action_from_json, action_to_json, format_units, parse_units
from scenarios import params


@pytest.mark.parametrize("text,unit,atoms", [
    ("1", "qty", 10**8), ("0.00000001", "qty", 1), ("-2.5", "money", -25 * 10**15), ("0", "rate", 0),
    ("3.10", "price", 310_000_000), ("-0", "money", 0), ("12345678901234567890.1234567890123456", "money",
                                                            123456789012345678901234567890123456),
])
def test_parse_exact(text, unit, atoms):
    assert parse_units(text, unit) == atoms


@pytest.mark.parametrize("value,unit,text", [(10**8, "qty", "1"), (-1, "money", "-0.0000000000000001"),
                                             (0, "price", "0"), (123_450_000, "price", "1.2345")])
def test_format_canonical(value, unit, text):
    assert format_units(value, unit) == text
    assert parse_units(text, unit) == value


@pytest.mark.parametrize("raw,message", [
    ("0.000000001", "more decimals than 8"), ("abc", "not a decimal string"), ("NaN", "not a decimal string"),
    (1.5, "expected a decimal string, got float"), (None, "expected a decimal string"),
    # one grammar for every format: no exponent, sign, spaces, separators or non-ASCII digits, no huge values
    ("1e2", "not a decimal string"), ("1e999999999", "not a decimal string"), ("+1", "not a decimal string"),
    (" 0.1 ", "not a decimal string"), ("1_0", "not a decimal string"), ("\u0661.\u0662", "not a decimal string"),
    (".5", "not a decimal string"), ("1.", "not a decimal string"), ("1" * 21, "not a decimal string"),
])
def test_parse_refuses(raw, message):
    with pytest.raises(InputError, match=message) as info:
        parse_units(raw, "qty", "orders.json: step 4", "quantity")
    assert "orders.json: step 4: quantity" in str(info.value)


@pytest.mark.parametrize("obj,message", [
    ({"t": 1, "kind": "teleport"}, "kind: unknown action kind 'teleport'"),
    ({"t": 1, "kind": "deposit", "account": "A"}, "amount: missing"),
    ({"t": 1, "kind": "deposit", "account": "A", "amount": "1", "color": "red"}, "color: not a field of deposit"),
    ({"t": "1", "kind": "deposit", "account": "A", "amount": "1"}, "t: a non-negative integer"),
    ({"t": 1, "kind": "place_order", "account": "A", "order_id": "o", "instrument": "BTCUSDT", "side": "BUY",
      "order_type": "MARKET", "quantity": "1", "price": "1", "reduce_only": "yes"}, "reduce_only: expected true or false"),
    ([1, 2], "an action is a JSON object"),
])
def test_action_errors_name_the_field(obj, message):
    with pytest.raises(InputError, match=message) as info:
        action_from_json(obj, "scenario.json: step 7")
    assert str(info.value).startswith("scenario.json: step 7")


def test_action_round_trip():
    obj = {"t": 3, "kind": "place_order", "account": "A", "order_id": "o1", "instrument": "BTCUSDT", "side": "SELL",
           "position_side": "SHORT", "order_type": "LIMIT", "quantity": "0.5", "price": "101.5"}
    assert action_to_json(action_from_json(obj, "x")) == obj


@pytest.mark.parametrize("quantity,price,reason", [
    (0, 100 * 10**8, "INVALID_ARGUMENT"), (-10**8, 100 * 10**8, "INVALID_ARGUMENT"),
    (10**4, 100 * 10**8, "INVALID_ARGUMENT"),  # 0.0001: off the 0.001 lot
    (10**5, 100_05 * 10**6, "INVALID_ARGUMENT"),  # 100.05: off the 0.1 tick
])
def test_malformed_orders_are_rejections_not_exceptions(quantity, price, reason):
    """HM-ORD-005, HM-ATOM-001: the state comes back unchanged, with the reason."""
    state = initial_state(params())
    outcome, after = step(state, PlaceOrder(1, "A", "o", "BTCUSDT", "BUY", "LONG", "MARKET", quantity, price))
    assert (outcome.kind, outcome.reason) == ("rejected", reason)
    assert after is state


def test_wrong_python_types_are_rejections():
    state = initial_state(params())
    outcome, after = step(state, PlaceOrder(1, "A", "o", "BTCUSDT", "BUY", "LONG", "MARKET", "1", 100))  # type: ignore[arg-type]
    assert outcome.reason == "INVALID_ARGUMENT" and "quantity" in outcome.message and after is state
    outcome, _ = step(state, object())
    assert outcome.reason == "INVALID_ARGUMENT"


def test_unknown_account_instrument_side():
    state = initial_state(params())
    for action, field in ((PlaceOrder(1, "Z", "o", "BTCUSDT", "BUY", "LONG", "MARKET", 10**5, 10**10), "account"),
                          (PlaceOrder(1, "A", "o", "DOGE", "BUY", "LONG", "MARKET", 10**5, 10**10), "instrument"),
                          (PlaceOrder(1, "A", "o", "BTCUSDT", "BUY", "UP", "MARKET", 10**5, 10**10), "position_side")):
        outcome, after = step(state, action)
        assert outcome.reason == "INVALID_ARGUMENT" and field in outcome.message and after is state


@pytest.mark.parametrize("mutate,message", [
    (lambda p: p.pop("instruments"), "instruments: a non-empty list"),
    (lambda p: p["instruments"][0].update(tick_size="-1"), "tick_size and lot_size must be positive"),
    (lambda p: p["accounts"]["A"].update(wallet="1.2.3"), "accounts.A: wallet: not a decimal string"),
    (lambda p: p["accounts"]["A"].update(wallet="1e999999999"), "accounts.A: wallet: not a decimal string"),
    (lambda p: p["accounts"]["A"].update(walet="1"), "accounts.A: walet: unknown field"),
    (lambda p: p["instruments"][0].update(tick="0.1"), r"instruments\[0\]: tick: unknown field"),
    (lambda p: p["instruments"][0].update(brackets=[{**p["instruments"][0]["brackets"][0], "mmr": "0.1"}]),
     r"instruments\[0\]: brackets\[0\]: mmr: unknown field"),
    (lambda p: p.update(accounts=["a", 1]), r"accounts\[1\]: an account ID is a non-empty string, got 1"),
    (lambda p: p.update(accounts=[{"x": 1}]), r"accounts\[0\]: an account ID is a non-empty string"),
    (lambda p: p.update(accounts=["a", "a"]), "accounts: an account ID is listed twice"),
    (lambda p: p.update(mark_prices={"NOPE": "1"}), "mark_prices.NOPE: unknown instrument"),
    (lambda p: p.update(extra=1), "extra: unknown field"),
    (lambda p: p.update(profile=5), "profile: a profile name or file path is required"),
    (lambda p: p.update(profile="no-such-venue"), "profile: no-such-venue: no such profile file"),
])
def test_params_errors_name_the_field(mutate, message):
    p = params()
    p["instruments"] = [dict(i) for i in p["instruments"]]
    p["accounts"] = {k: dict(v) for k, v in p["accounts"].items()}
    mutate(p)
    with pytest.raises(InputError, match=message):
        initial_state(p, where="vector.json: params")


def test_optional_fields_take_their_defaults():
    action = action_from_json({"t": 1, "kind": "place_order", "account": "A", "order_id": "o", "instrument": "BTCUSDT",
                               "side": "BUY", "order_type": "MARKET", "quantity": "1", "price": "1"}, "x")
    assert action.position_side == "" and action.reduce_only is False and action.stop_price == 0


def test_a_modelled_choice_the_model_cannot_run_is_refused(tmp_path):
    import json

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"profile_format": "1", "name": "cooldown", "extends": "seed", "choices": {
        "mode_switch_cooldown_seconds": {"value": 30, "status": "modelled", "source": "an author's venue"}}}))
    with pytest.raises(InputError, match="mode_switch_cooldown_seconds: a cooldown is not simulated"):
        initial_state(params(), str(path))
