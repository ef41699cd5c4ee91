"""Chapter: integrity — atomic rejections, account isolation, the ledger, determinism."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..observe import D, events, rows, without_time
from ..reasons import REASON_CLASSES
from ..registry import OFF_FORMAT, RULEBOOK_OWN, StepView, Violation, rule

REASONS = frozenset(REASON_CLASSES)
TRANSFER_KINDS = frozenset({"MARGIN_ALLOCATE", "MARGIN_RELEASE", "MARGIN_TRANSFER", "INSURANCE_INFLOW",
                            "INSURANCE_COVER", "CLEARANCE_FEE"})
ACCOUNT_ACTIONS = frozenset({"deposit", "withdraw", "set_position_mode", "set_margin_type", "set_leverage",
                             "adjust_margin", "place_order", "cancel_order"})


@rule(
    "HM-ATOM-001", level="MUST", kind="rejection", title="A rejection changes nothing and says why",
    statement="A rejected action MUST leave the observable state exactly as it was, produce no events, and carry "
              "one of the rulebook's reason classes.",
    rationale="Half-applied rejections corrupt legs silently; auditors need the reason class to map venue codes.",
    sources=["B-ERR", "O-ERR", "G-ERR"],
    observes=("snapshot", "outcome"), off_format=True,
)
def rejection_is_atomic(view: StepView) -> Iterator[Violation]:
    """Implements HM-ATOM-001. The snapshot's time is part of the state: it is the ``t`` of the last action
    not rejected (docs/formats/actions.md), so a rejection leaves it too."""
    if view.outcome["kind"] != "rejected":
        return
    if view.outcome.get("reason") not in REASONS:
        yield Violation("HM-ATOM-001", f"rejection with unknown reason class {view.outcome.get('reason')!r}")
    if view.outcome.get("events"):
        yield Violation("HM-ATOM-001", "a rejected action produced events")
    if without_time(view.before) != without_time(view.after):
        yield Violation("HM-ATOM-001", f"rejected ({view.outcome.get('reason')}) but the state changed")
    if view.before.get("time") != view.after.get("time"):
        yield Violation("HM-ATOM-001", f"rejected ({view.outcome.get('reason')}) but the time moved from "
                                       f"{view.before.get('time')} to {view.after.get('time')}")


@rule(
    "HM-ATOM-002", level="MUST", kind="rejection", title="An action not of the format is refused", since="1.3.0",
    statement="An action that is not of the action format MUST be refused with INVALID_ARGUMENT: a kind the format "
              "does not define, a field its kind does not have, a required field left out, or a value of the "
              "wrong JSON type (a t that is not a non-negative integer, a name or enumerated value that is not a "
              "string, a number that is not a decimal string with at most its unit's decimals, a flag that is not "
              "a boolean). The other rules judge only actions of the format.",
    rationale="An engine that reads what it was not sent (a field it ignores, a number given as a JSON number, "
              "a list where a name goes) acts on an order its user did not place; venues refuse such requests "
              "(Binance -1102 for a mandatory parameter empty or malformed, -1104 when not every parameter sent "
              "was read). Whether each value means something (an unknown account, a price off the tick) is for "
              "the other rules.",
    sources=[("B-ERR", "-1102 and -1104: a parameter malformed, missing or not read")],
    applies_to=(OFF_FORMAT,), observes=("outcome",), off_format=True,
)
def off_format_refused(view: StepView) -> Iterator[Violation]:
    """Implements HM-ATOM-002 (the action format: ``observe.ACTION_FORMAT``)."""
    problems = view.off_format
    if problems and (view.outcome["kind"], view.outcome.get("reason")) != ("rejected", "INVALID_ARGUMENT"):
        yield Violation("HM-ATOM-002", f"{'; '.join(problems)}: answered {view.outcome['kind']} "
                                       f"{view.outcome.get('reason') or ''}".rstrip())


@rule(
    "HM-ACCT-001", level="MUST", kind="transition", title="Accounts are isolated",
    statement="An action of one account (deposit, withdrawal, settings, orders) MUST NOT change any other account.",
    rationale="No balance, position or order crosses accounts except through the market.",
    sources=["B-MODE", "O-MODE"],
    observes=("snapshot",), requires=("multi-account",),
)
def accounts_isolated(view: StepView) -> Iterator[Violation]:
    """Implements HM-ACCT-001."""
    if view.action.get("kind") not in ACCOUNT_ACTIONS:
        return
    for account, before in view.before["accounts"].items():
        if account != view.action.get("account") and before != view.after["accounts"].get(account):
            yield Violation("HM-ACCT-001", f"{view.action['kind']} of {view.action.get('account')} changed {account}")


@rule(
    "HM-LEDG-001", level="MUST", kind="accounting", title="The ledger reconciles exactly",
    statement="Over every step, each wallet, each leg's isolated margin and the insurance fund change by exactly "
              "the sum of the step's ledger entries for them; every transfer between them is booked on both "
              "sides: the entries of a transfer kind (MARGIN_ALLOCATE, MARGIN_RELEASE, MARGIN_TRANSFER, "
              "INSURANCE_INFLOW, INSURANCE_COVER, CLEARANCE_FEE) for one account, instrument and position side "
              "sum to zero over the step.",
    rationale="An exact accounting identity is what lets an auditor trust every other number.",
    sources=["S-M4", "B-INCOME", "B-WS-ACC"],
    observes=("snapshot", "events"),
)
def ledger_reconciles(view: StepView) -> Iterator[Violation]:
    """Implements HM-LEDG-001."""
    wallet: dict[str, Decimal] = {}
    margin: dict[tuple[str, str, str], Decimal] = {}
    insurance = Decimal(0)
    for entry in events(view.outcome, "ledger"):
        amount = D(entry["amount"])
        if entry["bucket"] == "wallet":
            wallet[entry["account"]] = wallet.get(entry["account"], Decimal(0)) + amount
        elif entry["bucket"] == "isolated_margin":
            key = (entry["account"], entry["instrument"], entry["position_side"])
            margin[key] = margin.get(key, Decimal(0)) + amount
        elif entry["bucket"] == "insurance_fund":
            insurance += amount
        else:
            yield Violation("HM-LEDG-001", f"ledger entry to unknown bucket {entry['bucket']!r}")
    for account in sorted(set(wallet) - set(view.before["accounts"])):
        yield Violation("HM-LEDG-001", f"ledger entries for {account!r}, an account the snapshot does not have")
    for account, acc in view.before["accounts"].items():
        delta = D(view.after["accounts"][account]["wallet"]) - D(acc["wallet"])
        if delta != wallet.get(account, Decimal(0)):
            yield Violation("HM-LEDG-001", f"{account}: wallet moved {delta}, ledger says {wallet.get(account, 0)}")
    # A row absent before or after the step (a mode switch changes the rows) holds no isolated margin there.
    held = {(a, sym, side): D(r["isolated_margin"]) for a, sym, side, r in rows(view.before)}
    now = {(a, sym, side): D(r["isolated_margin"]) for a, sym, side, r in rows(view.after)}
    for account, symbol, side in sorted(set(held) | set(now) | set(margin)):
        delta = now.get((account, symbol, side), Decimal(0)) - held.get((account, symbol, side), Decimal(0))
        if delta != margin.get((account, symbol, side), Decimal(0)):
            yield Violation("HM-LEDG-001", f"{account} {symbol} {side}: isolated margin moved {delta}, ledger says "
                                           f"{margin.get((account, symbol, side), 0)}")
    delta = D(view.after["insurance_fund"]) - D(view.before["insurance_fund"])
    if delta != insurance:
        yield Violation("HM-LEDG-001", f"insurance fund moved {delta}, ledger says {insurance}")
    transfers: dict[tuple[str, str | None, str | None, str], Decimal] = {}
    for entry in events(view.outcome, "ledger"):
        if entry["kind"] in TRANSFER_KINDS:
            key = (entry["account"], entry.get("instrument"), entry.get("position_side"), entry["kind"])
            transfers[key] = transfers.get(key, Decimal(0)) + D(entry["amount"])
    for (account, symbol, side, kind), total in transfers.items():
        if total != 0:
            yield Violation("HM-LEDG-001", f"{account} {symbol or ''} {side or ''}: {kind} entries sum to "
                                           f"{total.normalize():f}, a transfer booked on one side only")


@rule(
    "HM-DET-001", level="MUST", kind="run", title="Determinism",
    statement="Replaying the same actions from the same initial state MUST give the same outcomes and the same "
              "snapshots, step by step.",
    rationale="Reproducible verdicts need a deterministic engine: no clock, no randomness, no hidden state. The "
              "rulebook's own requirement: no seed clause or venue document states it.",
    sources=[(RULEBOOK_OWN, "the rulebook's own requirement: vectors and the differential run replay actions")],
    observes=("snapshot", "outcome"),
)
def same_replay(traces: list[list[dict]]) -> Iterator[Violation]:  # type: ignore[misc]
    """Implements HM-DET-001: ``traces`` are the same run played twice or more, as alternating
    snapshots and outcomes; every replay must equal the first, item by item."""
    first = traces[0]
    for number, trace in enumerate(traces[1:], start=2):
        if len(trace) != len(first):
            yield Violation("HM-DET-001", f"replay {number} has {len(trace)} items, the first {len(first)}")
            continue
        for index, (a, b) in enumerate(zip(first, trace, strict=True)):
            if a != b:
                yield Violation("HM-DET-001", f"replay {number} differs at item {index} (step {index // 2})")
                break
