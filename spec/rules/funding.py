"""Chapter: funding."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..observe import D, events, modelled_choice, money_half_away, mul, rows
from ..registry import StepView, Violation, rule


def _funding_step(view: StepView) -> bool:
    return view.action.get("kind") == "funding" and view.outcome["kind"] == "accepted"


@rule(
    "HM-FUND-001", level="MUST", kind="accounting", title="Funding is computed per leg",
    statement="At a funding event every open leg of the instrument pays or receives its own amount, "
              "-(quantity x mark price x rate), rounded half away from zero to the money unit: the long pays and "
              "the short receives when the rate is positive. Flat legs take no part; amounts are never computed "
              "on the net position.",
    rationale="Each position accrues funding separately from its own notional and direction; Binance and Bybit "
              "state the formula per position and that only positions open at the funding time pay or receive; "
              "the OKX, Gate and KuCoin sources used do not describe funding in hedge mode.",
    sources=["S-M1", "S-P1", "B-FUND", "Y-FUND"],
    applies_to=("funding",), observes=("snapshot", "events"), requires=("funding",),
)
def funding_per_leg(view: StepView) -> Iterator[Violation]:
    """Implements HM-FUND-001: one payment per open leg of the instrument, of its own amount (a leg paid twice
    at one event is not paid its own amount), none for flat legs or other instruments."""
    if not _funding_step(view):
        return
    symbol = view.action["instrument"]
    rate, mark = D(view.action["rate"]), D(view.before["mark_prices"][symbol])
    for payment in events(view.outcome, "funding"):
        if payment["instrument"] != symbol:
            yield Violation("HM-FUND-001", f"{payment['account']} {payment['instrument']} {payment['position_side']}: "
                                           f"charged funding at a funding event of {symbol}")
    for entry in events(view.outcome, "ledger"):
        if entry["kind"] == "FUNDING" and entry["instrument"] != symbol:
            yield Violation("HM-FUND-001", f"{entry['account']} {entry['instrument']}: a FUNDING entry at a funding "
                                           f"event of {symbol}")
    paid: dict[tuple[str, str], dict] = {}
    for payment in events(view.outcome, "funding"):
        if payment["instrument"] != symbol:
            continue
        if (payment["account"], payment["position_side"]) in paid:  # its own amount, once: not charged twice
            yield Violation("HM-FUND-001", f"{payment['account']} {symbol} {payment['position_side']}: more than one "
                                           f"funding payment at one funding event")
        paid[(payment["account"], payment["position_side"])] = payment
    for account, sym, side, r in rows(view.before):
        if sym != symbol:
            continue
        qty = D(r["quantity"])
        payment = paid.pop((account, side), None)
        if qty == 0:
            if payment is not None:
                yield Violation("HM-FUND-001", f"{account} {side}: a flat leg was charged funding")
            continue
        expected = -money_half_away(mul(qty, mark, rate))
        if payment is None:
            yield Violation("HM-FUND-001", f"{account} {symbol} {side}: open leg has no funding payment")
        elif D(payment["amount"]) != expected:
            yield Violation("HM-FUND-001", f"{account} {symbol} {side}: funding {payment['amount']}, "
                                           f"-(q x mark x rate) gives {expected}")
    for (account, side) in paid:
        yield Violation("HM-FUND-001", f"{account} {side}: funding paid on a leg that is not open")


@rule(
    "HM-FUND-002", level="MUST", kind="accounting", title="Funding does not net: an entry per leg",
    statement="With equal long and short sizes both legs still pay or receive in full: each leg's funding is "
              "booked as its own ledger entry, even when the two amounts cancel in total (the seed). Where a venue "
              "reports one row per instrument (the profile models it so), that row is the exact sum of the legs' "
              "amounts, less what an isolated leg pays from or receives into its own margin, which is booked to "
              "that leg. Where the profile does not model the report, the entries of each account and instrument "
              "take either form: one per leg with that leg's amount, or one row, with no position side, of the "
              "legs' sum less what is booked to isolated legs' own margin.",
    rationale="No venue documents funding netting between legs; Binance's income rows carry no position side, "
              "so a per-instrument report is a reporting profile, not an economic netting.",
    sources=["S-M2", "B-INCOME", "B-WS-ACC"],
    applies_to=("funding",), observes=("events",), requires=("funding",), profile_choices=("funding_report",),
)
def funding_entries(view: StepView) -> Iterator[Violation]:
    """Implements HM-FUND-002 (entry by entry where the profile models per_leg; the one-row form where it models
    per_instrument; where it does not model the report, one of the two forms per account and instrument).
    Entries are judged on every leg (or account and instrument) they name, not only those paid: a FUNDING
    entry of a leg with no funding payment books funding no leg owes."""
    if not _funding_step(view):
        return
    report = modelled_choice(view.params, "funding_report")
    if report != "per_leg":  # per_instrument: the one-row form; not modelled: either form
        yield from _report_forms(view, ("per_instrument",) if report else ("per_leg", "per_instrument"))
        return
    booked: dict[tuple[str, str, str], Decimal] = {}
    for entry in events(view.outcome, "ledger"):
        if entry["kind"] == "FUNDING":
            key = (entry["account"], entry["instrument"] or "", entry["position_side"] or "")
            booked[key] = booked.get(key, Decimal(0)) + D(entry["amount"])
    paid: dict[tuple[str, str, str], Decimal] = {}
    for payment in events(view.outcome, "funding"):
        key = (payment["account"], payment["instrument"], payment["position_side"])
        paid[key] = paid.get(key, Decimal(0)) + D(payment["amount"])
    # every leg and every account and instrument that either side names: an entry booked for a leg with no
    # payment (a leg closed since, say) is funding no leg owes
    for key in sorted(set(paid) | set(booked)):
        if booked.get(key, Decimal(0)) != paid.get(key, Decimal(0)):
            yield Violation("HM-FUND-002", f"{key[0]} {key[1]} {key[2] or 'no side'}: funding "
                                           f"{paid.get(key, Decimal(0)).normalize():f} booked as "
                                           f"{booked.get(key, Decimal(0)).normalize():f}")
    for account, symbol in sorted({key[:2] for key in (*paid, *booked)}):
        total = sum((v for (a, i, _), v in paid.items() if (a, i) == (account, symbol)), Decimal(0))
        if sum((v for (a, i, _), v in booked.items() if (a, i) == (account, symbol)), Decimal(0)) != total:
            yield Violation("HM-FUND-002", f"{account} {symbol}: funding entries do not add up to the legs' amounts")


def _report_forms(view: StepView, forms: tuple[str, ...]) -> Iterator[Violation]:
    """HM-FUND-002 by the forms ``forms`` allows, per account and instrument: ``per_leg``, every entry names a
    leg and each leg's entries book its amount; ``per_instrument``, at most one entry with no position side and
    the others booked to isolated legs' own margin, all of them summing to the legs' total."""
    legs: dict[tuple[str, str], dict[str, Decimal]] = {}
    for payment in events(view.outcome, "funding"):
        amounts = legs.setdefault((payment["account"], payment["instrument"]), {})
        amounts[payment["position_side"]] = amounts.get(payment["position_side"], Decimal(0)) + D(payment["amount"])
    entries: dict[tuple[str, str], list[dict]] = {}
    for entry in events(view.outcome, "ledger"):
        if entry["kind"] == "FUNDING":
            entries.setdefault((entry["account"], entry["instrument"]), []).append(entry)
    for key in sorted(set(legs) | set(entries)):
        amounts, booked = legs.get(key, {}), entries.get(key, [])
        total = sum(amounts.values(), Decimal(0))
        by_side: dict[str, Decimal] = {}
        for entry in booked:
            if entry["position_side"]:
                by_side[entry["position_side"]] = by_side.get(entry["position_side"], Decimal(0)) + D(entry["amount"])
        per_leg = all(e["position_side"] for e in booked) and all(
            by_side.get(side, Decimal(0)) == amounts.get(side, Decimal(0)) for side in {*amounts, *by_side})
        sideless = [e for e in booked if not e["position_side"]]  # the one row; the rest, isolated legs' own margin
        one_row = len(sideless) <= 1 and all(e.get("bucket") == "isolated_margin" for e in booked if e["position_side"]) \
            and sum((D(e["amount"]) for e in booked), Decimal(0)) == total  # a sum of zero may book no row
        if not ((per_leg and "per_leg" in forms) or (one_row and "per_instrument" in forms)):
            listed = ", ".join(f"{e['position_side'] or 'no side'} {e['amount']}" for e in booked) or "none"
            legs_listed = ", ".join(f"{side} {amount.normalize():f}" for side, amount in sorted(amounts.items()))
            per_leg_form = f"one per leg ({legs_listed or 'no leg'}) nor " if "per_leg" in forms else ""
            yield Violation("HM-FUND-002", f"{key[0]} {key[1]}: funding entries ({listed}) are neither "
                                           f"{per_leg_form}one row of their sum {total.normalize():f}")


@rule(
    "HM-FUND-003", level="MUST", kind="accounting", title="Funding is taken where the profile says",
    statement="A cross leg's funding goes to the wallet; an isolated leg's goes to the profile's source: its own "
              "isolated margin (the seed), the wallet, or the wallet first then the margin; where the profile does "
              "not model the source, to the wallet, its own isolated margin or both. It never touches the other "
              "leg's margin: what a leg's isolated margin takes is between zero and the leg's own amount.",
    rationale="Binance's stream attributes isolated funding to the leg; Bybit takes it from the available balance "
              "first, then the position margin.",
    sources=["S-P1", "B-WS-ACC", "Y-FUND"],
    applies_to=("funding",), observes=("events", "snapshot"), requires=("funding", "isolated-margin"),
    profile_choices=("funding_source",),
)
def funding_source(view: StepView) -> Iterator[Violation]:
    """Implements HM-FUND-003 (where the profile does not model the source, any of the three)."""
    if not _funding_step(view):
        return
    source = modelled_choice(view.params, "funding_source")
    margin: dict[tuple[str, str, str], Decimal] = {}
    for entry in events(view.outcome, "ledger"):
        if entry["kind"] != "FUNDING" or not entry["position_side"]:
            continue
        key = (entry["account"], entry["instrument"], entry["position_side"])
        r = view.before["accounts"][key[0]]["positions"][key[1]][key[2]]
        cross = r["margin_type"] == "CROSS"
        allowed = {"wallet"} if cross or source == "wallet" else (
            {"isolated_margin"} if source == "isolated_margin" else {"wallet", "isolated_margin"})
        if entry["bucket"] not in allowed:
            yield Violation("HM-FUND-003", f"{key[0]} {key[1]} {key[2]} ({r['margin_type']}): funding booked to "
                                           f"{entry['bucket']}")
        elif entry["bucket"] == "isolated_margin":
            margin[key] = margin.get(key, Decimal(0)) + D(entry["amount"])
    own: dict[tuple[str, str, str], Decimal] = {}
    for payment in events(view.outcome, "funding"):
        key = (payment["account"], payment["instrument"], payment["position_side"])
        own[key] = own.get(key, Decimal(0)) + D(payment["amount"])
    for key, taken in margin.items():
        amount = own.get(key, Decimal(0))
        if not (min(amount, Decimal(0)) <= taken <= max(amount, Decimal(0))):
            yield Violation("HM-FUND-003", f"{' '.join(key)}: isolated margin took {taken.normalize():f} of funding, "
                                           f"the leg's own amount is {amount.normalize():f}")
    if source == "wallet_then_margin":
        yield from _wallet_then_margin(view, own, margin)


def _wallet_then_margin(view: StepView, own: dict[tuple[str, str, str], Decimal],
                        margin: dict[tuple[str, str, str], Decimal]) -> Iterator[Violation]:
    """HM-FUND-003 under ``funding_source: wallet_then_margin``: an isolated leg that pays takes from its margin
    only what the available balance cannot cover, one that receives takes nothing into it. The available
    balance is the account's before the step, or that plus what its other legs received first in the step (an
    engine books the receipts before or after the payment)."""
    for (account, symbol, side), amount in own.items():
        r = view.before["accounts"].get(account, {}).get("positions", {}).get(symbol, {}).get(side)
        if r is None or r["margin_type"] != "ISOLATED":  # a leg not in the snapshot: HM-FUND-001
            continue
        taken = margin.get((account, symbol, side), Decimal(0))
        if amount >= 0:
            expected = {Decimal(0)}
        else:
            available = D(view.before["accounts"][account]["available_balance"])
            received = sum((a for (acc, _, s), a in own.items() if acc == account and s != side and a > 0),
                           Decimal(0))
            expected = {-max(Decimal(0), -amount - max(Decimal(0), base)) for base in (available, available + received)}
        if taken not in expected:
            wanted = " or ".join(sorted(f"{e.normalize():f}" for e in expected))
            yield Violation("HM-FUND-003", f"{account} {symbol} {side}: isolated margin took {taken.normalize():f} "
                                           f"of funding {amount.normalize():f}; the wallet first: {wanted}")
