"""Worked examples, run through the reference model at build time.

Each scenario is a list of actions in their JSON form; every table row and every chart point below
comes from ``hedgespec.model.step`` and ``snapshot``, never from numbers typed into a page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hedgespec.model import initial_state, snapshot, step
from hedgespec.model.codec import action_from_json, outcome_to_json

from . import svg

SYMBOL = "BTCUSDT"
ACCOUNT = "alice"
INSTRUMENT: dict[str, Any] = {
    "symbol": SYMBOL, "settle_asset": "USDT", "tick_size": "0.1", "lot_size": "0.001",
    "maker_rate": "0.0002", "taker_rate": "0.0005",
    "brackets": [{"notional_floor": "0", "notional_cap": "0", "maintenance_rate": "0.004", "max_leverage": "125"}],
}
LONG_COLOR, SHORT_COLOR, BOTH_COLOR, ACCOUNT_COLOR = "#1b7f3b", "#c0392b", "#1f5fa8", "#6a3d9a"


def params(mode: str, wallet: str = "10000") -> dict[str, Any]:
    return {"instruments": [INSTRUMENT], "accounts": {ACCOUNT: {"wallet": wallet, "position_mode": {"*": mode}}},
            "mark_prices": {SYMBOL: "50000"}}


def _order(t: int, oid: str, side: str, qty: str, price: str, position_side: str | None) -> dict[str, Any]:
    action = {"t": t, "kind": "place_order", "account": ACCOUNT, "order_id": oid, "instrument": SYMBOL,
              "side": side, "order_type": "MARKET", "quantity": qty, "price": price}
    if position_side:
        action["position_side"] = position_side
    return action


def _leverage(t: int, side: str, leverage: str) -> dict[str, Any]:
    return {"t": t, "kind": "set_leverage", "account": ACCOUNT, "instrument": SYMBOL, "position_side": side,
            "leverage": leverage}


def hedge_actions() -> list[dict[str, Any]]:
    """The hedge-mode walk-through: open both legs, move the mark, pay funding, close half the LONG."""
    return [
        _leverage(1, "LONG", "10"),
        _leverage(2, "SHORT", "10"),
        _order(3, "o1", "BUY", "0.1", "50000", "LONG"),
        _order(4, "o2", "SELL", "0.1", "50000", "SHORT"),
        {"t": 5, "kind": "mark_price", "instrument": SYMBOL, "price": "52000"},
        {"t": 6, "kind": "funding", "instrument": SYMBOL, "rate": "0.0001"},
        _order(7, "o3", "SELL", "0.05", "52000", "LONG"),
    ]


def one_way_actions() -> list[dict[str, Any]]:
    """The same orders in one-way mode (no position side: the BOTH row)."""
    return [
        _leverage(1, "BOTH", "10"),
        _order(3, "o1", "BUY", "0.1", "50000", "BOTH"),
        _order(4, "o2", "SELL", "0.1", "50000", "BOTH"),
        {"t": 5, "kind": "mark_price", "instrument": SYMBOL, "price": "52000"},
        {"t": 6, "kind": "funding", "instrument": SYMBOL, "rate": "0.0001"},
        _order(7, "o3", "SELL", "0.05", "52000", "BOTH"),
    ]


def liquidation_actions() -> list[dict[str, Any]]:
    """Both legs open; the mark climbs until the SHORT leg is liquidated. The LONG leg is untouched."""
    return [
        _leverage(1, "LONG", "10"),
        _leverage(2, "SHORT", "10"),
        _order(3, "o1", "BUY", "0.1", "50000", "LONG"),
        _order(4, "o2", "SELL", "0.1", "50000", "SHORT"),
        {"t": 5, "kind": "mark_price", "instrument": SYMBOL, "price": "53000"},
        {"t": 6, "kind": "mark_price", "instrument": SYMBOL, "price": "55000"},
    ]


def cross_actions() -> list[dict[str, Any]]:
    """Both legs in the cross pool, the LONG twice the SHORT; the mark falls until the pool is breached."""
    return [
        {"t": 1, "kind": "set_margin_type", "account": ACCOUNT, "instrument": SYMBOL, "position_side": "LONG",
         "margin_type": "CROSS"},
        {"t": 2, "kind": "set_margin_type", "account": ACCOUNT, "instrument": SYMBOL, "position_side": "SHORT",
         "margin_type": "CROSS"},
        _leverage(3, "LONG", "10"),
        _leverage(4, "SHORT", "10"),
        _order(5, "o1", "BUY", "0.1", "50000", "LONG"),
        _order(6, "o2", "SELL", "0.05", "50000", "SHORT"),
        {"t": 7, "kind": "mark_price", "instrument": SYMBOL, "price": "40000"},
        {"t": 8, "kind": "mark_price", "instrument": SYMBOL, "price": "30000"},
    ]


SCENARIOS = {
    "hedge": ("HEDGE", hedge_actions),
    "one-way": ("ONE_WAY", one_way_actions),
    "liquidation": ("HEDGE", liquidation_actions),
    "cross": ("HEDGE", cross_actions),
}
WALLETS = {"cross": "1000"}  # scenario -> starting wallet (default 10000)


@dataclasses.dataclass(frozen=True)
class StepRecord:
    action: dict[str, Any]
    outcome: dict[str, Any]
    after: dict[str, Any]


def run(mode: str, actions: Iterable[dict[str, Any]], wallet: str = "10000") -> tuple[Any, list[StepRecord]]:
    state = initial_state(params(mode, wallet))
    records = []
    for i, raw in enumerate(actions):
        outcome, state = step(state, action_from_json(raw, f"scenario step {i}"))
        records.append(StepRecord(raw, outcome_to_json(outcome), snapshot(state)))
    return state, records


# -- display -------------------------------------------------------------------------------------

def show(value: str | None, places: int = 2) -> str:
    """A decimal string for a table cell: at most ``places`` decimals (half-even), never a float."""
    if value is None:
        return "–"
    number = Decimal(value)
    if -number.as_tuple().exponent > places:  # type: ignore[operator]
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        return "≈" + format(number, "f")
    return format(number, "f")


def describe(action: dict[str, Any]) -> str:
    kind = action["kind"]
    if kind == "place_order":
        side = f" {action['position_side']}" if action.get("position_side") else ""
        return f"{action['side']}{side} {action['quantity']} @ {action['price']}"
    if kind == "set_leverage":
        return f"set_leverage {action['position_side']} {action['leverage']}x"
    if kind == "set_margin_type":
        return f"set_margin_type {action['position_side']} {action['margin_type']}"
    if kind == "mark_price":
        return f"mark price {action['price']}"
    if kind == "funding":
        return f"funding rate {action['rate']}"
    return f"`{kind}`"


LEG_COLUMNS = ("Position", "Isolated margin", "uPnL", "Realized", "Funding", "Liq. price")


def leg_cells(row: dict[str, Any] | None) -> list[str]:
    if row is None:
        return ["–"] * len(LEG_COLUMNS)
    if row["quantity"] == "0":
        return ["flat", show(row["isolated_margin"]), "–", show(row["realized_pnl"]), show(row["funding"]), "–"]
    return [f"**{row['quantity']}** @ {show(row['entry_price'])}", show(row["isolated_margin"]),
            show(row["unrealized_pnl"]), show(row["realized_pnl"]), show(row["funding"]),
            show(row["liquidation_price"])]


def event_rows(t: int, outcome: dict[str, Any]) -> list[list[str]]:
    rows = []
    for event in outcome["events"]:
        leg = event.get("position_side") or ("–" if event["type"] == "order" else "account")
        if event["type"] == "fill":
            rows.append([str(t), f"fill: {event['side']} {event['quantity']} @ {event['price']} "
                         f"({event['cause']}, {event['liquidity'].lower()}, fee {show(event['fee'])})", leg, "", ""])
        elif event["type"] == "ledger":
            rows.append([str(t), f"ledger `{event['kind']}`", leg, event["bucket"], show(event["amount"])])
        elif event["type"] == "funding":
            rows.append([str(t), f"funding: {event['quantity']} × {event['mark_price']} × {event['rate']}", leg, "",
                         show(event["amount"])])
        elif event["type"] == "liquidation":
            where = "of the cross pool" if leg == "CROSS" else f"at mark {event['mark_price']}"
            balance = "pool equity" if leg == "CROSS" else "margin balance"
            rows.append([str(t), f"**liquidation** {where} ({balance} {show(event['margin_balance'])} < "
                         f"maintenance {show(event['maintenance_margin'])})", leg, "", ""])
        elif event["type"] == "order":
            rows.append([str(t), f"order {event['order_id']} {event['status']}", leg, "", ""])
    return rows


def table(name: str) -> str:
    """The step-by-step tables of a scenario (legs after each step, then the events), as Markdown."""
    mode, actions = SCENARIOS[name]
    _, records = run(mode, actions(), WALLETS.get(name, "10000"))
    sides = ("LONG", "SHORT") if mode == "HEDGE" else ("BOTH",)
    lines = ['<div class="hs-steps" markdown>', "",
             "| t | Action | Leg | " + " | ".join(LEG_COLUMNS) + " | Wallet |",
             "|---|---|---|" + "--:|" * len(LEG_COLUMNS) + "--:|"]
    events: list[list[str]] = []
    for record in records:
        t = record.action["t"]
        account = record.after["accounts"][ACCOUNT]
        rows = account["positions"][SYMBOL]
        outcome = record.outcome
        action = describe(record.action)
        if outcome["kind"] != "accepted":
            action += f" → {outcome['kind']}" + (f" ({outcome['reason']})" if outcome["reason"] else "")
        untouched = all(rows[side]["quantity"] == rows[side]["realized_pnl"] == rows[side]["isolated_margin"] == "0"
                        for side in sides)
        if untouched:  # nothing open, nothing realized yet: one row says so
            lines.append("| " + " | ".join([str(t), action, " / ".join(sides), "flat", *["–"] * (len(LEG_COLUMNS) - 1),
                                            show(account["wallet"])]) + " |")
            events += event_rows(t, record.outcome)
            continue
        for i, side in enumerate(sides):
            head = [str(t), action] if i == 0 else ["", ""]
            wallet = show(account["wallet"]) if i == 0 else ""
            lines.append("| " + " | ".join([*head, side, *leg_cells(rows.get(side)), wallet]) + " |")
        events += event_rows(t, record.outcome)
    lines += ["", "Events of each step, in order (the ledger):", "",
              "| t | Event | Leg | Bucket | Amount |", "|---|---|---|---|--:|"]
    lines += ["| " + " | ".join(row) + " |" for row in events]
    lines += ["", "</div>"]
    lines += ["", "*Values with more than two decimals are shown rounded (≈); the model's own values are exact "
              "decimal strings.*"]
    return "\n".join(lines) + "\n"


# -- charts -------------------------------------------------------------------------------------

def _price_grid(low: int, high: int, stride: int) -> list[int]:
    return list(range(low, high + 1, stride))


def _with_mark(state: Any, price: int) -> dict[str, Any]:
    """The snapshot the state would show at ``price`` without stepping (no liquidation is evaluated)."""
    marks = dict(state.mark_prices)
    marks[SYMBOL] = price * 10**8
    return snapshot(state._replace(mark_prices=marks))


def leg_chart() -> str:
    """Each leg's margin balance and maintenance margin as the mark moves, with its liquidation price."""
    mode, actions = SCENARIOS["hedge"]
    state, _ = run(mode, actions()[:4])
    grid = _price_grid(42000, 58000, 250)
    series: dict[str, list[tuple[Decimal, Decimal | None]]] = {}
    for price in grid:
        rows = _with_mark(state, price)["accounts"][ACCOUNT]["positions"][SYMBOL]
        for side in ("LONG", "SHORT"):
            row = rows[side]
            balance = Decimal(row["isolated_margin"]) + Decimal(row["unrealized_pnl"])
            series.setdefault(f"{side} margin balance", []).append((Decimal(price), balance))
            series.setdefault(f"{side} maintenance", []).append((Decimal(price), Decimal(row["maintenance_margin"])))
    now = snapshot(state)["accounts"][ACCOUNT]["positions"][SYMBOL]
    chart = svg.Chart(
        title="Each leg on its own: margin balance vs maintenance as the mark moves",
        x_label="mark price (USDT)", y_label="USDT",
        series=[svg.Series(label, points, LONG_COLOR if label.startswith("LONG") else SHORT_COLOR,
                           dashed=label.endswith("maintenance")) for label, points in series.items()],
        markers=[svg.Marker(Decimal(now[s]["liquidation_price"]),
                            f"{s} liq. {show(now[s]['liquidation_price'], 0)}",
                            LONG_COLOR if s == "LONG" else SHORT_COLOR) for s in ("LONG", "SHORT")],
    )
    return svg.render(chart)


def equity_chart() -> str:
    """Account equity after a mark-price step to each price: flat while both legs live, then not."""
    mode, actions = SCENARIOS["hedge"]
    state, _ = run(mode, actions()[:4])
    points = []
    for price in _price_grid(40000, 60000, 250):
        action = action_from_json({"t": 10, "kind": "mark_price", "instrument": SYMBOL, "price": str(price)}, "chart")
        _, after = step(state, action)
        account = snapshot(after)["accounts"][ACCOUNT]
        equity = Decimal(account["wallet"])
        for row in account["positions"][SYMBOL].values():
            if row["quantity"] != "0":
                equity += Decimal(row["isolated_margin"]) + Decimal(row["unrealized_pnl"])
        points.append((Decimal(price), equity))
    now = snapshot(state)["accounts"][ACCOUNT]["positions"][SYMBOL]
    chart = svg.Chart(
        title="Account equity after the mark moves (both legs isolated, 10x)",
        x_label="mark price (USDT)", y_label="equity (USDT)",
        series=[svg.Series("account equity", points, ACCOUNT_COLOR)],
        markers=[svg.Marker(Decimal(now[s]["liquidation_price"]),
                            f"{s} liq. {show(now[s]['liquidation_price'], 0)}",
                            LONG_COLOR if s == "LONG" else SHORT_COLOR) for s in ("LONG", "SHORT")],
    )
    return svg.render(chart)


def cross_chart() -> str:
    """The cross pool: one equity against one maintenance for both legs, one shared liquidation price."""
    mode, actions = SCENARIOS["cross"]
    state, _ = run(mode, actions()[:6], WALLETS["cross"])
    equity: list[tuple[Decimal, Decimal | None]] = []
    maintenance: list[tuple[Decimal, Decimal | None]] = []
    for price in _price_grid(20000, 60000, 500):
        account = _with_mark(state, price)["accounts"][ACCOUNT]
        rows = account["positions"][SYMBOL].values()
        equity.append((Decimal(price), Decimal(account["wallet"]) + sum(Decimal(r["unrealized_pnl"]) for r in rows)))
        maintenance.append((Decimal(price), sum((Decimal(r["maintenance_margin"]) for r in rows), Decimal(0))))
    shared = snapshot(state)["accounts"][ACCOUNT]["positions"][SYMBOL]["LONG"]["liquidation_price"]
    chart = svg.Chart(
        title="Cross margin: one pool for both legs (LONG 0.1, SHORT 0.05)",
        x_label="mark price (USDT)", y_label="USDT",
        series=[svg.Series("pool equity", equity, ACCOUNT_COLOR),
                svg.Series("pool maintenance", maintenance, ACCOUNT_COLOR, dashed=True)],
        markers=[svg.Marker(Decimal(shared), f"shared liq. {show(shared, 0)}", SHORT_COLOR)] if shared else [],
    )
    return svg.render(chart)


CHARTS = {"legs-margin.svg": leg_chart, "account-equity.svg": equity_chart, "cross-pool.svg": cross_chart}
