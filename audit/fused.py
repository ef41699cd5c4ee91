"""The record kinds the audit's fused paths take, decoded straight into typed structs (msgspec).

One decoder reads a line of any of these kinds (tagged by ``"type"``) and checks in C what JSON
types can say: version 1, the fields present (none unknown, none missing), strings, non-empty names,
the names of sides, time and source positions as integers in 0..2**63-1. What it cannot say (decimal
texts, the trace's state) the engine's fused paths check. Anything this decoder refuses, or a fused
path doubts, goes to the reference path (``trace.validate``), which gives the verdict and its message.

Integers stop at 2**63 - 1 because beyond that (past 2**64 - 1) orjson reads floats, which the reference
path refuses. Optional fields default to ``UNSET``, so that a field given as null and a field left out
stay apart (the fused paths read both as null, as the reference does).

A key given twice in one object makes the record ambiguous; msgspec (like orjson) keeps the last value.
``quotes`` says how many ``"`` bytes a line decoded into a struct has when no key is repeated: two per
key and two per string value (plus one per escaped quote ``\"``, which the count leaves out). Every
key and every string value of the struct stands for a different string in the line, so a line never
has fewer quotes than that; a repeated key (even one whose object was then dropped) adds at least two.
A line whose count is exactly ``quotes`` therefore repeats no key; any other line goes to the
reference path, which decides exactly. See ``Auditor.take``.

Requires the optional ``msgspec`` package (the ``fast`` extra); without it there are no fused paths.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

UNSET = msgspec.UNSET
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
    order_id: Name | None | msgspec.UnsetType = msgspec.UNSET  # non-empty, as the reference's nullable(STR)


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
    mark_price: str | None | msgspec.UnsetType = msgspec.UNSET
    unrealized_pnl: str | None | msgspec.UnsetType = msgspec.UNSET


class FundingRateLine(msgspec.Struct, tag="funding_rate", tag_field="type", forbid_unknown_fields=True, gc=False):
    """A funding rate, with or without its mark price."""

    v: Literal[1]
    t: Count
    src: Source
    instrument: Name
    rate: str
    mark_price: str | None | msgspec.UnsetType = msgspec.UNSET


class BalanceLine(msgspec.Struct, tag="balance", tag_field="type", forbid_unknown_fields=True, gc=False):
    """A wallet balance snapshot."""

    v: Literal[1]
    t: Count
    src: Source
    asset: Name
    wallet_balance: str


# the quotes of a line without repeated keys (see the module docstring): the required fields with the
# nullable ones null and src without line or index, then what each other field adds by the class of its value
FILL_QUOTES = 58  # 14 keys, 11 strings; src: 2 keys, 2 strings
FUNDING_QUOTES = 32  # 8 keys, 4 strings (position_side null); src
POSITION_QUOTES = 32  # 8 keys, 4 strings (entry_price null); src
FUNDING_RATE_QUOTES = 26  # 6 keys, 3 strings; src
BALANCE_QUOTES = 26  # 6 keys, 3 strings; src
#: an optional field: absent (UNSET), null, or a string (its key and its value)
OPTIONAL_QUOTES: dict[type, int] = {msgspec.UnsetType: 0, type(None): 2, str: 4}
#: a required field that may be null: null or a string (its key is in the base count)
NULLABLE_QUOTES: dict[type, int] = {type(None): 0, str: 2}
#: src's optional line and index: absent or an integer (its key)
COUNT_QUOTES: dict[type, int] = {msgspec.UnsetType: 0, int: 2}


def quotes(rec: FillLine | FundingLine | PositionLine | FundingRateLine | BalanceLine) -> int:
    """The ``"`` bytes of ``rec``'s line if it repeats no key and escapes no quote (``Auditor.take`` inlines this)."""
    src = rec.src
    n = COUNT_QUOTES[src.line.__class__] + COUNT_QUOTES[src.index.__class__]
    if isinstance(rec, FillLine):
        return n + FILL_QUOTES + OPTIONAL_QUOTES[rec.order_id.__class__]
    if isinstance(rec, FundingLine):
        return n + FUNDING_QUOTES + NULLABLE_QUOTES[rec.position_side.__class__]
    if isinstance(rec, PositionLine):
        return (n + POSITION_QUOTES + NULLABLE_QUOTES[rec.entry_price.__class__]
                + OPTIONAL_QUOTES[rec.mark_price.__class__] + OPTIONAL_QUOTES[rec.unrealized_pnl.__class__])
    if isinstance(rec, FundingRateLine):
        return n + FUNDING_RATE_QUOTES + OPTIONAL_QUOTES[rec.mark_price.__class__]
    return n + BALANCE_QUOTES


FUSED_LINES = (FillLine, FundingLine, PositionLine, FundingRateLine, BalanceLine)
#: one line to its struct; raises ``NOT_FUSED`` for anything else
decode_fused = msgspec.json.Decoder(FillLine | FundingLine | PositionLine | FundingRateLine | BalanceLine).decode
#: validation errors are decode errors; a line that is not UTF-8 raises UnicodeDecodeError (the reference path
#: rejects it, naming the byte)
NOT_FUSED = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)  # deep nesting: the reference path says so
