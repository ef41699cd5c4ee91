"""Synthetic hedge-mode traces: a small exact venue that obeys the rules, and planted violations.

``synthesize`` yields trace records (dicts, see ``hedgespec.audit.trace``) for one account on a few
instruments: opening and closing fills on both legs, mark-price moves, funding with per-leg rows,
position and balance snapshots. Everything is Decimal; money is rounded to 1e-8 (stated in the
meta record), so a clean trace is clean at that precision. ``plant`` names violations to insert
(see ``PLANTS``); each is placed once, and ``Synthesis.planted`` tells which rule should fire.

The state is bounded (legs are closed when they grow), so traces of any length stream in constant
memory (used by ``bench/bench_audit.py``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from . import rules as R
from .trace import record

MONEY = Decimal("0.00000001")
QTY = Decimal("0.001")
MAKER, TAKER = Decimal("0.0002"), Decimal("0.0004")
SETTLE = "USDT"

#: plant name -> rule that must fire
PLANTS: dict[str, str] = {
    "open_realizes_pnl": R.NETTING,
    "wrong_realized_pnl": R.REALIZED_PNL,
    "fee_off_rate": R.FEES,
    "hedge_discount": R.FEES,
    "funding_netted": R.FUNDING_PER_LEG,
    "funding_wrong": R.FUNDING_AMOUNT,
    "mode_switch_with_positions": R.MODE_SWITCH_WITH_POSITIONS,
    "close_larger_than_leg": R.NO_FLIP,
    "order_oversized": R.OVERSIZED_CLOSE,
    "snapshot_mismatch": R.SNAPSHOT,
    "snapshot_netted": R.NETTING,
    "entry_mismatch": R.ENTRY_PER_LEG,
    "fill_both_in_hedge": R.POSITION_SIDE_MATCHES_MODE,
    "balance_mismatch": R.LEDGER,
}


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY, rounding=ROUND_HALF_EVEN)


@dataclass
class SynthLeg:
    qty: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)


@dataclass
class Synthesis:
    """What was generated: the plants actually placed (name -> (rule, t))."""

    planted: dict[str, tuple[str, int]] = field(default_factory=dict)


def synthesize(n_records: int, *, seed: int = 1, instruments: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"),
               plant: tuple[str, ...] = (), info: Synthesis | None = None,
               funding_report: str = "per_leg", other_share: float = 0.12) -> Iterator[dict[str, Any]]:
    """Yield about ``n_records`` records of a clean hedge-mode trace, with ``plant`` violations.

    ``other_share``: the chance that a step is a funding time (two thirds) or a snapshot (one third)
    rather than a fill; each such step writes several records.
    """
    funding_share = other_share * 2 / 3
    rng = random.Random(seed)
    info = info if info is not None else Synthesis()
    unknown = set(plant) - set(PLANTS)
    if unknown:
        raise ValueError(f"unknown plants: {sorted(unknown)}")
    todo = list(plant)
    # a plant is placed at the first chance after its turn; spread them over the first half
    turn = {name: max(1, (i + 1) * n_records // (2 * (len(todo) + 1))) for i, name in enumerate(todo)}
    legs = {(i, s): SynthLeg() for i in instruments for s in ("LONG", "SHORT")}
    mark = {i: Decimal(30000 if n == 0 else 2000 + 100 * n) for n, i in enumerate(instruments)}
    wallet = Decimal(1_000_000)
    t = 1_700_000_000_000
    count = 0
    seq = 0

    def src(file: str) -> dict[str, str]:
        return {"file": file, "id": str(seq)}

    def due(name: str) -> bool:
        return name in todo and count >= turn[name]

    def done(name: str, rule: str) -> None:
        todo.remove(name)
        info.planted[name] = (rule, t)

    yield record("meta", None, None, venue="synthetic", account="synthetic-1", created_by="hedgespec.audit.synth",
                 settle_asset=SETTLE, precision={"money": "0.00000001"}, funding_window_ms=0, ledger_complete=True)
    yield record("opening", t, {"file": "opening", "id": "0"}, position_mode="HEDGE", legs=[], complete=True,
                 balances=[{"asset": SETTLE, "wallet_balance": wallet}])
    count = 2
    while count < n_records:
        t += rng.randint(1, 500)
        seq += 1
        instrument = rng.choice(instruments)
        roll = rng.random()
        if roll < funding_share:  # mark move and funding
            mark[instrument] = (mark[instrument] * Decimal(1 + rng.uniform(-0.002, 0.002))).quantize(Decimal("0.1"))
            rate = Decimal(rng.randint(-30, 100)) / Decimal(1_000_000)
            yield record("funding_rate", t, src("fundingRate"), instrument=instrument, rate=rate,
                         mark_price=mark[instrument])
            count += 1
            rows = []
            for s in ("LONG", "SHORT"):
                q = legs[(instrument, s)].qty
                if q:
                    amount = money((-q if s == "LONG" else q) * mark[instrument] * rate)
                    rows.append((s, amount))
            if due("funding_wrong") and rows:
                rows[0] = (rows[0][0], rows[0][1] + Decimal("1.5"))
                done("funding_wrong", R.FUNDING_AMOUNT)
            netted = funding_report == "per_instrument" or (due("funding_netted") and len(rows) == 2)
            if netted and len(rows) == 2:
                if funding_report == "per_leg":
                    done("funding_netted", R.FUNDING_PER_LEG)
                rows = [(None, rows[0][1] + rows[1][1])]
            for s, amount in rows:
                seq += 1
                wallet += amount
                yield record("funding", t, src("income"), instrument=instrument, position_side=s, amount=amount,
                             asset=SETTLE)
                count += 1
            continue
        if roll < other_share:  # snapshots
            for s in ("LONG", "SHORT"):
                leg = legs[(instrument, s)]
                qty = leg.qty
                entry = (leg.cost / leg.qty).quantize(Decimal("0.00000001")) if leg.qty else None
                if s == "LONG" and due("snapshot_mismatch") and qty:
                    # the venue's leg holds quantity no fill in the export accounts for
                    leg.cost += QTY * (leg.cost / leg.qty)
                    leg.qty += QTY
                    qty = leg.qty
                    done("snapshot_mismatch", R.SNAPSHOT)
                if s == "LONG" and due("entry_mismatch") and qty:
                    entry = entry + Decimal(7)
                    done("entry_mismatch", R.ENTRY_PER_LEG)
                seq += 1
                yield record("position", t, src("positionRisk"), instrument=instrument, position_side=s,
                             quantity=qty, entry_price=None if entry is None else entry,
                             mark_price=mark[instrument],
                             unrealized_pnl=None if entry is None else
                             money(qty * (mark[instrument] - entry) * (1 if s == "LONG" else -1)))
                count += 1
            seq += 1
            if due("balance_mismatch"):
                wallet += Decimal("3")
                done("balance_mismatch", R.LEDGER)
            yield record("balance", t, src("balance"), asset=SETTLE, wallet_balance=wallet)
            count += 1
            continue
        if due("mode_switch_with_positions") and any(leg.qty for leg in legs.values()):
            yield record("mode_change", t, src("positionSide_dual"), requested="ONE_WAY", outcome="accepted")
            yield record("mode_change", t, {"file": "positionSide_dual", "id": f"{seq}b"}, requested="HEDGE",
                         outcome="accepted")
            count += 2
            done("mode_switch_with_positions", R.MODE_SWITCH_WITH_POSITIONS)
            continue
        side = rng.choice(("LONG", "SHORT"))
        leg = legs[(instrument, side)]
        other = legs[(instrument, "SHORT" if side == "LONG" else "LONG")]
        price = (mark[instrument] * Decimal(1 + rng.uniform(-0.001, 0.001))).quantize(Decimal("0.1"))
        close = leg.qty > 0 and (rng.random() < 0.45 or leg.qty > 50 * QTY)
        if close:
            qty = min(leg.qty, QTY * rng.randint(1, 20)) if rng.random() < 0.8 else leg.qty
            order_side = "SELL" if side == "LONG" else "BUY"
        else:
            qty = QTY * rng.randint(1, 20)
            order_side = "BUY" if side == "LONG" else "SELL"
        maker = rng.random() < 0.4
        rate = MAKER if maker else TAKER
        if not close and other.qty and due("hedge_discount"):
            rate = rate / 2
            done("hedge_discount", R.FEES)
        if due("fee_off_rate"):
            rate = rate * Decimal("1.5")
            done("fee_off_rate", R.FEES)
        fee = money(qty * price * rate)
        pnl = Decimal(0)
        position_side = side
        if close:
            released = leg.cost if qty == leg.qty else leg.cost * qty / leg.qty
            pnl = money(qty * price - released if side == "LONG" else released - qty * price)
            if due("order_oversized"):
                seq += 1
                yield record("order", t, src("order"), order_id=f"o{seq}", instrument=instrument, side=order_side,
                             position_side=side, quantity=leg.qty + QTY, outcome="accepted")
                count += 1
                done("order_oversized", R.OVERSIZED_CLOSE)
            if due("wrong_realized_pnl"):
                pnl += Decimal("2.5")
                done("wrong_realized_pnl", R.REALIZED_PNL)
            if due("close_larger_than_leg"):
                qty = leg.qty + QTY
                fee = money(qty * price * rate)
                released = leg.cost
                done("close_larger_than_leg", R.NO_FLIP)
            leg.qty -= min(qty, leg.qty)
            leg.cost -= released
            if not leg.qty:
                leg.cost = Decimal(0)
        else:
            if due("open_realizes_pnl") and other.qty:
                pnl = Decimal("-0.91539999")
                done("open_realizes_pnl", R.NETTING)
            if due("snapshot_netted") and other.qty >= qty:
                # the venue nets the opening fill against the other leg instead of opening this one
                other.cost -= other.cost * qty / other.qty
                other.qty -= qty
                yield _fill(t, seq, instrument, order_side, side, qty, price, fee, pnl, maker)
                wallet += pnl - fee
                count += 1
                t += 1
                seq += 1
                yield from _snapshot(t, seq, instrument, legs, side, mark[instrument], leg.qty + qty)
                count += 2
                leg.qty += qty
                leg.cost += qty * price
                done("snapshot_netted", R.NETTING)
                continue
            leg.qty += qty
            leg.cost += qty * price
        if due("fill_both_in_hedge"):
            position_side = "BOTH"
            done("fill_both_in_hedge", R.POSITION_SIDE_MATCHES_MODE)
            # a one-way fill in hedge mode: the venue's own leg books are not touched by it here
            if close:
                leg.qty += qty
                leg.cost += released
            else:
                leg.qty -= qty
                leg.cost -= qty * price
            pnl = Decimal(0)
        wallet += pnl - fee
        yield _fill(t, seq, instrument, order_side, position_side, qty, price, fee, pnl, maker)
        count += 1


def _fill(t: int, seq: int, instrument: str, side: str, position_side: str, qty: Decimal, price: Decimal,
          fee: Decimal, pnl: Decimal, maker: bool) -> dict[str, Any]:
    return record("fill", t, {"file": "userTrades", "id": str(seq)}, id=str(seq), order_id=f"o{seq}",
                  instrument=instrument, side=side, position_side=position_side, quantity=qty,
                  price=price, fee=fee, fee_asset=SETTLE, realized_pnl=pnl,
                  liquidity="MAKER" if maker else "TAKER")


def _snapshot(t: int, seq: int, instrument: str, legs: dict[tuple[str, str], SynthLeg], side: str, mark: Decimal,
              own_qty: Decimal) -> Iterator[dict[str, Any]]:
    for s in ("LONG", "SHORT"):
        leg = legs[(instrument, s)]
        qty = own_qty if s == side else leg.qty
        cost = leg.cost if s != side or not leg.qty else leg.cost
        entry = (cost / leg.qty).quantize(Decimal("0.00000001")) if s != side and leg.qty else None
        yield record("position", t, {"file": "positionRisk", "id": f"{seq}{s[0]}"}, instrument=instrument,
                     position_side=s, quantity=qty, entry_price=None if entry is None else entry)
