"""Traces from the reference model: run actions through ``hedgespec.model`` and record what a venue
export would show for one account.

The model obeys the rulebook under its profile, so the audit of such a trace under the same profile
must find nothing (tests/audit/test_model_traces.py). Observations recorded: the opening state
(mode, flat legs), mode-change and order outcomes (the model's reason class stands in for a venue
code), fills, per-leg funding with its rate and mark price, mark prices, and position snapshots
every ``snapshot_every`` steps and at the end. Money is exact in the model (1e-16 atoms), so the
meta record states a money step of 1e-16.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from .trace import record

MODEL_MONEY_STEP = "0.0000000000000001"


def _src(t: int, n: int) -> dict[str, str]:
    return {"file": "model-run", "id": f"{t}:{n}"}


def trace_from_model_run(params: dict[str, Any], actions: Iterable[dict[str, Any]], *, account: str,
                         profile: Any = None, snapshot_every: int = 10) -> Iterator[dict[str, Any]]:
    """Yield trace records for ``account`` while stepping the model through ``actions`` (JSON form)."""
    from hedgespec.model import initial_state, snapshot, step
    from hedgespec.model.codec import action_from_json, outcome_to_json

    state = initial_state(params, profile)
    settle = sorted({inst.get("settle_asset", "USDT") for inst in params["instruments"]})
    mode = _account_mode(snapshot(state), account)
    yield record("meta", None, None, venue="model", account=account, created_by="hedgespec.audit.model_trace",
                 settle_asset=settle[0], precision={"money": MODEL_MONEY_STEP}, funding_window_ms=0,
                 ledger_complete=False)
    start = min((int(a.get("t", 0)) for a in actions), default=0) if isinstance(actions, list) else 0
    yield record("opening", start, {"file": "model-run", "id": "opening"},
                 position_mode=mode, legs=[], complete=True)
    n = 0
    for index, action in enumerate(actions, 1):
        t = int(action["t"])
        outcome, state = step(state, action_from_json(action, f"actions[{index}]"))
        out = outcome_to_json(outcome)
        code = out["reason"] if out["kind"] != "accepted" else None
        kind = action.get("kind")
        if kind == "set_position_mode" and action.get("account") == account:
            n += 1
            if out["kind"] != "rejected":
                _account_mode(snapshot(state), account)  # still one mode for the whole account
            yield record("mode_change", t, _src(t, n), requested=action["mode"],
                         outcome={"accepted": "accepted", "unchanged": "unchanged"}.get(out["kind"], "rejected"),
                         code=code)
        elif kind == "place_order" and action.get("account") == account:
            n += 1
            side = action.get("position_side") or None
            quantity = action.get("quantity")
            yield record("order", t, _src(t, n), order_id=str(action.get("order_id")),
                         instrument=str(action.get("instrument")), side=action.get("side"),
                         position_side=side if side in ("LONG", "SHORT", "BOTH") else None,
                         quantity=quantity if quantity and Decimal(quantity) > 0 else None,
                         outcome="accepted" if out["kind"] in ("accepted", "partially_applied") else "rejected",
                         code=code)
        elif kind == "mark_price" and out["kind"] == "accepted":
            n += 1
            yield record("mark_price", t, _src(t, n), instrument=action["instrument"], price=action["price"])
        for event in out["events"]:
            if event.get("account") != account:
                continue
            n += 1
            if event["type"] == "fill":
                cause = event.get("cause", "order")
                yield record("fill", t, _src(t, n), id=f"{event['order_id'] or cause}:{n}",
                             order_id=event["order_id"] or None,
                             instrument=event["instrument"], side=event["side"],
                             position_side=event["position_side"], quantity=event["quantity"],
                             price=event["price"], fee=event["fee"], fee_asset=settle[0],
                             realized_pnl=event["realized_pnl"], liquidity=event.get("liquidity"),
                             **({"cause": cause} if cause != "order" else {}))
            elif event["type"] == "funding":
                yield record("funding", t, _src(t, n), instrument=event["instrument"],
                             position_side=event["position_side"], amount=event["amount"], asset=settle[0], rate=event["rate"],
                             mark_price=event["mark_price"])
        if snapshot_every and index % snapshot_every == 0:
            yield from _positions(snapshot(state), account, t, index)
    if state is not None:
        last = max(int(a["t"]) for a in actions) if isinstance(actions, list) and actions else 0
        yield from _positions(snapshot(state), account, last, -1)


def _positions(snap: dict[str, Any], account: str, t: int, index: int) -> Iterator[dict[str, Any]]:
    marks = snap.get("mark_prices", {})
    positions = snap["accounts"][account]["positions"]
    for instrument in sorted(positions):
        for side, row in sorted(positions[instrument].items()):
            qty = Decimal(row["quantity"])
            mark = marks.get(instrument)
            yield record("position", t, {"file": "model-snapshot", "id": f"{index}:{instrument}:{side}"},
                         instrument=instrument, position_side=side, quantity=str(abs(qty)),
                         entry_price=row["entry_price"] if qty else None,
                         mark_price=mark if qty and mark else None,
                         unrealized_pnl=row["unrealized_pnl"] if qty and mark else None,
                         margin_type=row.get("margin_type"))


def _account_mode(snap: dict[str, Any], account: str) -> str:
    """The account's one position mode (trace v1 has one mode per account); mixed modes raise."""
    modes = set(snap["accounts"][account]["position_mode"].values())
    if len(modes) != 1:
        raise ValueError(f"account {account} has mixed position modes {sorted(modes)}; a v1 trace has one mode "
                         "per account")
    return modes.pop()
