"""Chapter: liquidation — isolated legs alone, the cross pool as a whole, the insurance fund."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..observe import (
    CTX,
    EXACT_FIELDS,
    D,
    choice,
    events,
    instruments,
    is_breached,
    maintenance,
    modelled_choice,
    mul,
    price_half_even,
    row,
    rows,
)
from ..registry import StepView, Violation, rule


def _liquidations(view: StepView) -> list[dict]:
    return events(view.outcome, "liquidation")


@rule(
    "HM-LIQ-001", level="MUST", kind="transition", title="Isolated liquidation closes only the breached leg",
    statement="When an isolated leg is liquidated, the other leg of the same instrument MUST be left unchanged in "
              "every field unless it is itself breached and liquidated in the same step.",
    rationale="Liquidation is evaluated per position in isolated margin on every venue checked.",
    sources=["S-P3", "B-LIQ-UM", "Y-LIQ", "O-LIQ"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"), requires=("liquidation", "isolated-margin"),
)
def isolated_only_breached_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-001."""
    liquidated = {(e["account"], e["instrument"], e["position_side"]) for e in _liquidations(view)}
    for account, symbol, side in liquidated:
        if side not in ("LONG", "SHORT"):
            continue
        other = "SHORT" if side == "LONG" else "LONG"
        if (account, symbol, other) in liquidated:
            if view.action.get("kind") == "mark_price" and not _breached_at_mark(view, account, symbol, other):
                yield Violation("HM-LIQ-001", f"{account} {symbol}: liquidating {side} also liquidated {other}, "
                                              f"which was not breached")
            continue
        before, after = row(view.before, account, symbol, other), row(view.after, account, symbol, other)
        touched = any(e.get("position_side") == other and e.get("instrument") == symbol
                      and e.get("account") == account and e["type"] in ("fill", "funding")
                      for e in view.outcome["events"])
        if before and after and not touched and any(before[f] != after[f] for f in EXACT_FIELDS):
            yield Violation("HM-LIQ-001", f"{account} {symbol}: liquidating {side} changed {other}")


def _breached_at_mark(view: StepView, account: str, symbol: str, side: str) -> bool:
    """Whether a leg, as it was before the step, is breached at the step's mark price."""
    r = row(view.before, account, symbol, side)
    if r is None or D(r["quantity"]) == 0:
        return False
    qty, mark = D(r["quantity"]), D(view.action["price"])
    balance = D(r["isolated_margin"]) + mul(qty, mark) - D(r["cost_basis"])
    inst = instruments(view.params)[symbol]
    return is_breached(balance, maintenance(inst, qty, mark), choice(view.params, "liquidation_trigger"))


@rule(
    "HM-LIQ-002", level="MUST", kind="transition", title="Liquidated if and only if below maintenance",
    statement="At a mark price, an open isolated leg MUST be liquidated if its margin balance (isolated margin + "
              "unrealized PnL at the mark) is below its maintenance margin (at or below, where the profile says), "
              "and MUST NOT be liquidated otherwise.",
    rationale="Both directions matter: a premature liquidation is as wrong as a missed one.",
    sources=["S-P3", "B-LIQ-UM", "B-ZLIQ"],
    applies_to=("mark_price",), observes=("snapshot", "events"), requires=("liquidation", "isolated-margin"),
    profile_choices=("liquidation_trigger",),
)
def liquidation_iff_breached(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-002."""
    if view.action.get("kind") != "mark_price" or view.outcome["kind"] != "accepted":
        return
    symbol, mark = view.action["instrument"], D(view.action["price"])
    inst = instruments(view.params)[symbol]
    liquidated = {(e["account"], e["position_side"]) for e in _liquidations(view) if e["instrument"] == symbol}
    triggered = {(e["account"], e["position_side"]) for e in events(view.outcome, "fill") if e["cause"] == "trigger"}
    trigger = choice(view.params, "liquidation_trigger")
    for account, sym, side, r in rows(view.before):
        qty = D(r["quantity"])
        if sym != symbol or qty == 0 or r["margin_type"] != "ISOLATED" or (account, side) in triggered:
            continue
        balance = D(r["isolated_margin"]) + mul(qty, mark) - D(r["cost_basis"])
        breached = is_breached(balance, maintenance(inst, qty, mark), trigger)
        if breached and (account, side) not in liquidated:
            yield Violation("HM-LIQ-002", f"{account} {symbol} {side}: balance {balance} below maintenance, "
                                          f"not liquidated")
        if not breached and (account, side) in liquidated:
            yield Violation("HM-LIQ-002", f"{account} {symbol} {side}: liquidated with balance {balance} "
                                          f"above maintenance")


def _segment(evs: list[dict], index: int) -> list[dict]:
    """The events that belong to the liquidation at ``index``: up to the next liquidation, funding or trigger."""
    out = []
    for later in evs[index + 1:]:
        if later["type"] in ("liquidation", "funding") or (later["type"] == "order" and later["status"] == "TRIGGERED"):
            break
        out.append(later)
    return out


def _of_leg(entries: list[dict], leg: tuple[str, str, str], bucket: str) -> Decimal:
    return sum((D(e["amount"]) for e in entries if e["type"] == "ledger" and e["bucket"] == bucket
                and (e["account"], e.get("instrument"), e.get("position_side")) == leg), Decimal(0))


def _charged(segment: list[dict], leg: tuple[str, str, str], fill: dict) -> Decimal:
    """What the liquidation charged the leg: its fill's fee and its CLEARANCE_FEE entries to the insurance fund.

    The amount is HM-FEE-001's to judge (undecided where the profile does not model the rate); the
    remainder and the shortfall are followed from what was actually charged.
    """
    return D(fill["fee"]) + sum((D(e["amount"]) for e in segment if e["type"] == "ledger"
                                 and e["kind"] == "CLEARANCE_FEE" and e["bucket"] == "insurance_fund"
                                 and (e["account"], e.get("instrument"), e.get("position_side")) == leg), Decimal(0))


def isolated_liquidations(view: StepView) -> Iterator[tuple[tuple[str, str, str], list[dict], dict, Decimal, Decimal]]:
    """(leg, its events, its liquidation fill, remainder, clearance to the fund) per isolated liquidation with a fill.

    The remainder is what is left of the leg's margin once the leg is closed: its isolated margin
    before the step plus its margin entries up to the liquidation event, plus the liquidation fill's
    realized PnL, less what the liquidation charged (the fill's fee and the clearance fee).
    Negative: a loss beyond the leg's margin.
    """
    evs = view.outcome.get("events", [])
    for index, event in enumerate(evs):
        if event["type"] != "liquidation" or event["position_side"] not in ("LONG", "SHORT", "BOTH"):
            continue
        leg = (event["account"], event["instrument"], event["position_side"])
        before = row(view.before, *leg)
        segment = _segment(evs, index)
        fill = next((f for f in segment if f["type"] == "fill" and f["cause"] == "liquidation"
                     and (f["account"], f["instrument"], f["position_side"]) == leg), None)
        if before is None or fill is None:
            continue
        margin = D(before["isolated_margin"]) + _of_leg(evs[:index], leg, "isolated_margin")
        charged = _charged(segment, leg, fill)
        clearance = charged - D(fill["fee"])
        yield leg, segment, fill, margin + D(fill["realized_pnl"]) - charged, clearance


@rule(
    "HM-LIQ-003", level="MUST", kind="accounting", title="A leg's loss never draws on the other leg or the wallet",
    statement="Liquidating an isolated leg MUST NOT lower the wallet or the other leg's margin, at any point of the "
              "step: the leg's loss is capped at its own margin and any shortfall (the loss beyond that margin and "
              "the clearance fee) is taken by the insurance fund.",
    rationale="Bankruptcy losses are position-specific; the insurance fund covers the shortfall. Decided from the "
              "step's ledger entries (reconciled with the snapshots by HM-LEDG-001): the shortfall is recomputed "
              "from the leg's margin before the step, the liquidation fill's realized PnL and what the "
              "liquidation charged (its amount is HM-FEE-001's to judge); the wallet may pay "
              "for the leg, over the whole step, no more than the fees of the leg's own other fills and the "
              "funding it paid.",
    sources=["S-M4", "B-ZLIQ", "B-LIQ-UM"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"), requires=("liquidation", "isolated-margin"),
    profile_choices=("liquidation_clearance_fee_rate",),
)
def loss_stays_on_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-003: the shortfall from the insurance fund, nothing from the wallet or the other leg."""
    evs = view.outcome.get("events", [])
    for leg, segment, _fill, remainder, clearance in isolated_liquidations(view):
        account, symbol, side = leg
        drawn = _of_leg(segment, leg, "wallet")
        if drawn < 0:
            yield Violation("HM-LIQ-003", f"{account} {symbol} {side}: liquidation took {-drawn} from the wallet")
        own_fills = [f for f in events(view.outcome, "fill") if f["cause"] != "liquidation"
                     and (f["account"], f["instrument"], f["position_side"]) == leg]
        paid = sum((-D(f["amount"]) for f in events(view.outcome, "funding")
                    if (f["account"], f["instrument"], f["position_side"]) == leg and D(f["amount"]) < 0), Decimal(0))
        allowed = sum((D(f["fee"]) for f in own_fills), Decimal(0)) + paid
        outflow = -sum((D(e["amount"]) for e in evs if e["type"] == "ledger" and e["bucket"] == "wallet"
                        and (e["account"], e.get("instrument"), e.get("position_side")) == leg
                        and D(e["amount"]) < 0), Decimal(0))
        if outflow > allowed:
            yield Violation("HM-LIQ-003", f"{account} {symbol} {side}: the wallet paid {outflow} for a liquidated "
                                          f"isolated leg over the step (its fees and funding: {allowed})")
        if remainder < 0:
            covered = _of_leg(segment, leg, "insurance_fund") - clearance
            if covered != remainder:
                yield Violation("HM-LIQ-003", f"{account} {symbol} {side}: shortfall {(-remainder).normalize():f}, "
                                              f"the insurance fund covered {(-covered).normalize():f}")
        after = row(view.after, account, symbol, side)
        if after and D(after["isolated_margin"]) != 0 and D(after["quantity"]) == 0:
            yield Violation("HM-LIQ-003", f"liquidated leg kept margin {after['isolated_margin']}")
        if side in ("LONG", "SHORT"):
            yield from _other_leg_untouched(view, (account, symbol, "SHORT" if side == "LONG" else "LONG"))


def _other_leg_untouched(view: StepView, other: tuple[str, str, str]) -> Iterator[Violation]:
    """The other leg, without fills of its own this step, moves its margin by at most its own funding."""
    before, after = row(view.before, *other), row(view.after, *other)
    if before is None or after is None or before["margin_type"] != "ISOLATED" or any(
            (e["type"] in ("fill", "liquidation")) and (e["account"], e["instrument"], e["position_side"]) == other
            for e in view.outcome.get("events", [])):
        return
    funding = sum((D(f["amount"]) for f in events(view.outcome, "funding")
                   if (f["account"], f["instrument"], f["position_side"]) == other), Decimal(0))
    delta = D(after["isolated_margin"]) - D(before["isolated_margin"])
    if not min(funding, Decimal(0)) <= delta <= max(funding, Decimal(0)):
        yield Violation("HM-LIQ-003", f"{' '.join(other)}: margin moved {delta} while the other leg was liquidated "
                                      f"(its own funding: {funding})")


@rule(
    "HM-LIQ-004", level="MUST", kind="transition", title="How a breached isolated leg is closed",
    statement="A breached isolated leg is closed in full at the breaching mark price (or its bankruptcy price, "
              "per the profile), its open orders cancelled first; the clearance fee (the profile's rate, the seed: "
              "none) goes to the insurance fund, and what remains of its margin goes to the insurance fund (the "
              "seed) or the wallet, per the profile.",
    rationale="The seed's execution; venues differ (Binance: bankruptcy price, clearance fee; Bybit and OKX: "
              "partial by tier), which the profiles state. The remainder is recomputed from the leg's margin "
              "before the step, the liquidation fill's realized PnL and what the liquidation charged, and looked "
              "for among the leg's ledger entries after the liquidation event; where the profile does not model "
              "where it goes, either bucket (all of it) is accepted.",
    sources=["S-P3", "S-M4", "B-ZLIQ", "Y-LIQ", "O-LIQ"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"), requires=("liquidation", "isolated-margin"),
    profile_choices=("liquidation_price_basis", "liquidation_extent", "liquidation_cancels_orders",
                     "liquidation_clearance_fee_rate", "isolated_liquidation_remainder"),
)
def liquidation_execution(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-004."""
    for event in _liquidations(view):
        account, symbol, side = event["account"], event["instrument"], event["position_side"]
        if side not in ("LONG", "SHORT", "BOTH"):
            continue
        after = row(view.after, account, symbol, side)
        if after and D(after["quantity"]) != 0:
            yield Violation("HM-LIQ-004", f"{account} {symbol} {side}: liquidated leg not closed in full")
        fills = [f for f in events(view.outcome, "fill") if f["cause"] == "liquidation"
                 and (f["account"], f["instrument"], f["position_side"]) == (account, symbol, side)]
        if choice(view.params, "liquidation_price_basis") == "mark" and any(
                D(f["price"]) != D(event["mark_price"]) for f in fills):
            yield Violation("HM-LIQ-004", f"{account} {symbol} {side}: liquidation fill not at the mark price")
        for oid, order in view.after["accounts"][account]["open_orders"].items():
            if order["instrument"] == symbol and order["position_side"] == side:
                yield Violation("HM-LIQ-004", f"order {oid} of the liquidated leg is still open")
    policy = modelled_choice(view.params, "isolated_liquidation_remainder")  # None: either, not decided
    for leg, segment, _fill, remainder, clearance in isolated_liquidations(view):
        if remainder < 0:
            continue  # a shortfall: HM-LIQ-003
        fund = _of_leg(segment, leg, "insurance_fund") - clearance
        wallet = _of_leg(segment, leg, "wallet")
        allowed = {"insurance_fund": (remainder, Decimal(0)), "wallet": (Decimal(0), remainder)}
        if (fund, wallet) not in ([allowed[policy]] if policy in allowed else list(allowed.values())):
            where = {"insurance_fund": "the insurance fund", "wallet": "the wallet"}.get(policy, "one of them")
            yield Violation("HM-LIQ-004", f"{' '.join(leg)}: remainder {remainder.normalize():f} of the liquidated leg's "
                                          f"margin: {fund.normalize():f} to the insurance fund, "
                                          f"{wallet.normalize():f} to the wallet; expected all to {where}")


@rule(
    "HM-LIQ-005", level="MUST", kind="transition", title="The cross pool is liquidated as a whole",
    statement="Cross legs share the wallet: a breach is decided for the account's cross pool as a whole (equity "
              "= wallet + unrealized PnL of all cross legs, against their summed maintenance margin), if and only "
              "if, and a breach closes every cross leg (the seed), long and short alike.",
    rationale="'Each leg is liquidated alone' is false in cross margin: Binance, Bybit and OKX evaluate the cross "
              "account (or settle currency) as a whole.",
    sources=["S-P3", "B-LIQ-UM", "Y-LIQ", "O-XM"],
    applies_to=("mark_price",), observes=("snapshot", "events"), requires=("liquidation", "cross-margin"),
    profile_choices=("cross_liquidation_scope", "hedged_maintenance"),
)
def cross_pool_as_whole(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-005."""
    if view.action.get("kind") != "mark_price" or view.outcome["kind"] != "accepted":
        return
    marks = dict(view.before.get("mark_prices", {}))
    marks[view.action["instrument"]] = view.action["price"]
    insts = instruments(view.params)
    pool_liquidated = {e["account"] for e in _liquidations(view) if e["position_side"] == "CROSS"}
    triggered = {e["account"] for e in events(view.outcome, "fill") if e["cause"] == "trigger"}
    for account, acc in view.before["accounts"].items():
        equity, mm, legs = D(acc["wallet"]), Decimal(0), []
        for symbol, sides in acc["positions"].items():
            for side, r in sides.items():
                qty = D(r["quantity"])
                if qty == 0 or r["margin_type"] != "CROSS":
                    continue
                price = D(marks[symbol]) if symbol in marks else CTX.divide(D(r["cost_basis"]), qty)
                equity += mul(qty, price) - D(r["cost_basis"])
                mm += maintenance(insts[symbol], qty, price)
                legs.append((symbol, side))
        if not legs or account in triggered:
            continue
        breached = is_breached(equity, mm, choice(view.params, "liquidation_trigger"))
        if breached != (account in pool_liquidated):
            yield Violation("HM-LIQ-005", f"{account}: cross equity {equity} vs maintenance {mm}: "
                                          f"{'not ' if breached else ''}liquidated")
        if account in pool_liquidated:
            for symbol, side in legs:
                if D(row(view.after, account, symbol, side)["quantity"]) != 0:
                    yield Violation("HM-LIQ-005", f"{account} {symbol} {side}: cross leg left open by a pool breach")


@rule(
    "HM-LIQ-006", level="MUST", kind="transition", title="Isolated legs and the cross pool never draw on each other",
    statement="A cross-pool liquidation MUST leave every isolated leg unchanged, and an isolated leg's "
              "liquidation MUST leave every cross leg unchanged.",
    rationale="Isolated margin is walled off from the cross wallet in both directions.",
    sources=["S-M4", "S-Q2", "B-LIQ-UM"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"),
    requires=("liquidation", "cross-margin", "isolated-margin"),
)
def pools_walled_off(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-006."""
    kinds = {(e["account"], e["position_side"] == "CROSS") for e in _liquidations(view)}
    for account, cross_event in kinds:
        for symbol, sides in view.before["accounts"][account]["positions"].items():
            for side, before in sides.items():
                if (before["margin_type"] == "CROSS") == cross_event:
                    continue
                after = row(view.after, account, symbol, side)
                own = any(e.get("account") == account and e.get("instrument") == symbol
                          and e.get("position_side") == side for e in view.outcome["events"])
                if after and not own and any(before[f] != after[f] for f in EXACT_FIELDS):
                    yield Violation("HM-LIQ-006", f"{account} {symbol} {side} ({before['margin_type']}) changed by a "
                                                  f"{'cross' if cross_event else 'isolated'} liquidation")


def _isolated_price(r: dict, inst: dict) -> Decimal | None:
    qty, cost, margin = D(r["quantity"]), D(r["cost_basis"]), D(r["isolated_margin"])
    for bracket in inst["brackets"]:
        rate, amount = D(bracket["maintenance_rate"]), D(bracket.get("maintenance_amount", "0"))
        denominator = qty - abs(qty) * rate
        if denominator == 0:
            continue
        price = CTX.divide(cost - margin - amount, denominator)
        if price <= 0:
            continue
        notional = abs(mul(qty, price))
        cap = D(bracket.get("notional_cap", "0"))
        if notional >= D(bracket["notional_floor"]) and (cap == 0 or notional < cap):
            return price_half_even(price)
    return None


@rule(
    "HM-LIQ-007", level="MUST", kind="state-invariant", title="A liquidation price per leg",
    statement="Each open isolated leg reports its own liquidation price: the price at which its margin balance "
              "equals its maintenance margin in the bracket that holds the notional there (Binance's isolated "
              "formula), half-even to 16 decimals, or null when no positive price solves it. The cross legs of one "
              "instrument share one price where the profile defines it.",
    rationale="Each position has its own liquidation price in isolated margin; in cross margin both legs of a "
              "contract share one (Binance).",
    sources=["S-F3", "B-LIQ-UM", "B-POS2"],
    observes=("snapshot", "params"), requires=("liquidation",), profile_choices=("cross_liquidation_price",),
)
def liquidation_price_per_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-007."""
    insts = instruments(view.params)
    for account, acc in view.after["accounts"].items():
        for symbol, sides in acc["positions"].items():
            cross = {r["liquidation_price"] for r in sides.values()
                     if r["margin_type"] == "CROSS" and D(r["quantity"]) != 0}
            if len(cross) > 1:
                yield Violation("HM-LIQ-007", f"{account} {symbol}: cross legs report different liquidation prices")
            for side, r in sides.items():
                if r["margin_type"] != "ISOLATED" or D(r["quantity"]) == 0:
                    continue
                expected = _isolated_price(r, insts[symbol])
                reported = r.get("liquidation_price")
                if (expected is None) != (reported is None) or (expected is not None and D(reported) != expected):
                    yield Violation("HM-LIQ-007", f"{account} {symbol} {side}: liquidation price {reported}, "
                                                  f"formula gives {expected}")


@rule(
    "HM-LIQ-008", level="MUST", kind="transition", title="Stops trigger before liquidation",
    statement="On a mark-price step, the conditional orders whose trigger holds fire first; liquidation is "
              "evaluated after, on what they left.",
    rationale="A stop-loss set inside the liquidation price must get its chance to close the leg at the mark.",
    sources=["S-Q3", "B-ZLIQ"],
    applies_to=("mark_price",), observes=("events",), requires=("liquidation", "conditional-orders"),
)
def triggers_before_liquidation(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-008."""
    if view.action.get("kind") != "mark_price":
        return
    seen_liquidation: set[tuple[str, str]] = set()
    for event in view.outcome.get("events", []):
        if event["type"] == "liquidation":
            seen_liquidation.add((event["account"], event.get("instrument") or ""))
        if event["type"] == "order" and event["status"] == "TRIGGERED":
            if (event["account"], view.action.get("instrument", "")) in seen_liquidation or \
                    (event["account"], "") in seen_liquidation:
                yield Violation("HM-LIQ-008", f"order {event['order_id']} triggered after a liquidation")
        if event["type"] == "order" and event["status"] == "CANCELLED" and event["cause"] == "liquidation":
            order = view.before["accounts"][event["account"]]["open_orders"].get(event["order_id"])
            if order and order["order_type"] in ("STOP_MARKET", "TAKE_PROFIT_MARKET") and _fires(order, view):
                yield Violation("HM-LIQ-008", f"stop {event['order_id']} cancelled by liquidation though it fired")


def _fires(order: dict, view: StepView) -> bool:
    price, stop = D(view.action["price"]), D(order["stop_price"])
    closing_long = order["side"] == "SELL"
    if order["order_type"] == "STOP_MARKET":
        return price <= stop if closing_long else price >= stop
    return price >= stop if closing_long else price <= stop
