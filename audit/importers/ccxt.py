"""ccxt unified structures saved as JSON (fetchMyTrades, fetchPositions, fetchFundingHistory).

Facts used (ccxt manual, "Unified API", https://docs.ccxt.com/#/README?id=unified-api):

* A unified **trade** has ``id``, ``order``, ``timestamp`` (ms), ``symbol`` (``BTC/USDT:USDT`` for a
  linear swap settled in USDT), ``side`` (``buy``/``sell``), ``takerOrMaker``, ``price``, ``amount``
  (in contracts), ``fee`` ``{cost, currency}`` (cost positive = paid) and ``info`` (the venue's raw
  row). The unified trade has **no position side**: the leg is read from ``info`` (Binance
  ``positionSide``, OKX ``posSide``); a trade whose leg cannot be told is an import error, never a
  guess. Realized PnL likewise comes from ``info`` (Binance ``realizedPnl``, OKX ``fillPnl``, Bybit
  ``execPnl``) or is left unknown.
* A unified **position** has ``side`` (``long``/``short``), ``contracts`` (positive), ``contractSize``,
  ``entryPrice``, ``markPrice``, ``unrealizedPnl``, ``hedged`` (true in hedge mode), ``timestamp``,
  ``marginMode``. ``hedged: false`` rows are one-way (``BOTH``) rows.
* A unified **funding history** entry has ``symbol``, ``code`` (asset), ``timestamp``, ``id``, signed
  ``amount`` (negative = paid) and no position side.

ccxt writes numbers as JSON numbers; they are read from their decimal text (never through a float)
and the raw ``info`` strings are preferred where they exist. Quantities are contracts x contract size:
``contractSize`` of the position rows, or ``--contract-size SYMBOL=SIZE`` (ccxt's
``exchange.market(symbol)["contractSize"]``). The unified trade does not carry it, so a symbol whose
size is known from neither is an import error listing the symbols, never a guess.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .common import (
    Builder,
    ContractSizes,
    Row,
    RowError,
    contract_sizes,
    each_row,
    opening_record,
    read_rows,
    text_decimal,
    text_id,
    text_int,
    text_str,
)

VENUE = "ccxt"
TRADE_FIELDS = frozenset({"id", "order", "timestamp", "datetime", "symbol", "type", "side", "takerOrMaker", "price",
                          "amount", "cost", "fee", "fees", "info"})
POSITION_FIELDS = frozenset({
    "info", "id", "symbol", "timestamp", "datetime", "lastUpdateTimestamp", "initialMargin",
    "initialMarginPercentage", "maintenanceMargin", "maintenanceMarginPercentage", "entryPrice", "notional",
    "leverage", "unrealizedPnl", "realizedPnl", "contracts", "contractSize", "marginRatio", "liquidationPrice",
    "markPrice", "lastPrice", "collateral", "marginMode", "side", "percentage", "hedged", "stopLossPrice",
    "takeProfitPrice", "marginType"})
FUNDING_FIELDS = frozenset({"info", "symbol", "code", "timestamp", "datetime", "id", "amount"})
PNL_KEYS = ("realizedPnl", "fillPnl", "execPnl")
SIZE_SOURCE = "ccxt: exchange.market(SYMBOL)['contractSize'], or the contractSize of fetchPositions rows"


def add_arguments(parser: Any) -> None:
    parser.add_argument("--contract-size", action="append", default=[], metavar="SYMBOL=SIZE",
                        help="contract size of a symbol (required for every traded symbol whose position rows "
                             "do not carry contractSize)")


def settle_of(symbol: str) -> str | None:
    return symbol.split(":", 1)[1].split("-", 1)[0] if ":" in symbol else None


def _leg_from_info(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    side = info.get("positionSide") or info.get("posSide")
    if isinstance(side, str) and side.upper() in ("LONG", "SHORT"):
        return side.upper()
    if isinstance(side, str) and side.upper() in ("BOTH", "NET"):
        return "BOTH"
    return None


_Ctx = ContractSizes
LIQUIDITY = {"maker": "MAKER", "taker": "TAKER"}


def _object(d: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object of a unified row (``info``, ``fee``): empty when absent or null, an error when not an object."""
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RowError(f"{key}: expected an object, got {type(value).__name__} {value!r:.40}")
    return value


def _trade(ctx: _Ctx, b: Builder, row: Row) -> None:
    d = row.data
    symbol, ident = text_str(d, "symbol"), text_id(d, "id")
    assert symbol is not None and ident is not None
    side = text_str(d, "side")
    if side not in ("buy", "sell"):
        raise RowError(f"side: expected buy or sell, got {side!r}")
    info = _object(d, "info")
    position_side = _leg_from_info(info)
    if position_side is None:
        raise RowError("cannot tell the leg: no positionSide/posSide in info (ccxt's unified trade has none)")
    amount = text_decimal(d, "amount")
    # both prices are read when given (a malformed one is an error, never passed over); the raw info text is kept
    unified_price = text_decimal(d, "price", required=info.get("price") in (None, ""))
    price = text_decimal(info, "price", required=False) or unified_price
    assert amount is not None and price is not None
    fee = _object(d, "fee")
    fee_cost = text_decimal(fee, "cost", required=False)
    pnl = next((text_decimal(info, k) for k in PNL_KEYS if info.get(k) not in (None, "")), None)
    taker_or_maker = d.get("takerOrMaker")
    liquidity = None  # absent or null: not known
    if taker_or_maker is not None:
        if type(taker_or_maker) is not str or taker_or_maker not in LIQUIDITY:
            raise RowError(f"takerOrMaker: expected maker or taker, got {taker_or_maker!r:.40}")
        liquidity = LIQUIDITY[taker_or_maker]
    settle = settle_of(symbol)
    if settle:
        ctx.settle.add(settle)
    b.add("fill", text_int(d, "timestamp"), row, f"{symbol}:{ident}", id=ident,
          order_id=text_id(d, "order", required=False), instrument=symbol, side=side.upper(),
          position_side=position_side, quantity=amount * ctx.size(b, symbol), price=price, fee=fee_cost,
          fee_asset=text_str(fee, "currency", required=False), realized_pnl=pnl, liquidity=liquidity)


def position_row(ctx: _Ctx, d: dict[str, Any], b: Builder) -> tuple[str, str, Decimal, Decimal | None]:
    symbol = text_str(d, "symbol")
    assert symbol is not None
    contracts = text_decimal(d, "contracts", required=False) or Decimal(0)
    if contracts < 0:
        raise RowError(f"contracts {contracts} is negative (ccxt reports sizes as positive with a side)")
    side = d.get("side")
    hedged = d.get("hedged")
    if hedged is not None and not isinstance(hedged, bool):
        raise RowError(f"hedged: expected true or false, got {hedged!r:.40}")
    if contracts and side not in ("long", "short"):
        raise RowError(f"side: expected long or short for an open position, got {side!r}")
    size = text_decimal(d, "contractSize", required=False)
    if size is not None and size <= 0:
        raise RowError(f"contractSize {size} is not a positive size")
    if size is None:  # a flat row needs no size
        size = ctx.size(b, symbol) if contracts else Decimal(1)
    position_side = "BOTH" if hedged is False else ("LONG" if side == "long" else "SHORT")
    if hedged is None:
        b.note("position rows without 'hedged': read as hedge-mode rows", symbol)
    entry = text_decimal(d, "entryPrice", required=False) if contracts else None
    return symbol, position_side, contracts * size, entry


def _position(ctx: _Ctx, b: Builder, row: Row, t_default: int | None) -> None:
    d = row.data
    symbol, side, qty, entry = position_row(ctx, d, b)
    t = d.get("timestamp") if d.get("timestamp") is not None else t_default
    if t is None:
        raise RowError("no timestamp and the file has no snapshot time ({\"time\": ms, \"data\": [...]})")
    t = text_int({"timestamp": t}, "timestamp")
    margin = d.get("marginMode")
    if margin is not None and margin not in ("isolated", "cross"):
        b.note("position rows with a marginMode other than isolated or cross: margin type left out",
               f"{margin!r:.40}")
    b.add("position", t, row, f"{symbol}:{side}:{t}", instrument=symbol, position_side=side, quantity=qty,
          entry_price=entry, mark_price=text_decimal(d, "markPrice", required=False) or None,
          unrealized_pnl=text_decimal(d, "unrealizedPnl", required=False) if qty else None,
          **({"margin_type": margin.upper()} if margin in ("isolated", "cross") else {}))


def _funding(ctx: _Ctx, b: Builder, row: Row) -> None:
    d = row.data
    symbol = text_str(d, "symbol")
    t = text_int(d, "timestamp")
    venue_ident = text_id(d, "id", required=False)
    ident = venue_ident or f"{symbol}:{t}:{row.index}"
    leg = _leg_from_info(_object(d, "info"))
    b.add("funding", t, row, f"funding:{ident}", venue_id=venue_ident is not None, instrument=symbol,
          position_side=leg if leg != "BOTH" else None, amount=text_decimal(d, "amount"), asset=text_str(d, "code"))


def build(args: Any) -> tuple[Builder, dict[str, Any], dict[str, Any] | None]:
    b = Builder(VENUE)
    ctx = _Ctx(contract_sizes(args.contract_size), "contract size", SIZE_SOURCE)
    # contract sizes carried by position rows are known before the trades are read
    for path in args.positions + args.opening_positions:
        _, rows, _ = read_rows(path)
        for row in rows:
            if isinstance(row.data, dict) and isinstance(row.data.get("symbol"), str):
                try:
                    size = text_decimal(row.data, "contractSize", required=False)
                except RowError:
                    continue  # reported when the row itself is read
                if size is not None and size > 0:
                    ctx.sizes.setdefault(row.data["symbol"], size)
    each_row(b, args.user_trades, "trades", lambda b, r, t: _trade(ctx, b, r), TRADE_FIELDS)
    each_row(b, args.positions, "positions", lambda b, r, t: _position(ctx, b, r, t), POSITION_FIELDS)
    each_row(b, args.income, "funding", lambda b, r, t: _funding(ctx, b, r), FUNDING_FIELDS)
    if args.requests:
        b.note("--requests is not read for ccxt (use the venue importer)", "")
    opening = opening_record(b, args, lambda d: position_row(ctx, d, b), POSITION_FIELDS)
    ctx.check()
    meta: dict[str, Any] = {"v": 1, "type": "meta", "t": None, "venue": VENUE, "created_by": "hedgespec import ccxt",
                            "funding_window_ms": 60_000, "ledger_complete": bool(args.ledger_complete)}
    if args.account:
        meta["account"] = args.account
    if len(ctx.settle) == 1:
        meta["settle_asset"] = ctx.settle.pop()
    return b, meta, opening
