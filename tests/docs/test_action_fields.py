"""The Required column of the action table (docs/formats/actions.md) against the reference model.

The codec lets an action leave out the fields of ``_OPTIONAL_DEFAULTS``; the step may still refuse
the default (a price of 0). ``directives.STEP_NEEDS`` says where, and every claim it makes is run here.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs"))

from hedgespec.model import actions as A  # noqa: E402
from hedgespec.model import initial_state, step  # noqa: E402
from hedgespec.model.codec import _OPTIONAL_DEFAULTS, action_from_json, outcome_to_json  # noqa: E402
from hsdocs import directives, scenarios  # noqa: E402

SYMBOL = scenarios.SYMBOL
ORDER: dict[str, Any] = {"t": 1, "kind": "place_order", "account": scenarios.ACCOUNT, "order_id": "o1",
                         "instrument": SYMBOL, "side": "BUY", "position_side": "LONG", "order_type": "MARKET",
                         "quantity": "0.01", "price": "50000"}
CLOSE: dict[str, Any] = {**ORDER, "order_id": "c1", "side": "SELL", "quantity": "0", "close_position": True}
del CLOSE["price"]


def _without(action: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in action.items() if k not in fields}


def _reason(action: dict[str, Any], mode: str = "HEDGE", long_leg: bool = False) -> str | None:
    """The reason class the model gives (None: not rejected), from a fresh account (with a LONG leg)."""
    state = initial_state(scenarios.params(mode))
    if long_leg:
        _, state = step(state, action_from_json(ORDER, "open"))
    outcome = outcome_to_json(step(state, action_from_json({**action, "t": 2}, "case"))[0])
    return outcome["reason"] if outcome["kind"] == "rejected" else None


CASES = [
    # mark and trade prices: required, positive, the tick not checked
    ({"t": 1, "kind": "mark_price", "instrument": SYMBOL}, "HEDGE", False, "INVALID_ARGUMENT"),
    ({"t": 1, "kind": "market_trade", "instrument": SYMBOL, "quantity": "0.001"}, "HEDGE", False, "INVALID_ARGUMENT"),
    ({"t": 1, "kind": "mark_price", "instrument": SYMBOL, "price": "50000.05"}, "HEDGE", False, None),
    ({"t": 1, "kind": "market_trade", "instrument": SYMBOL, "price": "50000.05", "quantity": "0.001"},
     "HEDGE", False, None),
    # an order's price: required for MARKET and LIMIT, on the tick; refused on a conditional order
    (_without(ORDER, "price"), "HEDGE", False, "INVALID_ARGUMENT"),
    ({**_without(ORDER, "price"), "order_type": "LIMIT"}, "HEDGE", False, "INVALID_ARGUMENT"),
    ({**ORDER, "price": "50000.05"}, "HEDGE", False, "INVALID_ARGUMENT"),
    ({**CLOSE, "order_type": "STOP_MARKET", "stop_price": "49000", "price": "49000"}, "HEDGE", True,
     "INVALID_ARGUMENT"),
    ({**CLOSE, "order_type": "STOP_MARKET", "stop_price": "49000", "price": "0"}, "HEDGE", True, None),
    # stop price: required for STOP_MARKET and TAKE_PROFIT_MARKET, not read on other types
    ({**CLOSE, "order_type": "STOP_MARKET"}, "HEDGE", True, "INVALID_ARGUMENT"),
    ({**CLOSE, "order_type": "TAKE_PROFIT_MARKET"}, "HEDGE", True, "INVALID_ARGUMENT"),
    ({**ORDER, "stop_price": "49000"}, "HEDGE", False, None),
    # trailing stops: callback rate required (0 < rate < 1), activation price optional; neither elsewhere
    ({**CLOSE, "order_type": "TRAILING_STOP_MARKET"}, "HEDGE", True, "INVALID_ARGUMENT"),
    ({**CLOSE, "order_type": "TRAILING_STOP_MARKET", "callback_rate": "1"}, "HEDGE", True, "INVALID_ARGUMENT"),
    ({**CLOSE, "order_type": "TRAILING_STOP_MARKET", "callback_rate": "0.01"}, "HEDGE", True, None),
    ({**CLOSE, "order_type": "TRAILING_STOP_MARKET", "callback_rate": "0.01", "activation_price": "0"},
     "HEDGE", True, None),
    ({**ORDER, "callback_rate": "0.01"}, "HEDGE", False, "INVALID_ARGUMENT"),
    ({**ORDER, "activation_price": "51000"}, "HEDGE", False, "INVALID_ARGUMENT"),
    ({**ORDER, "callback_rate": "0", "activation_price": "0"}, "HEDGE", False, None),
    # position side: required in hedge mode, optional in one-way mode
    (_without(ORDER, "position_side"), "HEDGE", False, "POSITION_SIDE_MISMATCH"),
    ({"t": 1, "kind": "set_leverage", "account": scenarios.ACCOUNT, "instrument": SYMBOL, "leverage": "5"},
     "HEDGE", False, "POSITION_SIDE_MISMATCH"),
    (_without(ORDER, "position_side"), "ONE_WAY", False, None),
    ({"t": 1, "kind": "set_leverage", "account": scenarios.ACCOUNT, "instrument": SYMBOL, "leverage": "5"},
     "ONE_WAY", False, None),
]


@pytest.mark.parametrize(("action", "mode", "long_leg", "reason"), CASES)
def test_the_required_column_says_what_the_model_does(action: dict[str, Any], mode: str, long_leg: bool,
                                                      reason: str | None) -> None:
    assert _reason(action, mode, long_leg) == reason


def test_step_needs_only_qualify_fields_the_codec_lets_out() -> None:
    for kind, field in directives.STEP_NEEDS:
        assert field in {f.name for f in dataclasses.fields(A.ACTION_KINDS[kind])}, (kind, field)
        assert field in _OPTIONAL_DEFAULTS, (kind, field)


def test_the_table_shows_what_the_step_needs() -> None:
    table = directives.action_fields()
    for (kind, field), text in directives.STEP_NEEDS.items():
        section = table.split(f"### `{kind}`")[1].split("### ")[0]
        assert f"| `{field}` |" in section and f"| {text} |" in section, (kind, field)
    mark = table.split("### `mark_price`")[1].split("### ")[0]
    assert "optional" not in mark
