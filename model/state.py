"""The model's state: instruments, legs, orders, accounts. Immutable and integer-valued.

Values are named tuples (legs, orders, accounts, the state) or frozen dataclasses (instruments,
configuration). Collections inside the state (``dict``) are never mutated after construction: a
step copies the ones it changes and shares the rest with the state it started from.

Quantities are signed like a venue's ``positionAmt``: a LONG leg is >= 0, a SHORT leg <= 0, a
one-way (BOTH) position either. Cost basis carries the same sign (sum of qty x price over the
leg's opening fills, less what reducing fills released), so entry price = cost / qty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

# Final: one value for good (and, in the compiled build, a constant rather than a module lookup)
LONG: Final = "LONG"
SHORT: Final = "SHORT"
BOTH: Final = "BOTH"
BUY: Final = "BUY"
SELL: Final = "SELL"
HEDGE: Final = "HEDGE"
ONE_WAY: Final = "ONE_WAY"
ISOLATED: Final = "ISOLATED"
CROSS: Final = "CROSS"
MARKET: Final = "MARKET"
LIMIT: Final = "LIMIT"
STOP_MARKET: Final = "STOP_MARKET"
TAKE_PROFIT_MARKET: Final = "TAKE_PROFIT_MARKET"
TRAILING_STOP_MARKET: Final = "TRAILING_STOP_MARKET"
CONDITIONAL_TYPES: Final = (STOP_MARKET, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET)
ORDER_TYPES: Final = (MARKET, LIMIT, STOP_MARKET, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET)
PERPETUAL: Final = "PERPETUAL"
DATED: Final = "DATED"
HEDGE_SIDES: Final = (LONG, SHORT)
POSITION_SIDES: Final = (BOTH, LONG, SHORT)  # every position side, in sorted order (the order legs are visited in)

record: Final = tuple.__new__
"""``record(Leg, (q, cost, ...))`` builds a named tuple from a plain tuple of all its fields, in order.

The same value as ``Leg(q, cost, ...)`` without the named tuple's Python-level constructor; the
step's hot paths use it. It checks nothing: the caller gives every field."""


@dataclass(frozen=True, slots=True)
class Bracket:
    """One maintenance-margin bracket: notional in [floor, cap) (money atoms); cap 0 = unbounded."""

    notional_floor: int
    notional_cap: int
    maintenance_rate: int  # RATE atoms
    maintenance_amount: int  # money atoms ("cum")
    max_leverage: int

    def __reduce__(self) -> tuple[type, tuple[int, ...]]:  # copy and pickle by the constructor (frozen; compiled build)
        return Bracket, (self.notional_floor, self.notional_cap, self.maintenance_rate, self.maintenance_amount,
                         self.max_leverage)


@dataclass(frozen=True, slots=True)
class Instrument:
    """A linear contract settled in ``settle_asset``."""

    symbol: str
    settle_asset: str
    kind: str  # PERPETUAL or DATED
    tick_size: int  # PRICE atoms
    lot_size: int  # QTY atoms
    maker_rate: int  # RATE atoms
    taker_rate: int
    brackets: tuple[Bracket, ...]

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:  # copy and pickle by the constructor (frozen; compiled build)
        return Instrument, (self.symbol, self.settle_asset, self.kind, self.tick_size, self.lot_size, self.maker_rate,
                            self.taker_rate, self.brackets)

    @property
    def max_leverage(self) -> int:
        return self.brackets[0].max_leverage


class Leg(NamedTuple):
    """One position record: an (account, instrument, position side)."""

    quantity: int = 0  # QTY atoms, signed
    cost_basis: int = 0  # MONEY atoms, signed like quantity
    isolated_margin: int = 0  # MONEY atoms
    realized_pnl: int = 0  # lifetime, MONEY atoms
    fees_paid: int = 0  # lifetime, MONEY atoms (>= 0)
    funding: int = 0  # lifetime net funding, MONEY atoms (+ received, - paid)


FLAT: Final = Leg()


class LegSettings(NamedTuple):
    margin_type: str
    leverage: int  # whole multiples (1 = 1x)


class Order(NamedTuple):
    """A resting (limit) or waiting (conditional) order."""

    order_id: str
    instrument: str
    side: str
    position_side: str
    order_type: str
    quantity: int  # remaining QTY atoms (0 with close_position)
    price: int  # limit price (PRICE atoms) or 0
    stop_price: int  # trigger price for stop / take-profit, 0 otherwise
    activation_price: int  # trailing stop activation, 0 = active at once
    callback_rate: int  # trailing stop retracement (RATE atoms)
    reduce_only: bool
    close_position: bool
    seq: int  # arrival order: time priority
    margin_reserved: int  # MONEY atoms of initial margin held for the remaining quantity
    fee_reserved: int  # MONEY atoms held for the fee of the remaining quantity
    opening: bool  # may open or increase a position (one-way orders without reduce-only included)
    extreme: int = 0  # trailing stop: best price since activation, 0 = not active yet

    @property
    def reserved(self) -> int:
        return self.margin_reserved + self.fee_reserved

    def with_remaining(self, quantity: int, margin_reserved: int, fee_reserved: int) -> Order:
        """The same order with less left (and the reservation that goes with it)."""
        return record(Order, (*self[:5], quantity, *self[6:13], margin_reserved, fee_reserved, *self[15:]))

    def with_extreme(self, extreme: int) -> Order:
        """The same trailing stop with a new best price since activation."""
        return record(Order, (*self[:16], extreme))



class Account(NamedTuple):
    """One account's state. Every field is given; the dicts are never mutated, and a step shares the
    ones it does not change with the state it came from."""

    wallet: int
    modes: dict[str, str]  # scope key -> HEDGE / ONE_WAY (absent: default)
    legs: dict[tuple[str, str], Leg]  # (instrument, position side) -> leg
    settings: dict[tuple[str, str], LegSettings]
    orders: dict[str, Order]  # order id -> order
    open_legs: dict[tuple[str, str], None]  # the keys of ``legs`` whose quantity is not 0, in opening order

    def leg(self, instrument: str, position_side: str) -> Leg:
        return self.legs.get((instrument, position_side), FLAT)


@dataclass(frozen=True)
class Config:
    """What does not change during a run: instruments, profile, account names."""

    instruments: dict[str, Instrument]
    profile: Any  # hedgespec.spec.profiles.Profile
    account_ids: tuple[str, ...]  # sorted; the one order in which steps visit accounts
    choices: dict[str, Any]  # the profile's effective choices, resolved once
    default_settings: LegSettings = field(init=False, repr=False, compare=False)  # until a leg has its own

    def __post_init__(self) -> None:
        object.__setattr__(self, "default_settings", LegSettings(self.choices["default_margin_type"],
                                                                 self.choices["default_leverage"]))

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:  # copy and pickle by the constructor (frozen; compiled build)
        return Config, (self.instruments, self.profile, self.account_ids, self.choices)


class State(NamedTuple):
    config: Config
    accounts: dict[str, Account]
    mark_prices: dict[str, int]
    last_prices: dict[str, int]
    insurance_fund: int = 0
    expired: frozenset[str] = frozenset()
    seq: int = 0  # orders accepted so far (time priority)
    time: int = 0  # logical time of the last action
