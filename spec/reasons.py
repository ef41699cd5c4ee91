"""The rejection reason classes of the observable format (outcomes version 1), in published order.

One definition for the model, the checks, the venue profiles' code maps and the audit.
"""

from __future__ import annotations

REASON_CLASSES: tuple[str, ...] = (
    "MODE_SWITCH_WITH_POSITIONS",
    "MODE_SWITCH_WITH_OPEN_ORDERS",
    "MODE_IN_FORCE",
    "POSITION_SIDE_MISMATCH",
    "REDUCE_EXCEEDS_LEG",
    "REDUCE_ONLY_FORBIDDEN",
    "INSUFFICIENT_MARGIN",
    "INSUFFICIENT_BALANCE",
    "INVALID_ARGUMENT",
    "UNKNOWN_ORDER",
    "DUPLICATE_ORDER_ID",
    "MARGIN_TYPE_WITH_POSITION",
    "MARGIN_TYPE_WITH_OPEN_ORDERS",
    "NO_MARK_PRICE",
    "INSTRUMENT_EXPIRED",
    "LEVERAGE_EXCEEDS_BRACKET",
)
