"""Chapter: margin — margin type and leverage per leg, isolated margin, maintenance."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..observe import (
    CTX,
    D,
    events,
    exact,
    instruments,
    maintenance,
    mode_in_force,
    modelled_choice,
    money_toward_zero,
    mul,
    open_orders,
    row,
    rows,
    setting_covers,
    stale_mark,
)
from ..registry import StepView, Violation, declare, rule

declare(
    "HM-MARG-007", level="MAY", title="Maintenance margin charged on hedged legs",
    statement="Under cross margin, two opposite legs of one instrument are charged maintenance margin on both "
              "legs (Binance, the seed) or on the larger leg only (Bitget; KuCoin for legs at the same price), as "
              "the profile states.",
    rationale="Binance's liquidation-price formula charges MMR on both legs, so a fully hedged cross position "
              "still has a liquidation price; KuCoin (legs at the same price) and Bitget charge the larger leg "
              "only; Bybit's, OKX's and Gate's treatment is not stated in the sources used (their profiles leave "
              "hedged_maintenance unconfirmed).",
    sources=["B-LIQ-UM", "K-ANN", "BG-RISK"], profile_choices=("hedged_maintenance",),
)

_LEG_SETTINGS = (("margin_type", "set_margin_type"), ("leverage", "set_leverage"))


@rule(
    "HM-MARG-001", level="MUST", kind="transition", title="Margin type and leverage per leg",
    statement="Margin type and leverage are set per leg where the profile's scope is the leg (the seed): setting "
              "one leg leaves the other leg's settings unchanged. Where the scope is the instrument (Binance), "
              "one setting covers both legs and the one-way BOTH row, and they always carry the same value, so "
              "the rows a mode switch brings carry the value of the rows it removes; where the margin-type scope "
              "is the account (Bybit's unified account), one margin type covers every leg of the account, the "
              "rows a mode switch brings included. Where the profile does not model the scope, setting one leg "
              "either leaves the other leg's setting unchanged or gives it the same value.",
    rationale="Long and short are separate records with their own leverage and margin type in the seed; "
              "Binance keeps one leverage and margin type per symbol, OKX and Bybit only in isolated hedge mode.",
    sources=["S-P1", "B-LEV", "O-LEV", "Y-LEV", "Y-MM"],
    applies_to=("set_margin_type", "set_leverage", "set_position_mode"), observes=("snapshot",),
    requires=("hedge-mode",), profile_choices=("margin_type_scope", "leverage_scope"),
)
def settings_per_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-MARG-001 (where the profile does not model the scope, either scope's answer); at a mode
    switch, see ``_switch_keeps_settings``."""
    action = view.action
    kind = action.get("kind")
    if kind == "set_position_mode":
        yield from _switch_keeps_settings(view)
        return
    if kind not in ("set_margin_type", "set_leverage") or view.outcome["kind"] != "accepted":
        return
    field = "margin_type" if kind == "set_margin_type" else "leverage"
    scope = modelled_choice(view.params, "margin_type_scope" if kind == "set_margin_type" else "leverage_scope")
    account, symbol, side = action["account"], action["instrument"], action.get("position_side", "")
    if scope == "account":  # in either mode: every leg of the account carries the one margin type
        for acc, sym, s, r in rows(view.after):
            if acc == account and r[field] != action.get(field):
                yield Violation("HM-MARG-001", f"account-wide {field}: {sym} {s} is {r[field]}, not {action.get(field)}")
    if mode_in_force(view.before, view.params, account, symbol) != "HEDGE" or side not in ("LONG", "SHORT"):
        return  # one-way, or unknown (HM-MODE-001): not judged
    other = "SHORT" if side == "LONG" else "LONG"
    target_after = row(view.after, account, symbol, side)[field]
    value = action.get(field)
    same = D(target_after) == D(value) if kind == "set_leverage" else target_after == value
    if not same:
        yield Violation("HM-MARG-001", f"{symbol} {side}: {field} is {target_after}, requested {value}")
    before_other, after_other = row(view.before, account, symbol, other), row(view.after, account, symbol, other)
    kept, shared = before_other[field] == after_other[field], after_other[field] == target_after
    if scope == "leg" and not kept:
        yield Violation("HM-MARG-001", f"setting {side} changed {other}'s {field}")
    if scope not in ("leg", None) and not shared:
        yield Violation("HM-MARG-001", f"instrument-wide {field} differs between the legs")
    if scope is None and not (kept or shared):
        yield Violation("HM-MARG-001", f"setting {side} changed {other}'s {field} to {after_other[field]}, neither "
                                       f"kept nor the value set")


def _switch_keeps_settings(view: StepView) -> Iterator[Violation]:
    """HM-MARG-001 at a mode switch, whatever its answer, where the profile models a scope wider than the leg: the
    rows one setting covers (an instrument's under the instrument scope, an account's for the margin type under
    the account scope) carry one value after the step, and where they all carried one value before, that value.
    So the rows a switch brings (LONG and SHORT for BOTH, or back) keep the setting of the rows it removes: an
    engine that brings them at the profile's defaults, or one leg at another value, is caught here. Under the leg
    scope, or where the scope is not modelled, a row a switch brings carries its own earlier setting, which one
    step does not show: not judged."""
    for field, choice in (("margin_type", "margin_type_scope"), ("leverage", "leverage_scope")):
        scope = modelled_choice(view.params, choice)
        if scope not in ("instrument", "account"):
            continue
        groups: dict[str, tuple[set, set]] = {}
        for index, snapshot in enumerate((view.before, view.after)):
            for account, symbol, _, r in rows(snapshot):
                value = D(r[field]) if field == "leverage" else r[field]
                groups.setdefault(account if scope == "account" else f"{account} {symbol}", (set(), set()))[index].add(
                    value)
        for group, (was, now) in groups.items():
            if len(now) > 1:
                yield Violation("HM-MARG-001", f"{group}: the rows one {field} covers ({scope} scope) carry "
                                               f"{', '.join(sorted(map(str, now)))} after a mode switch")
            elif len(was) == 1 and now and now != was:
                yield Violation("HM-MARG-001", f"{group}: {field} {next(iter(now))} after a mode switch, the rows "
                                               f"its {scope} setting covered carried {next(iter(was))}")


@rule(
    "HM-MARG-002", level="MUST", kind="transition", title="Adding margin to one leg touches only that leg",
    statement="Adding or removing isolated margin on one leg MUST change that leg's isolated margin and the "
              "wallet by the same amount in opposite directions, and no other leg: not its quantity, cost basis, "
              "isolated margin, realized PnL, fees, funding, margin type, leverage or maintenance margin, nor the "
              "liquidation price of another isolated leg.",
    rationale="Margin is adjusted per position (Binance positionMargin takes positionSide in hedge mode). A cross "
              "leg's liquidation price is not held fixed: the wallet enters the cross pool's shared price, so "
              "moving money between the wallet and an isolated leg may move it.",
    sources=["S-P5", "B-MARGIN"],
    applies_to=("adjust_margin",), observes=("snapshot",), requires=("margin-adjustment", "isolated-margin"),
)
def margin_change_one_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-MARG-002."""
    action = view.action
    if action.get("kind") != "adjust_margin" or view.outcome["kind"] != "accepted":
        return
    account, symbol, side = action["account"], action["instrument"], action.get("position_side") or "BOTH"
    amount = D(action["amount"])
    before, after = row(view.before, account, symbol, side), row(view.after, account, symbol, side)
    if D(after["isolated_margin"]) - D(before["isolated_margin"]) != amount:
        yield Violation("HM-MARG-002", f"{side} margin moved {D(after['isolated_margin']) - D(before['isolated_margin'])}"
                                       f", requested {amount}")
    wallet_delta = D(view.after["accounts"][account]["wallet"]) - D(view.before["accounts"][account]["wallet"])
    if wallet_delta != -amount:
        yield Violation("HM-MARG-002", f"wallet moved {wallet_delta} for a margin change of {amount}")
    for acc, sym, s, r in rows(view.before):
        if (acc, sym, s) == (account, symbol, side):
            continue
        other = row(view.after, acc, sym, s)
        if exact(r) != exact(other):
            yield Violation("HM-MARG-002", f"{acc} {sym} {s} changed by a margin change on {symbol} {side}")
        elif other is not None and (r.get("maintenance_margin") != other.get("maintenance_margin") or (
                r["margin_type"] == "ISOLATED" and r.get("liquidation_price") != other.get("liquidation_price"))):
            yield Violation("HM-MARG-002", f"{acc} {sym} {s}: maintenance margin or liquidation price changed by a "
                                           f"margin change on {symbol} {side}")


@rule(
    "HM-MARG-003", level="MUST", kind="accounting", title="A partial close releases margin in proportion",
    statement="A reducing fill of an isolated leg releases the closed share of the leg's isolated margin "
              "(rounded toward zero); the rest stays with the leg. Realized PnL and released margin go where the "
              "profile says (the seed: the wallet), a loss beyond the released margin to the insurance fund.",
    rationale="Partial closes are per position; the remaining part keeps its own margin.",
    sources=["S-P4", "B-MARGIN"],
    observes=("snapshot", "events"), requires=("isolated-margin",), profile_choices=("pnl_destination",),
)
def partial_close_releases(view: StepView) -> Iterator[Violation]:
    """Implements HM-MARG-003.

    Every leg's realized PnL is booked: its ``REALIZED_PNL`` entries sum to its fills' ``realized_pnl``, a
    cross leg's in the wallet. Fill by fill, for steps whose fills on an isolated leg all reduce it by an
    order: the margin left, what the insurance fund covers (under every profile: each fill's loss beyond its
    released margin, nothing where released margin + PnL is not negative), and under ``pnl_destination:
    wallet`` what the wallet receives (each fill's released margin + PnL, where not negative).
    """
    by_leg: dict[tuple[str, str, str], list[dict]] = {}
    for fill in events(view.outcome, "fill"):
        by_leg.setdefault((fill["account"], fill["instrument"], fill["position_side"]), []).append(fill)
    entries = events(view.outcome, "ledger")
    for (account, symbol, side), fills in by_leg.items():
        of_leg = [e for e in entries if (e["account"], e["instrument"], e["position_side"]) == (account, symbol, side)]
        booked = [e for e in of_leg if e["kind"] == "REALIZED_PNL"]
        realized = sum((D(f["realized_pnl"]) for f in fills), Decimal(0))
        if sum((D(e["amount"]) for e in booked), Decimal(0)) != realized:
            yield Violation("HM-MARG-003", f"{account} {symbol} {side}: fills realized {realized}, REALIZED_PNL "
                                           f"entries book {sum((D(e['amount']) for e in booked), Decimal(0))}")
        before = row(view.before, account, symbol, side)
        if before is not None and before["margin_type"] == "CROSS" and any(e["bucket"] != "wallet" for e in booked):
            yield Violation("HM-MARG-003", f"{account} {symbol} {side}: a cross leg's realized PnL booked outside "
                                           "the wallet")
    if view.action.get("kind") not in ("place_order", "market_trade", "mark_price"):
        return
    to_wallet = modelled_choice(view.params, "pnl_destination") == "wallet"
    for (account, symbol, side), fills in by_leg.items():
        before, after = row(view.before, account, symbol, side), row(view.after, account, symbol, side)
        if before is None or after is None or side not in ("LONG", "SHORT") or before["margin_type"] != "ISOLATED":
            continue
        if any((side == "LONG") == (f["side"] == "BUY") or f["cause"] not in ("order", "trigger") for f in fills):
            continue
        quantity, margin = abs(D(before["quantity"])), D(before["isolated_margin"])
        proceeds = shortfall = Decimal(0)
        for fill in fills:  # fill by fill: each releases its share of what the leg still holds
            closed = D(fill["quantity"])
            if closed > quantity:
                break  # beyond the leg: HM-ORD-003
            released = margin if closed == quantity else money_toward_zero(CTX.divide(mul(margin, closed), quantity))
            margin -= released
            quantity -= closed
            proceeds += max(Decimal(0), released + D(fill["realized_pnl"]))
            shortfall += max(Decimal(0), -(released + D(fill["realized_pnl"])))
        else:
            covered = -sum((D(e["amount"]) for e in entries if e["bucket"] == "insurance_fund"
                            and (e["account"], e["instrument"], e["position_side"]) == (account, symbol, side)),
                           Decimal(0))
            if covered != shortfall:  # under every profile: the loss beyond the released margin is the fund's
                yield Violation("HM-MARG-003", f"{account} {symbol} {side}: the insurance fund covered "
                                               f"{covered.normalize():f} of a loss {shortfall.normalize():f} beyond "
                                               f"the released margin")
            if D(after["isolated_margin"]) != margin:
                yield Violation("HM-MARG-003", f"{account} {symbol} {side}: margin {after['isolated_margin']} after "
                                               f"closing {', '.join(f['quantity'] for f in fills)} of "
                                               f"{abs(D(before['quantity']))}, expected {margin}")
            received = sum((D(e["amount"]) for e in entries if e["bucket"] == "wallet" and e["kind"] != "FEE"
                            and (e["account"], e["instrument"], e["position_side"]) == (account, symbol, side)),
                           Decimal(0))
            if to_wallet and received != proceeds:
                yield Violation("HM-MARG-003", f"{account} {symbol} {side}: the wallet received {received} from "
                                               f"closing {', '.join(f['quantity'] for f in fills)}, expected the "
                                               f"released margin + PnL, {proceeds}")


@rule(
    "HM-MARG-004", level="MUST", kind="transition", title="Cross margin only when chosen",
    statement="A leg's margin type changes only through an accepted margin-type request for it, and its leverage "
              "only through an accepted leverage request for it, to the value requested. A request for one leg is "
              "for every leg the profile's scope of that setting covers (margin_type_scope, leverage_scope); where "
              "the profile does not model the margin-type scope, a margin-type request may change another "
              "instrument's legs only as the account scope does: every leg of the account then carries the margin "
              "type requested.",
    rationale="Cross margin is available for both legs but only when explicitly chosen per position. Which "
              "margin type and leverage a leg never set starts with is the profile's default (default_margin_type, "
              "default_leverage); one step cannot tell a run's first snapshot from a later one, so this rule does "
              "not decide it.",
    sources=["S-Q2", "B-LIQ-UM"],
    observes=("snapshot",),
)
def margin_type_only_when_chosen(view: StepView) -> Iterator[Violation]:
    """Implements HM-MARG-004.

    Every row, one-way rows included, keeps its margin type and leverage unless the step is an
    accepted request of that kind for its account and instrument that sets the row to the value
    asked for; so a leg at the profile's defaults keeps them until it is set. That a leg never set
    starts at the defaults is not decided here: one step cannot tell a run's first snapshot from one
    after a setting made at logical time 0, nor a row that reappears after a mode switch from a row
    never set.
    """
    action, accepted = view.action, view.outcome["kind"] == "accepted"
    for account, symbol, side, before in rows(view.before):
        after = row(view.after, account, symbol, side)
        if after is None:
            continue
        for field, kind in _LEG_SETTINGS:
            if before[field] == after[field]:
                continue
            asked = action.get(field)
            same = asked is not None and (D(asked) == D(after[field]) if field == "leverage" else asked == after[field])
            if not (accepted and action.get("kind") == kind and same
                    and setting_covers(view.params, action, account, symbol, view.after)):
                yield Violation("HM-MARG-004", f"{account} {symbol} {side}: {field} changed from {before[field]} to "
                                               f"{after[field]} without a request")


@rule(
    "HM-MARG-005", level="MUST", kind="rejection", title="No margin-type change on a busy leg",
    statement="A request to change a leg's margin type MUST be refused while the leg holds a position "
              "(MARGIN_TYPE_WITH_POSITION) or has open orders (MARGIN_TYPE_WITH_OPEN_ORDERS); each reason is "
              "given only when its condition holds. Where the profile's margin_type_scope is wider than the leg, "
              "the same holds for every leg the request covers; where the profile does not model the scope, for "
              "the leg asked for and any leg whose margin type the request changed, and a reason holds when some "
              "leg of the account meets its condition.",
    rationale="Changing how an open leg is margined would move its margin between pools silently.",
    sources=["B-MTYPE", "B-ERR"],
    applies_to=("set_margin_type",), observes=("snapshot", "outcome"), requires=("cross-margin",),
    profile_choices=("margin_type_scope",),
)
def margin_type_busy_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-MARG-005 (the legs one request covers follow the profile's margin_type_scope; where it is
    not modelled, the narrowest cover is judged, the widest justifies a reason)."""
    action = view.action
    if action.get("kind") != "set_margin_type" or action.get("account") not in view.before["accounts"] or \
            action.get("instrument") not in instruments(view.params):
        return
    account, symbol = action["account"], action["instrument"]
    side = action.get("position_side") or "BOTH"
    scope = modelled_choice(view.params, "margin_type_scope")
    narrow, wide = _covered(view, symbol, side, scope or "leg"), _covered(view, symbol, side, scope or "account")
    orders = open_orders(view.before, account).values()

    def state(legs: list[tuple[str, str]]) -> tuple[list, list, list]:
        """(legs with a row and the row, legs holding a position, legs with open orders)."""
        covered = [(leg, r) for leg in legs if (r := row(view.before, account, *leg)) is not None]
        return (covered, [leg for leg, r in covered if D(r["quantity"]) != 0],
                [leg for leg in legs if any((o["instrument"], o["position_side"]) == leg for o in orders)])

    covered, held, ordered = state(narrow)
    kind, reason = view.outcome["kind"], view.outcome.get("reason")
    if kind == "accepted":
        moved = [leg for leg, r in state(wide)[0] if leg not in narrow and (after := row(
            view.after, account, *leg)) is not None and after["margin_type"] != r["margin_type"]]
        judged_rows, _, judged_orders = state(narrow + moved)
        for (sym, s), r in judged_rows:
            if r["margin_type"] != action["margin_type"] and D(r["quantity"]) != 0:
                yield Violation("HM-MARG-005", f"margin type of open leg {sym} {s} changed")
        for sym, s in judged_orders:
            yield Violation("HM-MARG-005", f"margin type of {sym} {s} changed with open orders")
    _, held_any, ordered_any = state(wide)
    if reason == "MARGIN_TYPE_WITH_POSITION" and not held_any:
        yield Violation("HM-MARG-005", f"MARGIN_TYPE_WITH_POSITION for {symbol} {side}, which holds no position")
    if reason == "MARGIN_TYPE_WITH_OPEN_ORDERS" and not ordered_any:
        yield Violation("HM-MARG-005", f"MARGIN_TYPE_WITH_OPEN_ORDERS for {symbol} {side}, which has no open order")
    changes = any(r["margin_type"] != action.get("margin_type") for _, r in covered)
    busy = changes and (held or ordered) and action.get("margin_type") in ("ISOLATED", "CROSS")
    if kind == "rejected" and busy \
            and reason not in ("MARGIN_TYPE_WITH_POSITION", "MARGIN_TYPE_WITH_OPEN_ORDERS", "POSITION_SIDE_MISMATCH"):
        yield Violation("HM-MARG-005", f"busy leg {symbol} {side} refused with {reason}")
    if kind not in ("rejected", "accepted") and busy:  # "unchanged": a change asked for, neither made nor refused
        yield Violation("HM-MARG-005", f"a change of busy leg {symbol} {side} to {action['margin_type']} answered "
                                       f"{kind}, not refused")


def _covered(view: StepView, symbol: str, side: str, scope: str) -> list[tuple[str, str]]:
    """(instrument, position side) of the legs a margin-type request for one leg covers under ``scope``."""
    if scope == "leg":
        return [(symbol, side)]
    symbols = list(instruments(view.params)) if scope == "account" else [symbol]
    return [(sym, s) for sym in symbols for s in ("LONG", "SHORT", "BOTH")]


@rule(
    "HM-MARG-006", level="MUST", kind="state-invariant", title="Maintenance margin from the brackets",
    statement="Each open leg's maintenance margin at the mark price is |quantity x mark| x the maintenance rate "
              "of the bracket that holds that notional (rounded up), less the bracket's maintenance amount, never "
              "below zero; it depends only on the leg's own quantity. Every leg reports it whenever its instrument "
              "has a mark, and null only without one.",
    rationale="Binance's tax-bracket model (maintMarginRatio, cum); adding margin to the long does not change "
              "the short's maintenance requirement.",
    sources=["S-P5", "B-LM", "B-POS3"],
    observes=("snapshot", "params"),
)
def maintenance_from_brackets(view: StepView) -> Iterator[Violation]:
    """Implements HM-MARG-006 at the snapshot's marks, except that an accepted mark-price step sets its
    instrument's mark to the action's price: a snapshot that reports another mark there (a stale one, with the
    legs' maintenance consistent with it) does not make that the mark."""
    marks = dict(view.after.get("mark_prices", {}))
    insts = instruments(view.params)
    stale = stale_mark(view.action, view.outcome, view.after)
    if stale:
        yield Violation("HM-MARG-006", f"{stale[0]}: the snapshot reports mark {stale[1]} after a mark price "
                                       f"of {stale[2]}")
        marks[stale[0]] = stale[2]
    for account, symbol, side, r in rows(view.after):
        reported = r.get("maintenance_margin")
        if symbol not in marks:
            if reported is not None:
                yield Violation("HM-MARG-006", f"{account} {symbol} {side}: maintenance {reported} without a mark")
            continue
        expected = maintenance(insts[symbol], D(r["quantity"]), D(marks[symbol]))
        if reported is None or D(reported) != expected:
            yield Violation("HM-MARG-006", f"{account} {symbol} {side}: maintenance {reported}, "
                                           f"brackets give {expected}")


__all__ = ["Decimal"]
