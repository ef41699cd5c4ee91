"""Actions: the inputs of ``step``. Each carries a logical timestamp ``t`` (no wall clock).

Numbers are integers in the units of ``hedgespec.model.units``; ``hedgespec.model.codec`` turns
the JSON form (decimal strings) into these. ``position_side`` "" means "not given".
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIONS_VERSION = "1"  # the JSON form of actions (docs/formats/actions.md); bump with a CHANGELOG entry


@dataclass(frozen=True, slots=True)
class Deposit:
    t: int
    account: str
    amount: int  # MONEY


@dataclass(frozen=True, slots=True)
class Withdraw:
    t: int
    account: str
    amount: int  # MONEY


@dataclass(frozen=True, slots=True)
class SetPositionMode:
    t: int
    account: str
    mode: str  # HEDGE / ONE_WAY
    scope: str = "*"  # "*" (account), a settle asset, or an instrument, per the profile's mode_scope


@dataclass(frozen=True, slots=True)
class SetMarginType:
    t: int
    account: str
    instrument: str
    position_side: str
    margin_type: str  # ISOLATED / CROSS


@dataclass(frozen=True, slots=True)
class SetLeverage:
    t: int
    account: str
    instrument: str
    position_side: str
    leverage: int


@dataclass(frozen=True, slots=True)
class AdjustMargin:
    """Add (amount > 0) or remove (amount < 0) isolated margin on one leg."""

    t: int
    account: str
    instrument: str
    position_side: str
    amount: int  # MONEY, signed


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    t: int
    account: str
    order_id: str  # client order id, assigned by the caller
    instrument: str
    side: str  # BUY / SELL
    position_side: str  # LONG / SHORT / BOTH / "" (not given)
    order_type: str  # MARKET / LIMIT / STOP_MARKET / TAKE_PROFIT_MARKET / TRAILING_STOP_MARKET
    quantity: int  # QTY; 0 with close_position
    price: int = 0  # PRICE: execution price of a market order, limit price of a limit order
    stop_price: int = 0  # PRICE: trigger of stop / take-profit orders
    activation_price: int = 0  # PRICE: trailing-stop activation (0 = at once)
    callback_rate: int = 0  # RATE: trailing-stop retracement
    reduce_only: bool = False
    close_position: bool = False


@dataclass(frozen=True, slots=True)
class CancelOrder:
    t: int
    account: str
    order_id: str


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """A print of ``quantity`` at ``price`` that trades through resting limit orders."""

    t: int
    instrument: str
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class MarkPrice:
    t: int
    instrument: str
    price: int


@dataclass(frozen=True, slots=True)
class Funding:
    """A funding event at ``rate``, paid on the current mark price."""

    t: int
    instrument: str
    rate: int  # RATE, signed


@dataclass(frozen=True, slots=True)
class Expire:
    """Expiry of a dated contract at ``settlement_price``."""

    t: int
    instrument: str
    settlement_price: int


Action = (
    Deposit | Withdraw | SetPositionMode | SetMarginType | SetLeverage | AdjustMargin | PlaceOrder
    | CancelOrder | MarketTrade | MarkPrice | Funding | Expire
)

ACTION_KINDS: dict[str, type] = {
    "deposit": Deposit,
    "withdraw": Withdraw,
    "set_position_mode": SetPositionMode,
    "set_margin_type": SetMarginType,
    "set_leverage": SetLeverage,
    "adjust_margin": AdjustMargin,
    "place_order": PlaceOrder,
    "cancel_order": CancelOrder,
    "market_trade": MarketTrade,
    "mark_price": MarkPrice,
    "funding": Funding,
    "expire": Expire,
}
KIND_OF: dict[type, str] = {cls: kind for kind, cls in ACTION_KINDS.items()}
ACCOUNT_ACTIONS = frozenset(
    {Deposit, Withdraw, SetPositionMode, SetMarginType, SetLeverage, AdjustMargin, PlaceOrder, CancelOrder}
)
