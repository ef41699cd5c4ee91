"""Bybit v5 (unified trading account): execution list, position list, transaction log.

Facts used (Bybit v5 API documentation, https://bybit-exchange.github.io/docs/v5/intro):

* ``GET /v5/execution/list`` rows: ``symbol``, ``execId``, ``orderId``, ``side`` (``Buy``/``Sell``),
  ``execQty``, ``execPrice``, ``execFee`` (positive = paid, negative = rebate), ``feeCurrency``,
  ``isMaker``, ``execType`` (``Trade``, ``AdlTrade``, ``BustTrade``, ``Settle``, ...), ``execTime``
  (ms, as a string), ``closedSize`` and, in newer responses, ``execPnl``. Execution rows do **not**
  name the position (no ``positionIdx``): in hedge mode a fill either opens or closes one leg, so
  the importer reads the leg from ``side`` and ``closedSize`` (``closedSize`` 0: Buy opens LONG,
  Sell opens SHORT; otherwise Sell closes LONG, Buy closes SHORT) and carries ``closedSize`` into
  the trace as ``closed_quantity``; a fill that reports only part of its quantity as closed is kept
  as such for the audit to judge (HM-ORD-002), not repaired. The list is sorted by ``execTime``
  (newest first) and the documentation warns that executions of the same ``execTime`` are not in a
  reliable order; ``execId`` is not a number. Executions of one symbol at the same ``execTime`` are
  written in the order they were read and counted in the notes.
* ``GET /v5/position/list`` rows: ``positionIdx`` (0 one-way, 1 hedge Buy side, 2 hedge Sell side),
  ``side`` (``Buy``/``Sell``, empty when flat), ``size`` **always positive**, ``avgPrice``,
  ``markPrice``, ``unrealisedPnl``, ``updatedTime``. A row whose side contradicts its positionIdx is
  an import error.
* ``GET /v5/account/transaction-log`` rows: ``type`` (``SETTLEMENT`` for funding, ``TRADE``, ...),
  ``symbol``, ``side``, ``funding``, ``change``, ``currency``, ``transactionTime``, ``id``. The log
  states ``change = cashFlow + funding - fee``, so ``funding`` is positive when received, as in the
  trace. ``TRADE`` rows repeat the executions and are not imported (counted in the notes).
  On a ``SETTLEMENT`` row ``side`` is the leg (``Buy`` LONG, ``Sell`` SHORT), ``tradePrice`` the
  mark price the funding was computed at, ``size`` the position size (signed: short with ``-``) and
  ``feeRate`` the funding rate: the documentation's example is a ``Buy`` row with
  ``funding = -size x tradePrice x feeRate``. These are carried as the funding record's
  ``mark_price``, ``quantity`` (magnitude; a negative size on a ``Buy`` row is a row error) and, on
  ``Buy`` rows, ``rate``, and each ``Buy`` row with a rate and a mark also gives a ``funding_rate``
  record at its time, so both legs of that instant can be checked (HM-FUND-001/002). On ``Sell``
  rows the sign of ``feeRate`` is not documented for the unified account (Bybit's pre-upgrade log
  documents it as the market rate negated): it is not carried, and is counted in the notes; a funding
  time with only a short leg open is therefore not decidable from the log alone.

Replies are ``{"retCode": 0, "retMsg": "OK", "result": {"list": [...], "nextPageCursor": ...}}``: a
non-zero ``retCode`` is an error reply and an import error; a non-empty ``nextPageCursor`` means more
pages exist, and the file is noted as an incomplete export.

Money is printed with 8 decimals (money step 0.00000001).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .common import (
    Builder,
    Row,
    RowError,
    each_row,
    opening_record,
    text_decimal,
    text_id,
    text_int,
    text_str,
)

VENUE = "bybit"
EXEC_FIELDS = frozenset({
    "symbol", "orderId", "orderLinkId", "side", "orderPrice", "orderQty", "leavesQty", "createType", "orderType",
    "stopOrderType", "execFee", "execId", "execPrice", "execQty", "execType", "execValue", "execTime",
    "feeCurrency", "isMaker", "feeRate", "tradeIv", "markIv", "markPrice", "indexPrice", "underlyingPrice",
    "blockTradeId", "closedSize", "seq", "execPnl", "extraFees", "marketUnit"})
POSITION_FIELDS = frozenset({
    "positionIdx", "riskId", "riskLimitValue", "symbol", "side", "size", "avgPrice", "positionValue", "tradeMode",
    "positionStatus", "autoAddMargin", "adlRankIndicator", "leverage", "positionBalance", "markPrice",
    "liqPrice", "bustPrice", "positionMM", "positionIM", "tpslMode", "takeProfit", "stopLoss", "trailingStop",
    "unrealisedPnl", "curRealisedPnl", "cumRealisedPnl", "seq", "isReduceOnly", "mmrSysUpdatedTime",
    "leverageSysUpdatedTime", "createdTime", "updatedTime", "sessionAvgPrice", "breakEvenPrice"})
LOG_FIELDS = frozenset({
    "id", "symbol", "category", "side", "transactionTime", "type", "transSubType", "qty", "size", "currency",
    "tradePrice", "funding", "fee", "cashFlow", "change", "cashBalance", "feeRate", "bonusChange", "tradeId",
    "orderId", "orderLinkId", "extraFees"})
CAUSES = {"Trade": "order", "AdlTrade": "adl", "BustTrade": "liquidation", "Settle": "settlement",
          "Delivery": "settlement"}
LEG_OF_IDX = {0: "BOTH", 1: "LONG", 2: "SHORT"}


def add_arguments(parser: Any) -> None:
    parser.add_argument("--settle-asset", default="USDT", help="settle asset of the linear contracts (default USDT)")


def _execution(b: Builder, row: Row, args: Any) -> None:
    d = row.data
    kind = text_str(d, "execType", required=False) or "Trade"
    if kind == "Funding":
        b.skip("execution rows of type Funding not imported", "use the transaction log (--income)")
        return
    cause = CAUSES.get(kind)
    if cause is None:
        raise RowError(f"execType {kind!r} is not a fill this importer knows")
    side = text_str(d, "side")
    if side not in ("Buy", "Sell"):
        raise RowError(f"side: expected Buy or Sell, got {side!r}")
    qty = text_decimal(d, "execQty")
    closed = text_decimal(d, "closedSize", required=False) or Decimal(0)
    assert qty is not None
    if args.mode == "ONE_WAY":
        position_side = "BOTH"
    elif closed == 0:
        position_side = "LONG" if side == "Buy" else "SHORT"
    else:
        position_side = "LONG" if side == "Sell" else "SHORT"
    is_maker = d.get("isMaker")
    symbol, ident = text_str(d, "symbol"), text_id(d, "execId")
    b.add("fill", text_int(d, "execTime"), row, f"{symbol}:{ident}", id=ident,
          order_id=text_id(d, "orderId", required=False), instrument=symbol, side=side.upper(),
          position_side=position_side, quantity=qty, price=text_decimal(d, "execPrice"),
          fee=text_decimal(d, "execFee", required=False),
          fee_asset=text_str(d, "feeCurrency", required=False) or args.settle_asset,
          realized_pnl=text_decimal(d, "execPnl", required=False),
          liquidity=("MAKER" if is_maker else "TAKER") if isinstance(is_maker, bool) else None,
          **({"cause": cause} if cause != "order" else {}),
          **({"closed_quantity": closed} if position_side != "BOTH" else {}))


def position_row(d: dict[str, Any]) -> tuple[str, str, Decimal, Decimal | None]:
    symbol = text_str(d, "symbol")
    idx = d.get("positionIdx")
    if isinstance(idx, (bool, dict, list)) or idx not in LEG_OF_IDX:  # a list or object is no index (nor hashable)
        raise RowError(f"positionIdx: expected 0, 1 or 2, got {idx!r:.40}")
    leg = LEG_OF_IDX[idx]
    size = text_decimal(d, "size")
    assert symbol is not None and size is not None
    if size < 0:
        raise RowError(f"size {size} is negative (Bybit sizes are positive, the side gives the direction)")
    side = d.get("side") or ""
    if size and (leg == "LONG" and side != "Buy" or leg == "SHORT" and side != "Sell"):
        raise RowError(f"side {side!r} contradicts positionIdx {idx} ({leg})")
    entry = text_decimal(d, "avgPrice", required=False) if size else None
    return symbol, leg, size, entry


def _position(b: Builder, row: Row, t_default: int | None) -> None:
    d = row.data
    symbol, leg, size, entry = position_row(d)
    t = text_int(d, "updatedTime") if d.get("updatedTime") not in (None, "", "0") else t_default
    if t is None:
        raise RowError("no updatedTime and the file has no snapshot time")
    b.add("position", t, row, f"{symbol}:{leg}:{t}", instrument=symbol, position_side=leg, quantity=size,
          entry_price=entry, mark_price=text_decimal(d, "markPrice", required=False) or None,
          unrealized_pnl=text_decimal(d, "unrealisedPnl", required=False) if size else None)


#: (symbol, time) -> (funding rate, mark price, the Buy SETTLEMENT row they were read from)
Rates = dict[tuple[str, int], tuple[Decimal, Decimal, Row]]


def _settlement(b: Builder, row: Row, t: int, ident: str, rates: Rates) -> None:
    """A funding SETTLEMENT row: amount, and the venue's own rate, mark and size where it reports them."""
    d = row.data
    symbol = text_str(d, "symbol")
    assert symbol is not None
    leg = {"Buy": "LONG", "Sell": "SHORT"}.get(text_str(d, "side", required=False) or "")
    mark = text_decimal(d, "tradePrice", required=False)
    size = text_decimal(d, "size", required=False)
    rate = text_decimal(d, "feeRate", required=False)
    if mark is not None and mark < 0:
        raise RowError(f"tradePrice {mark} is negative (the mark price of the settlement)")
    if size is not None and size < 0 and leg == "LONG":
        raise RowError(f"size {size} is negative on a Buy (LONG) settlement row (short sizes carry the '-')")
    reported: dict[str, Decimal] = {}
    if mark:
        reported["mark_price"] = mark
    if size:
        reported["quantity"] = abs(size)
    if rate is not None and leg == "LONG":
        reported["rate"] = rate
    elif rate is not None and leg == "SHORT":
        b.note("SETTLEMENT Sell rows: feeRate not carried (its sign on Sell rows is not documented for the "
               "unified account)", "the rate comes from the Buy row of the same funding time, if any")
    b.add("funding", t, row, f"SETTLEMENT:{ident}", instrument=symbol, position_side=leg,
          amount=text_decimal(d, "funding"), asset=text_str(d, "currency"), **reported)
    if "rate" in reported and mark:
        rates.setdefault((symbol, t), (reported["rate"], mark, row))


def _log(b: Builder, row: Row, rates: Rates) -> None:
    d = row.data
    kind = text_str(d, "type")
    t = text_int(d, "transactionTime")
    ident = text_id(d, "id")
    assert ident is not None
    if kind == "TRADE":
        b.skip("transaction-log TRADE rows not imported", "the executions carry them")
        return
    if kind == "SETTLEMENT":
        _settlement(b, row, t, ident, rates)
        return
    b.add("ledger", t, row, f"{kind}:{ident}", kind=kind, asset=text_str(d, "currency"),
          amount=text_decimal(d, "change"), instrument=text_str(d, "symbol", required=False))


def build(args: Any) -> tuple[Builder, dict[str, Any], dict[str, Any] | None]:
    b = Builder(VENUE)
    each_row(b, args.user_trades, "executions", lambda b, r, t: _execution(b, r, args), EXEC_FIELDS)
    same_time: dict[tuple[str, int], int] = {}
    for _, rec in b.records:
        key = (rec["instrument"], rec["t"])
        same_time[key] = same_time.get(key, 0) + 1
    for (symbol, t), count in sorted(same_time.items()):
        if count > 1:
            b.note("executions at the same execTime on one symbol: kept in the order they were read (Bybit does not "
                   "order executions within one execTime; HM-ORD-003 there depends on that order)", f"{symbol} t={t}")
    each_row(b, args.positions, "positions", _position, POSITION_FIELDS)
    rates: Rates = {}
    each_row(b, args.income, "transaction log", lambda b, r, t: _log(b, r, rates), LOG_FIELDS)
    for (symbol, t), (rate, mark, row) in sorted(rates.items(), key=lambda item: item[0]):
        b.add("funding_rate", t, row, f"{symbol}:{t}", venue_id=False, derived=True, instrument=symbol, rate=rate,
              mark_price=mark)
    if rates:
        b.note("funding_rate records from the SETTLEMENT Buy rows (feeRate, tradePrice)", "transaction log")
    if args.requests:
        b.note("--requests is not read for bybit yet", "")
    opening = opening_record(b, args, position_row, POSITION_FIELDS)
    meta: dict[str, Any] = {"v": 1, "type": "meta", "t": None, "venue": VENUE,
                            "created_by": "hedgespec import bybit", "settle_asset": args.settle_asset,
                            "precision": {"money": "0.00000001"}, "funding_window_ms": 60_000,
                            "ledger_complete": bool(args.ledger_complete)}
    if args.account:
        meta["account"] = args.account
    return b, meta, opening
