"""Binance USDⓈ-M futures: REST responses saved as JSON.

Venue facts used here (Binance derivatives API documentation,
https://developers.binance.com/docs/derivatives/usds-margined-futures):

* ``GET /fapi/v1/userTrades`` (Account Trade List): one row per fill with ``side``, ``positionSide``
  (``LONG``/``SHORT`` in hedge mode, ``BOTH`` in one-way mode), ``qty``, ``price``, ``realizedPnl``
  (per fill, fees excluded), ``commission`` and ``commissionAsset``, ``maker``, ``id`` (trade id,
  unique per symbol), ``orderId``, ``time`` (ms). ``commission`` is the amount paid; a negative
  value is a rebate (negative maker fees) and is carried as a negative ``fee``, as the trace format
  defines it, and counted in the notes (maker or taker). The documentation's sample row is a taker
  fill with a negative ``commission`` and an opening ``SELL``/``SHORT`` fill with a non-zero
  ``realizedPnl``: it is not a clean vector.
* ``GET /fapi/v1/income`` (Get Income History): rows with ``incomeType`` (``FUNDING_FEE``,
  ``REALIZED_PNL``, ``COMMISSION``, ``TRANSFER``, ...), signed ``income`` (negative = paid), ``asset``,
  ``time``, ``tranId``, ``tradeId``. Rows carry **no position side**: a funding row cannot be tied
  to a leg by itself (the audit decides per-leg funding from the amounts). ``REALIZED_PNL`` and
  ``COMMISSION`` rows repeat what the fills report and are not imported (counted in the notes).
* ``GET /fapi/v3/positionRisk`` / ``/fapi/v2/positionRisk`` (Position Information): in hedge mode a
  ``LONG`` and a ``SHORT`` row per symbol; ``positionAmt`` and ``notional`` are **negative on
  SHORT rows**; ``entryPrice``, ``markPrice``, ``unRealizedProfit``, ``updateTime``. The trace
  carries the size as a magnitude with its position side; a sign that contradicts the side is an
  import error. A flat leg the venue never updated has ``updateTime`` 0: without a snapshot time
  (``{"time": ms, "response": [...]}``) it is dated at the latest ``updateTime`` of its response
  (no leg of the response changed after it, so the leg was flat then) and counted in the notes; an
  open leg with ``updateTime`` 0 and no snapshot time is a row error.
* ``GET /fapi/v1/fundingRate`` (Get Funding Rate History): ``symbol``, ``fundingRate``,
  ``fundingTime``, ``markPrice``.
* ``GET /fapi/v2/balance``: ``asset``, ``balance`` (wallet balance), ``updateTime``.
* Errors are ``{"code": <negative int>, "msg": ...}``; e.g. -4068 (position side cannot be changed
  while a position exists), -4067 (open orders), -4059 (no need to change), -4061 (order position
  side does not match the mode), -2022 (reduce-only order rejected).

Precision: money values are printed with 8 decimals (``money`` step 0.00000001). Binance does not
publish the precision of its internal entry price; the importer assumes 0.00000001
(``--entry-precision STEP``, a plain decimal without exponent, as every number of a trace).

Requests and responses are not exported by the venue; ``--requests`` reads the hedgespec request
log (JSON lines or an array of ``{"time", "request", "response"}``), see docs/audit/trace-format.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..numbers import DECIMAL_TEXT
from .common import (
    Builder,
    ImportError_,
    Row,
    RowError,
    each_row,
    numeric_order,
    opening_record,
    text_decimal,
    text_id,
    text_int,
    text_str,
)

VENUE = "binance"
MONEY_STEP = Decimal("0.00000001")
ENTRY_STEP = Decimal("0.00000001")
SETTLE_SUFFIXES = ("USDT", "USDC", "FDUSD", "BUSD")

TRADE_FIELDS = frozenset({"buyer", "commission", "commissionAsset", "id", "maker", "orderId", "price", "qty",
                          "quoteQty", "realizedPnl", "side", "positionSide", "symbol", "time", "marginAsset"})
INCOME_FIELDS = frozenset({"symbol", "incomeType", "income", "asset", "info", "time", "tranId", "tradeId"})
POSITION_FIELDS = frozenset({
    "symbol", "positionSide", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice", "unRealizedProfit",
    "liquidationPrice", "isolatedMargin", "notional", "marginAsset", "isolatedWallet", "initialMargin",
    "maintMargin", "positionInitialMargin", "openOrderInitialMargin", "adl", "bidNotional", "askNotional",
    "updateTime", "leverage", "maxNotionalValue", "marginType", "isAutoAddMargin"})
FUNDING_RATE_FIELDS = frozenset({"symbol", "fundingRate", "fundingTime", "markPrice"})
BALANCE_FIELDS = frozenset({"accountAlias", "asset", "balance", "crossWalletBalance", "crossUnPnl",
                            "availableBalance", "maxWithdrawAmount", "marginAvailable", "updateTime"})
SKIPPED_INCOME = ("REALIZED_PNL", "COMMISSION")
#: documented page sizes (default and maximum ``limit``): a file holding exactly that many rows may be cut short
USER_TRADES_PAGES = (500, 1000)
INCOME_PAGES = (100, 1000)
FUNDING_RATE_PAGES = (100, 1000)


def settle_asset_of(symbol: str) -> str | None:
    for suffix in SETTLE_SUFFIXES:
        if symbol.endswith(suffix):
            return suffix
    return None


def add_arguments(parser: Any) -> None:
    """Binance-specific options (the common ones are added by the CLI)."""
    parser.add_argument("--funding-rates", action="append", default=[], metavar="FILE",
                        help="GET /fapi/v1/fundingRate responses (funding rate and mark price per funding time)")
    parser.add_argument("--balances", action="append", default=[], metavar="FILE",
                        help="GET /fapi/v2/balance responses (wallet balance snapshots)")
    parser.add_argument("--entry-precision", default=format(ENTRY_STEP, "f"), metavar="STEP",
                        help="step of the venue's internal entry price, a plain decimal such as 0.00000001 "
                             "(no exponent; default %(default)s, an assumption)")


def entry_precision(text: str) -> str:
    """The ``--entry-precision`` value, checked against the trace's decimal grammar (no exponent, not negative)."""
    if not isinstance(text, str) or DECIMAL_TEXT.fullmatch(text) is None or text.startswith("-"):
        raise ImportError_(f"--entry-precision {text!r:.40}: expected a non-negative plain decimal step such as "
                           f"{format(ENTRY_STEP, 'f')} (at most 20 digits before and after the point, no exponent)")
    return text


def _position_side(d: dict[str, Any]) -> str:
    """A row's ``positionSide``: ``BOTH`` (one-way mode) only when the field is absent or null; an empty or
    other value is an error, never read as ``BOTH``."""
    value = d.get("positionSide")
    if value is None:
        return "BOTH"
    if type(value) is not str or value not in ("LONG", "SHORT", "BOTH"):
        raise RowError(f"positionSide: expected LONG|SHORT|BOTH, got {value!r:.40}")
    return value


def _fill(b: Builder, row: Row, t_default: int | None = None) -> None:
    d = row.data
    commission = text_decimal(d, "commission")
    assert commission is not None
    side = text_str(d, "side")
    position_side = _position_side(d)
    if side not in ("BUY", "SELL"):
        raise RowError(f"side: expected BUY|SELL, got {side!r:.40}")
    maker = d.get("maker")
    if not isinstance(maker, bool):
        raise RowError(f"maker: expected true or false, got {maker!r}")
    symbol = text_str(d, "symbol")
    ident = text_id(d, "id")
    assert symbol is not None and ident is not None
    liquidity = "MAKER" if maker else "TAKER"
    b.add("fill", text_int(d, "time"), row, f"{symbol}:{ident}", id=ident, order=numeric_order(ident),
          order_id=text_id(d, "orderId", required=False), instrument=symbol, side=side, position_side=position_side,
          quantity=text_decimal(d, "qty"), price=text_decimal(d, "price"), fee=commission,
          fee_asset=text_str(d, "commissionAsset"), realized_pnl=text_decimal(d, "realizedPnl"),
          liquidity=liquidity)
    if commission < 0:
        b.note("fills with a negative commission (a rebate): carried as a negative fee",
               f"{liquidity.lower()} fills" + (": a taker rebate is unusual (the documentation sample has one)"
                                                if liquidity == "TAKER" else ""))


def _income(b: Builder, row: Row, t_default: int | None = None) -> None:
    d = row.data
    kind = text_str(d, "incomeType")
    ident = text_id(d, "tranId")
    assert kind is not None and ident is not None
    if kind in SKIPPED_INCOME:
        b.skip(f"income rows {kind} not imported", "the fills carry the same amounts")
        return
    t = text_int(d, "time")
    amount = text_decimal(d, "income")
    asset = text_str(d, "asset")
    symbol = text_str(d, "symbol", required=False)
    if kind == "FUNDING_FEE":
        if symbol is None:
            raise RowError("FUNDING_FEE row without symbol")
        b.add("funding", t, row, f"{kind}:{ident}", instrument=symbol, position_side=None, amount=amount, asset=asset)
    else:
        b.add("ledger", t, row, f"{kind}:{ident}", kind=kind, asset=asset, amount=amount, instrument=symbol)


def position_row(d: dict[str, Any]) -> tuple[str, str, Decimal, Decimal | None]:
    """(symbol, position side, size magnitude, entry price) of a positionRisk row; checks the sign."""
    symbol = text_str(d, "symbol")
    side = _position_side(d)
    amount = text_decimal(d, "positionAmt")
    assert symbol is not None and amount is not None
    if (side == "SHORT" and amount > 0) or (side == "LONG" and amount < 0):
        raise RowError(f"positionAmt {amount} has the wrong sign for a {side} row (SHORT rows are negative)")
    entry = text_decimal(d, "entryPrice", required=False)
    return symbol, side, abs(amount), entry if amount else None


def latest_update(rows: list[Row]) -> int | None:
    """The latest valid ``updateTime`` of a positionRisk response (None when no row has one)."""
    times = []
    for row in rows:
        if isinstance(row.data, dict) and row.data.get("updateTime") not in (None, 0, "0"):
            try:
                times.append(text_int(row.data, "updateTime"))
            except RowError:
                continue  # reported when the row itself is read
    return max(times, default=None)


def _position(b: Builder, row: Row, t_default: int | None, latest: int | None = None) -> None:
    d = row.data
    symbol, side, qty, entry = position_row(d)
    t = d.get("updateTime")
    t = text_int(d, "updateTime") if t not in (None, 0, "0") else t_default
    if t is None and not qty and latest is not None:
        t = latest
        b.note("flat position rows with updateTime 0 dated at the latest updateTime of their response",
               "positionRisk without a snapshot time")
    if t is None:
        raise RowError(("updateTime is 0 on an open leg" if qty else "updateTime is 0 and no row of the response has one")
                       + " and the file has no snapshot time ({\"time\": ms, \"response\": [...]})")
    margin_type = d.get("marginType")
    b.add("position", t, row, f"{symbol}:{side}:{t}", instrument=symbol, position_side=side, quantity=qty,
          entry_price=entry, mark_price=text_decimal(d, "markPrice", required=False) or None,
          unrealized_pnl=text_decimal(d, "unRealizedProfit", required=False) if qty else None,
          **({"margin_type": margin_type.upper()} if margin_type in ("isolated", "cross") else {}))


def _funding_rate(b: Builder, row: Row, t_default: int | None = None) -> None:
    d = row.data
    symbol = text_str(d, "symbol")
    t = text_int(d, "fundingTime")
    mark = text_decimal(d, "markPrice", required=False)
    b.add("funding_rate", t, row, f"{symbol}:{t}", instrument=symbol, rate=text_decimal(d, "fundingRate"),
          mark_price=mark if mark else None)


def _balance(b: Builder, row: Row, t_default: int | None) -> None:
    d = row.data
    asset = text_str(d, "asset")
    t = text_int(d, "updateTime") if d.get("updateTime") not in (None, 0) else t_default
    if t is None:
        raise RowError("no updateTime and the file has no snapshot time")
    b.add("balance", t, row, f"{asset}:{t}", asset=asset, wallet_balance=text_decimal(d, "balance"))


ERROR_NO_CHANGE = "-4059"


def _request(b: Builder, row: Row, t_default: int | None = None) -> None:
    """One entry of the hedgespec request log: ``{"time", "request": {...}, "response": {...}}``."""
    d = row.data
    if not isinstance(d, dict) or not isinstance(d.get("request"), dict) or not isinstance(d.get("response"), dict):
        raise RowError("expected {\"time\": ms, \"request\": {...}, \"response\": {...}}")
    t = text_int(d, "time")
    req, resp = d["request"], d["response"]
    code = resp.get("code")
    error = isinstance(code, int) and not isinstance(code, bool) and code < 0
    code_text = str(code) if error else None
    message = str(resp.get("msg", "")) if error else ""
    endpoint = str(req.get("endpoint", "/fapi/v1/order"))
    if endpoint.endswith("/positionSide/dual"):
        wanted = str(req.get("dualSidePosition", "")).lower()
        if wanted not in ("true", "false"):
            raise RowError("dualSidePosition: expected \"true\" or \"false\"")
        outcome = "unchanged" if code_text == ERROR_NO_CHANGE else ("rejected" if error else "accepted")
        b.add("mode_change", t, row, f"mode:{t}:{row.index}", venue_id=False, requested="HEDGE" if wanted == "true" else "ONE_WAY",
              outcome=outcome, code=code_text, message=message)
        return
    if not endpoint.endswith("/order"):
        b.skip("request log entries for other endpoints not imported", endpoint)
        return
    symbol = text_str(req, "symbol")
    side = str(req.get("side", "")).upper()
    if side not in ("BUY", "SELL"):
        raise RowError(f"request.side: expected BUY or SELL, got {req.get('side')!r}")
    position_side = req.get("positionSide")
    if position_side is not None and position_side not in ("LONG", "SHORT", "BOTH"):
        raise RowError(f"request.positionSide: expected LONG|SHORT|BOTH, got {position_side!r}")
    order_id = str(resp.get("orderId", req.get("newClientOrderId", f"request-{row.index}")))
    reduce_only = str(req.get("reduceOnly", "")).lower() == "true"
    close_position = str(req.get("closePosition", "")).lower() == "true"
    b.add("order", t, row, f"order:{order_id}:{t}", venue_id="orderId" in resp or "newClientOrderId" in req,
          order_id=order_id, instrument=symbol, side=side,
          position_side=position_side, quantity=text_decimal(req, "quantity", required=False) or None,
          price=text_decimal(req, "price", required=False) or None, order_type=str(req.get("type", "")) or "LIMIT",
          reduce_only=reduce_only, close_position=close_position,
          outcome="rejected" if error else "accepted", code=code_text, message=message)


def build(args: Any) -> tuple[Builder, dict[str, Any], dict[str, Any] | None]:
    """Read the files named in ``args``; return the builder, the meta record and the opening record."""
    precision = entry_precision(args.entry_precision)  # before any file is read
    b = Builder(VENUE)
    settle: set[str] = set()

    def each(files: list[str], role: str, handle: Any, known: frozenset[str] | None,
             page_limits: tuple[int, ...] = ()) -> None:
        each_row(b, files, role, handle, known, page_limits)

    each(args.user_trades, "userTrades", _fill, TRADE_FIELDS, USER_TRADES_PAGES)
    for _, rec in b.records:
        asset = settle_asset_of(rec["instrument"])
        if asset:
            settle.add(asset)
    each(args.income, "income", _income, INCOME_FIELDS, INCOME_PAGES)
    latest: list[int | None] = [None]

    def page_latest(rows: list[Row]) -> None:
        latest[0] = latest_update(rows)

    each_row(b, args.positions, "positions", lambda b, r, t: _position(b, r, t, latest[0]), POSITION_FIELDS,
             page_hook=page_latest)
    each(args.funding_rates, "fundingRate", _funding_rate, FUNDING_RATE_FIELDS, FUNDING_RATE_PAGES)
    each(args.balances, "balances", _balance, BALANCE_FIELDS)
    each(args.requests, "requests", _request, None)
    opening = _opening(b, args)
    meta = {"v": 1, "type": "meta", "t": None, "venue": VENUE, "created_by": "hedgespec import binance",
            "precision": {"money": format(MONEY_STEP, "f"), "entry_price": precision},
            "funding_window_ms": 60_000, "ledger_complete": bool(args.ledger_complete)}
    if args.account:
        meta["account"] = args.account
    if len(settle) == 1:
        meta["settle_asset"] = settle.pop()
    elif settle:
        b.note("several settle assets; fee checks need one (meta.settle_asset not set)", ", ".join(sorted(settle)))
    return b, meta, opening


def _opening(b: Builder, args: Any) -> dict[str, Any] | None:
    return opening_record(b, args, lambda d: position_row(d), POSITION_FIELDS)
