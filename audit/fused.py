"""The record kinds the audit's fused paths take, decoded straight into typed structs (msgspec).

One decoder reads a line of any of these kinds (tagged by ``"type"``) and checks in C what JSON
types can say: version 1, the fields present (none unknown, none missing), strings, non-empty names,
the names of sides, time and source positions as integers in 0..2**63-1. What it cannot say (decimal
texts, the trace's state) the engine's fused paths check. Anything this decoder refuses, or a fused
path doubts, goes to the reference path (``trace.validate``), which gives the verdict and its message.

Integers stop at 2**63 - 1 because beyond that (past 2**64 - 1) orjson reads floats, which the reference
path refuses. Optional fields default to ``None`` where the reference reads a missing field as null.
Requires the optional ``msgspec`` package (the ``fast`` extra); without it there are no fused paths.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Name = Annotated[str, msgspec.Meta(min_length=1)]  # a non-empty string


class Source(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """Where the observation came from: the venue file and record ID, with its line and array index."""

    file: Name
    id: Name
    line: Count | msgspec.UnsetType = msgspec.UNSET
    index: Count | msgspec.UnsetType = msgspec.UNSET

    def as_dict(self) -> dict[str, str | int]:
        """The source as the reference path holds it."""
        out: dict[str, str | int] = {"file": self.file, "id": self.id}
        if self.line is not msgspec.UNSET:
            out["line"] = self.line
        if self.index is not msgspec.UNSET:
            out["index"] = self.index
        return out


class FillLine(msgspec.Struct, tag="fill", tag_field="type", forbid_unknown_fields=True, gc=False):
    """A hedge fill with every optional part absent or null (no cause, no closed quantity)."""

    v: Literal[1]
    t: Count
    src: Source
    id: Name
    instrument: Name
    side: Literal["BUY", "SELL"]
    position_side: Literal["LONG", "SHORT"]
    quantity: str
    price: str
    fee: str
    fee_asset: Name
    realized_pnl: str
    liquidity: Literal["MAKER", "TAKER"]
    order_id: str | None = None


class FundingLine(msgspec.Struct, tag="funding", tag_field="type", forbid_unknown_fields=True, gc=False):
    """A funding row without rate, mark price or quantity; BOTH rows take the reference path."""

    v: Literal[1]
    t: Count
    src: Source
    instrument: Name
    position_side: Literal["LONG", "SHORT"] | None
    amount: str
    asset: Name


class PositionLine(msgspec.Struct, tag="position", tag_field="type", forbid_unknown_fields=True, gc=False):
    """A position snapshot without margin type."""

    v: Literal[1]
    t: Count
    src: Source
    instrument: Name
    position_side: Literal["LONG", "SHORT", "BOTH"]
    quantity: str
    entry_price: str | None
    mark_price: str | None = None
    unrealized_pnl: str | None = None


class FundingRateLine(msgspec.Struct, tag="funding_rate", tag_field="type", forbid_unknown_fields=True, gc=False):
    """A funding rate, with or without its mark price."""

    v: Literal[1]
    t: Count
    src: Source
    instrument: Name
    rate: str
    mark_price: str | None = None


class BalanceLine(msgspec.Struct, tag="balance", tag_field="type", forbid_unknown_fields=True, gc=False):
    """A wallet balance snapshot."""

    v: Literal[1]
    t: Count
    src: Source
    asset: Name
    wallet_balance: str


FUSED_LINES = (FillLine, FundingLine, PositionLine, FundingRateLine, BalanceLine)
#: one line to its struct; raises ``NOT_FUSED`` for anything else
decode_fused = msgspec.json.Decoder(FillLine | FundingLine | PositionLine | FundingRateLine | BalanceLine).decode
NOT_FUSED = msgspec.DecodeError  # (validation errors are decode errors)
