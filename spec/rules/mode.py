"""Chapter: position mode (one-way and hedge), scopes and switching."""

from __future__ import annotations

from collections.abc import Iterator

from ..observe import (
    D,
    instruments,
    mode_in_force,
    modelled_choice,
    open_orders,
    row,
    rows,
    scope_key,
    symbols_in_scope,
    without_time,
)
from ..registry import RULEBOOK_OWN, StepView, Violation, declare, rule

declare(
    "HM-MODE-001", level="MAY", title="The mode is explicit, per scope, with a venue default",
    statement="What one position-mode setting covers (the account, a settle asset or an instrument) and the mode, "
              "ONE_WAY or HEDGE, of a scope never switched are profile choices. Where the profile does not "
              "model the scope, an instrument's mode is the one the snapshot reports for the instrument, its "
              "settle asset or the account ('*'), unknown where these disagree, and a switch refused as naming no "
              "mode scope (INVALID_ARGUMENT) is not judged.",
    rationale="Venues differ in scope (Binance and OKX account-wide, Gate per settle currency, Bybit per symbol "
              "or coin) and in default (one-way on Binance and Bybit; OKX, Gate and KuCoin do not state it, and "
              "their profiles leave it unconfirmed); the rulebook makes both profile choices. That every account "
              "has one mode per scope, ONE_WAY or HEDGE, is what the checks of HM-MODE-005 and HM-MODE-008 read. A "
              "scope an engine's snapshot leaves out is in the profile's default where the profile models it; "
              "elsewhere its mode is unknown, and what depends on it is not judged.",
    sources=["S-F5", "S-E1", "B-MODE", "Y-MODE", "O-MODE", "G-MODE", "K-API"],
    profile_choices=("mode_scope", "default_position_mode"),
)

declare(
    "HM-MODE-006", level="MAY", title="A cooldown after a switch",
    statement="A venue MAY hold new orders for a period after a mode switch. The seed's 30-second Bybit "
              "cooldown is a profile parameter, unconfirmed by Bybit's API documentation.",
    rationale="The tutorial claims a cooldown; no venue document found states one.",
    sources=["S-E2", "Y-MODE"], profile_choices=("mode_switch_cooldown_seconds",),
)

declare(
    "HM-MODE-007", level="MAY", title="Side effects of a switch on a flat scope",
    statement="A switch MAY carry venue-side effects on a flat scope: OKX asks the user to accept a margin "
              "recalibration; KuCoin resets isolated margin allocations. Neither changes any position, since "
              "the scope is flat; neither is simulated.",
    rationale="User-interface notices and allocation resets are outside the observable position state.",
    sources=["S-E3", "S-E5", "O-MODE", "K-FAQ"],
)


def _switch_targets(view: StepView) -> tuple[str, list[str], list[str], list[str]]:
    """(account, instruments in the requested scope, those whose mode differs from the request, those whose mode
    is unknown: not reported, and the profile's default not modelled)."""
    action = view.action
    account = action["account"]
    scope = action.get("scope", "*")
    symbols = symbols_in_scope(view.params, scope)
    modes = {s: mode_in_force(view.before, view.params, account, s) for s in symbols}
    differing = [s for s in symbols if modes[s] not in (None, action["mode"])]
    return account, symbols, differing, [s for s in symbols if modes[s] is None]


def _switched(view: StepView, account: str, symbol: str) -> bool | None:
    """Whether the step changed the instrument's mode; None where the mode before or after is unknown."""
    before = mode_in_force(view.before, view.params, account, symbol)
    after = mode_in_force(view.after, view.params, account, symbol)
    return None if before is None or after is None else before != after


def _busy(view: StepView, account: str, symbol: str) -> tuple[bool, bool]:
    positions = view.before["accounts"][account]["positions"].get(symbol, {})
    has_position = any(D(r["quantity"]) != 0 for r in positions.values())
    has_order = any(o["instrument"] == symbol for o in open_orders(view.before, account).values())
    return has_position, has_order


def _valid_scope(view: StepView, scope: str) -> bool | None:
    """Whether the request names a mode scope of the profile; None where the profile does not model
    ``mode_scope`` and the request names the account, a settle asset or an instrument: a scope of some venue,
    perhaps not of this one."""
    mode_scope = modelled_choice(view.params, "mode_scope")
    assets = {inst["settle_asset"] for inst in view.params["instruments"]}
    symbols = {inst["symbol"] for inst in view.params["instruments"]}
    if mode_scope is None:
        return None if scope == "*" or scope in assets or scope in symbols else False
    if mode_scope == "account":
        return scope == "*"
    if mode_scope == "settle_asset":
        return scope in assets
    # a settle asset under a per-instrument scope is a valid request only where coin-level requests are modelled
    return scope in symbols or (bool(modelled_choice(view.params, "mode_switch_coin_level_partial")) and scope in assets)


def _valid_switch(view: StepView) -> bool:
    """Whether the request is a switch the checks judge. Where the profile does not model ``mode_scope``, a request
    for any scope of some venue is, unless the engine refuses it as naming no mode scope (INVALID_ARGUMENT)."""
    action = view.action
    if action.get("account") not in view.before["accounts"] or action.get("mode") not in ("HEDGE", "ONE_WAY"):
        return False
    valid = _valid_scope(view, action.get("scope", "*"))
    if valid is None:
        return not (view.outcome["kind"] == "rejected" and view.outcome.get("reason") == "INVALID_ARGUMENT")
    return valid


_PRECEDENCE = {"positions_first": "MODE_SWITCH_WITH_POSITIONS", "orders_first": "MODE_SWITCH_WITH_OPEN_ORDERS"}


def _other_blocks(view: StepView, account: str, differing: list[str], unknown: list[str],
                  blocker: int) -> tuple[bool, bool]:
    """Whether the other blocker (orders for positions, positions for orders) also blocks the switch for certain,
    and whether it may (its choice not modelled, or only instruments of unknown mode hold it)."""
    other = 1 - blocker
    key = "mode_switch_blocked_by_orders" if other == 1 else "mode_switch_blocked_by_positions"
    blocks = modelled_choice(view.params, key)
    if blocks is False:
        return False, False
    certain = blocks is True and any(_busy(view, account, s)[other] for s in differing)
    return certain, any(_busy(view, account, s)[other] for s in (*differing, *unknown))


def _guard_check(view: StepView, rule_id: str, blocker: int, reason: str) -> Iterator[Violation]:
    """HM-MODE-002 (blocker 0) or HM-MODE-003 (blocker 1). Where the profile does not model whether the blocker
    blocks a switch, only the reason is judged: it is never given without its condition. An instrument of unknown
    mode (HM-MODE-001) may or may not differ from the request: it neither requires a refusal nor leaves the reason
    groundless. A switch the blocker forbids is refused: neither accepted nor answered 'unchanged' (a change asked
    for, neither made nor refused), and partially applied only where the profile applies coin-level requests
    partially."""
    key = "mode_switch_blocked_by_positions" if blocker == 0 else "mode_switch_blocked_by_orders"
    blocks = modelled_choice(view.params, key)
    if not _valid_switch(view) or blocks is False:
        return
    account, _, differing, unknown = _switch_targets(view)
    busy = [s for s in differing if _busy(view, account, s)[blocker]]
    if not busy:
        if view.outcome["kind"] == "rejected" and view.outcome.get("reason") == reason and not any(
                _busy(view, account, s)[blocker] for s in unknown):
            yield Violation(rule_id, f"switch rejected with {reason} although no instrument the switch would change "
                                     f"has {'a position' if blocker == 0 else 'an open order'}")
        return
    if blocks is None:
        return
    for symbol in busy:
        if _switched(view, account, symbol):
            yield Violation(rule_id, f"{account} {symbol}: mode switched while it had "
                                     f"{'a position' if blocker == 0 else 'an open order'}")
    partial = modelled_choice(view.params, "mode_switch_coin_level_partial") and view.action.get("scope") not in busy
    if view.outcome["kind"] == "accepted":
        yield Violation(rule_id, f"switch accepted while {', '.join(busy)} had "
                                 f"{'positions' if blocker == 0 else 'open orders'}")
    elif view.outcome["kind"] not in ("rejected", "partially_applied") or (
            view.outcome["kind"] == "partially_applied" and not partial):  # "unchanged": neither made nor refused
        yield Violation(rule_id, f"switch answered {view.outcome['kind']}, not refused, while {', '.join(busy)} had "
                                 f"{'positions' if blocker == 0 else 'open orders'}")
    elif view.outcome["kind"] == "rejected" and not partial:
        other = "MODE_SWITCH_WITH_OPEN_ORDERS" if blocker == 0 else "MODE_SWITCH_WITH_POSITIONS"
        both, maybe_both = _other_blocks(view, account, differing, unknown, blocker)
        first = _PRECEDENCE.get(modelled_choice(view.params, "mode_switch_precedence"))  # None: either
        by_precedence = {first} if first else {reason, other}
        allowed = by_precedence if both else ({reason} | by_precedence) if maybe_both else {reason}
        if view.outcome.get("reason") not in allowed:
            note = (" (positions and orders both block: the profile's precedence)" if both else
                    " (positions and orders may both block)" if maybe_both else "")
            yield Violation(rule_id, f"expected reason {' or '.join(sorted(allowed))}{note}, "
                                     f"got {view.outcome.get('reason')}")


@rule(
    "HM-MODE-002", level="MUST", kind="rejection",
    title="No switch while a position is open",
    statement="A request to change the position mode of a scope MUST be refused while any instrument of the "
              "scope holds a non-zero position, and the mode of such an instrument never changes while it is "
              "open. The reason is MODE_SWITCH_WITH_POSITIONS; when open orders block the switch as well "
              "(HM-MODE-003), the reason follows the profile's precedence: MODE_SWITCH_WITH_POSITIONS under "
              "positions_first (the seed), MODE_SWITCH_WITH_OPEN_ORDERS under orders_first, either one where the "
              "profile says either or does not model the precedence. Where the profile does not model whether "
              "positions block a switch, only the reason is decided: it is never given while no instrument the "
              "switch would change (its mode other than the one requested, or unknown) holds a position.",
    rationale="Switching with open legs would have to net or split them; every venue refuses instead "
              "(Binance -4068, Bybit 110024, OKX 59000, Gate POSITION_HOLDING, KuCoin).",
    sources=["S-Q1", "S-E4", "S-F5", "B-MODE", "B-ERR", "Y-MODE", "O-ERR", "G-ERR", "K-ANN"],
    applies_to=("set_position_mode",), observes=("snapshot", "outcome"), requires=("mode-switching",),
    profile_choices=("mode_switch_blocked_by_positions", "mode_switch_precedence", "mode_switch_coin_level_partial"),
)
def mode_switch_with_positions(view: StepView) -> Iterator[Violation]:
    """Implements HM-MODE-002."""
    if view.action.get("kind") == "set_position_mode":
        yield from _guard_check(view, "HM-MODE-002", 0, "MODE_SWITCH_WITH_POSITIONS")


@rule(
    "HM-MODE-003", level="MUST", kind="rejection",
    title="No switch while an order is open",
    statement="A request to change the position mode of a scope MUST be refused while any instrument of the "
              "scope has an open order, conditional orders included. The reason is MODE_SWITCH_WITH_OPEN_ORDERS; "
              "when positions block the switch as well (HM-MODE-002), the reason follows the profile's "
              "precedence: MODE_SWITCH_WITH_OPEN_ORDERS under orders_first, MODE_SWITCH_WITH_POSITIONS under "
              "positions_first (the seed), either one where the profile says either or does not model the "
              "precedence. Where the profile does not model whether orders block a switch, only the reason is "
              "decided: it is never given while no instrument the switch would change (its mode other than the "
              "one requested, or unknown) has an open order.",
    rationale="An open order was admitted under the old mode's position sides; Binance -4067, Bybit 110028, "
              "OKX 59000, Gate ORDER_PENDING.",
    sources=["S-E4", "B-MODE", "B-ERR", "Y-MODE", "O-ERR", "G-ERR", "K-ANN"],
    applies_to=("set_position_mode",), observes=("snapshot", "outcome"), requires=("mode-switching",),
    profile_choices=("mode_switch_blocked_by_orders", "mode_switch_precedence"),
)
def mode_switch_with_orders(view: StepView) -> Iterator[Violation]:
    """Implements HM-MODE-003."""
    if view.action.get("kind") == "set_position_mode":
        yield from _guard_check(view, "HM-MODE-003", 1, "MODE_SWITCH_WITH_OPEN_ORDERS")


@rule(
    "HM-MODE-004", level="MUST", kind="transition",
    title="Asking for the mode in force changes nothing",
    statement="A request for the mode already in force for every instrument of the scope MUST change nothing "
              "and is reported as 'unchanged', or refused with MODE_IN_FORCE where the profile models that; where "
              "the profile does not model the answer, either of the two.",
    rationale="Binance -4059, Bybit 110025 and Gate NO_CHANGE report it distinctly; clients treat it as success.",
    sources=["S-F5", "B-ERR", "GH-24848", "G-ERR"],
    applies_to=("set_position_mode",), observes=("snapshot", "outcome"), requires=("mode-switching",),
    profile_choices=("same_mode_request",),
)
def same_mode_request(view: StepView) -> Iterator[Violation]:
    """Implements HM-MODE-004."""
    if view.action.get("kind") != "set_position_mode" or not _valid_switch(view):
        return
    _, _, differing, unknown = _switch_targets(view)
    if differing or unknown:  # a request for another mode, or perhaps one (a mode unknown): not judged here
        return
    answer = modelled_choice(view.params, "same_mode_request")  # None: either answer
    expected = {"rejected": ["rejected"], "unchanged": ["unchanged"]}.get(answer, ["unchanged", "rejected"])
    if view.outcome["kind"] not in expected:
        yield Violation("HM-MODE-004", f"request for the mode in force gave {view.outcome['kind']}, expected "
                                       f"{' or '.join(expected)}")
    elif view.outcome["kind"] == "rejected" and view.outcome.get("reason") != "MODE_IN_FORCE":
        yield Violation("HM-MODE-004", f"request for the mode in force refused with {view.outcome.get('reason')}, "
                                       f"not MODE_IN_FORCE")
    if without_time(view.after) != without_time(view.before):
        yield Violation("HM-MODE-004", "request for the mode in force changed the state")
    if view.outcome.get("events"):  # 'unchanged' has no events (docs/formats/outcomes.md); a rejection neither
        kinds = sorted({str(e.get("type")) for e in view.outcome["events"]})
        yield Violation("HM-MODE-004", f"request for the mode in force answered {view.outcome['kind']} with events "
                                       f"({', '.join(kinds)}): it reports a change")


@rule(
    "HM-MODE-005", level="MUST", kind="transition",
    title="A switch changes only the mode, and only in its scope",
    statement="An accepted switch MUST set the requested mode for the instruments of its scope (all of them, or "
              "the idle ones where the profile applies coin-level requests partially) and change nothing else: "
              "no position, balance or order, and no mode outside the scope. It is never retroactive.",
    rationale="Positions are flat when a switch is allowed; a partial (Bybit coin-level) switch is the one case "
              "where open instruments keep their old mode beside switched ones.",
    sources=["S-F5", "Y-MODE", "B-MODE"],
    applies_to=("set_position_mode",), observes=("snapshot", "outcome"), requires=("mode-switching",),
    profile_choices=("mode_scope", "mode_switch_coin_level_partial"),
)
def switch_scope(view: StepView) -> Iterator[Violation]:
    """Implements HM-MODE-005."""
    if view.action.get("kind") != "set_position_mode" or view.outcome["kind"] not in ("accepted", "partially_applied"):
        return
    account, symbols, _, _ = _switch_targets(view)
    wanted = view.action["mode"]
    unswitched = [s for s in symbols if mode_in_force(view.after, view.params, account, s) not in (None, wanted)]
    if view.outcome["kind"] == "accepted" and unswitched:
        yield Violation("HM-MODE-005", f"accepted switch left {sorted(unswitched)} unswitched")
    idle = [s for s in unswitched if not any(_busy(view, account, s))]
    if view.outcome["kind"] == "partially_applied" and idle:  # a partial switch leaves only the busy ones
        yield Violation("HM-MODE-005", f"partially applied switch left {sorted(idle)} unswitched, with no position "
                                       f"and no open order")
    for acc_id, acc in view.before["accounts"].items():
        after = view.after["accounts"][acc_id]
        for key in ("wallet", "open_orders"):
            if acc[key] != after[key]:
                yield Violation("HM-MODE-005", f"{acc_id}: {key} changed by a mode switch")
        for symbol in after["positions"]:
            switched = _switched(view, acc_id, symbol)
            outside = not (acc_id == account and symbol in symbols)
            rows_changed = acc["positions"][symbol] != after["positions"][symbol]
            is_open = any(D(r["quantity"]) != 0 for r in after["positions"][symbol].values())
            if switched is None:  # a mode unknown: rows that changed outside the scope, or that hold a position,
                if rows_changed and (outside or is_open):  # are wrong whether the mode switched or not
                    yield Violation("HM-MODE-005", f"{acc_id} {symbol}: position rows changed by a mode switch "
                                                   f"{'outside the requested scope' if outside else 'with a position open'}")
                continue
            if switched and outside:
                yield Violation("HM-MODE-005", f"{acc_id} {symbol}: mode changed outside the requested scope")
            if not switched and rows_changed:
                yield Violation("HM-MODE-005", f"{acc_id} {symbol}: position rows changed by a mode switch")
            if switched and is_open:
                yield Violation("HM-MODE-005", f"{acc_id} {symbol}: switched with a position open")
    if view.before.get("insurance_fund") != view.after.get("insurance_fund"):
        yield Violation("HM-MODE-005", "insurance fund changed by a mode switch")


LIFETIME_TOTALS = ("realized_pnl", "fees_paid", "funding")


@rule(
    "HM-MODE-009", level="MUST", kind="transition", since="1.3.0",
    title="A row a switch brings back keeps its lifetime totals",
    statement="When a mode switch brings back a position row that an earlier switch removed (a leg's LONG or SHORT "
              "row in hedge mode, or the BOTH row in one-way mode), the row MUST carry the lifetime totals it showed "
              "when it was removed: realized PnL, fees paid and funding. Nothing moves them while the row is not "
              "shown, its instrument being flat. A row a switch shows for the first time has never traded, and its "
              "totals are zero. Judged where the run's earlier snapshots are at hand (conformance runs and vectors).",
    rationale="The snapshot's realized PnL, fees and funding are the leg's whole history; an engine that starts a "
              "leg afresh at a switch loses it, and no single step shows the loss. What a row brought back carries "
              "as its margin type and leverage is not judged: no venue documents it where the setting is per leg.",
    sources=["S-F5", (RULEBOOK_OWN, "the snapshot's lifetime totals (docs/formats/snapshot.md)")],
    applies_to=("set_position_mode",), observes=("snapshot",), requires=("mode-switching",),
)
def brought_back_rows_keep_totals(view: StepView) -> Iterator[Violation]:
    """Implements HM-MODE-009 over ``view.shown`` (the rows of the run's earlier snapshots)."""
    if view.shown is None or view.action.get("kind") != "set_position_mode" or \
            view.outcome["kind"] not in ("accepted", "partially_applied"):
        return
    for account, symbol, side, after in rows(view.after):
        if row(view.before, account, symbol, side) is not None:
            continue  # shown before the step: not brought by it
        earlier = view.shown.get((account, symbol, side)) or dict.fromkeys(LIFETIME_TOTALS, "0")  # new: zero
        changed = [f"{name} {earlier[name]} -> {after[name]}" for name in LIFETIME_TOTALS
                   if D(after[name]) != D(earlier[name])]
        if changed:
            how = "brought back" if (account, symbol, side) in view.shown else "shown for the first time"
            yield Violation("HM-MODE-009", f"{account} {symbol} {side} {how} with {', '.join(changed)}")


_ROWS = {"HEDGE": {"LONG", "SHORT"}, "ONE_WAY": {"BOTH"}}


@rule(
    "HM-MODE-008", level="MUST", kind="state-invariant",
    title="Position rows follow the mode",
    statement="In hedge mode each instrument has exactly two position rows, LONG (quantity >= 0) and SHORT "
              "(quantity <= 0), which can be open at the same time; in one-way mode it has one net row, BOTH. Where the "
              "mode is unknown (HM-MODE-001), an instrument's rows are those of one of the two modes, and, where "
              "the profile models the mode scope, of the same mode for every instrument of one scope.",
    rationale="The long and the short of hedge mode are separate records on every venue (Binance LONG/SHORT "
              "rows, Bybit positionIdx 1/2, OKX posSide long/short, Gate dual_long/dual_short).",
    sources=["S-F1", "S-F2", "B-POS3", "Y-POS", "O-POS", "G-POS"],
    observes=("snapshot",), requires=("hedge-mode",),
)
def rows_follow_mode(view: StepView) -> Iterator[Violation]:
    """Implements HM-MODE-008. Where the mode is unknown (HM-MODE-001: not reported, the profile's default not
    modelled), what holds under both modes: an instrument's rows are those of one mode, and every instrument of
    one mode scope has those of the same mode."""
    unknown: dict[tuple[str, str], dict[str, str]] = {}  # (account, mode scope) -> instrument -> mode of its rows
    per_scope = modelled_choice(view.params, "mode_scope") is not None
    for account, acc in view.after["accounts"].items():
        missing = sorted(set(instruments(view.params)) - set(acc["positions"]))
        if missing:  # every instrument has its rows, flat or open, expired included
            yield Violation("HM-MODE-008", f"{account}: no position rows for {', '.join(missing)}")
        for symbol, sides in acc["positions"].items():
            mode = mode_in_force(view.after, view.params, account, symbol)
            if mode is None:
                follows = next((m for m, shape in _ROWS.items() if set(sides) == shape), None)
                if follows is None:
                    yield Violation("HM-MODE-008", f"{account} {symbol}: rows {sorted(sides)} are those of neither "
                                                   f"mode")
                else:
                    scope = scope_key(view.params, symbol) if per_scope else symbol
                    unknown.setdefault((account, scope), {})[symbol] = follows
            elif set(sides) != _ROWS["HEDGE" if mode == "HEDGE" else "ONE_WAY"]:
                yield Violation("HM-MODE-008", f"{account} {symbol}: rows {sorted(sides)} in {mode} mode")
    for (account, scope), follows in unknown.items():
        if len(set(follows.values())) > 1:
            listed = ", ".join(f"{symbol} {mode}" for symbol, mode in sorted(follows.items()))
            yield Violation("HM-MODE-008", f"{account}: the rows of mode scope {scope} (its mode not reported) "
                                           f"follow different modes: {listed}")
    for account, symbol, side, r in rows(view.after):
        qty = r["quantity"]
        if (side == "LONG" and D(qty) < 0) or (side == "SHORT" and D(qty) > 0):
            yield Violation("HM-MODE-008", f"{account} {symbol} {side}: quantity {qty} has the wrong sign")


__all__ = ["scope_key"]
