"""The library of broken engines (mutants): one per checkable rule, each tripping its rule's check.

A mutant wraps the reference adapter and misreports or misapplies one thing in the engine's
observable behaviour (a fill that nets the other leg, a fee discount for hedged legs, funding on
the net position, ...). The same library serves the model's own tests, the conformance suite in
process, and over JSON lines: ``python -m hedgespec.conformance.mutants NAME`` speaks the engine
protocol on stdin/stdout.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from hedgespec.model import BUILD as MODEL_BUILD
from hedgespec.spec.observe import ACTION_FORMAT, FLAG, action_format_problems

from .adapter import ReferenceAdapter

Transform = Callable[[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]], None]


def _d(x: str) -> Decimal:
    return Decimal(x)


def _s(x: Decimal) -> str:
    text = format(x.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _rows(snapshot: dict[str, Any]):
    for acc in snapshot["accounts"].values():
        for sides in acc["positions"].values():
            yield from sides.items()


def _fills(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in outcome["events"] if e["type"] == "fill"]


# Each transform edits (outcome, after) in place, given (action, before).

def _net_on_fill(action, before, outcome, after):
    for fill in _fills(outcome):
        if fill["position_side"] == "SHORT" and fill["side"] == "SELL":
            long = after["accounts"][fill["account"]]["positions"][fill["instrument"]].get("LONG")
            if long and _d(long["quantity"]) > 0:
                long["quantity"] = _s(max(Decimal(0), _d(long["quantity"]) - _d(fill["quantity"])))


def _fill_wrong_leg(action, before, outcome, after):
    for fill in _fills(outcome):
        if fill["position_side"] in ("LONG", "SHORT") and fill["order_id"] == action.get("order_id"):
            fill["position_side"] = "SHORT" if fill["position_side"] == "LONG" else "LONG"


def _accept_reason(reason: str, change: Callable[[dict, dict, dict], None] | None = None) -> Transform:
    def transform(action, before, outcome, after):
        if outcome["kind"] == "rejected" and outcome["reason"] == reason:
            outcome.update(kind="accepted", reason=None, message="")
            if change:
                change(action, before, after)
    return transform


def _switch_mode(action, before, after):
    for scope in after["accounts"][action["account"]]["position_mode"]:
        after["accounts"][action["account"]]["position_mode"][scope] = action["mode"]


def _same_mode_accepted(action, before, outcome, after):
    if outcome["kind"] == "unchanged":
        outcome["kind"] = "accepted"


def _switch_touches_wallet(action, before, outcome, after):
    if action["kind"] == "set_position_mode" and outcome["kind"] == "accepted":
        acc = after["accounts"][action["account"]]
        acc["wallet"] = _s(_d(acc["wallet"]) + 1)


def _extra_row(action, before, outcome, after):
    for acc in after["accounts"].values():
        for sides in acc["positions"].values():
            if "LONG" in sides and "BOTH" not in sides:
                sides["BOTH"] = copy.deepcopy(sides["LONG"])


def _flip_on_close(action, before, outcome, after):
    for fill in _fills(outcome):
        if fill["position_side"] == "LONG" and fill["side"] == "SELL":
            row = after["accounts"][fill["account"]]["positions"][fill["instrument"]]["LONG"]
            if _d(row["quantity"]) == 0:
                row["quantity"] = "-" + fill["quantity"]


def _market_price_off(action, before, outcome, after):
    for fill in _fills(outcome):
        if action.get("order_type") == "MARKET" and fill["order_id"] == action.get("order_id"):
            fill["price"] = _s(_d(fill["price"]) + Decimal("0.1"))


def _one_way_no_net(action, before, outcome, after):
    for fill in _fills(outcome):
        if fill["position_side"] == "BOTH":
            row = after["accounts"][fill["account"]]["positions"][fill["instrument"]]["BOTH"]
            row["quantity"] = _s(_d(row["quantity"]) + _d(fill["quantity"]))


def _cost_drift(action, before, outcome, after):
    for fill in _fills(outcome):
        if (fill["position_side"] == "LONG") == (fill["side"] == "BUY") and fill["position_side"] != "BOTH":
            row = after["accounts"][fill["account"]]["positions"][fill["instrument"]][fill["position_side"]]
            row["cost_basis"] = _s(_d(row["cost_basis"]) + Decimal("0.01"))


def _realize_on_open(action, before, outcome, after):
    for fill in _fills(outcome):
        if (fill["position_side"] == "LONG") == (fill["side"] == "BUY") and fill["position_side"] != "BOTH":
            fill["realized_pnl"] = "1"
            row = after["accounts"][fill["account"]]["positions"][fill["instrument"]][fill["position_side"]]
            row["realized_pnl"] = _s(_d(row["realized_pnl"]) + 1)


def _upnl_off(action, before, outcome, after):
    for _, row in _rows(after):
        if row.get("unrealized_pnl") is not None and _d(row["quantity"]) != 0:
            row["unrealized_pnl"] = _s(_d(row["unrealized_pnl"]) + Decimal("0.5"))


def _fees_not_on_leg(action, before, outcome, after):
    for fill in _fills(outcome):
        row = after["accounts"][fill["account"]]["positions"][fill["instrument"]][fill["position_side"]]
        old = before["accounts"][fill["account"]]["positions"][fill["instrument"]].get(fill["position_side"])
        if old is not None and _d(fill["fee"]) > 0:
            row["fees_paid"] = old["fees_paid"]


def _leverage_shared(action, before, outcome, after):
    if action["kind"] == "set_leverage" and outcome["kind"] == "accepted" and action.get("position_side") in (
            "LONG", "SHORT"):
        sides = after["accounts"][action["account"]]["positions"][action["instrument"]]
        for row in sides.values():
            row["leverage"] = _s(_d(action["leverage"]))


def _margin_other_leg(action, before, outcome, after):
    if action["kind"] == "adjust_margin" and outcome["kind"] == "accepted":
        side = action.get("position_side")
        other = {"LONG": "SHORT", "SHORT": "LONG"}.get(side)
        if other:
            row = after["accounts"][action["account"]]["positions"][action["instrument"]][other]
            row["isolated_margin"] = _s(_d(row["isolated_margin"]) - _d(action["amount"]))


def _fee_hedge_discount(action, before, outcome, after):
    for fill in _fills(outcome):
        sides = before["accounts"][fill["account"]]["positions"][fill["instrument"]]
        other = {"LONG": "SHORT", "SHORT": "LONG"}.get(fill["position_side"])
        if other and _d(sides[other]["quantity"]) != 0 and _d(fill["fee"]) > 0:
            fill["fee"] = _s(_d(fill["fee"]) / 2)


def _funding_on_net(action, before, outcome, after):
    if action["kind"] != "funding":
        return
    payments = [e for e in outcome["events"] if e["type"] == "funding"]
    by_account: dict[str, list] = {}
    for p in payments:
        by_account.setdefault(p["account"], []).append(p)
    for legs in by_account.values():
        if len(legs) == 2:
            total = sum(_d(p["amount"]) for p in legs)
            legs[0]["amount"], legs[1]["amount"] = _s(total), "0"


def _funding_one_entry(action, before, outcome, after):
    if action["kind"] != "funding":
        return
    entries = [e for e in outcome["events"] if e["type"] == "ledger" and e["kind"] == "FUNDING"]
    if len(entries) >= 2:
        entries[0]["amount"] = _s(sum(_d(e["amount"]) for e in entries))
        for e in entries[1:]:
            outcome["events"].remove(e)


def _funding_from_wallet(action, before, outcome, after):
    for e in outcome["events"]:
        if e["type"] == "ledger" and e["kind"] == "FUNDING" and e["bucket"] == "isolated_margin":
            e["bucket"] = "wallet"


def _rejection_leaks(action, before, outcome, after):
    if outcome["kind"] == "rejected" and action.get("account") in after["accounts"]:
        acc = after["accounts"][action["account"]]
        acc["wallet"] = _s(_d(acc["wallet"]) - Decimal("0.01"))


def _account_leak(action, before, outcome, after):
    if action["kind"] == "deposit" and outcome["kind"] == "accepted":
        for name, acc in after["accounts"].items():
            if name != action["account"]:
                acc["wallet"] = _s(_d(acc["wallet"]) + _d(action["amount"]))


def _ledger_drops_fees(action, before, outcome, after):
    outcome["events"] = [e for e in outcome["events"] if not (e["type"] == "ledger" and e["kind"] == "FEE")]


def _liquidate_both(action, before, outcome, after):
    for e in outcome["events"]:
        if e["type"] == "liquidation" and e["position_side"] in ("LONG", "SHORT"):
            other = "SHORT" if e["position_side"] == "LONG" else "LONG"
            row = after["accounts"][e["account"]]["positions"][e["instrument"]][other]
            row["quantity"], row["cost_basis"] = "0", "0"


def _missed_liquidation(action, before, outcome, after):
    outcome["events"] = [e for e in outcome["events"] if e["type"] != "liquidation"]


def _maintenance_off(action, before, outcome, after):
    for _, row in _rows(after):
        if row.get("maintenance_margin") not in (None, "0"):
            row["maintenance_margin"] = _s(_d(row["maintenance_margin"]) * 2)


def _liq_price_off(action, before, outcome, after):
    for _, row in _rows(after):
        if row.get("liquidation_price") and row["margin_type"] == "ISOLATED":
            row["liquidation_price"] = _s(_d(row["liquidation_price"]) + 1)


def _cross_liq_price_off(action, before, outcome, after):
    for _, row in _rows(after):
        if row.get("liquidation_price") and row["margin_type"] == "CROSS":
            row["liquidation_price"] = _s(_d(row["liquidation_price"]) + 1)


def _expired_accepts(action, before, outcome, after):
    if outcome["kind"] == "rejected" and outcome["reason"] == "INSTRUMENT_EXPIRED" and action["kind"] == "place_order":
        outcome.update(kind="accepted", reason=None, message="")


def _stop_never_fires(action, before, outcome, after):
    outcome["events"] = [e for e in outcome["events"] if not (e["type"] == "order" and e["status"] == "TRIGGERED")]


def _loss_from_wallet(action, before, outcome, after):
    events = outcome["events"]
    for index, e in enumerate(list(events)):
        if e["type"] == "liquidation" and e["position_side"] != "CROSS":
            events.insert(index + 1, {"type": "ledger", "account": e["account"], "instrument": e["instrument"],
                                      "position_side": e["position_side"], "kind": "REALIZED_PNL", "bucket": "wallet",
                                      "amount": "-0.01"})
            acc = after["accounts"][e["account"]]
            acc["wallet"] = _s(_d(acc["wallet"]) - Decimal("0.01"))
            return


def _liquidation_price_off(action, before, outcome, after):
    for e in outcome["events"]:
        if e["type"] == "fill" and e["cause"] == "liquidation":
            e["price"] = _s(_d(e["price"]) + Decimal("0.1"))


def _cross_breach_ignored(action, before, outcome, after):
    outcome["events"] = [e for e in outcome["events"] if not (e["type"] == "liquidation" and e["position_side"] == "CROSS")]


def _cross_hits_isolated(action, before, outcome, after):
    for e in outcome["events"]:
        if e["type"] == "liquidation" and e["position_side"] == "CROSS":
            for sides in after["accounts"][e["account"]]["positions"].values():
                for row in sides.values():
                    if row["margin_type"] == "ISOLATED" and row["quantity"] != "0":
                        row["quantity"] = "0"


def _liquidation_first(action, before, outcome, after):
    events = outcome["events"]
    outcome["events"] = [e for e in events if e["type"] == "liquidation"] + [
        e for e in events if e["type"] != "liquidation"]


def _margin_not_released(action, before, outcome, after):
    for fill in _fills(outcome):
        if fill["cause"] == "order" and (fill["position_side"] == "LONG") == (fill["side"] == "SELL") and \
                fill["position_side"] != "BOTH":
            old = before["accounts"][fill["account"]]["positions"][fill["instrument"]].get(fill["position_side"])
            row = after["accounts"][fill["account"]]["positions"][fill["instrument"]][fill["position_side"]]
            if old and row["quantity"] != "0":
                row["isolated_margin"] = old["isolated_margin"]


def _cross_by_default(action, before, outcome, after):
    for fill in _fills(outcome):
        row = after["accounts"][fill["account"]]["positions"][fill["instrument"]].get(fill["position_side"])
        if row is not None:
            row["margin_type"] = "CROSS" if row["margin_type"] == "ISOLATED" else "ISOLATED"


def _margin_type_switched(action, before, after):
    side = action.get("position_side") or "BOTH"
    row = after["accounts"][action["account"]]["positions"][action["instrument"]].get(side)
    if row is not None:
        row["margin_type"] = action["margin_type"]


def _settle_off(action, before, outcome, after):
    for fill in _fills(outcome):
        if fill["cause"] == "settlement":
            fill["realized_pnl"] = _s(_d(fill["realized_pnl"]) + 1)


def _stop_wrong_leg(action, before, outcome, after):
    for fill in _fills(outcome):
        if fill["cause"] == "trigger" and fill["position_side"] in ("LONG", "SHORT"):
            fill["position_side"] = "SHORT" if fill["position_side"] == "LONG" else "LONG"


def _trailing_follows_price(action, before, outcome, after):
    if action["kind"] not in ("mark_price", "market_trade"):
        return
    for acc in after["accounts"].values():
        for order in acc["open_orders"].values():
            if order["order_type"] == "TRAILING_STOP_MARKET" and order.get("trailing_extreme"):
                order["trailing_extreme"] = _s(_d(action["price"]))


def _keep_orders_on_close(action, before, outcome, after):
    for e in outcome["events"]:
        if e["type"] == "order" and e["status"] == "CANCELLED" and e["cause"] == "leg_closed":
            order = before["accounts"][e["account"]]["open_orders"].get(e["order_id"])
            if order is not None:
                after["accounts"][e["account"]]["open_orders"][e["order_id"]] = order


def _close_position_partial(action, before, outcome, after):
    for e in outcome["events"]:
        if e["type"] == "order" and e["status"] == "TRIGGERED":
            order = before["accounts"][e["account"]]["open_orders"].get(e["order_id"])
            if order and order["close_position"]:
                row = after["accounts"][e["account"]]["positions"][order["instrument"]][order["position_side"]]
                row["quantity"] = "0.001" if order["side"] == "SELL" else "-0.001"
    if action["kind"] == "place_order" and action.get("close_position") and action.get("order_type") == "MARKET":
        for fill in _fills(outcome):  # an ordinary close-position order (profiles that allow it) fills half the leg
            if fill["order_id"] == action["order_id"] and fill["account"] == action["account"]:
                half = _d(fill["quantity"]) / 2
                fill["quantity"] = _s(half)
                row = after["accounts"][fill["account"]]["positions"][fill["instrument"]][fill["position_side"]]
                row["quantity"] = _s(half if fill["side"] == "SELL" else -half)


def _move_money(after, account, amount, fund=Decimal(0)):
    acc = after["accounts"][account]
    acc["wallet"] = _s(_d(acc["wallet"]) + amount)
    if acc.get("available_balance") is not None:
        acc["available_balance"] = _s(_d(acc["available_balance"]) + amount)
    after["insurance_fund"] = _s(_d(after["insurance_fund"]) + fund)


def _liquidated_legs(outcome):
    return {(e["account"], e["instrument"], e["position_side"]) for e in outcome["events"]
            if e["type"] == "liquidation" and e["position_side"] != "CROSS"}


def _remainder_to_wallet(action, before, outcome, after):
    for e in outcome["events"]:
        if e["type"] == "ledger" and e["kind"] == "INSURANCE_INFLOW":
            e["kind"] = "MARGIN_RELEASE"
            if e["bucket"] == "insurance_fund":
                e["bucket"] = "wallet"
                _move_money(after, e["account"], _d(e["amount"]), -_d(e["amount"]))


def _liquidation_fill_fee(action, before, outcome, after):
    events = outcome["events"]
    for fill in list(events):
        if fill["type"] == "fill" and fill["cause"] == "liquidation":
            fee = (_d(fill["quantity"]) * _d(fill["price"]) * Decimal("0.0005")).quantize(Decimal("1e-16"))
            fill["fee"] = _s(fee)
            events.insert(events.index(fill), {"type": "ledger", "account": fill["account"],
                                               "instrument": fill["instrument"],
                                               "position_side": fill["position_side"], "kind": "FEE",
                                               "bucket": "wallet", "amount": _s(-fee)})
            _move_money(after, fill["account"], -fee)
            row = after["accounts"][fill["account"]]["positions"][fill["instrument"]][fill["position_side"]]
            row["fees_paid"] = _s(_d(row["fees_paid"]) + fee)


def _shortfall_from_wallet(action, before, outcome, after):
    events = outcome["events"]
    liquidated = _liquidated_legs(outcome)
    for e in list(events):
        leg = (e.get("account"), e.get("instrument"), e.get("position_side"))
        if e["type"] == "ledger" and e["kind"] == "INSURANCE_COVER" and e["bucket"] == "insurance_fund" \
                and leg in liquidated:
            events.remove(e)
            events.insert(0, {**e, "kind": "REALIZED_PNL", "bucket": "wallet"})
            _move_money(after, e["account"], _d(e["amount"]), -_d(e["amount"]))


def _expiry_unreported(action, before, outcome, after):
    after["expired"] = []
    if outcome["kind"] == "rejected" and outcome["reason"] == "INSTRUMENT_EXPIRED":
        outcome.update(kind="accepted", reason=None, message="")


# -- begin: mutants of the orders, margin and positions checks --

def _available_ignores_orders_report(action, before, outcome, after):
    for acc in after["accounts"].values():
        acc["available_balance"] = _s(_d(acc["available_balance"]) + _d(acc["order_margin"]))


def _available_ignores_orders(original):
    def available_balance(config, account, mark_prices):
        from hedgespec.model.margin import order_margin
        return original(config, account, mark_prices) + order_margin(account)
    return available_balance


def _market_close_beyond_leg(action, before, outcome, after):
    if action.get("order_type") == "MARKET":
        _accept_reason("REDUCE_EXCEEDS_LEG")(action, before, outcome, after)


def _matching(priority):
    """A patch for ``match_resting``: the reference's matching with the resting orders it trades through
    taken in ``priority(side, order)`` order."""
    def match_resting(work, instrument, price, quantity):
        from hedgespec.model import orders
        work.copy_prices()
        for side in ("BUY", "SELL"):
            candidates = sorted(
                (*priority(side, o), account_id, o.order_id)
                for account_id in work.config.account_ids for o in work.current(account_id).orders.values()
                if o.instrument == instrument and o.order_type == "LIMIT" and o.side == side
                and (o.price >= price if side == "BUY" else o.price <= price))
            budget = quantity
            for _, _, account_id, order_id in candidates:
                account = work.current(account_id)
                order = account.orders.get(order_id)
                if budget <= 0 or order is None:
                    continue
                fill_qty = min(budget, order.quantity)
                if not order.opening:
                    fill_qty = min(fill_qty, abs(account.leg(instrument, order.position_side).quantity))
                    if fill_qty == 0:
                        work.cancel(account_id, order_id, "leg_closed")
                        continue
                budget -= fill_qty
                orders.execute(work, account_id, order, fill_qty, order.price, "MAKER", "order")
    return lambda original: match_resting


_worst_price_first = _matching(lambda side, o: (o.price if side == "BUY" else -o.price, o.seq))
_newest_first = _matching(lambda side, o: (-o.price if side == "BUY" else o.price, -o.seq))


def _reducing_fills_by_leg(outcome):
    legs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for fill in _fills(outcome):
        if fill["position_side"] in ("LONG", "SHORT") and (fill["position_side"] == "LONG") == (fill["side"] == "SELL"):
            legs.setdefault((fill["account"], fill["instrument"], fill["position_side"]), []).append(fill)
    return legs


def _later_closes_realize_nothing(action, before, outcome, after):
    for (account, instrument, side), fills in _reducing_fills_by_leg(outcome).items():
        row = after["accounts"][account]["positions"][instrument][side]
        for fill in fills[1:]:
            row["realized_pnl"] = _s(_d(row["realized_pnl"]) - _d(fill["realized_pnl"]))
            fill["realized_pnl"] = "0"


def _switch_back_resets_totals(action, before, outcome, after):
    if action.get("kind") == "set_position_mode" and outcome["kind"] in ("accepted", "partially_applied"):
        for account, acc in after["accounts"].items():
            for symbol, sides in acc["positions"].items():
                for side, row in sides.items():
                    if side not in before["accounts"][account]["positions"].get(symbol, {}):
                        row.update(realized_pnl="0", fees_paid="0", funding="0")


def _lenient_reading(action):
    """What a lenient parser makes of an action not of the format: fields its kind lacks ignored, a one-element
    list where a name goes read as its element, a JSON number as its decimal string, a flag given as text as
    true or false, an enumerated value in any case as the value."""
    fields = ACTION_FORMAT.get(action.get("kind"), {})
    read = {}
    for name, value in action.items():
        if name != "kind" and name not in fields:
            continue
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, int) and not isinstance(value, bool) and name != "t":
            value = str(value)
        if fields.get(name) == FLAG and isinstance(value, str):
            value = value.lower() == "true"
        if isinstance(fields.get(name), tuple) and isinstance(value, str):
            value = value.upper()
        read[name] = value
    return read


def _one_release_per_step(action, before, outcome, after):
    for (account, instrument, side), fills in _reducing_fills_by_leg(outcome).items():
        old = before["accounts"][account]["positions"][instrument].get(side)
        row = after["accounts"][account]["positions"][instrument][side]
        if len(fills) > 1 and old and old["margin_type"] == "ISOLATED":
            q0, m0 = abs(_d(old["quantity"])), _d(old["isolated_margin"])
            first = (m0 * _d(fills[0]["quantity"]) / q0).quantize(Decimal("1e-16"), rounding="ROUND_DOWN")
            row["isolated_margin"] = _s(m0 - first)


def _upnl_null(action, before, outcome, after):
    for _, row in _rows(after):
        row["unrealized_pnl"] = None


def _maintenance_null(action, before, outcome, after):
    for _, row in _rows(after):
        row["maintenance_margin"] = None


def _entry_price_on_flat(action, before, outcome, after):
    for _, row in _rows(after):
        if row["quantity"] == "0":
            row["entry_price"] = "0"


def _default_leverage_off(action, before, outcome, after):
    for _, row in _rows(after):
        if row["leverage"] == "20":
            row["leverage"] = "10"


def _margin_type_wrong_reason(action, before, outcome, after):
    swap = {"MARGIN_TYPE_WITH_POSITION": "MARGIN_TYPE_WITH_OPEN_ORDERS",
            "MARGIN_TYPE_WITH_OPEN_ORDERS": "MARGIN_TYPE_WITH_POSITION"}
    if outcome["kind"] == "rejected" and outcome["reason"] in swap:
        outcome["reason"] = swap[outcome["reason"]]


# -- end: mutants of the orders, margin and positions checks --


# Mutants of a partial liquidation by bracket (HM-LIQ-004), reached under a profile that models it.

def _partial_releases_margin(action, before, outcome, after):
    """The reduced part's share of the leg's margin is released to the wallet, as an ordinary close would."""
    events = outcome["events"]
    for fill in [e for e in events if e["type"] == "fill" and e["cause"] == "liquidation"]:
        leg = (fill["account"], fill["instrument"], fill["position_side"])
        was = before["accounts"][leg[0]]["positions"][leg[1]][leg[2]]
        row = after["accounts"][leg[0]]["positions"][leg[1]][leg[2]]
        if _d(row["quantity"]) == 0:
            continue
        share = (_d(was["isolated_margin"]) * _d(fill["quantity"]) / abs(_d(was["quantity"]))).quantize(
            Decimal("1e-16"), rounding=ROUND_DOWN)
        entry = {"type": "ledger", "account": leg[0], "instrument": leg[1], "position_side": leg[2],
                 "kind": "MARGIN_RELEASE"}
        at = events.index(fill) + 1
        events[at:at] = [{**entry, "bucket": "isolated_margin", "amount": _s(-share)},
                         {**entry, "bucket": "wallet", "amount": _s(share)}]
        row["isolated_margin"] = _s(_d(row["isolated_margin"]) - share)
        _move_money(after, leg[0], share)


# Broken models: a kernel of the reference swapped for a wrong one while the mutant steps.

def _trailing_wrong_direction(original):
    def trailing_update(direction, extreme, activation_price, callback_rate, price):
        return original(-direction, extreme, activation_price, callback_rate, price)
    return trailing_update


def _stop_other_direction(original):
    def stop_triggered(order, direction, price):
        return original(order, -direction, price)
    return stop_triggered


def _joint_liquidation(original):
    def liquidate_isolated(work, account_id, instrument, side, leg, mark, maintenance):
        original(work, account_id, instrument, side, leg, mark, maintenance)
        other = "SHORT" if side == "LONG" else "LONG"
        other_leg = work.account(account_id).leg(instrument, other)
        if side in ("LONG", "SHORT") and other_leg.quantity:
            original(work, account_id, instrument, other, other_leg, mark, maintenance)
    return liquidate_isolated


def _funding_halved(original):
    def funding_amount(quantity, mark_price, rate):
        return original(quantity, mark_price, rate) // 2
    return funding_amount


def _trailing_ignores_activation(original):
    def trailing_update(direction, extreme, activation_price, callback_rate, price):
        return original(direction, extreme, 0, callback_rate, price)
    return trailing_update


def _trailing_vanishes(original):
    def trigger_conditionals(work, instrument, price):
        from hedgespec.model import orders
        for account_id in work.config.account_ids:
            for order in list(work.current(account_id).orders.values()):
                if order.order_type != "TRAILING_STOP_MARKET" or order.instrument != instrument:
                    continue
                direction = orders.leg_direction(work.current(account_id).leg(instrument, order.position_side).quantity)
                if direction and (order.side == "BUY") != (direction > 0) and orders.trailing_update(
                        direction, order.extreme, order.activation_price, order.callback_rate, price)[1]:
                    work.cancel(account_id, order.order_id, "leg_closed")
        original(work, instrument, price)
    return trigger_conditionals


def _partial_in_full(original):
    def partial_liquidation_quantity(leg, mark_price, brackets, lot_size, trigger, clearance_rate):
        return abs(leg.quantity)
    return partial_liquidation_quantity


def _partial_one_lot_deeper(original):
    def partial_liquidation_quantity(leg, mark_price, brackets, lot_size, trigger, clearance_rate):
        closed = original(leg, mark_price, brackets, lot_size, trigger, clearance_rate)
        return closed + lot_size if closed + lot_size < abs(leg.quantity) else closed
    return partial_liquidation_quantity


def _offset_skipped(original):
    def hedged_overlap(legs):
        return []
    return hedged_overlap


def _offset_half(original):
    def hedged_overlap(legs):
        return [(symbol, quantity // 2) for symbol, quantity in original(legs)]
    return hedged_overlap


def _pool_judged_again(verdict: bool):
    """A ``cross_pool`` whose second judgment in a step (after an offset) is ``verdict`` (breached or not),
    whatever the pool's equity and maintenance."""
    def patch(original):
        def cross_pool(work, account_id):
            equity, maintenance, legs = original(work, account_id)
            if any(type(e).__name__ == "Liquidation" and e.account == account_id and e.position_side == "CROSS"
                   for e in work.events):
                return (equity, equity + 1, legs) if verdict else (equity, min(equity, 0), legs)
            return equity, maintenance, legs
        return cross_pool
    return patch


def _resting_fills_other_leg(original):
    """A resting order filled by a market trade on the opposite leg of its account where its side reduces that
    leg (a BUY LONG order closing the SHORT): the netting a hedge-mode engine must not do."""
    def execute(work, account_id, order, quantity, price, liquidity, cause):
        if liquidity == "MAKER" and order.position_side in ("LONG", "SHORT"):
            other = "SHORT" if order.position_side == "LONG" else "LONG"
            held = work.current(account_id).leg(order.instrument, other).quantity
            if held and (order.side == "BUY") == (held < 0):
                order = order._replace(position_side=other, opening=False)
        return original(work, account_id, order, quantity, price, liquidity, cause)
    return execute


def _pnl_unbooked(action, before, outcome, after):
    """A cross leg's realized PnL never reaches the wallet: the REALIZED_PNL entry is left out, and the wallet
    (and so the available balance) lacks it, so the ledger still reconciles."""
    kept = []
    for e in outcome["events"]:
        if e["type"] == "ledger" and e["kind"] == "REALIZED_PNL" and e["bucket"] == "wallet":
            acc = after["accounts"][e["account"]]
            for field in ("wallet", "available_balance"):
                acc[field] = _s(_d(acc[field]) - _d(e["amount"]))
            continue
        kept.append(e)
    outcome["events"] = kept


def _triggered_not_filled(original):
    """A fired conditional order is reported TRIGGERED and removed, but never fills its leg."""
    def execute(work, account_id, order, quantity, price, liquidity, cause):
        if cause == "trigger":
            work.account(account_id).pop_order(order.order_id)
            return None
        return original(work, account_id, order, quantity, price, liquidity, cause)
    return execute


def _resting_overfilled(original):
    """A resting order traded through fills twice its remaining quantity (the trade has enough for it)."""
    def execute(work, account_id, order, quantity, price, liquidity, cause):
        if liquidity == "MAKER":
            quantity = 2 * order.quantity
        return original(work, account_id, order, quantity, price, liquidity, cause)
    return execute


def _second_stop_skipped(original):
    """Of the stops of one leg whose trigger holds at one price, only the first fires; the leg stays open."""
    fired: set[tuple[str, str]] = set()  # the patch is made afresh for every step

    def stop_triggered(order, direction, price):
        if not original(order, direction, price):
            return False
        if (order.instrument, order.position_side) in fired:
            return False
        fired.add((order.instrument, order.position_side))
        return True
    return stop_triggered


def _mixed_cost_drift(original):
    """A reducing fill releases five money units more cost basis than its share (the realized PnL it reports
    is still right): a leg opened and reduced in one step ends with the wrong entry price."""
    def reduce_leg(leg, signed_quantity, price, fee):
        new_leg, realized, released = original(leg, signed_quantity, price, fee)
        if new_leg.quantity:
            new_leg = new_leg._replace(cost_basis=new_leg.cost_basis - (5 * 10**8 if leg.quantity > 0 else -5 * 10**8))
        return new_leg, realized, released
    return reduce_leg


def _crossing_limit_as_maker(original):
    """A limit order that crosses the last trade on arrival is filled as maker, at the maker fee."""
    def execute(work, account_id, order, quantity, price, liquidity, cause):
        if liquidity == "TAKER" and order.order_type == "LIMIT":
            liquidity = "MAKER"
        return original(work, account_id, order, quantity, price, liquidity, cause)
    return execute


def _funding_all_from_margin(original):
    """An isolated leg's funding payment is taken wholly from its margin, though the profile takes it from the
    wallet first (wallet_then_margin)."""
    def funding_buckets(work, account_id, symbol, side, amount, isolated, source):
        if isolated and amount < 0 and source == "wallet_then_margin":
            return [("isolated_margin", amount)]
        return original(work, account_id, symbol, side, amount, isolated, source)
    return funding_buckets


def _funding_other_instrument(action, before, outcome, after):
    """A funding event also charges the account's open legs of another instrument."""
    if action.get("kind") != "funding" or outcome["kind"] != "accepted":
        return
    for account, acc in before["accounts"].items():
        for symbol, sides in acc["positions"].items():
            for side, leg in sides.items():
                if symbol != action["instrument"] and _d(leg["quantity"]) != 0:
                    outcome["events"] += [
                        {"type": "funding", "account": account, "instrument": symbol, "position_side": side,
                         "quantity": leg["quantity"], "mark_price": before["mark_prices"].get(symbol, "1"),
                         "rate": action["rate"], "amount": "-0.5"},
                        {"type": "ledger", "account": account, "instrument": symbol, "position_side": side,
                         "kind": "FUNDING", "bucket": "wallet", "amount": "-0.5"}]


# -- begin: mutants of the review of check strength (tests/test_check_strength_review.py) --

def _rejection_advances_time(action, before, outcome, after):
    """A rejected action still moves the snapshot's time to its t (the state's time is the last action taken)."""
    if outcome["kind"] == "rejected" and isinstance(action.get("t"), int) and action["t"] > before.get("time", 0):
        after["time"] = action["t"]


def _partial_switch_skips_idle(action, before, outcome, after):
    """A coin-level switch that a busy instrument makes partial switches nothing: the idle instruments keep their
    old mode and rows, though the outcome says partially applied."""
    if action["kind"] == "set_position_mode" and outcome["kind"] == "partially_applied":
        for part in ("position_mode", "positions"):
            after["accounts"][action["account"]][part] = copy.deepcopy(before["accounts"][action["account"]][part])
        outcome["events"] = [e for e in outcome["events"] if e["type"] != "mode"]


def _flat_rows_omitted(action, before, outcome, after):
    """Instruments whose rows are all flat are left out of an account's positions (a compact report)."""
    for acc in after["accounts"].values():
        for symbol in [s for s, sides in acc["positions"].items() if all(_d(r["quantity"]) == 0 for r in sides.values())]:
            del acc["positions"][symbol]


def _one_way_fill_unreported(action, before, outcome, after):
    """One-way fills move the net position but are not reported as fills."""
    outcome["events"] = [e for e in outcome["events"] if not (e["type"] == "fill" and e["position_side"] == "BOTH")]


def _trigger_beyond_leg(original):
    """A fired one-way conditional order fills its whole quantity, though the net position it reduces has shrunk
    below it since it was placed: the position flips."""
    def execute(work, account_id, order, quantity, price, liquidity, cause):
        placed = work.account(account_id).orders.get(order.order_id)
        if cause == "trigger" and order.position_side == "BOTH" and placed is not None and placed.quantity > quantity:
            quantity = placed.quantity
            order = order.with_remaining(quantity, 0, 0)
        return original(work, account_id, order, quantity, price, liquidity, cause)
    return execute


def _mark_lags(original):
    """A mark price triggers and liquidates at the new price, but the engine keeps reporting the previous mark,
    and its unrealized PnL (and maintenance margin) at that stale mark."""
    def handlers():
        def mark_price(work, action):
            old = work.mark_prices.get(action.instrument)
            outcome = handler(work, action)
            if old is not None and outcome.kind == "accepted":
                work.mark_prices[action.instrument] = old
            return outcome
        kind = next(k for k in original if k.__name__ == "MarkPrice")
        handler = original[kind]
        return {**original, kind: mark_price}
    return handlers()


def _never_cancels_on_close(action, before, outcome, after):
    """Closing orders are not cancelled when their leg closes (no cancellation reported, the orders stay open);
    a leg that ends the step flat shows it, one closed and reopened in the step does not."""
    for e in [e for e in outcome["events"] if e["type"] == "order" and e["status"] == "CANCELLED"
              and e["cause"] == "leg_closed"]:
        order = before["accounts"][e["account"]]["open_orders"].get(e["order_id"])
        if order is not None:
            outcome["events"].remove(e)
            after["accounts"][e["account"]]["open_orders"][e["order_id"]] = order


def _reduce_only_flag_dropped(original):
    """The engine reads every order without its reduce-only flag: where the profile forbids the flag in hedge
    mode, a flagged closing order is taken as a plain one."""
    def order_fields(action):
        return (*original(action)[:11], False, action.close_position)
    return order_fields


def _reduce_only_refused(action, before, outcome, after):
    """Every reduce-only order is refused with REDUCE_ONLY_FORBIDDEN, in one-way mode too and whatever the profile
    says of the flag in hedge mode."""
    if action.get("kind") == "place_order" and action.get("reduce_only") is True and outcome["kind"] == "accepted":
        outcome.update(kind="rejected", reason="REDUCE_ONLY_FORBIDDEN", message="reduce_only is not accepted",
                       events=[])
        after.clear()
        after.update(copy.deepcopy(before))


def _margin_on_new_row(action, before, outcome, after):
    """A mode switch brings rows that hold isolated margin no entry put there (1 on each new row)."""
    if action.get("kind") != "set_position_mode" or outcome["kind"] == "rejected":
        return
    for account, acc in after["accounts"].items():
        for symbol, sides in acc["positions"].items():
            for side, r in sides.items():
                if side not in before["accounts"][account]["positions"].get(symbol, {}):
                    r["isolated_margin"] = _s(_d(r["isolated_margin"]) + 1)


def _fee_to_unknown_account(action, before, outcome, after):
    """A fill's fee is booked to an account the engine does not have ("house")."""
    for e in list(outcome["events"]):
        if e["type"] == "ledger" and e["kind"] == "FEE":
            outcome["events"].append({**e, "account": "house", "amount": _s(-_d(e["amount"]))})


# Risk chapters (funding, liquidation, margin), shown in tests/test_check_strength_risk.py.

def _funding_on_closed_leg(action, before, outcome, after):
    """The engine's events pay the open legs only, but its ledger charges a cross leg closed since (its last size,
    1) from the wallet."""
    if action["kind"] != "funding" or outcome["kind"] != "accepted":
        return
    symbol = action["instrument"]
    paid = {(e["account"], e["position_side"]) for e in outcome["events"] if e["type"] == "funding"}
    for name, acc in before["accounts"].items():
        for side, r in acc["positions"].get(symbol, {}).items():
            if r["quantity"] == "0" and r["fees_paid"] != "0" and r["margin_type"] == "CROSS" and (name, side) not in paid:
                amount = -_d(before["mark_prices"][symbol]) * _d(action["rate"])
                outcome["events"].append({"type": "ledger", "account": name, "instrument": symbol, "position_side": side,
                                          "kind": "FUNDING", "bucket": "wallet", "amount": _s(amount)})
                moved = after["accounts"][name]
                moved["wallet"] = _s(_d(moved["wallet"]) + amount)
                moved["available_balance"] = _s(_d(moved["available_balance"]) + amount)


def _sweep_other_receipt(original):
    """Liquidating an isolated leg also sweeps what the other leg received in funding into the insurance fund
    (booked as that leg's INSURANCE_INFLOW, a transfer that sums to zero)."""
    def liquidate_isolated(work, account_id, instrument, side, leg, mark_price, maintenance_margin):
        from hedgespec.model.events import FundingPayment

        original(work, account_id, instrument, side, leg, mark_price, maintenance_margin)
        other = "SHORT" if side == "LONG" else "LONG"
        received = sum(e.amount for e in work.events if isinstance(e, FundingPayment) and e.amount > 0
                       and (e.account, e.instrument, e.position_side) == (account_id, instrument, other))
        if received:
            work.transfer(account_id, instrument, other, "INSURANCE_INFLOW", "isolated_margin", "insurance_fund",
                          received)
    return liquidate_isolated


def _pool_draws_isolated(original):
    """After a cross pool's liquidation, a thirtieth of each open isolated leg's margin is moved to the wallet
    (booked as that leg's MARGIN_RELEASE, a transfer that sums to zero)."""
    def evaluate_cross(work, account_id):
        from hedgespec.model.events import Liquidation
        from hedgespec.model.margin import settings_of

        start = len(work.events)
        original(work, account_id)
        if not any(isinstance(e, Liquidation) and e.position_side == "CROSS" for e in work.events[start:]):
            return
        account = work.current(account_id)
        for (symbol, side), leg in sorted(account.legs.items()):
            if leg.quantity and settings_of(work.config, account, symbol, side).margin_type == "ISOLATED":
                work.transfer(account_id, symbol, side, "MARGIN_RELEASE", "isolated_margin", "wallet",
                              leg.isolated_margin // 30)
    return evaluate_cross


def _liquidation_before_stops(original):
    """The mark-price handler evaluates liquidation, then the conditional orders."""
    import importlib

    from hedgespec.model import liquidation, orders
    from hedgespec.model.actions import MarkPrice

    step = importlib.import_module("hedgespec.model.step")

    def mark_price(work, action):
        problem = orders.check_price(work, action.instrument, action.price, "price", tick=False)
        if problem:
            return problem
        work.copy_prices()
        work.mark_prices[action.instrument] = action.price
        liquidation.evaluate(work, action.instrument)
        orders.trigger_conditionals(work, action.instrument, action.price)
        return step._accepted()
    return {**original, MarkPrice: mark_price}


def _cancelled_as_leg_closed(action, before, outcome, after):
    for e in outcome["events"]:
        if e["type"] == "order" and e["status"] == "CANCELLED" and e["cause"] == "liquidation":
            e["cause"] = "leg_closed"


def _cancel_unreported(action, before, outcome, after):
    outcome["events"] = [e for e in outcome["events"] if not (
        e["type"] == "order" and e["status"] == "CANCELLED" and e["cause"] == "liquidation")]


def _busy_leg_unchanged(action, before, outcome, after):
    if outcome["kind"] == "rejected" and outcome["reason"] in ("MARGIN_TYPE_WITH_POSITION",
                                                               "MARGIN_TYPE_WITH_OPEN_ORDERS"):
        outcome.update(kind="unchanged", reason=None, message="")


# Third round (orders, positions, mode and fees), shown in tests/test_check_strength_review.py.

def _busy_switch_unchanged(reason: str) -> Transform:
    """A switch a position (or an open order) blocks is answered 'unchanged' rather than refused: nothing changes,
    but the client is told there was nothing to do."""
    def transform(action, before, outcome, after):
        if outcome["kind"] == "rejected" and outcome["reason"] == reason:
            outcome.update(kind="unchanged", reason=None, message="")
    return transform


def _refused_as_invalid_argument(reason: str) -> Transform:
    """A refusal for ``reason`` is given as INVALID_ARGUMENT instead: the order is refused, but the client is told
    it was malformed, though it is well-formed."""
    def transform(action, before, outcome, after):
        if outcome["kind"] == "rejected" and outcome["reason"] == reason:
            outcome["reason"] = "INVALID_ARGUMENT"
    return transform


def _switch_brings_default_settings(original):
    """A mode switch brings its rows (BOTH for LONG and SHORT, or back) as fresh records at the profile's default
    margin type and leverage, not at the setting in force: under an instrument-scoped setting (Binance) they lose
    the instrument's margin type and leverage. The engine keeps them so: later steps show the defaults too."""
    from hedgespec.model.mode import mode_of, sides_for

    kind = next(k for k in original if k.__name__ == "SetPositionMode")
    handler = original[kind]

    def set_position_mode(work, action):
        config = work.config
        modes = {symbol: mode_of(config, work.current(action.account), symbol) for symbol in config.instruments}
        outcome = handler(work, action)
        for symbol, mode in modes.items():
            now = mode_of(config, work.current(action.account), symbol)
            if now != mode:
                for side in sides_for(now):
                    work.set_settings(action.account, symbol, side, config.default_settings)
        return outcome
    return {**original, kind: set_position_mode}


def _adjust_margin_shares_settings(original):
    """A margin adjustment saves the adjusted leg's settings for its whole instrument: the other leg takes its
    margin type and leverage (a settings record keyed by the instrument, not the position side)."""
    from hedgespec.model.margin import settings_of

    kind = next(k for k in original if k.__name__ == "AdjustMargin")
    handler = original[kind]

    def adjust_margin(work, action):
        outcome = handler(work, action)
        other = {"LONG": "SHORT", "SHORT": "LONG"}.get(action.position_side)
        if outcome.kind == "accepted" and other:
            account = work.current(action.account)
            work.set_settings(action.account, action.instrument, other,
                              settings_of(work.config, account, action.instrument, action.position_side))
        return outcome
    return {**original, kind: adjust_margin}


def _close_charged_as_open(action, before, outcome, after):
    """A closing order is charged initial margin as if it opened the other way: refused with INSUFFICIENT_MARGIN
    when the available balance does not cover its notional / leverage."""
    closing = {("SELL", "LONG"), ("BUY", "SHORT")}
    if (action.get("kind") != "place_order" or outcome["kind"] != "accepted"
            or (action.get("side"), action.get("position_side")) not in closing
            or action.get("order_type") not in ("MARKET", "LIMIT") or action.get("close_position")):
        return
    acc = before["accounts"][action["account"]]
    leverage = _d(acc["positions"][action["instrument"]][action["position_side"]]["leverage"])
    if _d(acc["available_balance"]) < _d(action["quantity"]) * _d(action["price"]) / leverage:
        outcome.update(kind="rejected", reason="INSUFFICIENT_MARGIN", message="insufficient margin", events=[])
        after.clear()
        after.update(copy.deepcopy(before))


def _cancel_keeps_reservation(action, before, outcome, after):
    """A cancelled order's reservation stays in the order margin (and out of the available balance) while the
    account has other open orders; the last one's cancel releases everything."""
    if action.get("kind") != "cancel_order" or outcome["kind"] != "accepted":
        return
    acc = after["accounts"][action["account"]]
    kept = _d(before["accounts"][action["account"]]["order_margin"]) - _d(acc["order_margin"])
    if acc["open_orders"] and kept > 0:
        acc["order_margin"] = _s(_d(acc["order_margin"]) + kept)
        acc["available_balance"] = _s(_d(acc["available_balance"]) - kept)


def _same_mode_reports_switch(action, before, outcome, after):
    """A request for the mode in force changes nothing but still reports a mode event, as if it had switched."""
    if action["kind"] == "set_position_mode" and outcome["kind"] == "unchanged":
        outcome["events"] = [{"type": "mode", "account": action["account"], "scope": action.get("scope", "*"),
                              "mode": action["mode"]}]


def _never_trims_on_shrink(action, before, outcome, after):
    """Resting closing limit orders are trimmed when a new closing order is placed, but not when a fill of another
    step (a stop fired, a trade through) shrinks their leg: they keep their size and their fee reservation."""
    if action["kind"] == "place_order":
        return
    for e in [e for e in outcome["events"] if e["type"] == "order" and e["cause"] == "trimmed"]:
        order = before["accounts"][e["account"]]["open_orders"].get(e["order_id"])
        if order is not None:
            outcome["events"].remove(e)
            acc, was = after["accounts"][e["account"]], before["accounts"][e["account"]]
            acc["open_orders"][e["order_id"]] = order
            kept = _d(was["order_margin"]) - _d(acc["order_margin"])
            acc["order_margin"] = _s(_d(acc["order_margin"]) + kept)
            acc["available_balance"] = _s(_d(acc["available_balance"]) - kept)


def _market_close_cut_to_room(original):
    """An oversized closing market order is cut, where the profile trims, to what the leg has left beside its
    resting closing limit orders (as a limit order would be), not to the leg's size."""
    def execute(work, account_id, order, quantity, price, liquidity, cause):
        if cause == "order" and liquidity == "TAKER" and order.order_type == "MARKET" and not order.opening:
            account = work.account(account_id)
            resting = sum(o.quantity for o in account.orders.values() if o.instrument == order.instrument
                          and o.position_side == order.position_side and not o.opening and o.order_type == "LIMIT")
            room = abs(account.leg(order.instrument, order.position_side).quantity) - resting
            if 0 < room < quantity:
                quantity = room
                order = order.with_remaining(room, order.margin_reserved, order.fee_reserved)
        return original(work, account_id, order, quantity, price, liquidity, cause)
    return execute


def _limit_fills_on_arrival(original):
    """Every limit order fills on arrival at its limit price as taker, whether or not it crosses the last trade."""
    def handlers():
        from hedgespec.model import orders

        kind = next(k for k in original if k.__name__ == "PlaceOrder")
        handler = original[kind]

        def place(work, action):
            outcome = handler(work, action)
            resting = work.current(action.account).orders.get(action.order_id)
            if outcome.kind == "accepted" and action.order_type == "LIMIT" and resting is not None:
                orders.execute(work, action.account, resting, resting.quantity, resting.price, "TAKER", "order")
            return outcome
        return {**original, kind: place}
    return handlers()


def _funding_into_realized(action, before, outcome, after):
    """A leg's funding payments are also added to its realized PnL (a cumulative 'realized' that counts funding)."""
    for e in outcome["events"]:
        if e["type"] == "funding":
            r = after["accounts"][e["account"]]["positions"][e["instrument"]][e["position_side"]]
            r["realized_pnl"] = _s(_d(r["realized_pnl"]) + _d(e["amount"]))


def _fee_discount_in_ledger(action, before, outcome, after):
    """A fill on a hedged instrument (the other leg open) reports its full fee, but the wallet is charged half of
    it: the FEE entry and the wallet agree with each other, not with the fill."""
    for fill in _fills(outcome):
        sides = before["accounts"][fill["account"]]["positions"][fill["instrument"]]
        other = {"LONG": "SHORT", "SHORT": "LONG"}.get(fill["position_side"])
        if not other or _d(sides[other]["quantity"]) == 0:
            continue
        for e in outcome["events"]:
            if e["type"] == "ledger" and e["kind"] == "FEE" and e["bucket"] == "wallet" and (
                    e["account"], e["instrument"], e["position_side"]) == (
                    fill["account"], fill["instrument"], fill["position_side"]):
                half = _d(e["amount"]) / 2
                e["amount"] = _s(half)
                acc = after["accounts"][fill["account"]]
                acc["wallet"] = _s(_d(acc["wallet"]) - half)
                acc["available_balance"] = _s(_d(acc["available_balance"]) - half)


def _release_to_other_leg(original):
    """The margin a reducing fill releases from an isolated leg moves on to the other leg's isolated margin, when
    that leg is open and isolated (booked as that leg's MARGIN_ALLOCATE from the wallet, a balanced transfer)."""
    def execute(work, account_id, order, quantity, price, liquidity, cause):
        from hedgespec.model.margin import settings_of

        other = {"LONG": "SHORT", "SHORT": "LONG"}.get(order.position_side)
        held = work.current(account_id).leg(order.instrument, order.position_side).isolated_margin if other else 0
        original(work, account_id, order, quantity, price, liquidity, cause)
        if not other or order.opening:
            return
        account = work.current(account_id)
        released = held - account.leg(order.instrument, order.position_side).isolated_margin
        if released > 0 and account.leg(order.instrument, other).quantity and settings_of(
                work.config, account, order.instrument, other).margin_type == "ISOLATED":
            work.transfer(account_id, order.instrument, other, "MARGIN_ALLOCATE", "wallet", "isolated_margin", released)
    return execute


def _funding_twice(original: dict) -> dict:
    """HM-FUND-001: a funding event processed twice (no idempotency): every open leg pays or receives its amount
    twice, reported as two payments and two entries, each of the right amount."""
    from hedgespec.model.actions import Funding

    table = dict(original)
    once = table[Funding]

    def twice(work: Any, action: Any) -> Any:
        once(work, action)
        return once(work, action)

    table[Funding] = twice
    return table


def _triggers_every_instrument(original: Any) -> Any:
    """HM-STOP-002, HM-STOP-003: the conditional orders of every instrument are held against the price that moved."""
    def trigger_conditionals(work: Any, instrument: str, price: int) -> None:
        original(work, instrument, price)
        for other in work.config.instruments:
            if other != instrument:
                original(work, other, price)
    return trigger_conditionals


def _liquidated_at_previous_mark(original: Any) -> Any:
    """HM-LIQ-004: the breach is found at the new mark, but the leg is closed at (and its liquidation event reports)
    the mark before the step."""
    def liquidate_isolated(work: Any, account_id: str, instrument: str, side: str, leg: Any, mark: int,
                           maintenance: int) -> None:
        original(work, account_id, instrument, side, leg, work.state.mark_prices.get(instrument, mark), maintenance)
    return liquidate_isolated


def _other_instruments_at_this_mark(original: Any) -> Any:
    """HM-LIQ-002: after the marked instrument, every other instrument's legs are judged too, at the marked
    instrument's price (a symbol mix-up), and liquidated there."""
    def evaluate(work: Any, instrument: str) -> None:
        original(work, instrument)
        for other in work.config.instruments:
            if other == instrument or other not in work.mark_prices:
                continue
            saved = work.mark_prices[other]
            work.mark_prices[other] = work.mark_prices[instrument]
            try:
                original(work, other)
            finally:
                work.mark_prices[other] = saved
    return evaluate


def _excess_loss_from_wallet(action: dict, before: dict, outcome: dict, after: dict) -> None:
    """HM-MARG-003: the loss of a reducing fill beyond the margin it releases is taken from the wallet, not the
    insurance fund (the entry is booked to the wallet; the snapshot moves the wallet instead of the fund)."""
    for entry in outcome.get("events", []):
        if entry["type"] == "ledger" and entry["kind"] == "INSURANCE_COVER" and entry["bucket"] == "insurance_fund":
            entry["bucket"] = "wallet"
            _move_money(after, entry["account"], Decimal(entry["amount"]), fund=-Decimal(entry["amount"]))


def _close_position_refused_when_covered(action: dict, before: dict, outcome: dict, after: dict) -> None:
    """HM-STOP-005: a close-position market order is refused as exceeding the leg when the leg's resting closing
    limit orders already cover it (the limit order's rule applied to a market order); nothing changes."""
    if action.get("kind") != "place_order" or not action.get("close_position") or action.get("order_type") != "MARKET" \
            or outcome["kind"] != "accepted":
        return
    leg = before["accounts"][action["account"]]["positions"][action["instrument"]][action["position_side"]]
    resting = sum((Decimal(o["quantity"]) for o in before["accounts"][action["account"]]["open_orders"].values()
                   if o["instrument"] == action["instrument"] and o["position_side"] == action["position_side"]
                   and o["order_type"] == "LIMIT" and o["side"] == action["side"]), Decimal(0))
    if resting >= abs(Decimal(leg["quantity"])):
        outcome.update(kind="rejected", reason="REDUCE_EXCEEDS_LEG", message="resting orders cover the leg", events=[])
        after.clear()
        after.update(copy.deepcopy(before))


def _trigger_fill_as_maker(original):
    """A fired conditional order fills as maker (and pays the maker fee), as a resting limit order would."""
    def execute(work, account_id, order, quantity, price, liquidity, cause):
        return original(work, account_id, order, quantity, price, "MAKER" if cause == "trigger" else liquidity, cause)
    return execute


# -- end: mutants of the review of check strength --


def _no_op(action, before, outcome, after):
    return None


@dataclass(frozen=True)
class Mutant:
    name: str
    rule_id: str
    description: str
    transform: Transform
    patches: tuple[tuple[str, str, Callable[[Any], Any]], ...] = ()  # (module, attribute, wrong kernel)
    nondeterministic: bool = False
    reads: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # how the engine reads an action it is sent

    def adapter(self, profile: str | None = None) -> MutantAdapter:
        return MutantAdapter(self, profile)


MUTANTS: list[Mutant] = [
    Mutant("net-on-fill", "HM-NET-001", "opening the short reduces the long (netting)", _net_on_fill),
    Mutant("fill-wrong-leg", "HM-ORD-002", "an order's fill is reported on the other leg", _fill_wrong_leg),
    Mutant("side-mismatch-accepted", "HM-ORD-001", "an order without a position side is accepted in hedge mode",
           _accept_reason("POSITION_SIDE_MISMATCH")),
    Mutant("switch-with-positions", "HM-MODE-002", "the mode switches while a position is open",
           _accept_reason("MODE_SWITCH_WITH_POSITIONS", _switch_mode)),
    Mutant("switch-with-orders", "HM-MODE-003", "the mode switches while an order is open",
           _accept_reason("MODE_SWITCH_WITH_OPEN_ORDERS", _switch_mode)),
    Mutant("same-mode-accepted", "HM-MODE-004", "asking for the mode in force reports a change", _same_mode_accepted),
    Mutant("switch-touches-wallet", "HM-MODE-005", "a mode switch moves the wallet", _switch_touches_wallet),
    Mutant("extra-row", "HM-MODE-008", "hedge mode also reports a BOTH row", _extra_row),
    Mutant("flip-on-close", "HM-ORD-003", "closing the long flips it short", _flip_on_close),
    Mutant("oversized-close-accepted", "HM-ORD-004", "a close larger than the leg is accepted",
           _accept_reason("REDUCE_EXCEEDS_LEG")),
    Mutant("malformed-accepted", "HM-ORD-005", "a malformed order is accepted", _accept_reason("INVALID_ARGUMENT")),
    Mutant("lenient-reader", "HM-ATOM-002", "an action not of the format is read leniently (a field its kind lacks "
           "ignored, a list read as its element, a JSON number, a flag in text or a value in lower case read as "
           "meant)", _no_op,
           reads=_lenient_reading),
    Mutant("switch-back-resets-totals", "HM-MODE-009", "a row a mode switch brings back starts afresh: realized PnL, "
           "fees and funding at 0", _switch_back_resets_totals),
    Mutant("market-price-off", "HM-ORD-006", "market orders fill a tick away from their price", _market_price_off),
    Mutant("margin-unchecked", "HM-ORD-008", "orders are accepted without initial margin",
           _accept_reason("INSUFFICIENT_MARGIN")),
    Mutant("one-way-no-net", "HM-NET-002", "one-way fills do not net", _one_way_no_net),
    Mutant("cost-drift", "HM-POS-001", "opening fills add the wrong cost basis", _cost_drift),
    Mutant("realize-on-open", "HM-POS-002", "opening fills realize PnL", _realize_on_open),
    Mutant("upnl-off", "HM-POS-003", "unrealized PnL misreported", _upnl_off),
    Mutant("fees-not-on-leg", "HM-POS-004", "fees are not added to the leg", _fees_not_on_leg),
    Mutant("leverage-shared", "HM-MARG-001", "leverage set on one leg changes the other", _leverage_shared),
    Mutant("margin-other-leg", "HM-MARG-002", "adding margin to one leg moves the other", _margin_other_leg),
    Mutant("maintenance-off", "HM-MARG-006", "maintenance margin not from the brackets", _maintenance_off),
    Mutant("fee-hedge-discount", "HM-FEE-001", "a hedged fill pays half the fee", _fee_hedge_discount),
    Mutant("funding-on-net", "HM-FUND-001", "funding computed on the net position", _funding_on_net),
    Mutant("funding-one-entry", "HM-FUND-002", "funding of both legs booked as one entry", _funding_one_entry),
    Mutant("funding-from-wallet", "HM-FUND-003", "isolated funding booked to the wallet", _funding_from_wallet),
    Mutant("rejection-leaks", "HM-ATOM-001", "a rejected action still charges the wallet", _rejection_leaks),
    Mutant("account-leak", "HM-ACCT-001", "a deposit also credits the other account", _account_leak),
    Mutant("ledger-drops-fees", "HM-LEDG-001", "fees are not in the ledger", _ledger_drops_fees),
    Mutant("liquidate-both", "HM-LIQ-001", "liquidating one leg closes the other", _liquidate_both),
    Mutant("missed-liquidation", "HM-LIQ-002", "liquidations go unreported", _missed_liquidation),
    Mutant("liq-price-off", "HM-LIQ-007", "isolated liquidation price off by one", _liq_price_off),
    Mutant("cross-liq-price-off", "HM-LIQ-007", "the cross legs' shared liquidation price off by one on both legs",
           _cross_liq_price_off),
    Mutant("expired-accepts", "HM-SETL-002", "an expired contract takes orders", _expired_accepts),
    Mutant("stop-never-fires", "HM-STOP-002", "triggers are never reported", _stop_never_fires),
    Mutant("loss-from-wallet", "HM-LIQ-003", "an isolated liquidation draws on the wallet", _loss_from_wallet),
    Mutant("liquidation-price-off", "HM-LIQ-004", "liquidations execute a tick off the mark", _liquidation_price_off),
    Mutant("cross-breach-ignored", "HM-LIQ-005", "a breached cross pool is not liquidated", _cross_breach_ignored),
    Mutant("cross-hits-isolated", "HM-LIQ-006", "a cross liquidation also closes isolated legs", _cross_hits_isolated),
    Mutant("liquidation-first", "HM-LIQ-008", "liquidation evaluated before the stops fire", _liquidation_first),
    Mutant("margin-not-released", "HM-MARG-003", "a partial close keeps all of the leg's margin",
           _margin_not_released),
    Mutant("cross-by-default", "HM-MARG-004", "a fill changes the leg's margin type", _cross_by_default),
    Mutant("margin-type-on-busy-leg", "HM-MARG-005", "margin type changes on an open leg",
           _accept_reason("MARGIN_TYPE_WITH_POSITION", _margin_type_switched)),
    Mutant("settle-off", "HM-SETL-001", "expiry settles a leg at the wrong PnL", _settle_off),
    Mutant("stop-wrong-leg", "HM-STOP-001", "a triggered stop fills the other leg", _stop_wrong_leg),
    Mutant("trailing-follows-price", "HM-STOP-003", "a trailing stop tracks the last price in both directions",
           _trailing_follows_price),
    Mutant("keep-orders-on-close", "HM-STOP-004", "closing orders survive the close of their leg",
           _keep_orders_on_close),
    Mutant("close-position-partial", "HM-STOP-005", "a close-position order (triggered, or an ordinary market one "
           "where the profile allows it) leaves part of the leg",
           _close_position_partial),
    Mutant("remainder-to-wallet", "HM-LIQ-004", "what remains of a liquidated isolated leg's margin goes to the "
           "wallet, not the insurance fund", _remainder_to_wallet),
    Mutant("liquidation-fill-fee", "HM-FEE-001", "liquidation fills pay the taker fee though the clearance rate is 0",
           _liquidation_fill_fee),
    Mutant("shortfall-from-wallet", "HM-LIQ-003", "an isolated leg's loss beyond its margin is taken from the "
           "wallet, booked before the liquidation", _shortfall_from_wallet),
    Mutant("expiry-unreported", "HM-SETL-001", "expired instruments are never reported, and take orders",
           _expiry_unreported),
    Mutant("trailing-vanishes", "HM-STOP-003", "a trailing stop that should fire is cancelled as if its leg closed",
           _no_op, patches=(("hedgespec.model.orders", "trigger_conditionals", _trailing_vanishes),)),
    # -- begin: orders, margin and positions mutants --
    Mutant("available-ignores-orders", "HM-ORD-008", "the available balance leaves out what open orders reserve, "
           "and orders are admitted against it", _available_ignores_orders_report,
           patches=(("hedgespec.model.orders", "available_balance", _available_ignores_orders),)),
    Mutant("market-close-beyond-leg", "HM-ORD-004", "a closing market order larger than its leg, or on a flat "
           "leg, is accepted", _market_close_beyond_leg),
    Mutant("worst-price-first", "HM-ORD-006", "a market trade fills the resting orders it trades through worst "
           "price first", _no_op, patches=(("hedgespec.model.orders", "match_resting", _worst_price_first),)),
    Mutant("newest-first", "HM-ORD-006", "a market trade fills the resting orders at one price newest first",
           _no_op, patches=(("hedgespec.model.orders", "match_resting", _newest_first),)),
    Mutant("later-closes-realize-nothing", "HM-POS-002", "when a step reduces a leg by several fills, only the "
           "first realizes PnL", _later_closes_realize_nothing),
    Mutant("one-release-per-step", "HM-MARG-003", "when a step reduces an isolated leg by several fills, only the "
           "first releases margin", _one_release_per_step),
    Mutant("upnl-null", "HM-POS-003", "unrealized PnL reported as null though the instrument has a mark",
           _upnl_null),
    Mutant("maintenance-null", "HM-MARG-006", "maintenance margin reported as null though the instrument has a mark",
           _maintenance_null),
    Mutant("entry-price-on-flat", "HM-POS-003", "a flat leg reports an entry price of 0", _entry_price_on_flat),
    Mutant("default-leverage-off", "HM-MARG-004", "a leg at leverage 20 (never set, or set to 20) reports 10, so a "
           "request for 20 leaves another value",
           _default_leverage_off),
    Mutant("margin-type-wrong-reason", "HM-MARG-005", "a busy leg's margin-type change is refused with the other "
           "reason (position for orders, orders for a position)", _margin_type_wrong_reason),
    # -- end: orders, margin and positions mutants --
    Mutant("trailing-wrong-direction", "HM-STOP-003", "a trailing stop tracks the other leg's direction",
           _no_op, patches=(("hedgespec.model.orders", "trailing_update", _trailing_wrong_direction),)),
    Mutant("stop-other-direction", "HM-STOP-002", "a stop fires on the price path of the opposite leg",
           _no_op, patches=(("hedgespec.model.orders", "stop_triggered", _stop_other_direction),)),
    Mutant("joint-liquidation", "HM-LIQ-001", "liquidating one isolated leg liquidates both",
           _no_op, patches=(("hedgespec.model.liquidation", "liquidate_isolated", _joint_liquidation),)),
    Mutant("funding-halved", "HM-FUND-001", "funding is half of quantity x mark x rate",
           _no_op, patches=(("hedgespec.model.step", "funding_amount", _funding_halved),)),
    Mutant("nondeterministic", "HM-DET-001", "replays differ (state leaks across runs)", _no_op,
           nondeterministic=True),
]
MUTANT_BY_NAME = {m.name: m for m in MUTANTS}

# Mutants only a directed scenario reaches (tests/test_stronger_checks.py): the conformance generator
# places most trailing stops with their activation price already reached and no vector has one that is
# not, so a short conformance run cannot tell them apart; and no built-in profile models partial
# liquidation by bracket, which examples/profiles/partial-by-bracket.json does, nor the offset of hedged cross
# legs, which examples/profiles/offset-hedged-first.json does.
DIRECTED_MUTANTS: list[Mutant] = [
    Mutant("trailing-ignores-activation", "HM-STOP-003", "a trailing stop activates before its activation price",
           _no_op, patches=(("hedgespec.model.orders", "trailing_update", _trailing_ignores_activation),)),
    Mutant("partial-in-full", "HM-LIQ-004", "under partial liquidation by bracket, a leg a lower bracket would "
           "save is closed in full", _no_op,
           patches=(("hedgespec.model.liquidation", "partial_liquidation_quantity", _partial_in_full),)),
    Mutant("partial-one-lot-deeper", "HM-LIQ-004", "a partial liquidation closes one lot more than the lower "
           "bracket needs", _no_op,
           patches=(("hedgespec.model.liquidation", "partial_liquidation_quantity", _partial_one_lot_deeper),)),
    Mutant("partial-releases-margin", "HM-LIQ-004", "a partial liquidation releases the reduced part's margin to "
           "the wallet", _partial_releases_margin),
    Mutant("offset-skipped", "HM-LIQ-005", "under offset_hedged_first, a breached pool is closed as a whole though "
           "offsetting its hedged legs would restore it", _no_op,
           patches=(("hedgespec.model.liquidation", "hedged_overlap", _offset_skipped),)),
    Mutant("offset-half", "HM-LIQ-005", "a breached pool's hedged legs are offset by half the quantity they share",
           _no_op, patches=(("hedgespec.model.liquidation", "hedged_overlap", _offset_half),)),
    Mutant("offset-closes-all", "HM-LIQ-005", "after offsetting its hedged legs, a pool is closed as a whole even "
           "where the offset restored it", _no_op,
           patches=(("hedgespec.model.liquidation", "cross_pool", _pool_judged_again(True)),)),
    Mutant("offset-then-stop", "HM-LIQ-005", "after offsetting its hedged legs, a pool still breached keeps the "
           "legs left", _no_op, patches=(("hedgespec.model.liquidation", "cross_pool", _pool_judged_again(False)),)),
    Mutant("resting-fills-other-leg", "HM-ORD-002", "a resting order traded through fills on the opposite leg, "
           "reducing it", _no_op, patches=(("hedgespec.model.orders", "execute", _resting_fills_other_leg),)),
    Mutant("pnl-unbooked", "HM-MARG-003", "a cross leg's realized PnL is never booked to the wallet", _pnl_unbooked),
    Mutant("triggered-not-filled", "HM-STOP-001", "a fired stop is reported triggered but never fills", _no_op,
           patches=(("hedgespec.model.orders", "execute", _triggered_not_filled),)),
    Mutant("resting-overfilled", "HM-ORD-006", "a resting order fills twice its quantity", _no_op,
           patches=(("hedgespec.model.orders", "execute", _resting_overfilled),)),
    Mutant("second-stop-skipped", "HM-STOP-002", "of two stops of a leg whose trigger holds, only the first fires",
           _no_op, patches=(("hedgespec.model.orders", "stop_triggered", _second_stop_skipped),)),
    Mutant("mixed-cost-drift", "HM-POS-001", "a leg opened and reduced in one step ends with a drifted cost basis",
           _no_op, patches=(("hedgespec.model.ledger", "reduce_leg", _mixed_cost_drift),)),
    Mutant("crossing-limit-as-maker", "HM-ORD-006", "a limit order crossing on arrival fills as maker", _no_op,
           patches=(("hedgespec.model.orders", "execute", _crossing_limit_as_maker),)),
    Mutant("funding-all-from-margin", "HM-FUND-003", "under wallet_then_margin, an isolated leg's funding is taken "
           "from its margin alone", _no_op, patches=(("hedgespec.model.step", "_funding_buckets",
                                                      _funding_all_from_margin),)),
    Mutant("funding-other-instrument", "HM-FUND-001", "a funding event also charges another instrument's legs",
           _funding_other_instrument),
]
MUTANT_BY_NAME.update((m.name, m) for m in DIRECTED_MUTANTS)

# Directed mutants of a later review of check strength, each on its own directed scenario in
# tests/test_check_strength_review.py: every one passed its rule's check before the check was strengthened.
REVIEWED_MUTANTS: list[Mutant] = [
    Mutant("rejection-advances-time", "HM-ATOM-001", "a rejected action moves the snapshot's time to its t",
           _rejection_advances_time),
    Mutant("partial-switch-skips-idle", "HM-MODE-005", "a partially applied coin-level switch leaves the idle "
           "instruments in their old mode too", _partial_switch_skips_idle),
    Mutant("flat-rows-omitted", "HM-MODE-008", "an instrument whose rows are all flat has no position rows",
           _flat_rows_omitted),
    Mutant("one-way-fill-unreported", "HM-NET-002", "one-way fills move the net position without a fill event",
           _one_way_fill_unreported),
    Mutant("trigger-beyond-leg", "HM-ORD-003", "a fired one-way conditional order fills its whole quantity beyond "
           "the net position, flipping it", _no_op, patches=(("hedgespec.model.orders", "execute",
                                                              _trigger_beyond_leg),)),
    Mutant("mark-lags", "HM-POS-003", "the snapshot keeps the previous mark price, and unrealized PnL at it",
           _no_op, patches=(("hedgespec.model.step", "_HANDLERS", _mark_lags),)),
    Mutant("never-cancels-on-close", "HM-STOP-004", "closing orders are not cancelled when their leg closes "
           "(hidden where the same step reopens the leg)", _never_cancels_on_close),
    Mutant("trigger-fill-as-maker", "HM-STOP-001", "a fired stop fills as maker and pays the maker fee", _no_op,
           patches=(("hedgespec.model.orders", "execute", _trigger_fill_as_maker),)),
    Mutant("reduce-only-flag-dropped", "HM-ORD-009", "the reduce-only flag is ignored in hedge mode where the "
           "profile forbids it: the order is taken as a plain closing order", _no_op,
           patches=(("hedgespec.model.orders", "_ORDER_FIELDS", _reduce_only_flag_dropped),)),
    Mutant("margin-on-new-row", "HM-LEDG-001", "a mode switch brings rows holding isolated margin no entry put "
           "there", _margin_on_new_row),
    Mutant("fee-to-unknown-account", "HM-LEDG-001", "a fee is also booked to an account that does not exist",
           _fee_to_unknown_account),
    Mutant("reduce-only-refused", "HM-ORD-009", "every reduce-only order is refused with REDUCE_ONLY_FORBIDDEN, "
           "in one-way mode too and where the profile accepts the flag in hedge mode", _reduce_only_refused),
    Mutant("switch-with-positions-unchanged", "HM-MODE-002", "a switch an open position blocks is answered "
           "unchanged, not refused", _busy_switch_unchanged("MODE_SWITCH_WITH_POSITIONS")),
    Mutant("switch-with-orders-unchanged", "HM-MODE-003", "a switch an open order blocks is answered unchanged, "
           "not refused", _busy_switch_unchanged("MODE_SWITCH_WITH_OPEN_ORDERS")),
    Mutant("same-mode-reports-switch", "HM-MODE-004", "a request for the mode in force is answered unchanged with a "
           "mode event", _same_mode_reports_switch),
    Mutant("never-trims-on-shrink", "HM-ORD-004", "resting closing limit orders are not trimmed when a fired stop "
           "shrinks their leg", _never_trims_on_shrink),
    Mutant("market-close-cut-to-room", "HM-ORD-004", "where the profile trims, an oversized closing market order is "
           "cut to the leg less its resting closing limit orders", _no_op,
           patches=(("hedgespec.model.orders", "execute", _market_close_cut_to_room),)),
    Mutant("limit-fills-on-arrival", "HM-ORD-006", "a limit order fills on arrival though it does not cross the last "
           "trade", _no_op, patches=(("hedgespec.model.step", "_HANDLERS", _limit_fills_on_arrival),)),
    Mutant("funding-into-realized", "HM-POS-002", "funding payments are added to the leg's realized PnL",
           _funding_into_realized),
    Mutant("fee-discount-in-ledger", "HM-FEE-001", "a hedged fill reports its full fee, but the FEE entry charges "
           "the wallet half", _fee_discount_in_ledger),
    Mutant("side-mismatch-as-invalid-argument", "HM-ORD-001", "a well-formed order whose position side does not "
           "match the mode is refused with INVALID_ARGUMENT", _refused_as_invalid_argument("POSITION_SIDE_MISMATCH")),
    Mutant("expired-as-invalid-argument", "HM-SETL-002", "a well-formed order on an expired contract is refused "
           "with INVALID_ARGUMENT", _refused_as_invalid_argument("INSTRUMENT_EXPIRED")),
    Mutant("reduce-only-as-invalid-argument", "HM-ORD-009", "a well-formed reduce-only order in hedge mode, where "
           "the profile forbids the flag, is refused with INVALID_ARGUMENT",
           _refused_as_invalid_argument("REDUCE_ONLY_FORBIDDEN")),
    Mutant("oversized-close-as-invalid-argument", "HM-ORD-004", "a well-formed closing order beyond its leg is "
           "refused with INVALID_ARGUMENT", _refused_as_invalid_argument("REDUCE_EXCEEDS_LEG")),
    Mutant("close-charged-as-open", "HM-ORD-008", "a closing order is charged initial margin as if it opened: "
           "refused with INSUFFICIENT_MARGIN when the available balance does not cover notional / leverage",
           _close_charged_as_open),
    Mutant("cancel-keeps-reservation", "HM-ORD-008", "a cancelled order's reservation stays in the order margin "
           "while the account has other open orders", _cancel_keeps_reservation),
    Mutant("release-to-other-leg", "HM-NET-001", "margin released by reducing an isolated leg moves to the other "
           "leg's isolated margin", _no_op, patches=(("hedgespec.model.orders", "execute", _release_to_other_leg),)),
    Mutant("switch-brings-default-settings", "HM-MARG-001", "a mode switch brings its rows at the profile's default "
           "margin type and leverage, not the instrument's setting", _no_op,
           patches=(("hedgespec.model.step", "_HANDLERS", _switch_brings_default_settings),)),
    Mutant("adjust-margin-shares-settings", "HM-NET-001", "a margin adjustment gives the other leg the adjusted "
           "leg's margin type and leverage", _no_op,
           patches=(("hedgespec.model.step", "_HANDLERS", _adjust_margin_shares_settings),)),
]
MUTANT_BY_NAME.update((m.name, m) for m in REVIEWED_MUTANTS)

def _liquidation_borrows(lender: str) -> Transform:
    """HM-LIQ-003: an engine that first covers a liquidated isolated leg's loss from ``lender`` and gives it back
    once the liquidation fill is booked, as MARGIN_TRANSFER entries that sum to zero over the step (every snapshot
    is the reference's): ``other_leg``, the other leg's isolated margin; ``wallet``, the wallet, booked to no leg;
    ``cross_leg_wallet``, the wallet, booked to the other leg where that leg is a cross leg (its margin);
    ``other_instrument``, the isolated margin of a leg of another instrument."""
    def transform(action, before, outcome, after):
        evs = outcome.get("events", [])
        for event in [e for e in evs if e["type"] == "liquidation" and e["position_side"] in ("LONG", "SHORT")]:
            account, symbol, side = event["account"], event["instrument"], event["position_side"]
            fill = next((f for f in evs[evs.index(event):] if f["type"] == "fill" and f["cause"] == "liquidation"
                         and (f["account"], f["instrument"], f["position_side"]) == (account, symbol, side)), None)
            other = "SHORT" if side == "LONG" else "LONG"
            held = before["accounts"][account]["positions"].get(symbol, {}).get(other)
            if lender == "other_instrument":
                held, other, symbol = next(((r, s, sym) for sym, sides in before["accounts"][account]["positions"].items()
                                            for s, r in sides.items() if sym != event["instrument"]
                                            and r["margin_type"] == "ISOLATED" and _d(r["isolated_margin"]) > 0),
                                           (None, other, symbol))
            if fill is None or held is None:
                continue
            loss = -_d(fill["realized_pnl"])
            if lender in ("other_leg", "other_instrument"):
                tag, bucket, amount = (symbol, other), "isolated_margin", min(loss, _d(held["isolated_margin"]))
            elif lender == "wallet":
                tag, bucket, amount = (None, None), "wallet", loss
            else:
                tag, bucket, amount = (symbol, other), "wallet", loss if held["margin_type"] == "CROSS" else Decimal(0)
            if amount <= 0:
                continue

            def entry(leg, where, value, account=account):
                return {"type": "ledger", "account": account, "instrument": leg[0], "position_side": leg[1],
                        "kind": "MARGIN_TRANSFER", "bucket": where, "amount": _s(value)}
            own = (event["instrument"], side)
            start = evs.index(event) + 1
            evs[start:start] = [entry(tag, bucket, -amount), entry(own, "isolated_margin", amount)]
            end = evs.index(fill) + 1
            evs[end:end] = [entry(own, "isolated_margin", -amount), entry(tag, bucket, amount)]
    return transform


# Directed mutants of the same review in the risk chapters, shown in tests/test_check_strength_risk.py.
_LIQUIDATION_BEFORE_STOPS = (("hedgespec.model.step", "_HANDLERS", _liquidation_before_stops),)
REVIEWED_RISK_MUTANTS: list[Mutant] = [
    Mutant("funding-on-closed-leg", "HM-FUND-002", "funding booked for a leg closed since, with no payment",
           _funding_on_closed_leg),
    Mutant("sweep-other-receipt", "HM-LIQ-001", "liquidating one leg at a funding step sweeps the other leg's "
           "funding receipt into the insurance fund", _no_op,
           patches=(("hedgespec.model.liquidation", "liquidate_isolated", _sweep_other_receipt),)),
    Mutant("pool-draws-isolated", "HM-LIQ-006", "a cross-pool liquidation moves isolated margin to the wallet",
           _no_op, patches=(("hedgespec.model.liquidation", "_evaluate_cross", _pool_draws_isolated),)),
    Mutant("liquidation-first-leg-closed", "HM-LIQ-008", "liquidation before the stops; the stop it ends is "
           "reported cancelled because its leg closed", _cancelled_as_leg_closed, patches=_LIQUIDATION_BEFORE_STOPS),
    Mutant("liquidation-first-silent", "HM-LIQ-008", "liquidation before the stops; the stop it ends vanishes "
           "without an event", _cancel_unreported, patches=_LIQUIDATION_BEFORE_STOPS),
    Mutant("busy-leg-unchanged", "HM-MARG-005", "a busy leg's margin-type change is answered unchanged, not "
           "refused", _busy_leg_unchanged),
    Mutant("funding-charged-twice", "HM-FUND-001", "a funding event is processed twice: every leg pays or receives "
           "its amount twice, each payment of the right amount", _no_op,
           patches=(("hedgespec.model.step", "_HANDLERS", _funding_twice),)),
    Mutant("triggers-every-instrument", "HM-STOP-002", "a price move of one instrument fires the stops and trailing "
           "stops of every instrument", _no_op,
           patches=(("hedgespec.model.orders", "trigger_conditionals", _triggers_every_instrument),)),
    Mutant("liquidated-at-previous-mark", "HM-LIQ-004", "a leg breached at the new mark is closed at the previous "
           "mark, which its liquidation event reports", _no_op,
           patches=(("hedgespec.model.liquidation", "liquidate_isolated", _liquidated_at_previous_mark),)),
    Mutant("other-instruments-at-this-mark", "HM-LIQ-002", "a mark of one instrument liquidates the isolated legs of "
           "another judged at that price", _no_op,
           patches=(("hedgespec.model.liquidation", "evaluate", _other_instruments_at_this_mark),)),
    Mutant("excess-loss-from-wallet", "HM-MARG-003", "a reducing fill's loss beyond the margin it releases is taken "
           "from the wallet, not the insurance fund", _excess_loss_from_wallet),
    Mutant("close-position-refused-when-covered", "HM-STOP-005", "a close-position market order is refused with "
           "REDUCE_EXCEEDS_LEG when resting closing limit orders cover the leg", _close_position_refused_when_covered),
    Mutant("liquidation-borrows-other-leg", "HM-LIQ-003", "a liquidated isolated leg's loss is first taken from the "
           "other leg's isolated margin and given back once the liquidation fill is booked (entries that net to zero)",
           _liquidation_borrows("other_leg")),
    Mutant("liquidation-borrows-wallet", "HM-LIQ-003", "a liquidated isolated leg's loss is first taken from the "
           "wallet, booked to no leg, and given back once the liquidation fill is booked (entries that net to zero)",
           _liquidation_borrows("wallet")),
    Mutant("liquidation-borrows-cross-leg", "HM-LIQ-003", "a liquidated isolated leg's loss is first taken from the "
           "wallet, booked to the other leg (a cross leg), and given back once the liquidation fill is booked",
           _liquidation_borrows("cross_leg_wallet")),
    Mutant("liquidation-borrows-other-instrument", "HM-LIQ-003", "a liquidated isolated leg's loss is first taken "
           "from the isolated margin of a leg of another instrument and given back once the liquidation fill is booked",
           _liquidation_borrows("other_instrument")),
]
MUTANT_BY_NAME.update((m.name, m) for m in REVIEWED_RISK_MUTANTS)


class CompiledModelError(Exception):
    """A broken engine that replaces functions of the model cannot run on the compiled build."""


class MutantAdapter:
    """A broken engine: the reference with one mutation applied to what it reports.

    A mutant with ``patches`` replaces functions of the model's modules for each step. The compiled build
    of the model (``hedgespec.model.BUILD == "compiled"``) calls its functions directly, so such a
    replacement would change nothing, or break the step: such a mutant refuses to start there
    (CompiledModelError) rather than run as the reference.
    """

    capabilities = ReferenceAdapter.capabilities

    def __init__(self, mutant: Mutant, profile: str | None = None) -> None:
        if mutant.patches and MODEL_BUILD != "interpreted":
            raise CompiledModelError(
                f"mutant {mutant.name} replaces functions of the reference model, which the {MODEL_BUILD} build "
                "calls directly: run it with hedgespec installed from source (pip install -e .)")
        self.mutant = mutant
        self.name = f"mutant:{mutant.name}"
        self.reference = ReferenceAdapter(profile)
        self.reported: dict[str, Any] | None = None
        self.runs = 0  # steps over the adapter's whole life: the nondeterministic mutant's hidden state

    def reset(self, params: dict[str, Any]) -> None:
        self.reference.reset(params)
        self.reported = self.reference.snapshot()

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        before = self.reported if self.reported is not None else self.reference.snapshot()
        with _patched(self.mutant.patches):
            outcome = self.reference.apply(self.mutant.reads(action) if self.mutant.reads else action)
        after = self.reference.snapshot()
        if self.mutant.nondeterministic:
            self.runs += 1
            if self.runs % 7 == 0 and after["accounts"]:
                account = next(iter(after["accounts"].values()))
                account["wallet"] = _s(_d(account["wallet"]) + Decimal("0.01") * (self.runs % 3))
        if not action_format_problems(action):  # each mutation is of what the engine does with actions it can read
            self.mutant.transform(action, before, outcome, after)
        self.reported = after
        return outcome

    def snapshot(self) -> dict[str, Any]:
        return self.reported if self.reported is not None else self.reference.snapshot()

    def close(self) -> None:
        self.reference.close()


@contextlib.contextmanager
def _patched(patches: tuple[tuple[str, str, Callable[[Any], Any]], ...]):
    """Swap reference kernels for wrong ones for the duration of one step (single-threaded use)."""
    saved = []
    try:
        for module_name, attribute, wrong in patches:
            module = importlib.import_module(module_name)
            original = getattr(module, attribute)
            saved.append((module, attribute, original))
            setattr(module, attribute, wrong(original))
        yield
    finally:
        for module, attribute, original in reversed(saved):
            setattr(module, attribute, original)


def serve(name: str) -> int:
    """Serve one mutant over the JSON-lines engine protocol (stdin/stdout)."""
    from .jsonl import serve as serve_adapter

    mutant = MUTANT_BY_NAME.get(name)
    if mutant is None:
        print(f"unknown mutant {name!r}; known: {', '.join(MUTANT_BY_NAME)}", file=sys.stderr)
        return 2
    try:
        adapter = mutant.adapter()
    except CompiledModelError as exc:
        print(f"hedgespec.conformance.mutants: {exc}", file=sys.stderr)
        return 2
    return serve_adapter(adapter)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(serve(sys.argv[1] if len(sys.argv) > 1 else ""))
