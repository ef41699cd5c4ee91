"""``observe.order_format_problems`` against the reference: which orders may be refused with INVALID_ARGUMENT ahead
of INSTRUMENT_EXPIRED, POSITION_SIDE_MISMATCH and REDUCE_ONLY_FORBIDDEN (HM-ORD-001, HM-ORD-009, HM-SETL-002).

Both directions, over orders drawn from valid and broken values of every field: an order with a problem listed is
refused by the reference as malformed (INVALID_ARGUMENT, or DUPLICATE_ORDER_ID for an id in use), and an order with
none is refused with INVALID_ARGUMENT only for what the format reference checks after the position side (a
conditional order that would open a leg or trigger at once)."""

from __future__ import annotations

from typing import Any

import pytest
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.spec.observe import order_format_problems, refusals_checked_first
from hedgespec.spec.profiles import builtin_profile_names
from hypothesis import given, settings
from hypothesis import strategies as st
from scenarios import checked_steps, iter_step_views, params

PREFIX = [  # a long of 1 open, a resting limit "rest", ETHUSDT_Q expired; the state's time is 3
    {"t": 1, "kind": "place_order", "account": "A", "order_id": "l", "instrument": "BTCUSDT", "side": "BUY",
     "position_side": "LONG", "order_type": "MARKET", "quantity": "1", "price": "100"},
    {"t": 2, "kind": "place_order", "account": "A", "order_id": "rest", "instrument": "BTCUSDT", "side": "BUY",
     "position_side": "LONG", "order_type": "LIMIT", "quantity": "1", "price": "90"},
    {"t": 3, "kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": "50"},
]
LATE_INVALID = ("conditional orders close a leg", "would trigger immediately")
ABSENT = object()

FIELDS: dict[str, list[Any]] = {
    "t": [4, 3, 2, True, "4"],
    "account": ["A", "Z"],
    "order_id": ["n", "rest", "", 7],
    "instrument": ["BTCUSDT", "ETHUSDT_Q", "XYZ"],
    "side": ["BUY", "SELL", "buy"],
    "position_side": [ABSENT, "", "BOTH", "LONG", "SHORT", "long"],
    "order_type": ["MARKET", "LIMIT", "STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET", "ICEBERG"],
    "quantity": [ABSENT, "0", "0.5", "0.0005", "-1", "1e1", "0.000000001", 1],
    "price": [ABSENT, "0", "100", "100.05", "-100", "abc"],
    "stop_price": [ABSENT, "0", "80", "120", "80.05"],
    "activation_price": [ABSENT, "0", "110", "-1"],
    "callback_rate": [ABSENT, "0", "0.01", "1", "0.000000001"],
    "reduce_only": [ABSENT, False, True, "yes"],
    "close_position": [ABSENT, False, True, 1],
    "extra": [ABSENT, "x"],
}


TYPE_FIELDS = {"MARKET": {"price": "100"}, "LIMIT": {"price": "100"}, "STOP_MARKET": {"stop_price": "80"},
               "TAKE_PROFIT_MARKET": {"stop_price": "120"}, "TRAILING_STOP_MARKET": {"callback_rate": "0.01"}}


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed order of some type, side and leg, with up to two of its fields (or absent ones) set to any
    value, valid or broken, of ``FIELDS``."""
    order_type = draw(st.sampled_from(sorted(TYPE_FIELDS)))
    order: dict[str, Any] = {"t": 4, "kind": "place_order", "account": "A", "order_id": "n", "instrument": "BTCUSDT",
                             "side": draw(st.sampled_from(["BUY", "SELL"])),
                             "position_side": draw(st.sampled_from(["LONG", "SHORT", "BOTH", ""])),
                             "order_type": order_type, "quantity": "0.5", **TYPE_FIELDS[order_type]}
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=2, unique=True)):
        order[name] = draw(st.sampled_from(FIELDS[name]))
    return {k: v for k, v in order.items() if v is not ABSENT}


@settings(max_examples=500, deadline=None)
@given(order=orders(), profile=st.sampled_from(["seed", "binance-usdm", "gate"]), hedge=st.booleans())
def test_problems_are_what_the_reference_refuses_as_malformed(order: dict[str, Any], profile: str,
                                                              hedge: bool) -> None:
    p = params(profile, hedge=hedge)
    *_, view = iter_step_views(ReferenceAdapter(profile), p, [*PREFIX, order], keep_t=True)
    problems = order_format_problems(view.before, p, order)
    outcome = view.outcome
    if problems:
        assert outcome["kind"] == "rejected", (problems, outcome)
        assert outcome["reason"] in ("INVALID_ARGUMENT", "DUPLICATE_ORDER_ID"), (problems, outcome)
    elif outcome.get("reason") == "INVALID_ARGUMENT":
        assert any(late in outcome["message"] for late in LATE_INVALID), (order, outcome)


def test_a_well_formed_order_has_no_problem_and_each_broken_field_one() -> None:
    p = params("seed")
    *_, view = iter_step_views(ReferenceAdapter("seed"), p, PREFIX, keep_t=True)
    good = {"t": 4, "kind": "place_order", "account": "A", "order_id": "n", "instrument": "BTCUSDT", "side": "SELL",
            "position_side": "LONG", "order_type": "MARKET", "quantity": "0.5", "price": "100"}
    assert order_format_problems(view.after, p, good) == []
    broken = {"t": 2, "account": "Z", "order_id": "", "instrument": "XYZ", "side": "buy", "position_side": "long",
              "order_type": "ICEBERG", "quantity": "0.0005", "price": "100.05", "reduce_only": "yes", "extra": "x"}
    for name, value in broken.items():
        found = order_format_problems(view.after, p, {**good, name: value})
        assert len(found) == 1 and found[0].startswith(name), (name, found)


CLOSE_STOP_WITHOUT_QUANTITY = {"kind": "place_order", "account": "A", "order_id": "c", "instrument": "BTCUSDT",
                               "side": "SELL", "position_side": "LONG", "order_type": "STOP_MARKET",
                               "stop_price": "80", "close_position": True}


def test_a_required_field_left_out_or_a_list_where_a_name_goes_is_a_problem() -> None:
    """The codec refuses an order without a quantity before anything else, a close-position one included (whose
    quantity would be 0): such an order may be refused with INVALID_ARGUMENT ahead of the position side, the expiry
    and the leg (HM-ORD-001, HM-ORD-004, HM-SETL-002). A list where the account, instrument or order id goes is a
    problem too, read without a crash."""
    p = params("seed")
    *_, view = iter_step_views(ReferenceAdapter("seed"), p, PREFIX, keep_t=True)
    close = {**CLOSE_STOP_WITHOUT_QUANTITY, "t": 4}
    assert order_format_problems(view.after, p, close) == ["quantity: missing"]
    assert order_format_problems(view.after, p, {**close, "quantity": "0"}) == []
    for name in ("account", "instrument", "order_id"):
        found = order_format_problems(view.after, p, {**close, "quantity": "0", name: [close[name]]})
        assert any(problem.startswith(name) for problem in found), (name, found)
        assert refusals_checked_first(view.after, p, {**close, "quantity": "0", name: [close[name]]}) >= {
            "INVALID_ARGUMENT"}


@pytest.mark.parametrize("profile", builtin_profile_names())
def test_the_reference_refusing_a_close_without_quantity_passes_every_check(profile: str) -> None:
    """The reference refuses each with INVALID_ARGUMENT (the codec's "quantity: missing"), and every step check
    passes: a mismatched position side in hedge and in one-way mode, a close on a flat leg, and one on an expired
    contract."""
    open_long = {"kind": "place_order", "account": "A", "order_id": "l", "instrument": "BTCUSDT", "side": "BUY",
                 "position_side": "LONG", "order_type": "MARKET", "quantity": "1", "price": "100"}
    cases = [
        (params(profile), [open_long, {**CLOSE_STOP_WITHOUT_QUANTITY, "position_side": "BOTH"}]),
        (params(profile, hedge=False), [CLOSE_STOP_WITHOUT_QUANTITY]),
        (params(profile), [CLOSE_STOP_WITHOUT_QUANTITY]),
        (params(profile), [{"kind": "expire", "instrument": "ETHUSDT_Q", "settlement_price": "50"},
                           {**CLOSE_STOP_WITHOUT_QUANTITY, "instrument": "ETHUSDT_Q"}]),
    ]
    for p, actions in cases:
        last = checked_steps(p, actions)[-1]
        assert last.outcome["reason"] == "INVALID_ARGUMENT" and "quantity: missing" in last.outcome["message"]
