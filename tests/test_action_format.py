"""The action format as the checks read it (``observe.ACTION_FORMAT``, ``action_format_problems``) and HM-ATOM-002.

The table is held to the format reference's codec field by field, and ``action_format_problems`` to what the codec
refuses, both ways, over actions with fields replaced by any JSON value, left out or added. The reference refuses
each such action with INVALID_ARGUMENT and passes every step check on it (before rulebook 1.3.0, a list where a name
goes made older checks raise, and HM-MODE-004 and HM-MARG-005 flagged the refusal itself). The random generator's
off-format actions are off the format."""

from __future__ import annotations

import dataclasses
import random
import typing
from typing import Any

import pytest
from hedgespec.conformance.generate import RandomChooser, off_format
from hedgespec.model import actions as A
from hedgespec.model.codec import _OPTIONAL_DEFAULTS, ACTION_FIELD_UNITS, InputError, action_from_json
from hedgespec.model.units import MONEY_DECIMALS, PRICE_DECIMALS, QTY_DECIMALS, RATE_DECIMALS
from hedgespec.spec.observe import (
    ACTION_FORMAT,
    FLAG,
    OPTIONAL_FIELDS,
    TEXT,
    TIME,
    UNIT_DECIMALS,
    action_format_problems,
)
from hedgespec.spec.profiles import builtin_profile_names
from hypothesis import given, settings
from hypothesis import strategies as st
from scenarios import assert_mutant_caught, checked_steps, params

PREFIX = [  # both legs open, a resting limit and a stop on the long
    {"kind": "place_order", "account": "A", "order_id": "l", "instrument": "BTCUSDT", "side": "BUY",
     "position_side": "LONG", "order_type": "MARKET", "quantity": "1", "price": "100"},
    {"kind": "place_order", "account": "A", "order_id": "s", "instrument": "BTCUSDT", "side": "SELL",
     "position_side": "SHORT", "order_type": "MARKET", "quantity": "1", "price": "100"},
    {"kind": "place_order", "account": "A", "order_id": "rest", "instrument": "BTCUSDT", "side": "BUY",
     "position_side": "LONG", "order_type": "LIMIT", "quantity": "1", "price": "90"},
    {"kind": "place_order", "account": "A", "order_id": "stop", "instrument": "BTCUSDT", "side": "SELL",
     "position_side": "LONG", "order_type": "STOP_MARKET", "quantity": "1", "stop_price": "80"},
]
WELL_FORMED = [  # one of each kind, each asking for something the checks judge (a busy leg, the mode in force)
    {"kind": "deposit", "account": "A", "amount": "10"},
    {"kind": "withdraw", "account": "A", "amount": "10"},
    {"kind": "set_position_mode", "account": "A", "mode": "HEDGE"},
    {"kind": "set_position_mode", "account": "A", "mode": "ONE_WAY", "scope": "*"},
    {"kind": "set_margin_type", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG",
     "margin_type": "CROSS"},
    {"kind": "set_leverage", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG", "leverage": "5"},
    {"kind": "adjust_margin", "account": "A", "instrument": "BTCUSDT", "position_side": "LONG", "amount": "1"},
    {"kind": "place_order", "account": "A", "order_id": "n", "instrument": "BTCUSDT", "side": "SELL",
     "position_side": "LONG", "order_type": "MARKET", "quantity": "0.5", "price": "100"},
    {"kind": "place_order", "account": "A", "order_id": "n", "instrument": "BTCUSDT", "side": "SELL",
     "position_side": "LONG", "order_type": "STOP_MARKET", "quantity": "0", "stop_price": "80",
     "close_position": True},
    {"kind": "cancel_order", "account": "A", "order_id": "rest"},
    {"kind": "market_trade", "instrument": "BTCUSDT", "price": "90", "quantity": "1"},
    {"kind": "mark_price", "instrument": "BTCUSDT", "price": "95"},
    {"kind": "funding", "instrument": "BTCUSDT", "rate": "0.0001"},
    {"kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": "50"},
]
JSON = st.recursive(st.none() | st.booleans() | st.integers(-10, 10**6) | st.text(max_size=6)
                    | st.sampled_from(["A", "BTCUSDT", "LONG", "1", "0.5", "-1", "1.000000001", "1e3", "100"]),
                    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
                    max_leaves=4)


@st.composite
def actions(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed action of some kind with up to two changes: a field set to any JSON value, left out, or one
    its kind does not have added."""
    action = dict(draw(st.sampled_from(WELL_FORMED)))
    fields = sorted(ACTION_FORMAT[action["kind"]])
    for _ in range(draw(st.integers(0, 2))):
        change = draw(st.sampled_from(["set", "leave out", "add"]))
        name = draw(st.sampled_from(fields)) if change != "add" else draw(st.sampled_from(["client_tag", "kind2"]))
        if change == "leave out":
            action.pop(name, None)
        else:
            action[name] = draw(JSON)
    return action


def test_the_table_is_the_codecs() -> None:
    """Every kind, field, JSON type and optional field of ``ACTION_FORMAT`` is the format reference's (an
    enumeration is a string to the codec; its values are held to the step below)."""
    assert set(ACTION_FORMAT) == set(A.ACTION_KINDS)
    for kind, cls in A.ACTION_KINDS.items():
        hints = typing.get_type_hints(cls)
        expected = {}
        for f in dataclasses.fields(cls):
            expected[f.name] = (TIME if f.name == "t" else ACTION_FIELD_UNITS.get(f.name)
                                or (FLAG if hints[f.name] is bool else TEXT))
        as_codec = {name: TEXT if isinstance(type_, tuple) else type_ for name, type_ in ACTION_FORMAT[kind].items()}
        assert as_codec == expected, kind
    assert OPTIONAL_FIELDS == set(_OPTIONAL_DEFAULTS)
    assert UNIT_DECIMALS == {"qty": QTY_DECIMALS, "price": PRICE_DECIMALS, "money": MONEY_DECIMALS,
                             "rate": RATE_DECIMALS, "int": 0}


ENUMERATED = " is not one of "  # how a value outside its enumeration is named


@settings(max_examples=600, deadline=None)
@given(action=actions())
def test_problems_are_what_the_codec_refuses(action: dict[str, Any]) -> None:
    """Both ways: an action with a problem of JSON type listed is refused by the codec, and one with none is read
    (a value outside its enumeration is the step's to refuse: the test below)."""
    problems = [p for p in action_format_problems({**action, "t": 1}) if ENUMERATED not in p]
    try:
        action_from_json({**action, "t": 1}, "action")
    except InputError as exc:
        assert problems, exc
    else:
        assert problems == [], problems


@pytest.mark.parametrize("profile", builtin_profile_names())
def test_every_value_outside_an_enumeration_is_refused_by_the_step(profile: str) -> None:
    """For every enumerated field of every kind, the value in lower case and an unknown value are refused with
    INVALID_ARGUMENT, and every check passes (a value of the enumeration is taken: the other tests)."""
    for good in WELL_FORMED:
        for name, type_ in ACTION_FORMAT[good["kind"]].items():
            if not isinstance(type_, tuple):
                continue
            for value in {good.get(name, "LONG").lower(), "IOC", " LONG"} - set(type_):
                last = checked_steps(params(profile), [*PREFIX, {**good, name: value}])[-1]
                assert (last.outcome["kind"], last.outcome["reason"]) == ("rejected", "INVALID_ARGUMENT"), (
                    good, name, value, last.outcome)


def test_each_kind_of_problem_is_named() -> None:
    order = WELL_FORMED[7]
    assert action_format_problems({**order, "t": 1}) == []
    cases = {"client_tag": "x", "account": ["A"], "quantity": 1, "reduce_only": "true", "t": True, "price": "1e3",
             "order_type": "market", "position_side": "long", "side": ""}
    for name, value in cases.items():
        found = action_format_problems({"t": 1, **order, name: value})
        assert len(found) == 1 and found[0].startswith(name + ":"), (name, found)
    assert action_format_problems({"t": 1, **{k: v for k, v in order.items() if k != "side"}}) == ["side: missing"]
    assert action_format_problems({"t": 1, "kind": "iceberg"}) == ["kind: 'iceberg' is not an action kind"]
    assert action_format_problems({"t": 1, **order, "quantity": "0.000000001"})  # nine decimals: more than QTY's


@pytest.mark.parametrize("profile", builtin_profile_names())
@settings(max_examples=100, deadline=None)
@given(action=actions(), hedge=st.booleans())
def test_the_reference_refuses_an_action_off_the_format_and_passes_every_check(profile: str,
                                                                               action: dict[str, Any],
                                                                               hedge: bool) -> None:
    last = checked_steps(params(profile, hedge=hedge), [*PREFIX, action])[-1]
    if action_format_problems(last.action):
        assert (last.outcome["kind"], last.outcome["reason"]) == ("rejected", "INVALID_ARGUMENT"), last.outcome


def test_the_checks_that_raised_or_flagged_the_refusal_before() -> None:
    """Rulebook 1.2.0 raised on these (a list where a name goes) or flagged the reference's refusal (HM-MODE-004: a
    field the kind lacks; HM-MARG-005: a position side that is not a string)."""
    order, switch, margin = WELL_FORMED[7], WELL_FORMED[2], WELL_FORMED[4]
    for p, action in [(params("seed"), {**order, "account": ["A"]}), (params("seed"), {**order, "order_id": {}}),
                      (params("seed"), {**switch, "account": ["A"]}), (params("seed"), {**switch, "note": "x"}),
                      (params("seed"), {**margin, "note": "x"}), (params("binance-usdm"), {**margin, "position_side": 7})]:
        last = checked_steps(p, [*PREFIX, action])[-1]
        assert last.outcome["reason"] == "INVALID_ARGUMENT"


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), index=st.integers(0, len(WELL_FORMED) - 1))
def test_the_generator_off_format_is_off_the_format(seed: int, index: int) -> None:
    """What the random generator sends as off the format is so, and still names its kind."""
    sent = off_format(RandomChooser(random.Random(seed)), {"t": 1, **WELL_FORMED[index]})
    assert action_format_problems(sent) and sent["kind"] == WELL_FORMED[index]["kind"]


def test_a_lenient_reader_fails_hm_atom_002() -> None:
    """The library engine ``lenient-reader`` reads a list as its element, a JSON number as its decimal string, a
    flag in text or a value in lower case as meant and ignores fields its kind lacks: it takes each of these, and
    HM-ATOM-002 says so."""
    order = WELL_FORMED[7]
    for change in ({"account": ["A"]}, {"quantity": 1}, {"client_tag": "x"}, {"reduce_only": "true"},
                   {"order_type": "market"}, {"position_side": "long"}):
        assert_mutant_caught("lenient-reader", "HM-ATOM-002", (params("seed"), [*PREFIX, {**order, **change}]))
