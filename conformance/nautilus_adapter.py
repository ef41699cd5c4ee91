"""A hedgespec adapter for nautilus_trader 1.221.0 (a third-party engine; optional extra ``nautilus``).

nautilus_trader is an event-driven trading platform; its backtest ``SimulatedExchange`` has a
matching engine, margin accounts and position management with two order-management systems:
``OmsType.HEDGING`` (several positions per instrument, each keyed by a ``PositionId``) and
``OmsType.NETTING`` (one net position per instrument). This adapter drives a real
``BacktestEngine`` step by step and reads nautilus' own positions, orders and account back. It
translates, and enforces nothing: whatever nautilus accepts is reported as accepted, whatever it
denies or rejects is reported as rejected with the reason class its message maps to.

Translation (hedgespec -> nautilus)
-----------------------------------
* **Accounts.** Each hedgespec account is its own ``BacktestEngine`` with one simulated venue
  ("SIM"), an ``AccountType.MARGIN`` account in the settlement currency, starting with the
  account's ``wallet``; a market trade is shown to every account's venue, in account order.
* **Position mode.** ``HEDGE`` -> ``OmsType.HEDGING``, ``ONE_WAY`` -> ``OmsType.NETTING``, fixed
  when the venue is created (nautilus cannot switch a venue's OMS: no ``mode-switching``).
* **Hedge legs.** In hedge mode an order with ``position_side`` LONG or SHORT carries the
  position id of that leg (``<symbol>:LONG:<n>``, a new ``n`` once the leg has closed); an order
  that closes a leg (SELL on LONG, BUY on SHORT) is sent ``reduce_only``, as a hedge-mode close is
  on the venues hedgespec describes. An order without a position side is sent without a position
  id: nautilus opens a venue-generated position, reported under the row of its side.
* **Orders.** ``MARKET`` at price P: the venue's market is set to P (a quote tick bid = ask = P),
  then a market order is submitted. ``LIMIT``: a limit order at its price, GTC, against the
  venue's current market. ``market_trade``: a trade tick (``trade_execution=True``).
  ``cancel_order``: nautilus' cancel. Quantities and prices keep their own precision, so an
  amount finer than the instrument's increment reaches nautilus' risk engine as it is.
* **Fees.** ``MakerTakerFeeModel`` with the instrument's maker and taker rates.
* **Leverage.** ``MarginAccount.set_leverage`` (nautilus keeps one leverage per instrument, so a
  leverage request for one leg changes both); the default is the profile's ``default_leverage``.
* **Deposits and withdrawals.** ``SimulatedExchange.adjust_account``.

Observation (nautilus -> hedgespec snapshot)
--------------------------------------------
* A leg row sums the open nautilus positions of its side (hedge mode) or the net position
  (one-way): quantity is the signed quantity; cost basis is ``avg_px_open x quantity``, where
  nautilus keeps ``avg_px_open`` as a binary double (converted exactly, then rounded half-even
  to a money atom: the only rounding the adapter adds).
* ``realized_pnl`` and ``fees_paid`` are lifetime per leg, accumulated from nautilus' own
  events: nautilus' ``Position.realized_pnl`` is net of commissions, so hedgespec's realized PnL of
  a fill is the change of nautilus' realized PnL plus that fill's commission.
* The wallet is the margin account's total balance; the available balance its free balance;
  ``order_margin`` the account's initial (order) margin. ``maintenance_margin`` is nautilus'
  ``calculate_margin_maint`` for the leg at the mark price. The venue uses nautilus'
  ``StandardMarginModel`` (initial margin = notional x ``margin_init``, maintenance = notional x
  ``margin_maint``) with ``margin_init`` = 1 / the profile's default leverage and
  ``margin_maint`` = the first bracket's maintenance rate: nautilus has no brackets, and its
  default ``LeveragedMarginModel`` would divide maintenance by the leverage as well.
  ``unrealized_pnl`` is ``quantity x mark - cost basis``; ``liquidation_price`` is null.

What cannot be mapped (declared as missing capabilities)
--------------------------------------------------------
* **Isolated margin** (``isolated-margin``, ``margin-adjustment``): nautilus has one margin pool
  per account; there is no per-position margin and no margin type. Every leg is reported
  ``CROSS`` with ``isolated_margin`` 0; ``set_margin_type`` to ISOLATED and ``adjust_margin`` are
  rejected (INVALID_ARGUMENT: the venue has no such request).
* **Cross margin as hedgespec means it** (``cross-margin``): no margin-type switch, no brackets,
  no cross-pool liquidation.
* **Mode switching** (``mode-switching``): the OMS type is fixed per venue.
* **Funding** (``funding``): the backtest engine applies no funding payments to accounts.
* **Liquidation** (``liquidation``): the simulated exchange never liquidates.
* **Conditional orders, trailing stops** (``conditional-orders``, ``trailing-stops``): nautilus has
  stop-market and trailing-stop orders, but their trigger is the venue's market (bid/ask/last),
  not hedgespec's mark price, and hedgespec's ``close_position`` has no counterpart; not mapped.
* **Expiry** (``expiry``): no settlement of dated contracts in the simulated exchange.

A request that needs one of these, and that the runner still sends, gets an engine error
starting with ``unsupported:``.

An action that cannot be read at all (not of hedgespec's action format: a field its kind does not
have, a list where a name goes, a number sent as a JSON number) cannot be translated into a
nautilus call; the adapter reads each action with the reference's codec first, and answers one it
cannot read as nautilus answers a value it cannot be given (INVALID_ARGUMENT, the codec's message).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from typing import Any

from hedgespec.model.codec import InputError, action_from_json
from hedgespec.spec.profiles import load_profile

try:  # the optional extra ``nautilus``
    import nautilus_trader
    from nautilus_trader.accounting.margin_models import StandardMarginModel
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.backtest.models import MakerTakerFeeModel
    from nautilus_trader.backtest.modules import SimulationModule, SimulationModuleConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import BTC, USDT
    from nautilus_trader.model.data import QuoteTick, TradeTick
    from nautilus_trader.model.enums import (
        AccountType,
        AggressorSide,
        LiquiditySide,
        OmsType,
        OrderSide,
        PositionSide,
        TimeInForce,
    )
    from nautilus_trader.model.events import (
        OrderAccepted,
        OrderCanceled,
        OrderDenied,
        OrderFilled,
        OrderRejected,
        PositionEvent,
        PositionOpened,
    )
    from nautilus_trader.model.identifiers import (
        ClientOrderId,
        InstrumentId,
        PositionId,
        Symbol,
        TradeId,
        TraderId,
        Venue,
    )
    from nautilus_trader.model.instruments import CryptoPerpetual
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.trading.strategy import Strategy
except ImportError:  # pragma: no cover - exercised only without the extra
    nautilus_trader = None  # type: ignore[assignment]

NAUTILUS_VERSION = "1.221.0"
CAPABILITIES = frozenset({"hedge-mode", "one-way-mode", "limit-orders", "market-trades", "fees", "multi-account"})
NOT_MAPPED = {
    "isolated-margin": "one margin pool per account; no per-position margin or margin type",
    "margin-adjustment": "no per-position margin to add to or remove from",
    "cross-margin": "no margin-type switch, brackets or cross-pool liquidation",
    "mode-switching": "the OMS type (HEDGING/NETTING) is fixed per venue",
    "funding": "the backtest engine applies no funding payments",
    "liquidation": "the simulated exchange never liquidates",
    "conditional-orders": "stop orders trigger on the venue market, not on hedgespec's mark price",
    "trailing-stops": "trailing stops trigger on the venue market, not on hedgespec's mark price",
    "expiry": "no settlement of dated contracts",
    "insurance-fund": "no insurance fund",
    "leg-settings": "no per-position margin type or leverage to start from",
}

CTX = Context(prec=80)
MONEY_ATOM = Decimal("1e-16")
VENUE = "SIM"
MAX_BOOK_SIZE = "1000000000"


class Unsupported(Exception):
    """A request this adapter cannot translate (a capability nautilus does not have)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"unsupported: {message}")


def available() -> bool:
    return nautilus_trader is not None and nautilus_trader.__version__ == NAUTILUS_VERSION


def _dec(text: Any, field: str) -> Decimal:
    if not isinstance(text, str):
        raise ValueError(f"{field}: expected a decimal string")
    value = Decimal(text.strip())
    if not value.is_finite():
        raise ValueError(f"{field}: not finite")
    return value


def fmt(value: Decimal | int) -> str:
    """Canonical decimal string: no exponent, no trailing zeros, "0" for zero."""
    value = Decimal(value)
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_ATOM, rounding=ROUND_HALF_EVEN, context=CTX)


def exact(x: float) -> Decimal:
    """A binary double as the exact decimal it is."""
    return Decimal(x)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _price16(value: Fraction) -> str:
    """A derived price rounded half-even to 16 decimals (the snapshot format's entry price)."""
    scaled = round(value * 10**16)
    return fmt(Decimal(scaled).scaleb(-16))


if nautilus_trader is not None:

    class _ExchangeHandle(SimulationModule):  # type: ignore[misc]
        """A no-op simulation module: its only purpose is to receive the SimulatedExchange."""

        def __init__(self) -> None:
            super().__init__(SimulationModuleConfig())

        def process(self, ts_now: int) -> None:
            pass

        def reset(self) -> None:
            pass

        def log_diagnostics(self, logger: Any) -> None:
            pass

    class _Recorder(Strategy):  # type: ignore[misc]
        """The strategy orders are submitted through; records every order and position event in order."""

        def __init__(self) -> None:
            super().__init__()
            self.events: list[Any] = []

        def on_event(self, event: Any) -> None:
            self.events.append(event)


class _Leg:
    """Lifetime totals of one hedgespec leg, accumulated from nautilus events."""

    __slots__ = ("realized", "fees", "generation")

    def __init__(self) -> None:
        self.realized = Decimal(0)
        self.fees = Decimal(0)
        self.generation = 1


class _Venue:
    """One hedgespec account: a BacktestEngine with one simulated venue."""

    def __init__(self, account_id: str, mode: str, wallet: Decimal, instruments: list[dict[str, Any]],
                 leverage: int, prices: dict[str, Decimal]) -> None:
        self.account_id = account_id
        self.mode = mode
        self.engine = BacktestEngine(BacktestEngineConfig(
            trader_id=TraderId("HEDGESPEC-001"),
            logging=LoggingConfig(bypass_logging=True),

        ))
        self.venue = Venue(VENUE)
        self.handle = _ExchangeHandle()
        self.currency = USDT
        settle = {i["settle_asset"] for i in instruments}
        if settle != {"USDT"}:
            raise Unsupported(f"settle assets {sorted(settle)}: the adapter maps USDT-settled contracts only")
        self.engine.add_venue(
            self.venue, oms_type=OmsType.HEDGING if mode == "HEDGE" else OmsType.NETTING,
            account_type=AccountType.MARGIN, base_currency=self.currency,
            starting_balances=[Money(wallet, self.currency)], default_leverage=Decimal(leverage),
            fee_model=MakerTakerFeeModel(), margin_model=StandardMarginModel(),
            bar_execution=False, trade_execution=True,
            use_message_queue=False, modules=[self.handle],
        )
        self.instruments: dict[str, Any] = {}
        for raw in instruments:
            self.instruments[raw["symbol"]] = self._instrument(raw, leverage)
            self.engine.add_instrument(self.instruments[raw["symbol"]])
        self.strategy = _Recorder()
        self.engine.add_strategy(self.strategy)
        # The venue's market starts at each instrument's last price (else its mark price); the
        # quotes also start the kernel (streaming mode keeps it running between steps). nautilus
        # needs a timestamp above 0.
        quotes = []
        for symbol, price in sorted(prices.items()):
            inst = self.instruments[symbol]
            px = Price(price, inst.price_precision)
            size = Quantity(Decimal(MAX_BOOK_SIZE), inst.size_precision)
            quotes.append(QuoteTick(inst.id, px, px, size, size, 1, 1))
        if not quotes:
            raise Unsupported("an instrument with a last or mark price is needed to start nautilus' market")
        self.engine.add_data(quotes)
        self.engine.run(streaming=True)
        self.engine.clear_data()
        self.exchange = self.handle.exchange
        self.strategy.events.clear()
        self.orders: dict[str, Any] = {}  # hedgespec order id -> nautilus order (current)
        self.order_legs: dict[str, str] = {}  # hedgespec order id -> the leg it was sent for (hedge mode)
        self.issued = 0
        self.legs: dict[tuple[str, str], _Leg] = {}
        self.position_realized: dict[str, Decimal] = {}  # nautilus realized PnL (net) per position id

    def _instrument(self, raw: dict[str, Any], leverage: int) -> Any:
        tick = _dec(raw["tick_size"], "tick_size")
        lot = _dec(raw["lot_size"], "lot_size")
        brackets = raw["brackets"]
        symbol = raw["symbol"]
        return CryptoPerpetual(
            InstrumentId(Symbol(symbol), self.venue), Symbol(symbol), BTC, self.currency, self.currency,
            False, _decimals(tick), _decimals(lot), Price(tick, _decimals(tick)), Quantity(lot, _decimals(lot)), 0, 0,
            margin_init=Decimal(1) / Decimal(leverage), margin_maint=_dec(brackets[0]["maintenance_rate"], "maintenance_rate"),
            maker_fee=_dec(raw["maker_rate"], "maker_rate"), taker_fee=_dec(raw["taker_rate"], "taker_rate"),
        )

    def close(self) -> None:
        try:
            self.engine.end()
        finally:
            self.engine.dispose()

    # -- nautilus reads --------------------------------------------------------------------------
    @property
    def account(self) -> Any:
        return self.engine.cache.account_for_venue(self.venue)

    def leverage(self, instrument_id: Any) -> Decimal:
        """nautilus' leverage for an instrument (the account default until one is set)."""
        account = self.account
        value = account.leverage(instrument_id)
        return Decimal(value if value is not None else account.default_leverage)

    def leg(self, symbol: str, side: str) -> _Leg:
        return self.legs.setdefault((symbol, side), _Leg())

    def leg_position_id(self, symbol: str, side: str) -> Any:
        return PositionId(f"{symbol}:{side}:{self.leg(symbol, side).generation}")

    def side_of_position(self, position_id: Any, symbol: str, side_hint: Any = None) -> str:
        """The hedgespec row a nautilus position belongs to."""
        if self.mode != "HEDGE":
            return "BOTH"
        parts = position_id.value.split(":")
        if len(parts) == 3 and parts[1] in ("LONG", "SHORT"):
            return parts[1]
        position = self.engine.cache.position(position_id)
        entry = position.entry if position is not None else side_hint
        return "LONG" if entry == OrderSide.BUY else "SHORT"

    def open_positions(self, symbol: str) -> list[Any]:
        return [p for p in self.engine.cache.positions_open(instrument_id=self.instruments[symbol].id)]

    def next_ts(self, t: int) -> int:
        self.issued += 1
        return t * 1_000_000_000 + self.issued

    # -- market data ------------------------------------------------------------------------------
    def quote(self, symbol: str, price: Decimal, ts: int) -> None:
        inst = self.instruments[symbol]
        px = Price(price, inst.price_precision)
        size = Quantity(Decimal(MAX_BOOK_SIZE), inst.size_precision)
        self.exchange.process_quote_tick(QuoteTick(inst.id, px, px, size, size, ts, ts))

    def trade(self, symbol: str, price: Decimal, quantity: Decimal, ts: int) -> None:
        inst = self.instruments[symbol]
        self.exchange.process_trade_tick(TradeTick(
            inst.id, Price(price, inst.price_precision), Quantity(quantity, inst.size_precision),
            AggressorSide.NO_AGGRESSOR, TradeId(f"T-{ts}"), ts, ts))


class NautilusAdapter:
    """nautilus_trader 1.221.0 behind hedgespec's adapter protocol (see the module docstring)."""

    name = f"nautilus_trader-{NAUTILUS_VERSION}"
    capabilities = CAPABILITIES

    def __init__(self, profile: str | None = None) -> None:
        if nautilus_trader is None:
            raise ImportError("nautilus_trader is not installed (pip install 'hedgespec[nautilus]')")
        if nautilus_trader.__version__ != NAUTILUS_VERSION:
            raise ImportError(f"nautilus_trader {nautilus_trader.__version__} installed; the adapter maps "
                              f"{NAUTILUS_VERSION}")
        self.profile = profile
        self.venues: dict[str, _Venue] = {}
        self.params: dict[str, Any] = {}
        self.marks: dict[str, Decimal] = {}
        self.lasts: dict[str, Decimal] = {}
        self.time = 0

    # -- protocol -----------------------------------------------------------------------------------
    def reset(self, params: dict[str, Any]) -> None:
        self.close()
        profile = load_profile(self.profile or params.get("profile", "seed"))
        leverage = int(Decimal(profile.effective("default_leverage")))
        default_mode = profile.effective("default_position_mode")
        if profile.effective("mode_scope") != "account":
            raise Unsupported("mode_scope other than account: nautilus' OMS type is per venue")
        self.params = params
        accounts = params["accounts"]
        if isinstance(accounts, list):
            accounts = {name: {} for name in accounts}
        self.venues = {}
        self.marks = {k: _dec(v, k) for k, v in params.get("mark_prices", {}).items()}
        self.lasts = {k: _dec(v, k) for k, v in params.get("last_prices", {}).items()}
        prices = {**self.marks, **self.lasts}
        for account_id in sorted(accounts):
            raw = accounts[account_id]
            mode = raw.get("position_mode", {}).get("*", default_mode)
            self.venues[account_id] = _Venue(account_id, mode, _dec(raw.get("wallet", "0"), "wallet"),
                                             params["instruments"], leverage, prices)
        self.time = 0

    def close(self) -> None:
        for venue in self.venues.values():
            venue.close()
        self.venues = {}

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        try:
            action_from_json(action, "action")  # read only: the fields below are taken from the JSON form
        except InputError as exc:
            return _rejected("INVALID_ARGUMENT", str(exc))
        kind = action.get("kind")
        handler = getattr(self, f"_{kind}", None) if isinstance(kind, str) else None
        if handler is None:
            return _rejected("INVALID_ARGUMENT", f"kind: unknown action kind {kind!r}")
        account_id = action.get("account")
        if account_id is not None and account_id not in self.venues:
            return _rejected("INVALID_ARGUMENT", f"account: no venue for account {account_id!r}")
        symbol = action.get("instrument")
        if symbol is not None and symbol not in next(iter(self.venues.values())).instruments:
            return _rejected("INVALID_ARGUMENT", f"instrument: nautilus has no instrument {symbol!r}")
        try:
            outcome: dict[str, Any] = handler(action)
        except (ValueError, ArithmeticError) as exc:  # a value nautilus cannot be given
            return _rejected("INVALID_ARGUMENT", str(exc))
        if outcome["kind"] != "rejected":
            self.time = max(self.time, int(action.get("t", self.time)))
        return outcome

    # -- actions --------------------------------------------------------------------------------------
    def _deposit(self, action: dict[str, Any]) -> dict[str, Any]:
        return self._adjust(action, 1, "DEPOSIT")

    def _withdraw(self, action: dict[str, Any]) -> dict[str, Any]:
        return self._adjust(action, -1, "WITHDRAW")

    def _adjust(self, action: dict[str, Any], sign: int, kind: str) -> dict[str, Any]:
        venue = self.venues[action["account"]]
        amount = _dec(action["amount"], "amount") * sign
        before = venue.account.balance_total(venue.currency).as_decimal()
        venue.exchange.adjust_account(Money(amount, venue.currency))
        moved = venue.account.balance_total(venue.currency).as_decimal() - before
        events = [_ledger(action["account"], None, None, kind, moved)] if moved else []
        return _accepted(events)

    def _set_position_mode(self, action: dict[str, Any]) -> dict[str, Any]:
        raise Unsupported("mode-switching: nautilus' OMS type is fixed per venue")

    def _set_margin_type(self, action: dict[str, Any]) -> dict[str, Any]:
        if action.get("margin_type") == "CROSS":
            return {"kind": "unchanged", "reason": None, "message": "nautilus margin accounts are one pool",
                    "events": []}
        return _rejected("INVALID_ARGUMENT", "nautilus has no isolated margin")

    def _set_leverage(self, action: dict[str, Any]) -> dict[str, Any]:
        venue = self.venues[action["account"]]
        leverage = _dec(action["leverage"], "leverage")
        iid = venue.instruments[action["instrument"]].id
        if venue.leverage(iid) == leverage:
            return {"kind": "unchanged", "reason": None, "message": "leverage already set", "events": []}
        try:
            venue.account.set_leverage(iid, leverage)
        except (ValueError, TypeError) as exc:
            return _rejected("INVALID_ARGUMENT", f"nautilus: {exc}")
        return _accepted([])

    def _adjust_margin(self, action: dict[str, Any]) -> dict[str, Any]:
        return _rejected("INVALID_ARGUMENT", "nautilus has no per-position margin")

    def _place_order(self, action: dict[str, Any]) -> dict[str, Any]:
        venue = self.venues[action["account"]]
        symbol = action["instrument"]
        inst = venue.instruments[symbol]
        order_type = action.get("order_type")
        if order_type not in ("MARKET", "LIMIT"):
            raise Unsupported(f"order type {order_type!r}: only MARKET and LIMIT are mapped")
        if action.get("close_position"):
            return _rejected("INVALID_ARGUMENT", "close_position has no nautilus counterpart")
        side = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}.get(action.get("side", ""))
        if side is None:
            return _rejected("INVALID_ARGUMENT", f"side: {action.get('side')!r}")
        quantity = _dec(action["quantity"], "quantity")
        price = _dec(action.get("price", "0"), "price")
        if quantity <= 0 or price <= 0:
            return _rejected("INVALID_ARGUMENT", "quantity and price must be positive for nautilus")
        position_side = action.get("position_side", "")
        reduce_only = bool(action.get("reduce_only", False))
        position_id = None
        if venue.mode == "HEDGE" and position_side in ("LONG", "SHORT"):
            leg = venue.leg(symbol, position_side)
            closing = (side == OrderSide.SELL) == (position_side == "LONG")
            current = venue.engine.cache.position(venue.leg_position_id(symbol, position_side))
            if not closing and current is not None and current.is_closed:
                leg.generation += 1  # a closed nautilus position is not reopened: a new one per lifecycle
            position_id = venue.leg_position_id(symbol, position_side)
            reduce_only = reduce_only or closing
        order_id = action.get("order_id", "")
        previous = venue.orders.get(order_id)
        client_id = ClientOrderId(order_id if previous is None else f"{order_id}#{venue.issued + 1}")
        if previous is not None and not previous.is_closed:
            client_id = previous.client_order_id  # the same id again: nautilus decides
        ts = venue.next_ts(int(action["t"]))
        factory = venue.strategy.order_factory
        qty = Quantity(quantity, max(_decimals(quantity), inst.size_precision))
        px = Price(price, max(_decimals(price), inst.price_precision))
        try:
            if order_type == "MARKET":
                order = factory.market(inst.id, side, qty, reduce_only=reduce_only, client_order_id=client_id)
            else:
                order = factory.limit(inst.id, side, qty, px, time_in_force=TimeInForce.GTC,
                                      reduce_only=reduce_only, client_order_id=client_id)
        except (ValueError, TypeError, KeyError) as exc:
            return _rejected("INVALID_ARGUMENT", f"nautilus order factory: {exc}")
        mark = len(venue.strategy.events)
        # A market order at P: the venue's market quotes P while it executes (resting limits that
        # P crosses fill too: nautilus matches them), then returns to the last trade price.
        moved = order_type == "MARKET" and px.precision == inst.price_precision
        if moved:
            venue.quote(symbol, price, ts)
        try:
            venue.strategy.submit_order(order, position_id=position_id)
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:
            return _rejected("DUPLICATE_ORDER_ID" if previous is not None and not previous.is_closed
                             else "INVALID_ARGUMENT", f"nautilus: {exc}")
        finally:
            last = self.lasts.get(symbol)
            if moved and last is not None and last != price:
                venue.quote(symbol, last, venue.next_ts(int(action["t"])))
        for event in venue.strategy.events[mark:]:
            if isinstance(event, OrderDenied | OrderRejected) and event.client_order_id == client_id:
                venue.strategy.events[mark:] = [e for e in venue.strategy.events[mark:]
                                                if getattr(e, "client_order_id", None) != client_id]
                outcome = _rejected(_reason(str(event.reason)), f"nautilus: {event.reason}")
                outcome["events"] = self._translate(venue, mark, "order")  # other orders the quote filled
                return outcome
        venue.orders[order_id] = order
        if position_id is not None:
            venue.order_legs[order_id] = position_side
        return _accepted(self._translate(venue, mark, "request"))

    def _cancel_order(self, action: dict[str, Any]) -> dict[str, Any]:
        venue = self.venues[action["account"]]
        order = venue.orders.get(action.get("order_id", ""))
        if order is None or order.is_closed:
            return _rejected("UNKNOWN_ORDER", "no open nautilus order with this id")
        mark = len(venue.strategy.events)
        venue.strategy.cancel_order(order)
        return _accepted(self._translate(venue, mark, "request"))

    def _market_trade(self, action: dict[str, Any]) -> dict[str, Any]:
        symbol = action["instrument"]
        price = _dec(action["price"], "price")
        quantity = _dec(action["quantity"], "quantity")
        if price <= 0 or quantity <= 0:
            return _rejected("INVALID_ARGUMENT", "price and quantity must be positive for nautilus")
        events: list[dict[str, Any]] = []
        for venue in self.venues.values():
            inst = venue.instruments[symbol]
            if _decimals(price) > inst.price_precision or _decimals(quantity) > inst.size_precision:
                raise Unsupported("a trade finer than the instrument's increments cannot be shown to nautilus")
        for _, venue in sorted(self.venues.items()):
            mark = len(venue.strategy.events)
            venue.trade(symbol, price, quantity, venue.next_ts(int(action["t"])))
            events += self._translate(venue, mark, "order")
        self.lasts[symbol] = price
        return _accepted(events)

    def _mark_price(self, action: dict[str, Any]) -> dict[str, Any]:
        price = _dec(action["price"], "price")
        if price <= 0:
            return _rejected("INVALID_ARGUMENT", "price must be positive")
        self.marks[action["instrument"]] = price  # nautilus has no mark-driven behaviour to show it to
        return _accepted([])

    def _funding(self, action: dict[str, Any]) -> dict[str, Any]:
        raise Unsupported("funding: the nautilus backtest engine applies no funding payments")

    def _expire(self, action: dict[str, Any]) -> dict[str, Any]:
        raise Unsupported("expiry: the nautilus simulated exchange settles no dated contracts")

    # -- nautilus events -> hedgespec events -----------------------------------------------------------
    def _translate(self, venue: _Venue, mark: int, cause: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        account_id = venue.account_id
        names = {o.client_order_id: hid for hid, o in venue.orders.items()}
        pending: dict[str, Any] | None = None  # the last fill, waiting for its position events
        pending_leg: _Leg | None = None
        for event in venue.strategy.events[mark:]:
            if isinstance(event, PositionEvent):
                pid = event.position_id.value
                if isinstance(event, PositionOpened):
                    venue.position_realized[pid] = Decimal(0)
                realized = event.realized_pnl.as_decimal() if event.realized_pnl is not None else Decimal(0)
                delta = realized - venue.position_realized.get(pid, Decimal(0))
                venue.position_realized[pid] = realized
                if pending is not None and pending_leg is not None:
                    pending["_net"] += delta
                continue
            hid = names.get(event.client_order_id, event.client_order_id.value)
            if pending is not None:
                out += self._close_fill(pending, pending_leg)
                pending = pending_leg = None
            if isinstance(event, OrderFilled):
                symbol = event.instrument_id.symbol.value
                side = venue.side_of_position(event.position_id, symbol, event.order_side) \
                    if event.position_id is not None else "BOTH"
                fee = event.commission.as_decimal()
                pending_leg = venue.leg(symbol, side)
                pending = {"account": account_id, "order_id": hid, "instrument": symbol,
                           "side": "BUY" if event.order_side == OrderSide.BUY else "SELL", "position_side": side,
                           "quantity": event.last_qty.as_decimal(), "price": event.last_px.as_decimal(),
                           "liquidity": "MAKER" if event.liquidity_side == LiquiditySide.MAKER else "TAKER",
                           "fee": fee, "_net": Decimal(0), "cause": "order"}
                leaves = _leaves_after(venue, event)
                pending["_status"] = "FILLED" if leaves == 0 else "PARTIALLY_FILLED"
                pending["_leaves"] = leaves
            elif isinstance(event, OrderAccepted):
                order = venue.engine.cache.order(event.client_order_id)
                if order is not None and order.order_type.name == "LIMIT":
                    out.append(_order_event(account_id, hid, "NEW", "request", order.quantity.as_decimal()))
            elif isinstance(event, OrderCanceled):
                order = venue.engine.cache.order(event.client_order_id)
                leaves = order.leaves_qty.as_decimal() if order is not None else Decimal(0)
                out.append(_order_event(account_id, hid, "CANCELLED", cause, leaves))
        if pending is not None:
            out += self._close_fill(pending, pending_leg)
        venue.strategy.events[mark:] = []
        return out

    @staticmethod
    def _close_fill(fill: dict[str, Any], leg: _Leg | None) -> list[dict[str, Any]]:
        """A fill with its realized PnL (nautilus' net change plus the commission) and ledger entries."""
        realized = fill["_net"] + fill["fee"]
        if leg is not None:
            leg.realized += realized
            leg.fees += fill["fee"]
        account, symbol, side = fill["account"], fill["instrument"], fill["position_side"]
        events: list[dict[str, Any]] = []
        if realized:
            events.append(_ledger(account, symbol, side, "REALIZED_PNL", realized))
        if fill["fee"]:
            events.append(_ledger(account, symbol, side, "FEE", -fill["fee"]))
        events.append({"type": "fill", "account": account, "order_id": fill["order_id"], "instrument": symbol,
                       "side": fill["side"], "position_side": side, "quantity": fmt(fill["quantity"]),
                       "price": fmt(fill["price"]), "liquidity": fill["liquidity"], "fee": fmt(fill["fee"]),
                       "realized_pnl": fmt(realized), "cause": fill["cause"]})
        events.append(_order_event(account, fill["order_id"], fill["_status"], "order", fill["_leaves"]))
        return events

    # -- snapshot -------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        accounts = {aid: self._account_json(venue) for aid, venue in sorted(self.venues.items())}
        return {
            "snapshot_version": "1",
            "time": self.time,
            "accounts": accounts,
            "mark_prices": {k: fmt(v) for k, v in sorted(self.marks.items())},
            "last_prices": {k: fmt(v) for k, v in sorted(self.lasts.items())},
            "insurance_fund": fmt(_dec(self.params.get("insurance_fund", "0"), "insurance_fund")),
            "expired": [],
        }

    def _account_json(self, venue: _Venue) -> dict[str, Any]:
        account = venue.account
        cur = venue.currency
        order_margin = sum((m.as_decimal() for m in account.margins_init().values()), Decimal(0))
        positions = {symbol: self._rows(venue, symbol) for symbol in sorted(venue.instruments)}
        open_orders = {}
        for hid, order in sorted(venue.orders.items()):
            if order.is_closed:
                continue
            pid = order.position_id
            symbol = order.instrument_id.symbol.value
            if venue.mode != "HEDGE":
                side = "BOTH"
            elif pid is not None:
                side = venue.side_of_position(pid, symbol, order.side)
            else:  # nautilus gives an order its position at the first fill: the leg it was sent for
                side = venue.order_legs.get(hid, "LONG" if order.side == OrderSide.BUY else "SHORT")
            open_orders[hid] = {
                "instrument": symbol, "side": "BUY" if order.side == OrderSide.BUY else "SELL",
                "position_side": side, "order_type": order.order_type.name,
                "quantity": fmt(order.leaves_qty.as_decimal()),
                "price": fmt(order.price.as_decimal()) if getattr(order, "has_price", False) else "0",
                "stop_price": "0", "activation_price": "0", "callback_rate": "0",
                "reduce_only": bool(order.is_reduce_only), "close_position": False, "trailing_extreme": None,
            }
        return {
            "wallet": fmt(account.balance_total(cur).as_decimal()),
            "available_balance": fmt(account.balance_free(cur).as_decimal()),
            "order_margin": fmt(order_margin),
            "position_mode": {"*": venue.mode},
            "positions": positions,
            "open_orders": open_orders,
        }

    def _rows(self, venue: _Venue, symbol: str) -> dict[str, Any]:
        inst = venue.instruments[symbol]
        mark = self.marks.get(symbol)
        sides = ("LONG", "SHORT") if venue.mode == "HEDGE" else ("BOTH",)
        rows: dict[str, Any] = {}
        leverage = venue.leverage(inst.id)
        for side in sides:
            quantity = Decimal(0)
            cost = Decimal(0)
            maintenance = Decimal(0)
            for position in venue.open_positions(symbol):
                if venue.side_of_position(position.id, symbol) != side:
                    continue
                signed = position.quantity.as_decimal() * (1 if position.side == PositionSide.LONG else -1)
                quantity += signed
                cost += CTX.multiply(exact(position.avg_px_open), signed)
                if mark is not None:
                    maintenance += venue.account.calculate_margin_maint(
                        inst, position.side, position.quantity, Price(mark, max(_decimals(mark), inst.price_precision)),
                    ).as_decimal()
            cost = money(cost)
            leg = venue.legs.get((symbol, side), _Leg())
            rows[side] = {
                "quantity": fmt(quantity),
                "cost_basis": fmt(cost),
                "entry_price": _price16(Fraction(cost) / Fraction(quantity)) if quantity else None,
                "margin_type": "CROSS",
                "leverage": fmt(Decimal(leverage)),
                "isolated_margin": "0",
                "realized_pnl": fmt(leg.realized),
                "fees_paid": fmt(leg.fees),
                "funding": "0",
                "unrealized_pnl": fmt(quantity * mark - cost) if mark is not None else None,
                "maintenance_margin": fmt(maintenance) if mark is not None else None,
                "liquidation_price": None,
            }
        return rows


def _leaves_after(venue: _Venue, event: Any) -> Decimal:
    """What is left of the order once ``event`` (one of its fills) has executed."""
    order = venue.engine.cache.order(event.client_order_id)
    if order is None:
        return Decimal(0)
    filled = Decimal(0)
    for past in order.events:
        if isinstance(past, OrderFilled):
            filled += past.last_qty.as_decimal()
            if past.trade_id == event.trade_id:
                break
    return order.quantity.as_decimal() - filled


def _reason(text: str) -> str:
    """A nautilus denial/rejection message -> hedgespec reason class."""
    low = text.lower()
    if "reduce" in low or "would increase" in low or "reduce_only" in low:
        return "REDUCE_EXCEEDS_LEG"
    if "margin" in low or "balance" in low or "insufficient" in low or "notional" in low and "exceed" in low:
        return "INSUFFICIENT_MARGIN"
    if "duplicate" in low or "already" in low:
        return "DUPLICATE_ORDER_ID"
    return "INVALID_ARGUMENT"


def _rejected(reason: str, message: str) -> dict[str, Any]:
    return {"kind": "rejected", "reason": reason, "message": message, "events": []}


def _accepted(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "accepted", "reason": None, "message": "", "events": events}


def _ledger(account: str, symbol: str | None, side: str | None, kind: str, amount: Decimal) -> dict[str, Any]:
    return {"type": "ledger", "account": account, "instrument": symbol, "position_side": side, "kind": kind,
            "bucket": "wallet", "amount": fmt(amount)}


def _order_event(account: str, order_id: str, status: str, cause: str, quantity: Decimal) -> dict[str, Any]:
    return {"type": "order", "account": account, "order_id": order_id, "status": status, "cause": cause,
            "quantity": fmt(quantity)}


def make_adapter(profile: str | None = None) -> NautilusAdapter:
    """Factory for ``hedgespec conform --engine hedgespec.conformance.nautilus_adapter:make_adapter``."""
    return NautilusAdapter(profile)
