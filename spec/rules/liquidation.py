"""Chapter: liquidation — isolated legs alone, the cross pool as a whole, the insurance fund."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction

from ..observe import (
    CTX,
    EXACT_FIELDS,
    D,
    bracket_for,
    events,
    instruments,
    is_breached,
    maintenance,
    modelled_choice,
    money_up,
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
    rationale="Binance, Bybit and OKX evaluate liquidation per position in isolated margin; Gate's and KuCoin's "
              "isolated liquidation in hedge mode is not stated in the sources used.",
    sources=["S-P3", "B-LIQ-UM", "Y-LIQ", "O-LIQ"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"), requires=("liquidation", "isolated-margin"),
)
def isolated_only_breached_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-001. The other leg, liquidated too, must itself be breached as it stood at its own
    liquidation (with the step's earlier fills and margin entries of it, funding's included; judged as HM-LIQ-002
    judges it); not liquidated, it changes only as its own events move it: with no fill of its own, its funding
    total by its funding payments and its isolated margin by its FUNDING entries, nothing else; with a fill of
    its own (a stop of it fired first), its margin type and leverage stay."""
    liquidated = {(e["account"], e.get("instrument") or "", e["position_side"]): e for e in _liquidations(view)}
    for account, symbol, side in liquidated:
        if side not in ("LONG", "SHORT"):
            continue
        other = (account, symbol, "SHORT" if side == "LONG" else "LONG")
        if other in liquidated:
            if _breached_when_liquidated(view, other, liquidated[other]) is False:
                yield Violation("HM-LIQ-001", f"{account} {symbol}: liquidating {side} also liquidated {other[2]}, "
                                              f"which was not breached")
            continue
        if _has_fill(view, other):
            moved = [f for f in ("margin_type", "leverage") if _field_moved(view, other, f)]
        else:
            moved = moved_beyond_funding(view, other)
        if moved:
            yield Violation("HM-LIQ-001", f"{account} {symbol}: liquidating {side} changed {other[2]}'s "
                                          f"{', '.join(moved)}")


def _breached_when_liquidated(view: StepView, leg: tuple[str, str, str], liquidation: dict) -> bool | None:
    """Whether an isolated leg was breached as it stood at its liquidation event, at the step's mark (HM-LIQ-002's
    judgement); None where that is not decided (equality under a trigger not modelled, or a leg not rebuilt)."""
    at = _step_mark(view)
    judged = None if at is None else leg_as_judged(view, leg, liquidation)
    if judged is None:
        return None
    qty, cost_basis, margin = judged
    mark = at[1]
    return _breach_decision(margin + mul(qty, mark) - cost_basis, maintenance(instruments(view.params)[leg[1]], qty, mark),
                            modelled_choice(view.params, "liquidation_trigger"))


def _has_fill(view: StepView, leg: tuple[str, str, str]) -> bool:
    return any((f["account"], f["instrument"], f["position_side"]) == leg for f in events(view.outcome, "fill"))


def _field_moved(view: StepView, leg: tuple[str, str, str], field: str) -> bool:
    before, after = row(view.before, *leg), row(view.after, *leg)
    return before is not None and after is not None and before[field] != after[field]


def moved_beyond_funding(view: StepView, leg: tuple[str, str, str]) -> list[str]:
    """The fields of ``leg`` (of EXACT_FIELDS) the step moved beyond what the leg's own funding moves: its funding
    total may grow by its funding payments and its isolated margin by its FUNDING ledger entries, every other
    field stays. For a leg with no fill and no liquidation of its own (HM-LIQ-001, HM-LIQ-003, HM-LIQ-006); none
    where the leg has no row before or after the step."""
    before, after = row(view.before, *leg), row(view.after, *leg)
    if before is None or after is None:
        return []
    paid = sum((D(f["amount"]) for f in events(view.outcome, "funding")
                if (f["account"], f["instrument"], f["position_side"]) == leg), Decimal(0))
    booked = sum((D(e["amount"]) for e in events(view.outcome, "ledger") if e["kind"] == "FUNDING"
                  and e["bucket"] == "isolated_margin" and (e["account"], e.get("instrument"), e.get("position_side")) == leg),
                 Decimal(0))
    moves = {"funding": paid, "isolated_margin": booked}
    return [f for f in EXACT_FIELDS if (D(after[f]) - D(before[f]) != moves[f] if f in moves else before[f] != after[f])]


def _breach_decision(balance: Decimal, maintenance_margin: Decimal, trigger: str | None) -> bool | None:
    """Whether a balance breaches its maintenance margin; None where it depends on a trigger not modelled."""
    if trigger is None and balance == maintenance_margin:
        return None
    return is_breached(balance, maintenance_margin, trigger or "below")


def _entries_before(view: StepView, until: dict | None, bucket: str, account: str,
                    leg: tuple[str, str] | None = None) -> Decimal:
    """The step's ledger entries of ``account`` (of its ``leg`` (instrument, side) when given) to ``bucket``
    that precede the event ``until`` (all of them when it is None): what was booked before liquidation
    was evaluated."""
    total = Decimal(0)
    for event in view.outcome.get("events", []):
        if event is until:
            break
        if event.get("type") == "ledger" and event.get("bucket") == bucket and event.get("account") == account and (
                leg is None or (event.get("instrument"), event.get("position_side")) == leg):
            total += D(event["amount"])
    return total


def _step_mark(view: StepView) -> tuple[str, Decimal] | None:
    """(instrument, mark price) a mark-price or funding step evaluates liquidation at; None otherwise."""
    kind = view.action.get("kind")
    if view.outcome["kind"] != "accepted" or kind not in ("mark_price", "funding"):
        return None
    symbol = view.action["instrument"]
    if kind == "mark_price":
        return symbol, D(view.action["price"])
    mark = view.before.get("mark_prices", {}).get(symbol)
    return None if mark is None else (symbol, D(mark))


@rule(
    "HM-LIQ-002", level="MUST", kind="transition", title="Liquidated if and only if below maintenance",
    statement="At a mark price or a funding step, an open isolated leg of the instrument MUST be liquidated if its "
              "margin balance (its isolated margin, with the step's entries to it booked before its liquidation, "
              "+ unrealized PnL at the mark) is below its maintenance margin (at or below, where the profile "
              "models that trigger), and MUST NOT be liquidated otherwise. Where the profile does not model the "
              "trigger, a balance equal to the maintenance margin is not decided. A leg a conditional order "
              "reduced in the step is judged as it stood after that fill (conditional orders trigger first, "
              "HM-LIQ-008). A leg closed by a liquidation fill without a liquidation event is judged as it "
              "stood before that liquidation's entries, except after a conditional order's fill in the same "
              "step, where it is not decided.",
    rationale="Both directions matter: a premature liquidation is as wrong as a missed one. Funding moves an "
              "isolated leg's margin (where the profile takes it from the margin), so a funding step can breach "
              "a leg too. A leg a conditional order reduced is rebuilt from that fill (a reducing fill releases "
              "cost basis of its quantity x price less its realized PnL) and its margin entries. Without a "
              "liquidation event, the entries between a conditional order's fill and a liquidation fill could "
              "belong to either, depending on whether an engine reports a fill's entries before or after it "
              "(the reference: before), which the formats do not fix.",
    sources=["S-P3", "B-LIQ-UM", "B-ZLIQ"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"), requires=("liquidation", "isolated-margin"),
    profile_choices=("liquidation_trigger",),
)
def liquidation_iff_breached(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-002: the instrument's isolated legs at the step's mark; a leg of another instrument the
    step liquidates, at its own mark."""
    at = _step_mark(view)
    if at is None:
        return
    symbol, mark = at
    inst = instruments(view.params)[symbol]
    liquidations = {(e["account"], e["position_side"]): e for e in _liquidations(view) if e["instrument"] == symbol}
    trigger = modelled_choice(view.params, "liquidation_trigger")  # None: equality not decided
    for account, sym, side, r in rows(view.before):
        if sym != symbol or r["margin_type"] != "ISOLATED":
            continue
        event = liquidations.get((account, side))
        at = _judged_at(view, (account, symbol, side), event)
        judged = None if at is UNDECIDED else leg_as_judged(view, (account, symbol, side), at)
        if judged is None:
            continue
        qty, cost_basis, margin = judged
        balance = margin + mul(qty, mark) - cost_basis
        breached = _breach_decision(balance, maintenance(inst, qty, mark), trigger)
        if breached and event is None:
            yield Violation("HM-LIQ-002", f"{account} {symbol} {side}: balance {balance} below maintenance, "
                                          f"not liquidated")
        if breached is False and event is not None:
            yield Violation("HM-LIQ-002", f"{account} {symbol} {side}: liquidated with balance {balance} "
                                          f"above maintenance")
    yield from _other_instruments_liquidated(view, symbol, trigger)


def _other_instruments_liquidated(view: StepView, symbol: str, trigger: str | None) -> Iterator[Violation]:
    """HM-LIQ-002 for an isolated leg of another instrument liquidated at this step: its own mark did not move, so
    it MUST NOT be liquidated unless it is breached at that mark (not at the marked instrument's price)."""
    marks = view.before.get("mark_prices", {})
    for event in _liquidations(view):
        leg = (event["account"], event.get("instrument") or "", event["position_side"])
        before = row(view.before, *leg)
        if leg[1] in ("", symbol) or before is None or before["margin_type"] != "ISOLATED" or leg[1] not in marks:
            continue
        judged = leg_as_judged(view, leg, event)
        if judged is None:
            continue
        qty, cost_basis, margin = judged
        own_mark = D(marks[leg[1]])
        balance = margin + mul(qty, own_mark) - cost_basis
        if _breach_decision(balance, maintenance(instruments(view.params)[leg[1]], qty, own_mark), trigger) is False:
            yield Violation("HM-LIQ-002", f"{' '.join(leg)}: liquidated at a step of {symbol} with balance {balance} "
                                          f"above maintenance at its own mark {own_mark.normalize():f}")


UNDECIDED = object()  # _judged_at: the leg cannot be judged from the step's events


def _judged_at(view: StepView, leg: tuple[str, str, str], liquidation: dict | None) -> dict | None | object:
    """The event a leg is judged at: its liquidation event, or None (after the whole step) where the leg has no
    liquidation fill. A liquidation fill without a liquidation event is judged at the leg's first event other
    than a funding entry, where no stop filled the leg in the step; after a stop it is UNDECIDED: whether the
    entries between the two fills are the stop's or the liquidation's depends on the order an engine reports
    a fill and its entries in, which the formats leave open."""
    if liquidation is not None:
        return liquidation
    own = [e for e in view.outcome.get("events", [])
           if (e.get("account"), e.get("instrument"), e.get("position_side")) == leg]
    fills = [e for e in own if e["type"] == "fill"]
    if not any(f["cause"] == "liquidation" for f in fills):
        return None
    if any(f["cause"] == "trigger" for f in fills):
        return UNDECIDED
    return next(e for e in own if e["type"] == "fill" or (e["type"] == "ledger" and e["kind"] != "FUNDING"))


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


def _clearance(segment: list[dict], leg: tuple[str, str, str]) -> Decimal:
    """What the liquidation charged ``leg`` as CLEARANCE_FEE entries to the insurance fund in ``segment``."""
    return sum((D(e["amount"]) for e in segment if e["type"] == "ledger" and e["kind"] == "CLEARANCE_FEE"
                and e["bucket"] == "insurance_fund" and (e["account"], e.get("instrument"), e.get("position_side")) == leg),
               Decimal(0))


def _charged(segment: list[dict], leg: tuple[str, str, str], fill: dict) -> Decimal:
    """What the liquidation charged the leg: its fill's fee and its CLEARANCE_FEE entries to the insurance fund.

    The amount is HM-FEE-001's to judge (undecided where the profile does not model the rate); the
    remainder and the shortfall are followed from what was actually charged.
    """
    return D(fill["fee"]) + _clearance(segment, leg)


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
    statement="Liquidating an isolated leg MUST NOT lower the wallet or any other leg's margin (the other leg of "
              "its instrument, or a leg of another instrument), at any point of the step: the leg's loss is capped "
              "at its own margin and any shortfall (the loss beyond that margin and the clearance fee) is taken by "
              "the insurance fund.",
    rationale="Bankruptcy losses are position-specific; the insurance fund covers the shortfall. Decided from the "
              "step's ledger entries (reconciled with the snapshots by HM-LEDG-001): the shortfall is recomputed "
              "from the leg's margin before the step with its entries booked before the liquidation, the "
              "liquidation fill's realized PnL and what the "
              "liquidation charged (its amount is HM-FEE-001's to judge); the wallet may pay "
              "for the leg, over the whole step, no more than the fees of the leg's own other fills and the "
              "funding it paid. A leg a partial liquidation leaves open keeps its margin and has no shortfall "
              "yet, even where funding has taken its margin below zero while its position is in profit. 'At "
              "any point' is judged entry by entry: every entry that lowers the wallet or the other leg's "
              "margin counts when it is booked, whatever a later entry of the step gives back. In a step that "
              "liquidates an isolated leg of an account, the account's entries booked to no leg (other than a "
              "per-instrument funding row, within what its legs paid) lower its wallet by nothing, and each of "
              "its other legs with no fill or liquidation of its own lowers the wallet (the other leg of the "
              "instrument, the wallet and its isolated margin together) by no more than the funding it paid.",
    sources=["S-M4", "B-ZLIQ", "B-LIQ-UM"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"), requires=("liquidation", "isolated-margin"),
    profile_choices=("liquidation_clearance_fee_rate",),
)
def loss_stays_on_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-003: the shortfall from the insurance fund, nothing from the wallet or the other leg."""
    evs = view.outcome.get("events", [])
    liquidated: dict[str, set[tuple[str, str, str]]] = {}
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
        after = row(view.after, account, symbol, side)
        if remainder < 0 and (after is None or D(after["quantity"]) == 0):  # a leg left open keeps its margin
            covered = _of_leg(segment, leg, "insurance_fund") - clearance
            if covered != remainder:
                yield Violation("HM-LIQ-003", f"{account} {symbol} {side}: shortfall {(-remainder).normalize():f}, "
                                              f"the insurance fund covered {(-covered).normalize():f}")
        if after and D(after["isolated_margin"]) != 0 and D(after["quantity"]) == 0:
            yield Violation("HM-LIQ-003", f"liquidated leg kept margin {after['isolated_margin']}")
        if side in ("LONG", "SHORT"):
            yield from _other_leg_untouched(view, (account, symbol, "SHORT" if side == "LONG" else "LONG"))
        liquidated.setdefault(account, set()).add(leg)
    for account, legs in sorted(liquidated.items()):
        yield from _nothing_borrowed(view, account, legs)


def _funding_paid(view: StepView, account: str, tag: tuple[str | None, str | None]) -> Decimal:
    """What the step's funding payments of ``account`` took (the negative ones, as a positive amount): of the leg
    ``tag`` (instrument, side), or of every leg of its instrument where the tag names no side."""
    return -sum((D(f["amount"]) for f in events(view.outcome, "funding") if f["account"] == account
                 and f["instrument"] == tag[0] and (not tag[1] or f["position_side"] == tag[1]) and D(f["amount"]) < 0),
                Decimal(0))


def _nothing_borrowed(view: StepView, account: str, liquidated: set[tuple[str, str, str]]) -> Iterator[Violation]:
    """HM-LIQ-003 at every point of the step, entry by entry (what a later entry gives back does not undo a draw):
    in a step that liquidates isolated legs of ``account``, its wallet entries booked to no leg (no position side)
    lower the wallet by nothing but FUNDING rows within what its legs of the instrument paid; and each of its
    other legs with no fill or liquidation of its own (the pool, tagged CROSS, where it is not liquidated) lowers
    the wallet, and its isolated margin too (the other leg of a liquidated one, or a leg of another instrument), by
    no more than the funding it paid. The liquidated legs' own wallet entries are judged by ``loss_stays_on_leg``."""
    moving = {(e["account"], e.get("instrument") or None, e["position_side"]) for e in view.outcome.get("events", [])
              if e["type"] == "fill" or (e["type"] == "liquidation" and e["position_side"] != "CROSS")}
    pool_liquidated = any(e["account"] == account and e["position_side"] == "CROSS" for e in _liquidations(view))
    margins: set[tuple[str | None, str | None]] = set()  # legs whose isolated margin an entry lowered
    drawn: dict[tuple[str | None, str | None, bool], Decimal] = {}
    for entry in events(view.outcome, "ledger"):
        tag = (entry.get("instrument") or None, entry.get("position_side") or None)
        amount = D(entry["amount"])
        if entry["account"] != account or amount >= 0 or (account, *tag) in liquidated or (account, *tag) in moving \
                or (tag[1] == "CROSS" and pool_liquidated):
            continue  # no draw; a liquidated leg's own (judged above); a leg, or the pool, its own events move
        if entry["bucket"] == "wallet" or (entry["bucket"] == "isolated_margin" and tag[1] is not None):
            if entry["bucket"] == "isolated_margin":
                margins.add(tag)
            key = (*tag, tag[1] is None and entry["kind"] == "FUNDING")
            drawn[key] = drawn.get(key, Decimal(0)) - amount
    for (symbol, side, funding_row), amount in sorted(drawn.items(), key=str):
        allowed = _funding_paid(view, account, (symbol, side)) if side or funding_row else Decimal(0)
        if amount > allowed:
            whose = f"{symbol} {side}" if side else f"{symbol} (no side)" if symbol else "no leg"
            margin = " or its margin" if (symbol, side) in margins else ""
            paid = f" (the funding it paid: {allowed.normalize():f})" if side or funding_row else ""
            yield Violation("HM-LIQ-003", f"{account}: in a step liquidating an isolated leg, entries booked to "
                                          f"{whose} lowered the wallet{margin} by {amount.normalize():f}, whatever "
                                          f"later entries gave back{paid}")


def _other_leg_untouched(view: StepView, other: tuple[str, str, str]) -> Iterator[Violation]:
    """The other leg, without fills of its own this step, moves its margin by its own FUNDING entries only (which
    HM-FUND-003 bounds by its own funding): nothing of it is taken, even what its funding brought in."""
    before, after = row(view.before, *other), row(view.after, *other)
    if before is None or after is None or before["margin_type"] != "ISOLATED" or any(
            (e["type"] in ("fill", "liquidation")) and (e["account"], e["instrument"], e["position_side"]) == other
            for e in view.outcome.get("events", [])):
        return
    if "isolated_margin" in moved_beyond_funding(view, other):
        delta = D(after["isolated_margin"]) - D(before["isolated_margin"])
        yield Violation("HM-LIQ-003", f"{' '.join(other)}: margin moved {delta.normalize():f} while the other leg was "
                                      f"liquidated, beyond its own funding entries")


PRICE_ATOM = Decimal("1e-8")


def bankruptcy_price(quantity: Decimal, cost_basis: Decimal, margin: Decimal) -> Decimal:
    """The price at which a leg's margin balance is zero, rounded against the holder to a price atom (1e-8):
    for a long the lowest, for a short the highest price at which the balance is not negative; at least 1e-8."""
    exact = CTX.divide(cost_basis - margin, quantity)
    price = exact.quantize(PRICE_ATOM, rounding=ROUND_CEILING if quantity > 0 else ROUND_FLOOR, context=CTX)
    return max(PRICE_ATOM, price)


def _in_cancel_scope(order: dict, scope: str, symbol: str, side: str) -> bool:
    if scope == "account":
        return True
    if scope == "instrument":
        return order["instrument"] == symbol
    return order["instrument"] == symbol and order["position_side"] == side


@rule(
    "HM-LIQ-004", level="MUST", kind="transition", title="How a breached isolated leg is closed",
    statement="A breached isolated leg is closed at the breaching mark price where the profile models the mark "
              "basis, or at its bankruptcy price where it models the bankruptcy basis (the price at which the "
              "leg's margin balance is zero, rounded against the holder to 1e-8 and at least 1e-8); it is "
              "closed in full where the profile models full liquidation. Where the profile models partial "
              "liquidation by bracket, a leg whose notional at the mark lies above the first bracket is instead "
              "reduced, at the breaching mark, to the largest lot multiple whose notional is below the cap of the "
              "highest lower bracket at which it is then no longer breached (its margin balance, less the "
              "clearance fee on the reduced part, against that size's maintenance), keeping its margin (less that "
              "fee); only where no lower bracket is enough is it closed in full. The open orders the profile's "
              "cancellation scope covers (the leg's own, its instrument's or the whole account's) are cancelled "
              "before the liquidation fill and none of them is open after the step. The clearance fee (the "
              "profile's rate, the seed: none) goes to the insurance fund, and what remains of the margin of a "
              "leg closed in full goes to the insurance fund (the seed) or the wallet, per the profile. Where "
              "the profile does not model a choice, what depends on it is not decided: the fill price, whether "
              "the leg may be left partly open, orders beyond the leg's own, which of the two buckets takes "
              "the remainder (all of it goes to one), and, under partial liquidation, a reduction beyond the "
              "least that a clearance fee of 0 would close.",
    rationale="The seed's execution; venues differ (Binance: bankruptcy price, clearance fee, all the account's "
              "orders cancelled; Bybit and OKX: partial by tier), which the profiles state, most of it as "
              "documented or unconfirmed. Bybit documents the partial process (Y-LIQ-STEPS): a position above "
              "the lowest tier is reduced by a market order to the lower tier that meets the margin requirement, "
              "and closed at the bankruptcy price only if that is not enough. A fee only makes a lower bracket "
              "harder to reach, so the size at a fee of 0 is the least any fee closes. A leg a stop reduced "
              "earlier in the step is judged as it stood when liquidated, rebuilt from its earlier fills (a "
              "reducing fill releases cost basis of its quantity x price less its realized PnL) and its margin "
              "entries. The leg's own orders are cancelled under every cancellation scope, so that part is always "
              "decided. The bankruptcy price is recomputed from the leg as it stood when liquidated, and the "
              "remainder from the leg's margin before the step with its entries booked before the liquidation; "
              "the remainder adds the "
              "liquidation fill's realized PnL less what the liquidation charged, and is looked for among the "
              "leg's ledger entries after the liquidation event.",
    sources=["S-P3", "S-M4", "B-ZLIQ", "Y-LIQ", "Y-LIQ-STEPS", "O-LIQ"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"), requires=("liquidation", "isolated-margin"),
    profile_choices=("liquidation_price_basis", "liquidation_extent", "liquidation_cancels_orders",
                     "liquidation_clearance_fee_rate", "isolated_liquidation_remainder"),
)
def liquidation_execution(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-004: each choice is read only where the profile models it."""
    basis = modelled_choice(view.params, "liquidation_price_basis")
    extent = modelled_choice(view.params, "liquidation_extent")
    scope = modelled_choice(view.params, "liquidation_cancels_orders") or "leg"  # the leg's own: every scope
    evs = view.outcome.get("events", [])
    step_mark = _step_mark(view)
    for event in _liquidations(view):
        account, symbol, side = event["account"], event["instrument"], event["position_side"]
        if side not in ("LONG", "SHORT", "BOTH"):
            continue
        leg = (account, symbol, side)
        # the breaching mark is the step's (the action's price, or the mark a funding step is at), whatever mark
        # the event reports; a leg of another instrument is HM-LIQ-002's to judge, at the event's
        mark = step_mark[1] if step_mark is not None and step_mark[0] == symbol else D(event["mark_price"])
        after = row(view.after, *leg)
        left_open = after is not None and D(after["quantity"]) != 0
        if extent == "full" and left_open:
            yield Violation("HM-LIQ-004", f"{account} {symbol} {side}: liquidated leg not closed in full")
        segment = _segment(evs, evs.index(event))
        fills = [f for f in segment if f["type"] == "fill" and f["cause"] == "liquidation"
                 and (f["account"], f["instrument"], f["position_side"]) == leg]
        liquidated = leg_as_judged(view, leg, event)
        if extent == "partial_by_bracket" and fills:
            yield from _partial_extent(view, leg, liquidated, mark, fills, segment, left_open)
        expected, basis_named = None, basis
        if left_open and extent != "full":
            if extent == "partial_by_bracket":  # a reduction is a market close at the mark
                expected, basis_named = mark, "mark"
        elif basis == "mark":
            expected = mark
        elif basis == "bankruptcy" and liquidated is not None:
            expected = bankruptcy_price(*liquidated)
        for fill in fills:
            if expected is not None and D(fill["price"]) != expected:
                yield Violation("HM-LIQ-004", f"{account} {symbol} {side}: liquidation fill at {fill['price']}, not "
                                              f"at the {basis_named} price {expected.normalize():f}")
        first_fill = evs.index(fills[0]) if fills else len(evs)
        for oid, order in view.before["accounts"][account]["open_orders"].items():
            if not _in_cancel_scope(order, scope, symbol, side):
                continue
            if oid in view.after["accounts"][account]["open_orders"]:
                yield Violation("HM-LIQ-004", f"order {oid} ({scope} scope of the liquidated {symbol} {side}) is "
                                              f"still open")
            cancelled = [i for i, e in enumerate(evs) if e["type"] == "order" and e["status"] == "CANCELLED"
                         and e["account"] == account and e["order_id"] == oid]
            if cancelled and cancelled[0] > first_fill:
                yield Violation("HM-LIQ-004", f"order {oid} cancelled after the liquidation fill of {symbol} {side}")
    policy = modelled_choice(view.params, "isolated_liquidation_remainder")  # None: either, not decided
    for leg, segment, _fill, remainder, clearance in isolated_liquidations(view):
        closed = row(view.after, *leg)
        if remainder < 0 or (closed is not None and D(closed["quantity"]) != 0):
            continue  # a shortfall: HM-LIQ-003; a leg left partly open has no remainder yet
        fund = _of_leg(segment, leg, "insurance_fund") - clearance
        wallet = _of_leg(segment, leg, "wallet")
        allowed = {"insurance_fund": (remainder, Decimal(0)), "wallet": (Decimal(0), remainder)}
        if (fund, wallet) not in ([allowed[policy]] if policy in allowed else list(allowed.values())):
            where = {"insurance_fund": "the insurance fund", "wallet": "the wallet"}.get(policy, "one of them")
            yield Violation("HM-LIQ-004", f"{' '.join(leg)}: remainder {remainder.normalize():f} of the liquidated leg's "
                                          f"margin: {fund.normalize():f} to the insurance fund, "
                                          f"{wallet.normalize():f} to the wallet; expected all to {where}")


def partial_reduction(inst: dict, quantity: Decimal, cost_basis: Decimal, margin: Decimal, mark: Decimal,
                      trigger: str, clearance_rate: Decimal) -> Decimal:
    """How much of a breached isolated leg a partial liquidation by bracket closes: all of it (|quantity|) unless
    a lower bracket is enough (HM-LIQ-004). Tried from the highest lower bracket down; in one, the leg keeps the
    largest lot multiple whose notional at the mark is below the bracket's cap, and is enough if its margin
    balance, less the clearance fee on what is closed, is not breached against that size's maintenance."""
    size = abs(quantity)
    balance = margin + mul(quantity, mark) - cost_basis
    brackets = inst["brackets"]
    lot = D(inst["lot_size"])
    held = brackets.index(bracket_for(inst, mul(size, mark)))
    for bracket in reversed(brackets[:held]):
        cap = D(bracket["notional_cap"])
        lots = CTX.divide(cap, mul(lot, mark)).to_integral_value(rounding=ROUND_FLOOR, context=CTX)
        if mul(lots, lot, mark) >= cap:
            lots -= 1
        kept = mul(lots, lot)
        if kept <= 0:
            break
        fee = money_up(mul(size - kept, mark, clearance_rate))
        if not is_breached(balance - fee, maintenance(inst, kept, mark), trigger):
            return size - kept
    return size


def leg_as_judged(view: StepView, leg: tuple[str, str, str], until: dict | None
                  ) -> tuple[Decimal, Decimal, Decimal] | None:
    """(quantity, cost basis, isolated margin) of ``leg`` as it stood at the event ``until`` (its liquidation; None:
    after every fill of the step): the leg before the step with the step's earlier fills of it (a stop that fired
    first) and its margin entries. A reducing fill releases cost basis of its quantity x price - its realized
    PnL. None where the leg was flat before the step or is flat then, or a fill flipped a one-way position."""
    before = row(view.before, *leg)
    if before is None or D(before["quantity"]) == 0:
        return None
    quantity, cost = D(before["quantity"]), D(before["cost_basis"])
    evs = view.outcome.get("events", [])
    for fill in evs[:evs.index(until)] if until is not None else evs:
        if fill["type"] != "fill" or (fill["account"], fill["instrument"], fill["position_side"]) != leg:
            continue
        signed = D(fill["quantity"]) if fill["side"] == "BUY" else -D(fill["quantity"])
        if quantity == 0 or (quantity > 0) == (signed > 0):  # opening
            quantity, cost = quantity + signed, cost + mul(signed, D(fill["price"]))
        elif abs(signed) > abs(quantity):
            return None
        else:
            quantity, cost = quantity + signed, cost - (mul(-signed, D(fill["price"])) - D(fill["realized_pnl"]))
    if quantity == 0:
        return None
    margin = D(before["isolated_margin"]) + _entries_before(view, until, "isolated_margin", leg[0], leg[1:])
    return quantity, cost, margin


def _partial_extent(view: StepView, leg: tuple[str, str, str], liquidated: tuple[Decimal, Decimal, Decimal] | None,
                    mark: Decimal, fills: list[dict], segment: list[dict], left_open: bool) -> Iterator[Violation]:
    """HM-LIQ-004 under ``liquidation_extent: partial_by_bracket``: how much was closed, and that the margin of a
    leg left open stayed with it. The size is judged from the leg as liquidated: exactly where the profile models
    the clearance rate, else from below, since a fee only makes a lower bracket harder to reach, so the size at a
    rate of 0 is the least any rate closes. Where the trigger is not modelled, either trigger's size is accepted."""
    if liquidated is not None:
        quantity, cost_basis, margin = liquidated
        inst = instruments(view.params)[leg[1]]
        rate = modelled_choice(view.params, "liquidation_clearance_fee_rate")
        trigger = modelled_choice(view.params, "liquidation_trigger")
        size = abs(quantity)
        closed = sum((D(f["quantity"]) for f in fills), Decimal(0))
        sizes = {partial_reduction(inst, quantity, cost_basis, margin, mark, t,
                                   D(rate) if rate is not None else Decimal(0))
                 for t in ([trigger] if trigger else ["below", "at_or_below"])}
        if closed not in sizes if rate is not None else closed < min(sizes):
            want = min(sizes)
            how = "it in full" if want == size else (f"{'' if rate is not None else 'at least '}"
                                                     f"{want.normalize():f}, down to a lower bracket")
            yield Violation("HM-LIQ-004", f"{' '.join(leg)}: liquidation closed {closed.normalize():f} of "
                                          f"{size.normalize():f}; a partial liquidation by bracket closes {how}")
    if left_open:
        kept = _of_leg(segment, leg, "wallet"), _of_leg(segment, leg, "insurance_fund") - _clearance(segment, leg)
        if kept != (0, 0):
            yield Violation("HM-LIQ-004", f"{' '.join(leg)}: a partial liquidation moved margin off the leg "
                                          f"({kept[0].normalize():f} to the wallet, {kept[1].normalize():f} to the "
                                          f"insurance fund besides the clearance fee)")


HEDGED_CHARGES = ("both_legs", "larger_leg")  # the values of hedged_maintenance


def _pool_maintenance(per_leg: dict[tuple[str, str], tuple[Decimal, Decimal]], hedged: str) -> Decimal:
    """The cross pool's maintenance margin from each leg's (|quantity|, maintenance): every leg's summed
    (both_legs), or per instrument only the larger leg's, the one with the larger quantity (larger_leg)."""
    if hedged == "both_legs":
        return sum((mm for _, mm in per_leg.values()), Decimal(0))
    larger: dict[str, tuple[Decimal, Decimal]] = {}
    for (symbol, _side), charge in per_leg.items():
        larger[symbol] = max(charge, larger.get(symbol, charge))
    return sum((mm for _, mm in larger.values()), Decimal(0))


@rule(
    "HM-LIQ-005", level="MUST", kind="transition", title="The cross pool is liquidated as a whole",
    statement="Cross legs share the wallet: at a mark price or a funding step, an account's cross pool MUST be "
              "liquidated if its equity (the wallet with the step's entries booked before the pool's liquidation, "
              "+ the unrealized PnL of all its open cross legs at the mark) is below the pool's maintenance margin "
              "(at or below, where the profile models that trigger), and MUST NOT be otherwise. The pool's "
              "maintenance margin sums its legs' (both legs of a hedged instrument charged, the seed) or, where "
              "the profile models it, charges only the larger of two opposite legs. A breach closes every cross "
              "leg, long and short alike, where the profile models that scope (the seed). Where it models "
              "offset_hedged_first instead, a breach MUST first reduce each instrument's LONG and SHORT cross legs "
              "by the quantity they share (the smaller one), and MUST then close every cross leg left open if and "
              "only if the pool, judged again with the legs so reduced and the clearance fee of the offset fills, "
              "is still breached; a pool with no two opposite cross legs is closed as a whole. Where the profile "
              "does not model the trigger, the hedged maintenance or (for a pool the offset would restore) the "
              "clearance fee rate, a case they would decide differently is not decided. Where the profile models the "
              "mark as the liquidation price basis, every liquidation fill of the pool's legs MUST be at its "
              "instrument's mark (a leg of an instrument without a mark price counts, and is closed, at its entry "
              "price rounded down to a price atom). An account whose conditional order fired in the step is not "
              "judged.",
    rationale="'Each leg is liquidated alone' is false in cross margin: Binance, Bybit and OKX evaluate the cross "
              "account (or settle currency) as a whole. Funding paid from the wallet moves the pool's equity, so "
              "a funding step can breach it too. Bitget's risk process nets opposing long and short cross "
              "positions before it de-leverages or closes anything, and older OKX rules for coin-margined "
              "perpetuals offset a hedged long and short and check the margin again before going on: the one "
              "place where venues net hedged legs. Offsetting at the mark moves no equity (the two legs' "
              "unrealized PnL is realized into the wallet) but removes the offset legs' maintenance, so it can "
              "restore the pool.",
    sources=["S-P3", "B-LIQ-UM", "Y-LIQ", "O-XM", "BG-RISK", "O-PLIQ-COIN"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"), requires=("liquidation", "cross-margin"),
    profile_choices=("liquidation_trigger", "cross_liquidation_scope", "hedged_maintenance",
                     "liquidation_clearance_fee_rate", "liquidation_price_basis"),
)
def cross_pool_as_whole(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-005."""
    if _step_mark(view) is None:
        return
    marks = dict(view.before.get("mark_prices", {}))
    if view.action["kind"] == "mark_price":
        marks[view.action["instrument"]] = view.action["price"]
    insts = instruments(view.params)
    pool_events = {e["account"]: e for e in _liquidations(view) if e["position_side"] == "CROSS"}
    triggered = {e["account"] for e in events(view.outcome, "fill") if e["cause"] == "trigger"}
    trigger = modelled_choice(view.params, "liquidation_trigger")
    hedged = modelled_choice(view.params, "hedged_maintenance")
    scope = modelled_choice(view.params, "cross_liquidation_scope")
    basis = modelled_choice(view.params, "liquidation_price_basis")
    for account, acc in view.before["accounts"].items():
        if account in triggered:
            continue
        event = pool_events.get(account)
        equity = D(acc["wallet"]) + _entries_before(view, event, "wallet", account)
        legs: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for symbol, sides in acc["positions"].items():
            for side, r in sides.items():
                qty = D(r["quantity"])
                if qty == 0 or r["margin_type"] != "CROSS":
                    continue
                price = D(marks[symbol]) if symbol in marks else \
                    CTX.divide(D(r["cost_basis"]), qty).quantize(PRICE_ATOM, rounding=ROUND_FLOOR, context=CTX)
                equity += mul(qty, price) - D(r["cost_basis"])
                legs[(symbol, side)] = (qty, price)
        if not legs:
            continue
        per_leg = _charges(legs, insts)
        decisions = _pool_decisions(equity, per_leg, trigger, hedged)
        if len(decisions) == 1 and None not in decisions and decisions.pop() != (event is not None):
            yield Violation("HM-LIQ-005", f"{account}: cross equity {equity} vs maintenance "
                                          f"{_pool_maintenance(per_leg, hedged or 'both_legs')}: "
                                          f"{'liquidated' if event else 'not liquidated'}")
        if event is not None and basis == "mark":
            for fill in events(view.outcome, "fill"):
                key = (fill["instrument"], fill["position_side"])
                if fill["account"] == account and fill["cause"] == "liquidation" and key in legs \
                        and D(fill["price"]) != legs[key][1]:
                    yield Violation("HM-LIQ-005", f"{account} {key[0]} {key[1]}: pool liquidation fill at "
                                                  f"{fill['price']}, not at {legs[key][1]}")
        if event is None or scope is None:
            continue
        offset = offset_hedged(legs) if scope == "offset_hedged_first" else legs
        left = {key: qty for key, (qty, _) in offset.items() if qty}
        if offset is legs or len(left) == len(legs):  # nothing to offset: the pool is closed as a whole
            allowed = [dict.fromkeys(legs, Decimal(0))]
        else:
            restored = _restored_after_offset(view, equity, legs, offset, insts, trigger, hedged)
            after_offset = {key: qty for key, (qty, _) in offset.items()}
            allowed = [after_offset] if restored else [dict.fromkeys(legs, Decimal(0))] if restored is False \
                else [after_offset, dict.fromkeys(legs, Decimal(0))]
        seen = {key: D(row(view.after, account, *key)["quantity"]) for key in legs}
        if seen not in allowed:
            wanted = " or ".join(", ".join(f"{k[0]} {k[1]} {q}" for k, q in a.items()) for a in allowed)
            yield Violation("HM-LIQ-005", f"{account}: a pool breach under {scope} left "
                                          f"{', '.join(f'{k[0]} {k[1]} {q}' for k, q in seen.items())}; "
                                          f"expected {wanted}")


def _charges(legs: dict[tuple[str, str], tuple[Decimal, Decimal]], insts: dict
             ) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(|quantity|, maintenance margin at the price) of each open leg, from (quantity, price)."""
    return {key: (abs(qty), maintenance(insts[key[0]], qty, price)) for key, (qty, price) in legs.items() if qty}


def _pool_decisions(equity: Decimal, per_leg: dict[tuple[str, str], tuple[Decimal, Decimal]], trigger: str | None,
                    hedged: str | None) -> set[bool | None]:
    """The pool's breach decision under the hedged maintenance modelled, or under each where it is open."""
    return {_breach_decision(equity, _pool_maintenance(per_leg, h), trigger)
            for h in ([hedged] if hedged else HEDGED_CHARGES)}


def offset_hedged(legs: dict[tuple[str, str], tuple[Decimal, Decimal]]
                  ) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """The cross legs after each instrument's LONG and SHORT are reduced by the quantity they share
    (``cross_liquidation_scope: offset_hedged_first``, HM-LIQ-005)."""
    out = dict(legs)
    for (symbol, side), (qty, price) in legs.items():
        other = (symbol, "SHORT")
        if side == "LONG" and other in legs:
            shared = min(qty, -legs[other][0])
            out[(symbol, side)] = (qty - shared, price)
            out[other] = (legs[other][0] + shared, legs[other][1])
    return out


def _restored_after_offset(view: StepView, equity: Decimal, legs: dict, offset: dict, insts: dict,
                           trigger: str | None, hedged: str | None) -> bool | None:
    """Whether the pool is no longer breached once the hedged legs are offset at the mark: the equity is
    unchanged but for the offset fills' clearance fee; None where the open choices decide it differently.
    With the clearance rate open, a pool still breached without any fee is still breached with one."""
    rate = modelled_choice(view.params, "liquidation_clearance_fee_rate")
    fee = sum((money_up(mul(abs(qty - offset[key][0]), price, D(rate))) for key, (qty, price) in legs.items()),
              Decimal(0)) if rate is not None else Decimal(0)
    decisions = _pool_decisions(equity - fee, _charges(offset, insts), trigger, hedged)
    if len(decisions) != 1 or None in decisions:
        return None
    restored = not decisions.pop()
    return restored if rate is not None or not restored else None


@rule(
    "HM-LIQ-006", level="MUST", kind="transition", title="Isolated legs and the cross pool never draw on each other",
    statement="A cross-pool liquidation MUST leave every isolated leg unchanged, and an isolated leg's "
              "liquidation MUST leave every cross leg unchanged: a liquidation fill of an isolated leg MUST come "
              "with that leg's own liquidation, and one of a cross leg with its pool's.",
    rationale="Isolated margin is walled off from the cross wallet in both directions.",
    sources=["S-M4", "S-Q2", "B-LIQ-UM"],
    applies_to=("mark_price", "funding"), observes=("snapshot", "events"),
    requires=("liquidation", "cross-margin", "isolated-margin"),
)
def pools_walled_off(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-006. A leg of the other kind with no fill and no liquidation of its own changes only as
    its own funding moves it (``moved_beyond_funding``): its ledger entries of other kinds (a transfer out of its
    isolated margin into the pool, say) do not excuse a change."""
    liquidated = {(e["account"], e.get("instrument") or "", e["position_side"]) for e in _liquidations(view)}
    for fill in events(view.outcome, "fill"):
        leg = (fill["account"], fill["instrument"], fill["position_side"])
        before = row(view.before, *leg)
        if fill["cause"] != "liquidation" or before is None:
            continue
        cross = before["margin_type"] == "CROSS"
        if (cross and (leg[0], "", "CROSS") not in liquidated) or (not cross and leg not in liquidated):
            yield Violation("HM-LIQ-006", f"{' '.join(leg)} ({before['margin_type']}): a liquidation fill without "
                                          f"a liquidation of its {'pool' if cross else 'own leg'}")
    kinds = {(e["account"], e["position_side"] == "CROSS") for e in _liquidations(view)}
    for account, cross_event in kinds:
        for symbol, sides in view.before["accounts"][account]["positions"].items():
            for side, before in sides.items():
                leg = (account, symbol, side)
                if (before["margin_type"] == "CROSS") == cross_event or leg in liquidated or _has_fill(view, leg):
                    continue  # a leg of the liquidated kind, or one its own liquidation or fill moves
                moved = moved_beyond_funding(view, leg)
                if moved:
                    yield Violation("HM-LIQ-006", f"{account} {symbol} {side} ({before['margin_type']}): "
                                                  f"{', '.join(moved)} changed by a "
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


def _cross_price(acc: dict, symbol: str, insts: dict, hedged: str = "both_legs") -> Decimal | None:
    """The shared liquidation price of ``symbol``'s cross legs from the snapshot (HM-LIQ-007).

    Solves wallet + sum(PnL) = the pool's maintenance exactly on each price interval where none of
    ``symbol``'s charged cross legs changes bracket, lowest interval first; the other cross legs enter with
    their reported PnL and maintenance. Under ``hedged`` ``larger_leg`` only the larger of two opposite
    legs of an instrument is charged maintenance (``_pool_maintenance``).
    """
    own: list[tuple[Fraction, Fraction]] = []
    constant = Fraction(D(acc["wallet"]))
    others: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for other, sides in acc["positions"].items():
        for side, r in sides.items():
            if r["margin_type"] != "CROSS" or D(r["quantity"]) == 0:
                continue
            if other == symbol:
                own.append((Fraction(D(r["quantity"])), Fraction(D(r["cost_basis"]))))
            elif r.get("unrealized_pnl") is None or r.get("maintenance_margin") is None:
                return None
            else:
                constant += Fraction(D(r["unrealized_pnl"]))
                others[(other, side)] = (abs(D(r["quantity"])), D(r["maintenance_margin"]))
    constant -= Fraction(_pool_maintenance(others, hedged))
    charged = own if hedged == "both_legs" or len(own) < 2 else [max(own, key=lambda leg: abs(leg[0]))]
    brackets = [(Fraction(D(b["notional_floor"])), Fraction(D(b.get("notional_cap", "0"))),
                 Fraction(D(b["maintenance_rate"])), Fraction(D(b.get("maintenance_amount", "0"))))
                for b in insts[symbol]["brackets"]]
    starts = sorted({Fraction(0)} | {b[0] / abs(q) for q, _ in charged for b in brackets[1:]})
    for low, high in zip(starts, [*starts[1:], None], strict=True):
        held = [next((b for b in brackets if b[1] == 0 or abs(q) * low < b[1]), None) for q, _ in charged]
        if None in held:  # a notional beyond the last bracket's cap: no maintenance is defined there
            break
        slope = sum(q for q, _ in own) - sum(abs(q) * b[2] for (q, _), b in zip(charged, held, strict=True))
        if slope == 0:
            continue
        price = (sum(c for _, c in own) - sum(b[3] for b in held) - constant) / slope
        if price > 0 and price >= low and (high is None or price < high):
            return price_half_even(CTX.divide(Decimal(price.numerator), Decimal(price.denominator)))
    return None


@rule(
    "HM-LIQ-007", level="MUST", kind="state-invariant", title="A liquidation price per leg",
    statement="Each open isolated leg reports its own liquidation price: the price at which its margin balance "
              "equals its maintenance margin in the bracket that holds the notional there (Binance's isolated "
              "formula), half-even to 16 decimals, or null when no positive price solves it. Where the profile models "
              "the cross legs' price as shared, the cross legs of one instrument report one price: the lowest "
              "positive price P at which wallet + the unrealized PnL of every cross leg equals their maintenance "
              "margin, that instrument's cross legs at P (each in the bracket its own notional falls in at P, "
              "unrounded) and every other cross leg as reported at its mark; half-even to 16 decimals, or null when "
              "no positive price solves it or another cross leg reports no PnL or maintenance. The maintenance "
              "margin charges both legs of a hedged instrument (the seed) or, where the profile models it, the "
              "larger only; where the profile does not model it, either price is accepted.",
    rationale="Each position has its own liquidation price in isolated margin; in cross margin both legs of a "
              "contract share one (Binance).",
    sources=["S-F3", "B-LIQ-UM", "B-POS2"],
    observes=("snapshot", "params"), requires=("liquidation",),
    profile_choices=("cross_liquidation_price", "hedged_maintenance"),
)
def liquidation_price_per_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-007."""
    insts = instruments(view.params)
    shared = modelled_choice(view.params, "cross_liquidation_price") == "shared"
    hedged = modelled_choice(view.params, "hedged_maintenance")
    for account, acc in view.after["accounts"].items():
        for symbol, sides in acc["positions"].items():
            cross = {r["liquidation_price"] for r in sides.values()
                     if r["margin_type"] == "CROSS" and D(r["quantity"]) != 0}
            if shared and len(cross) > 1:
                yield Violation("HM-LIQ-007", f"{account} {symbol}: cross legs report different liquidation prices")
            elif shared and cross:
                reported = cross.pop()
                expected = {_cross_price(acc, symbol, insts, h) for h in ([hedged] if hedged else HEDGED_CHARGES)}
                if not any((e is None) == (reported is None) and (e is None or D(reported) == e) for e in expected):
                    gives = " or ".join(sorted(str(e) for e in expected))
                    yield Violation("HM-LIQ-007", f"{account} {symbol}: cross legs' shared liquidation price "
                                                  f"{reported}, the pool equation gives {gives}")
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
              "evaluated after, on what they left: no order triggers after a liquidation of its account in the "
              "step, and a liquidation cancels no stop or take-profit of the marked instrument whose stop price "
              "the new mark has reached (a stop of another instrument is not triggered by this mark). Which "
              "stops a mark-price step fires is judged only where the profile models the mark as the trigger price "
              "source; elsewhere only the order of triggers and liquidations is.",
    rationale="A stop-loss set inside the liquidation price must get its chance to close the leg at the mark.",
    sources=["S-Q3", "B-ZLIQ"],
    applies_to=("mark_price",), observes=("events",), requires=("liquidation", "conditional-orders"),
    profile_choices=("trigger_price_source",),
)
def triggers_before_liquidation(view: StepView) -> Iterator[Violation]:
    """Implements HM-LIQ-008.

    A cancelled stop is judged only when this mark is its trigger: the order is on the marked
    instrument and the profile models the mark price as the trigger source (under the last price, or
    an unmodelled source, a mark-price step need fire no stop).
    """
    if view.action.get("kind") != "mark_price":
        return
    mark_triggers = modelled_choice(view.params, "trigger_price_source") == "mark"
    seen_liquidation: set[tuple[str, str]] = set()
    flagged: set[tuple[str, str]] = set()
    for event in view.outcome.get("events", []):
        if event["type"] == "liquidation":
            seen_liquidation.add((event["account"], event.get("instrument") or ""))
        if event["type"] == "order" and event["status"] == "TRIGGERED":
            if (event["account"], view.action.get("instrument", "")) in seen_liquidation or \
                    (event["account"], "") in seen_liquidation:
                yield Violation("HM-LIQ-008", f"order {event['order_id']} triggered after a liquidation")
        if mark_triggers and event["type"] == "order" and event["status"] == "CANCELLED" and \
                event["cause"] == "liquidation":
            order = view.before["accounts"][event["account"]]["open_orders"].get(event["order_id"])
            if order and order["order_type"] in ("STOP_MARKET", "TAKE_PROFIT_MARKET") and _fires(order, view):
                flagged.add((event["account"], event["order_id"]))
                yield Violation("HM-LIQ-008", f"stop {event['order_id']} cancelled by liquidation though the "
                                              f"mark {view.action['price']} reached its stop price "
                                              f"{order['stop_price']}")
    if mark_triggers:
        yield from _reached_stops_not_fired(view, {account for account, _ in seen_liquidation}, flagged)


def _reached_stops_not_fired(view: StepView, liquidated: set[str], flagged: set[tuple[str, str]]
                             ) -> Iterator[Violation]:
    """HM-LIQ-008 where the mark triggers stops: in an account liquidated in the step, a stop or take-profit of
    the marked instrument that the mark reached, on a leg open in its direction before the step, fired, however
    the engine reports its end (cancelled for the liquidation, for the closed leg, or dropped without an event);
    unless fills other than a liquidation's closed its whole leg first (another stop of the leg that fired)."""
    evs = view.outcome.get("events", [])
    triggered = {(e["account"], e["order_id"]) for e in events(view.outcome, "order") if e["status"] == "TRIGGERED"}
    for account in sorted(liquidated):
        for oid, order in view.before["accounts"].get(account, {}).get("open_orders", {}).items():
            if (account, oid) in triggered | flagged or order["order_type"] not in ("STOP_MARKET", "TAKE_PROFIT_MARKET") \
                    or not _fires(order, view):
                continue
            leg = (account, order["instrument"], order["position_side"])
            held = row(view.before, *leg)
            if held is None or (D(held["quantity"]) > 0) != (order["side"] == "SELL") or D(held["quantity"]) == 0:
                continue  # no position for it to close: it fires nothing
            first_liquidation = next((i for i, e in enumerate(evs) if e["type"] == "liquidation"
                                      and e["account"] == account), len(evs))
            closed_first = sum((D(e["quantity"]) for e in evs[:first_liquidation] if e["type"] == "fill"
                                and e["cause"] != "liquidation" and e["order_id"] != oid
                                and (e["account"], e["instrument"], e["position_side"]) == leg), Decimal(0))
            if closed_first >= abs(D(held["quantity"])):
                continue  # its leg closed by an earlier stop: HM-STOP-002 judges it
            yield Violation("HM-LIQ-008", f"stop {oid} did not fire though the mark {view.action['price']} reached "
                                          f"its stop price {order['stop_price']}, and {account} was liquidated")


def _fires(order: dict, view: StepView) -> bool:
    """Whether this step's mark price reaches the stop price of ``order`` (an order of another instrument
    is not triggered by it)."""
    if order["instrument"] != view.action.get("instrument"):
        return False
    price, stop = D(view.action["price"]), D(order["stop_price"])
    closing_long = order["side"] == "SELL"
    if order["order_type"] == "STOP_MARKET":
        return price <= stop if closing_long else price >= stop
    return price >= stop if closing_long else price <= stop
