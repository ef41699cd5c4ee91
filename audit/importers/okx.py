"""OKX v5: fills, positions and bills.

Facts used (OKX API v5 documentation, https://www.okx.com/docs-v5/en/):

* ``GET /api/v5/trade/fills`` and ``/fills-history`` rows: ``instId``, ``tradeId``, ``ordId``, ``side``
  (``buy``/``sell``), ``posSide`` (``long``/``short`` in long/short mode, ``net`` in net mode),
  ``fillSz`` (contracts), ``fillPx``, ``fee`` (**negative = charged**, positive = rebate; the trace
  stores the amount paid, so the sign is flipped), ``feeCcy``, ``execType`` (``T`` taker, ``M``
  maker), ``ts`` (ms, string) and, in newer responses, ``fillPnl``.
* ``GET /api/v5/account/positions`` rows: ``instId``, ``posSide``, ``pos`` (**positive for both legs
  in long/short mode**; signed in net mode), ``avgPx``, ``markPx``, ``upl``, ``uTime``, ``mgnMode``.
  A negative ``pos`` on a long/short row is an import error.
* ``GET /api/v5/account/bills`` rows: ``type`` (``8`` = funding fee, ``2`` = trade), ``balChg``
  (signed, negative = paid), ``ccy``, ``instId``, ``ts``, ``billId``. Funding bills are read without
  a leg unless the row carries ``posSide``. Trade bills repeat the fills and are not imported.

Sizes are in contracts; the base quantity is contracts x ``ctVal``, which the fills and positions do
not carry: ``--contract-size INST=VAL`` is required for every instrument in them (``ctVal`` of
``GET /api/v5/public/instruments``); a missing one is an import error listing the instruments, never a
guess (a wrong size makes every PnL check a false finding).

Replies are ``{"code": "0", "msg": "", "data": [...]}``; a non-zero ``code`` is an error reply and an
import error. Pages carry no "more" marker (paging is by ``after``/``before`` cursors, ``limit`` at
most 100): a fills or bills file of exactly 100 rows is noted as possibly cut short.
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
    numeric_order,
    opening_record,
    text_decimal,
    text_id,
    text_int,
    text_str,
)

VENUE = "okx"
FILL_FIELDS = frozenset({
    "instType", "instId", "tradeId", "ordId", "clOrdId", "billId", "subType", "tag", "fillPx", "fillSz",
    "fillIdxPx", "fillPnl", "fillPxVol", "fillPxUsd", "fillMarkVol", "fillFwdPx", "fillMarkPx", "side", "posSide",
    "execType", "feeCcy", "fee", "ts", "fillTime", "feeRate", "tradeQuoteCcy"})
POSITION_FIELDS = frozenset({
    "adl", "availPos", "avgPx", "cTime", "ccy", "deltaBS", "deltaPA", "gammaBS", "gammaPA", "imr", "instId",
    "instType", "interest", "idxPx", "usdPx", "bePx", "last", "lever", "liab", "liabCcy", "liqPx", "markPx",
    "margin", "mgnMode", "mgnRatio", "mmr", "notionalUsd", "optVal", "pTime", "pendingCloseOrdLiabVal", "pos",
    "baseBorrowed", "baseInterest", "quoteBorrowed", "quoteInterest", "posCcy", "posId", "posSide",
    "spotInUseAmt", "spotInUseCcy", "clSpotInUseAmt", "maxSpotInUseAmt", "bizRefId", "bizRefType",
    "thetaBS", "thetaPA", "tradeId", "uTime", "upl", "uplLastPx", "uplRatio", "uplRatioLastPx", "vegaBS",
    "vegaPA", "realizedPnl", "pnl", "fee", "fundingFee", "liqPenalty", "closeOrderAlgo", "nonSettleAvgPx",
    "settledPnl"})
BILL_FIELDS = frozenset({
    "bal", "balChg", "billId", "ccy", "clOrdId", "execType", "fee", "fillFwdPx", "fillIdxPx", "fillMarkPx",
    "fillMarkVol", "fillPxUsd", "fillPxVol", "fillTime", "from", "instId", "instType", "interest", "mgnMode",
    "notes", "ordId", "pnl", "posBal", "posBalChg", "px", "subType", "sz", "tag", "to", "tradeId", "ts",
    "type", "posSide"})
LEG = {"long": "LONG", "short": "SHORT", "net": "BOTH"}
PAGES = (100,)  # limit: default and maximum 100 rows (fills-history, bills)
CT_VAL_SOURCE = "ctVal of GET /api/v5/public/instruments?instType=SWAP (FUTURES, OPTION)"


def add_arguments(parser: Any) -> None:
    parser.add_argument("--contract-size", action="append", default=[], metavar="INST=CTVAL",
                        help="contract value (ctVal) of an instrument, from GET /api/v5/public/instruments "
                             "(required for every instrument in the fills and positions)")


_Ctx = ContractSizes

def _fill(ctx: _Ctx, b: Builder, row: Row) -> None:
    d = row.data
    inst, ident = text_str(d, "instId"), text_id(d, "tradeId")
    assert inst is not None and ident is not None
    side = text_str(d, "side")
    leg = LEG.get(str(d.get("posSide")))
    if side not in ("buy", "sell") or leg is None:
        raise RowError(f"side/posSide: expected buy|sell and long|short|net, got {side!r}/{d.get('posSide')!r}")
    fee = text_decimal(d, "fee", required=False)
    exec_type = d.get("execType")
    ctx.settle.add(str(d.get("feeCcy") or ""))
    b.add("fill", text_int(d, "ts"), row, f"{inst}:{ident}", id=ident, order=numeric_order(ident), order_id=text_id(d, "ordId", required=False),
          instrument=inst, side=side.upper(), position_side=leg,
          quantity=text_decimal(d, "fillSz") * ctx.size(b, inst),  # type: ignore[operator]
          price=text_decimal(d, "fillPx"), fee=None if fee is None else -fee,
          fee_asset=text_str(d, "feeCcy", required=False), realized_pnl=text_decimal(d, "fillPnl", required=False),
          liquidity={"T": "TAKER", "M": "MAKER"}.get(str(exec_type)))


def position_row(ctx: _Ctx, b: Builder, d: dict[str, Any]) -> tuple[str, str, Decimal, Decimal | None]:
    inst = text_str(d, "instId")
    leg = LEG.get(str(d.get("posSide")))
    pos = text_decimal(d, "pos")
    assert inst is not None and pos is not None
    if leg is None:
        raise RowError(f"posSide: expected long, short or net, got {d.get('posSide')!r}")
    if leg != "BOTH" and pos < 0:
        raise RowError(f"pos {pos} is negative on a {d.get('posSide')} row (long/short rows are positive)")
    entry = text_decimal(d, "avgPx", required=False) if pos else None
    return inst, leg, (abs(pos) * ctx.size(b, inst)) if pos else abs(pos), entry  # a flat row needs no size


def _position(ctx: _Ctx, b: Builder, row: Row, t_default: int | None) -> None:
    d = row.data
    inst, leg, qty, entry = position_row(ctx, b, d)
    t = text_int(d, "uTime") if d.get("uTime") not in (None, "") else t_default
    if t is None:
        raise RowError("no uTime and the file has no snapshot time")
    mgn = d.get("mgnMode")
    b.add("position", t, row, f"{inst}:{leg}:{t}", instrument=inst, position_side=leg, quantity=qty,
          entry_price=entry, mark_price=text_decimal(d, "markPx", required=False) or None,
          unrealized_pnl=text_decimal(d, "upl", required=False) if qty else None,
          **({"margin_type": mgn.upper()} if mgn in ("isolated", "cross") else {}))


def _bill(b: Builder, row: Row) -> None:
    d = row.data
    kind = str(d.get("type"))
    t = text_int(d, "ts")
    ident = text_id(d, "billId")
    if kind == "2":
        b.skip("trade bills not imported", "the fills carry them")
        return
    if kind == "8":
        leg = LEG.get(str(d.get("posSide")))
        b.add("funding", t, row, f"bill:{ident}", instrument=text_str(d, "instId"),
              position_side=leg if leg in ("LONG", "SHORT") else None, amount=text_decimal(d, "balChg"),
              asset=text_str(d, "ccy"))
        return
    b.add("ledger", t, row, f"bill:{ident}", kind=f"bill type {kind}", asset=text_str(d, "ccy"),
          amount=text_decimal(d, "balChg"), instrument=text_str(d, "instId", required=False))


def build(args: Any) -> tuple[Builder, dict[str, Any], dict[str, Any] | None]:
    b = Builder(VENUE)
    ctx = _Ctx(contract_sizes(args.contract_size), "contract value (ctVal)", CT_VAL_SOURCE)
    each_row(b, args.user_trades, "fills", lambda b, r, t: _fill(ctx, b, r), FILL_FIELDS, PAGES)
    each_row(b, args.positions, "positions", lambda b, r, t: _position(ctx, b, r, t), POSITION_FIELDS)
    each_row(b, args.income, "bills", lambda b, r, t: _bill(b, r), BILL_FIELDS, PAGES)
    if args.requests:
        b.note("--requests is not read for okx yet", "")
    opening = opening_record(b, args, lambda d: position_row(ctx, b, d), POSITION_FIELDS)
    ctx.check()
    meta: dict[str, Any] = {"v": 1, "type": "meta", "t": None, "venue": VENUE, "created_by": "hedgespec import okx",
                            "funding_window_ms": 60_000, "ledger_complete": bool(args.ledger_complete)}
    settle = {s for s in ctx.settle if s}
    if len(settle) == 1:
        meta["settle_asset"] = settle.pop()
    if args.account:
        meta["account"] = args.account
    return b, meta, opening
