"""The record kinds the audit's fused paths take, decoded straight into typed structs (msgspec).

One decoder reads a line of any of these kinds (tagged by ``"type"``) and checks in C what JSON
types can say: version 1, the fields present (none unknown, none missing), strings, the names of
sides, time and source positions as integers in 0..2**63-1. What it cannot say (decimal texts, non-empty
names, the trace's state) the engine's fused paths check. Anything this decoder refuses, or a fused
path doubts, goes to the reference path (``trace.validate``), which gives the verdict and its message.

Integers stop at 2**63 - 1 because beyond that (past 2**64 - 1) orjson reads floats, which the reference
path refuses. Optional fields default to ``None`` where the reference reads a missing field as null.
Requires the optional ``msgspec`` package (the ``fast`` extra); without it there are no fused paths.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Source = dict[str, str | Count]  # file and id checked as non-empty strings, line and index as counts


class FillLine(msgspec.Struct, tag="fill", tag_field="type", forbid_unknown_fields=True):
    """A hedge fill with every optional part absent or null (no cause, no closed quantity)."""

    v: Literal[1]
    t: Count
    src: Source
    id: str
    instrument: str
    side: Literal["BUY", "SELL"]
    position_side: Literal["LONG", "SHORT"]
    quantity: str
    price: str
    fee: str
    fee_asset: str
    realized_pnl: str
    liquidity: Literal["MAKER", "TAKER"]
    order_id: str | None = None


class FundingLine(msgspec.Struct, tag="funding", tag_field="type", forbid_unknown_fields=True):
    """A funding row without rate, mark price or quantity; BOTH rows take the reference path."""

    v: Literal[1]
    t: Count
    src: Source
    instrument: str
    position_side: Literal["LONG", "SHORT"] | None
    amount: str
    asset: str


class PositionLine(msgspec.Struct, tag="position", tag_field="type", forbid_unknown_fields=True):
    """A position snapshot without margin type."""

    v: Literal[1]
    t: Count
    src: Source
    instrument: str
    position_side: Literal["LONG", "SHORT", "BOTH"]
    quantity: str
    entry_price: str | None
    mark_price: str | None = None
    unrealized_pnl: str | None = None


class FundingRateLine(msgspec.Struct, tag="funding_rate", tag_field="type", forbid_unknown_fields=True):
    """A funding rate, with or without its mark price."""

    v: Literal[1]
    t: Count
    src: Source
    instrument: str
    rate: str
    mark_price: str | None = None


class BalanceLine(msgspec.Struct, tag="balance", tag_field="type", forbid_unknown_fields=True):
    """A wallet balance snapshot."""

    v: Literal[1]
    t: Count
    src: Source
    asset: str
    wallet_balance: str


FUSED_LINES = (FillLine, FundingLine, PositionLine, FundingRateLine, BalanceLine)
#: one line to its struct; raises ``NOT_FUSED`` for anything else
decode_fused = msgspec.json.Decoder(FillLine | FundingLine | PositionLine | FundingRateLine | BalanceLine).decode
NOT_FUSED = msgspec.DecodeError  # (validation errors are decode errors)
