"""Outcomes and the events a step produces (fills, ledger entries, funding, order updates).

The ledger is this stream of per-step events; the state holds no growing history.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from hedgespec.spec.reasons import REASON_CLASSES

OUTCOMES_VERSION = "1"  # the JSON form of outcomes and events (docs/formats/outcomes.md)

ACCEPTED: Final = "accepted"
REJECTED: Final = "rejected"
UNCHANGED: Final = "unchanged"
PARTIALLY_APPLIED: Final = "partially_applied"

WALLET: Final = "wallet"
ISOLATED_MARGIN: Final = "isolated_margin"
INSURANCE_FUND: Final = "insurance_fund"

REASONS = REASON_CLASSES


class Fill(NamedTuple):
    account: str
    order_id: str
    instrument: str
    side: str
    position_side: str
    quantity: int  # QTY, > 0
    price: int
    liquidity: str  # MAKER / TAKER
    fee: int  # MONEY >= 0
    realized_pnl: int
    cause: str  # order / trigger / liquidation / settlement


class LedgerEntry(NamedTuple):
    account: str  # "" for the insurance fund's own side of a transfer
    instrument: str  # "" when no instrument
    position_side: str  # "" when no leg; "CROSS" for the cross pool
    kind: str
    bucket: str  # wallet / isolated_margin / insurance_fund
    amount: int  # MONEY, signed


class FundingPayment(NamedTuple):
    account: str
    instrument: str
    position_side: str
    quantity: int
    mark_price: int
    rate: int
    amount: int  # MONEY, signed: negative = paid


class OrderUpdate(NamedTuple):
    account: str
    order_id: str
    status: str  # NEW / PARTIALLY_FILLED / FILLED / CANCELLED / TRIGGERED / TRIMMED
    cause: str
    quantity: int = 0  # remaining quantity after the update


class Liquidation(NamedTuple):
    account: str
    instrument: str  # "" for a cross-pool liquidation
    position_side: str  # leg, or "CROSS"
    mark_price: int
    margin_balance: int
    maintenance_margin: int


class ModeChange(NamedTuple):
    account: str
    scope: str
    mode: str


Event = Fill | LedgerEntry | FundingPayment | OrderUpdate | Liquidation | ModeChange


class Outcome(NamedTuple):
    kind: str
    reason: str | None = None
    message: str = ""
    events: tuple[Event, ...] = ()


def rejected(reason: str, message: str) -> Outcome:
    """A rejection: the state stays as it was (Implements HM-ATOM-001)."""
    return Outcome(REJECTED, reason, message)
