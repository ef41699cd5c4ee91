"""Chapter: positions — legs that never net, cost basis, entry price, realized and unrealized PnL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..observe import (
    CTX,
    EXACT_FIELDS,
    MONEY_ATOM,
    PRICE_DIGITS,
    D,
    events,
    exact,
    mode_in_force,
    money_toward_zero,
    mul,
    price_half_even,
    row,
    rows,
    setting_covers,
    stale_mark,
)
from ..registry import StepView, Violation, rule


def _acts_on(view: StepView, account: str, symbol: str, side: str) -> bool:
    """A settings request that may change the leg's margin type or leverage (see ``setting_covers``). A margin
    adjustment is none: it moves one leg's isolated margin, never a margin type or leverage, the other leg's
    least of all."""
    action = view.action
    return view.outcome.get("kind") == "accepted" and setting_covers(view.params, action, account, symbol, view.after)


@rule(
    "HM-NET-001", level="MUST", kind="transition", title="The legs never offset each other",
    statement="In hedge mode, a step that acts on one leg (a fill, a funding payment, a margin change, a "
              "liquidation) MUST leave the other leg of the same instrument unchanged in every field: quantity, "
              "cost basis, isolated margin, realized PnL, fees, funding, margin type and leverage.",
    rationale="This is hedge mode: closing, reducing or funding the long does not touch the short, even on the "
              "identical contract and expiry.",
    sources=["S-F1", "S-P2", "S-P4", "B-POS3", "Y-POS", "O-POS"],
    observes=("snapshot", "events"), requires=("hedge-mode",),
)
def legs_never_offset(view: StepView) -> Iterator[Violation]:
    """Implements HM-NET-001 (the frame condition of every leg).

    Each field of a hedge leg may change only through an event of that very leg that moves it:
    quantity, cost basis, realized PnL and fees through a fill on the leg; isolated margin through a
    ledger entry to the leg's isolated margin, in a step that acts on the leg (a fill, a funding
    payment or a liquidation of the leg, or a margin adjustment of the leg itself), so that closing
    or funding one leg cannot move money into or out of the other's margin, however the transfer is
    booked; funding through a funding payment of the leg; margin type and leverage through a
    settings request for the leg's instrument.
    """
    fills, margin_entries, payments, acted = set(), set(), set(), set()
    for event in view.outcome.get("events", []):
        key = (event.get("account"), event.get("instrument"), event.get("position_side"))
        if event.get("type") == "fill":
            fills.add(key)
        elif event.get("type") == "ledger" and event.get("bucket") == "isolated_margin":
            margin_entries.add(key)
        elif event.get("type") == "funding":
            payments.add(key)
        elif event.get("type") == "liquidation":
            acted.add(key)
    action = view.action
    if action.get("kind") == "adjust_margin" and view.outcome.get("kind") == "accepted":
        acted.add((action.get("account"), action.get("instrument"), action.get("position_side")))
    acted |= fills | payments
    causes = {"quantity": fills, "cost_basis": fills, "realized_pnl": fills, "fees_paid": fills,
              "isolated_margin": margin_entries & acted, "funding": payments}
    for account, symbol, side, before in rows(view.before):
        if side not in ("LONG", "SHORT"):
            continue
        after = row(view.after, account, symbol, side)
        if after is None or exact(before) == exact(after):
            continue
        key = (account, symbol, side)
        for field in EXACT_FIELDS:
            if before.get(field) == after.get(field):
                continue
            explained = key in causes[field] if field in causes else _acts_on(view, account, symbol, side)
            if field == "isolated_margin" and not explained and key in margin_entries:
                # a settings request for the leg may re-margin it (through its own entries)
                explained = view.outcome.get("kind") == "accepted" and setting_covers(
                    view.params, view.action, account, symbol, view.after)
            if not explained:
                yield Violation("HM-NET-001", f"{account} {symbol} {side}: {field} changed "
                                              f"({before.get(field)} -> {after.get(field)}) with no event of "
                                              f"this leg that moves it"
                                              + (" in a step acting on it" if field == "isolated_margin" else ""))


@rule(
    "HM-NET-002", level="MUST", kind="transition", title="One-way mode nets",
    statement="In one-way mode an instrument has one net position: a fill in the opposite direction reduces, "
              "closes or flips it, so its quantity after the step is its quantity before plus the signed fills.",
    rationale="The contrast that defines hedge mode: one-way mode nets, hedge mode keeps both directions apart.",
    sources=["S-F2", "B-POS3"],
    observes=("snapshot", "events"), requires=("one-way-mode",),
)
def one_way_nets(view: StepView) -> Iterator[Violation]:
    """Implements HM-NET-002. Where the mode is unknown (HM-MODE-001: not reported, the profile's default not
    modelled), a BOTH fill is not judged out of place, but a net row that does not net is wrong in either mode.
    Every net row present before and after the step is judged, with or without fills: one that moves with no
    fill moves by something other than its signed fills."""
    moved: dict[tuple[str, str], Decimal] = {}
    for fill in events(view.outcome, "fill"):
        if fill["position_side"] == "BOTH":
            key = (fill["account"], fill["instrument"])
            signed = D(fill["quantity"]) if fill["side"] == "BUY" else -D(fill["quantity"])
            moved[key] = moved.get(key, Decimal(0)) + signed
    filled = set(moved)
    for account, symbol, side, _ in rows(view.before):
        if side == "BOTH":
            moved.setdefault((account, symbol), Decimal(0))
    for (account, symbol), delta in moved.items():
        if (account, symbol) in filled and mode_in_force(view.before, view.params, account, symbol) not in (
                "ONE_WAY", None):
            yield Violation("HM-NET-002", f"{account} {symbol}: a BOTH fill in hedge mode")
            continue
        before, after = row(view.before, account, symbol, "BOTH"), row(view.after, account, symbol, "BOTH")
        if before and after and D(after["quantity"]) != D(before["quantity"]) + delta:
            yield Violation("HM-NET-002", f"{account} {symbol}: net position {after['quantity']} is not "
                                          f"{before['quantity']} + {delta}")


def _fills_by_leg(view: StepView) -> dict[tuple[str, str, str], list[dict]]:
    by_leg: dict[tuple[str, str, str], list[dict]] = {}
    for fill in events(view.outcome, "fill"):
        by_leg.setdefault((fill["account"], fill["instrument"], fill["position_side"]), []).append(fill)
    return by_leg


def _is_opening(fill: dict) -> bool:
    return (fill["position_side"] == "LONG") == (fill["side"] == "BUY")


@rule(
    "HM-POS-001", level="MUST", kind="accounting", title="Each leg has its own cost basis and entry price",
    statement="A leg's cost basis grows by quantity x price of each of its own opening fills, and a reducing "
              "fill releases cost in proportion, so the entry price (cost basis / quantity) of a hedge leg comes "
              "from that leg's own opening fills only and is unchanged by reductions. The released cost is "
              "rounded to a money atom: after a step whose fills on the leg all reduce it, the cost basis is "
              "within one money atom per reducing fill of its cost before x quantity after / quantity before.",
    rationale="Each position has its own entry price; a hedged short must not average into the long.",
    sources=["S-F3", "B-POS3", "Y-POS", "O-POS"],
    observes=("snapshot", "events"), requires=("hedge-mode",),
)
def own_cost_basis(view: StepView) -> Iterator[Violation]:
    """Implements HM-POS-001."""
    for (account, symbol, side), fills in _fills_by_leg(view).items():
        if side not in ("LONG", "SHORT"):
            continue
        before, after = row(view.before, account, symbol, side), row(view.after, account, symbol, side)
        if before is None or after is None:
            continue
        if all(_is_opening(f) for f in fills):
            added = sum((mul(D(f["quantity"]), D(f["price"])) * (1 if side == "LONG" else -1) for f in fills),
                        Decimal(0))
            if D(after["cost_basis"]) - D(before["cost_basis"]) != added:
                yield Violation("HM-POS-001", f"{account} {symbol} {side}: cost basis moved "
                                              f"{D(after['cost_basis']) - D(before['cost_basis'])}, fills add {added}")
        elif not any(_is_opening(f) for f in fills) and D(after["quantity"]) != 0:
            # Each reducing fill releases its share of the cost basis rounded to a money atom, so the
            # leg's cost after k reducing fills is within k atoms of before x q1 / q0 (the error of an
            # earlier fill shrinks with the quantity the later ones leave); compared exactly.
            q0, q1 = D(before["quantity"]), D(after["quantity"])
            drift = mul(D(after["cost_basis"]), q0) - mul(D(before["cost_basis"]), q1)
            if abs(drift) >= mul(MONEY_ATOM, len(fills), abs(q0)):
                expected = CTX.divide(mul(D(before["cost_basis"]), q1), q0)
                yield Violation("HM-POS-001", f"{account} {symbol} {side}: a reduction moved the entry price "
                                              f"({before['entry_price']} -> {after['entry_price']}): cost basis "
                                              f"{after['cost_basis']} is not {expected} (before x {q1} / {q0}) "
                                              f"within {len(fills)} money atom(s), one per reducing fill")
        elif any(not _is_opening(f) for f in fills) and any(_is_opening(f) for f in fills):
            cost, reducing = _replay(before, fills)[1], sum(not _is_opening(f) for f in fills)
            if cost is not None and abs(D(after["cost_basis"]) - cost) > mul(MONEY_ATOM, reducing):
                yield Violation("HM-POS-001", f"{account} {symbol} {side}: cost basis {after['cost_basis']} after "
                                              f"opening and reducing fills, replayed {cost} (within {reducing} "
                                              "money atom(s), one per reducing fill)")



@rule(
    "HM-POS-002", level="MUST", kind="accounting", title="PnL is realized only by reducing a leg",
    statement="An opening fill realizes nothing; a reducing fill of a hedge leg realizes (exit price - the leg's "
              "entry price) x the quantity closed (negated for a short): the quantity closed x the exit price less "
              "the cost basis it releases (the cost basis in proportion to the quantity closed, rounded toward "
              "zero; all of it when the leg closes). Computed instead from the reported entry price (half-even to 16 "
              "decimals) it may differ by that rounding: up to the quantity closed x half a unit of the entry "
              "price's last decimal, plus two units of the last money decimal. The leg's realized PnL grows by "
              "exactly the step's fills' realized PnL.",
    rationale="Realized PnL belongs to the leg that closed; an opening fill that realizes PnL reveals netting.",
    sources=["S-F3", "S-P4", "B-TRADES"],
    observes=("snapshot", "events"), requires=("hedge-mode",),
)
def realized_only_on_reduction(view: StepView) -> Iterator[Violation]:
    """Implements HM-POS-002. Every hedge leg is judged, with or without fills: a leg without fills in the step
    realizes nothing (funding, fees or a margin change never reach its realized PnL)."""
    by_leg = _fills_by_leg(view)
    for account, symbol, side, before in rows(view.before):
        if side not in ("LONG", "SHORT"):
            continue
        after, fills = row(view.after, account, symbol, side), by_leg.get((account, symbol, side), [])
        if after is None:
            continue
        total = sum((D(f["realized_pnl"]) for f in fills), Decimal(0))
        if D(after["realized_pnl"]) - D(before["realized_pnl"]) != total:
            yield Violation("HM-POS-002", f"{account} {symbol} {side}: realized PnL moved "
                                          f"{D(after['realized_pnl']) - D(before['realized_pnl'])}, fills say {total}")
        for fill in fills:
            if _is_opening(fill) and D(fill["realized_pnl"]) != 0:
                yield Violation("HM-POS-002", f"opening fill on {side} realized {fill['realized_pnl']}")
        yield from _replay_realized(account, symbol, side, before, fills)


def _realized_slack(closed: Decimal) -> Decimal:
    """How far (exit - reported entry) x qty may lie from the cost-release formula: the entry price's
    half-even rounding times the quantity closed, one atom for the release rounded toward zero and one
    for rounding the product to money."""
    return 2 * MONEY_ATOM + abs(closed) * PRICE_DIGITS / 2


def _replay_realized(account: str, symbol: str, side: str, before: dict, fills: list[dict]) -> Iterator[Violation]:
    """Replay the leg fill by fill from the snapshot before: each reducing fill releases the cost basis in
    proportion (toward zero) and realizes quantity x price less the cost it releases."""
    for fill, released in _replay(before, fills)[0]:
        closed = -D(fill["quantity"]) if fill["side"] == "BUY" else D(fill["quantity"])
        expected = mul(closed, D(fill["price"])) - released
        if abs(D(fill["realized_pnl"]) - expected) > _realized_slack(closed):
            yield Violation("HM-POS-002", f"{account} {symbol} {side}: fill of {fill['quantity']} at {fill['price']} "
                                          f"realized {fill['realized_pnl']}, (exit - entry) x qty gives {expected}")


def _replay(before: dict, fills: list[dict]) -> tuple[list[tuple[dict, Decimal]], Decimal | None]:
    """The leg replayed from the snapshot before through ``fills`` in event order: an opening fill adds quantity
    x price to the cost basis, a reducing one releases it in proportion (toward zero; all of it when the leg
    closes). Returns each reducing fill with the cost it released, and the cost basis after all of them (None,
    with the fills before it, at a fill beyond the leg: HM-ORD-003)."""
    quantity, cost = D(before["quantity"]), D(before["cost_basis"])
    reduced: list[tuple[dict, Decimal]] = []
    for fill in fills:
        signed = D(fill["quantity"]) if fill["side"] == "BUY" else -D(fill["quantity"])
        if _is_opening(fill):
            quantity, cost = quantity + signed, cost + mul(signed, D(fill["price"]))
            continue
        closed = -signed
        if quantity == 0 or abs(closed) > abs(quantity):
            return reduced, None
        released = cost if closed == quantity else money_toward_zero(CTX.divide(mul(cost, closed), quantity))
        reduced.append((fill, released))
        quantity, cost = quantity - closed, cost - released
    return reduced, cost

@rule(
    "HM-POS-003", level="MUST", kind="state-invariant", title="Entry price and unrealized PnL per leg",
    statement="Each open leg reports its entry price (cost basis / quantity, half-even to 16 decimals); a flat "
              "leg reports none (null) and a zero cost basis. Every leg reports its unrealized PnL at the mark "
              "price (quantity x mark - cost basis) whenever its instrument has a mark, and null only without "
              "one; both are computed from the leg's own fields only.",
    rationale="Each position has its own entry price and unrealized PnL; Binance's positionRisk rows satisfy "
              "notional = quantity x mark and uPnL = quantity x (mark - entry).",
    sources=["S-F3", "B-POS3"],
    observes=("snapshot",),
)
def derived_leg_fields(view: StepView) -> Iterator[Violation]:
    """Implements HM-POS-003. The mark is the snapshot's; after an accepted mark price it is the price the step
    set, so an engine that drops or lags the mark feed cannot report its unrealized PnL at a mark of its own."""
    marks = view.after.get("mark_prices", {})
    stale = stale_mark(view.action, view.outcome, view.after)
    if stale:
        yield Violation("HM-POS-003", f"{stale[0]}: mark price {stale[1]} after the step set it to {stale[2]}: "
                                      "unrealized PnL is not at the mark")
    for account, symbol, side, r in rows(view.after):
        qty = D(r["quantity"])
        if qty != 0:
            entry = price_half_even(CTX.divide(D(r["cost_basis"]), qty))
            if r["entry_price"] is None or D(r["entry_price"]) != entry:
                yield Violation("HM-POS-003", f"{account} {symbol} {side}: entry price {r['entry_price']}, "
                                              f"expected {entry}")
        elif r.get("entry_price") is not None or D(r["cost_basis"]) != 0:
            yield Violation("HM-POS-003", f"{account} {symbol} {side}: a flat leg reports entry price "
                                          f"{r.get('entry_price')} and cost basis {r['cost_basis']}")
        if symbol not in marks:
            if r.get("unrealized_pnl") is not None:
                yield Violation("HM-POS-003", f"{account} {symbol} {side}: unrealized PnL {r['unrealized_pnl']} "
                                              f"without a mark price")
            continue
        expected = mul(qty, D(marks[symbol])) - D(r["cost_basis"])
        if r.get("unrealized_pnl") is None or D(r["unrealized_pnl"]) != expected:
            yield Violation("HM-POS-003", f"{account} {symbol} {side}: unrealized PnL {r.get('unrealized_pnl')}, "
                                          f"expected {expected}")


@rule(
    "HM-POS-004", level="MUST", kind="accounting", title="A leg's totals follow its own events",
    statement="A leg's fees paid grow by exactly the fees of its own fills, and its funding total by exactly "
              "its own funding payments; reported rows agree with the legs reconstructed from the events.",
    rationale="Per-leg totals are what auditors reconcile against exported fills and funding records.",
    sources=["S-M1", "S-M3", "B-TRADES", "B-INCOME"],
    observes=("snapshot", "events"),
)
def leg_totals(view: StepView) -> Iterator[Violation]:
    """Implements HM-POS-004."""
    fees: dict[tuple[str, str, str], Decimal] = {}
    funding: dict[tuple[str, str, str], Decimal] = {}
    for fill in events(view.outcome, "fill"):
        key = (fill["account"], fill["instrument"], fill["position_side"])
        fees[key] = fees.get(key, Decimal(0)) + D(fill["fee"])
    for pay in events(view.outcome, "funding"):
        key = (pay["account"], pay["instrument"], pay["position_side"])
        funding[key] = funding.get(key, Decimal(0)) + D(pay["amount"])
    for account, symbol, side, before in rows(view.before):
        after = row(view.after, account, symbol, side)
        if after is None:
            continue
        key = (account, symbol, side)
        if D(after["fees_paid"]) - D(before["fees_paid"]) != fees.get(key, Decimal(0)):
            yield Violation("HM-POS-004", f"{account} {symbol} {side}: fees moved by "
                                          f"{D(after['fees_paid']) - D(before['fees_paid'])}, fills say {fees.get(key, 0)}")
        if D(after["funding"]) - D(before["funding"]) != funding.get(key, Decimal(0)):
            yield Violation("HM-POS-004", f"{account} {symbol} {side}: funding moved by "
                                          f"{D(after['funding']) - D(before['funding'])}, payments say "
                                          f"{funding.get(key, 0)}")
