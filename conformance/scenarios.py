"""Scenario functions: short hand-written cases, one or a few rules each, turned into vectors.

Each scenario returns ``(params, actions)`` for a profile; the expected outcomes and states are
the model's (``hedgespec.conformance.vectors.build_vector``). A scenario vector is the executable
statement of the rules it names: an engine that does otherwise fails those rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hedgespec.conformance.world import DATED, PERP, default_params
from hedgespec.spec.profiles import Profile

Case = tuple[dict[str, Any], list[dict[str, Any]]]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    rules: tuple[str, ...]
    build: Callable[[Profile], Case]
    profiles: tuple[str, ...] | None = None  # None: every profile the corpus is made for


SCENARIOS: list[Scenario] = []


def scenario(name: str, title: str, *rules: str, profiles: tuple[str, ...] | None = None
             ) -> Callable[[Callable[[Profile], Case]], Callable[[Profile], Case]]:
    def register(fn: Callable[[Profile], Case]) -> Callable[[Profile], Case]:
        SCENARIOS.append(Scenario(name, title, rules, fn, profiles))
        return fn

    return register


# -- action helpers ---------------------------------------------------------------------------------

def order(t: int, oid: str, side: str, position_side: str, quantity: str, price: str = "30000",
          order_type: str = "MARKET", account: str = "alice", instrument: str = PERP, **extra: Any
          ) -> dict[str, Any]:
    return {"t": t, "kind": "place_order", "account": account, "order_id": oid, "instrument": instrument,
            "side": side, "position_side": position_side, "order_type": order_type, "quantity": quantity,
            **({"price": price} if order_type in ("MARKET", "LIMIT") else {}), **extra}


def mark(t: int, price: str, instrument: str = PERP) -> dict[str, Any]:
    return {"t": t, "kind": "mark_price", "instrument": instrument, "price": price}


def hedge(profile: Profile, **kw: Any) -> dict[str, Any]:
    return default_params(profile, dated=kw.pop("dated", False), accounts=kw.pop("accounts", ("alice",)), **kw)


def both_legs(t: int = 1, qty: str = "0.1") -> list[dict[str, Any]]:
    return [order(t, "L1", "BUY", "LONG", qty), order(t + 1, "S1", "SELL", "SHORT", qty)]


# -- mode ----------------------------------------------------------------------------------------------

@scenario("mode-default", "A scope never switched is in the profile's default mode", "HM-MODE-001", "HM-ORD-001")
def _mode_default(p: Profile) -> Case:
    params = hedge(p)
    params["accounts"]["alice"].pop("position_mode")
    side = "LONG" if p.effective("default_position_mode") == "HEDGE" else "BOTH"
    return params, [order(1, "o1", "BUY", side, "0.01"), order(2, "o2", "BUY", "BOTH" if side == "LONG" else "LONG",
                                                               "0.01")]


def _scope(p: Profile) -> dict[str, Any]:
    s = p.effective("mode_scope")
    return {} if s == "account" else {"scope": "USDT" if s == "settle_asset" else PERP}


@scenario("mode-switch-with-position", "A switch is refused while a position is open", "HM-MODE-002")
def _mode_002(p: Profile) -> Case:
    return hedge(p), [order(1, "o1", "BUY", "LONG", "0.01"),
                      {"t": 2, "kind": "set_position_mode", "account": "alice", "mode": "ONE_WAY", **_scope(p)}]


@scenario("mode-switch-with-order", "A switch is refused while an order is open", "HM-MODE-003")
def _mode_003(p: Profile) -> Case:
    return hedge(p), [order(1, "o1", "BUY", "LONG", "0.01", "29000", "LIMIT"),
                      {"t": 2, "kind": "set_position_mode", "account": "alice", "mode": "ONE_WAY", **_scope(p)}]


@scenario("mode-same", "Asking for the mode in force changes nothing", "HM-MODE-004")
def _mode_004(p: Profile) -> Case:
    return hedge(p), [{"t": 1, "kind": "set_position_mode", "account": "alice", "mode": "HEDGE", **_scope(p)}]


@scenario("mode-switch-flat", "A switch on a flat scope changes the mode and the rows", "HM-MODE-005", "HM-MODE-008")
def _mode_005(p: Profile) -> Case:
    return hedge(p), [{"t": 1, "kind": "set_position_mode", "account": "alice", "mode": "ONE_WAY", **_scope(p)},
                      order(2, "o1", "BUY", "BOTH", "0.01"),
                      order(3, "o2", "SELL", "LONG", "0.01")]


@scenario("mode-switch-back", "Rows a switch brings back keep their lifetime totals", "HM-MODE-009")
def _mode_009(p: Profile) -> Case:
    switch = {"kind": "set_position_mode", "account": "alice", **_scope(p)}
    return hedge(p), [order(1, "l", "BUY", "LONG", "0.01"), order(2, "s", "SELL", "SHORT", "0.01"),
                      order(3, "lc", "SELL", "LONG", "0.01", "30100"), order(4, "sc", "BUY", "SHORT", "0.01", "30100"),
                      {"t": 5, **switch, "mode": "ONE_WAY"}, order(6, "n", "BUY", "BOTH", "0.01"),
                      order(7, "nc", "SELL", "BOTH", "0.01", "29900"),
                      {"t": 8, **switch, "mode": "HEDGE"}, {"t": 9, **switch, "mode": "ONE_WAY"}]


# -- orders and netting ----------------------------------------------------------------------------

@scenario("order-side-mismatch", "Hedge mode refuses an order without LONG or SHORT", "HM-ORD-001")
def _ord_001(p: Profile) -> Case:
    return hedge(p), [order(1, "o1", "BUY", "BOTH", "0.01")]


@scenario("legs-do-not-net", "A long and a short of one size stay two legs", "HM-NET-001", "HM-ORD-002",
          "HM-POS-001")
def _net_001(p: Profile) -> Case:
    return hedge(p), [*both_legs(), order(3, "L2", "BUY", "LONG", "0.05", "30100")]


@scenario("close-exceeds-leg", "A close larger than its leg is refused or trimmed, never flips",
          "HM-ORD-003", "HM-ORD-004")
def _ord_004(p: Profile) -> Case:
    return hedge(p), [order(1, "o1", "BUY", "LONG", "0.05"),
                      order(2, "o2", "SELL", "LONG", "0.03", "30500", "LIMIT"),
                      order(3, "o3", "SELL", "LONG", "0.04", "30600", "LIMIT"),
                      order(4, "o4", "SELL", "LONG", "0.08", "30000")]


@scenario("order-malformed", "Malformed orders are refused", "HM-ORD-005")
def _ord_005(p: Profile) -> Case:
    return hedge(p), [order(1, "o1", "BUY", "LONG", "0.0101"), order(2, "o2", "BUY", "LONG", "0.01", "30000.3"),
                      order(3, "o3", "BUY", "LONG", "0"), order(4, "o4", "BUY", "LONG", "0.01", "0", "LIMIT")]


@scenario("action-off-format", "Actions not of the action format are refused", "HM-ATOM-002", "HM-ATOM-001")
def _atom_002(p: Profile) -> Case:
    opened = order(1, "o1", "BUY", "LONG", "0.01")
    return hedge(p), [opened, {**order(2, "o2", "BUY", "LONG", "0.01"), "client_tag": "x"},
                      {**order(3, "o3", "BUY", "LONG", "0.01"), "account": ["alice"]},
                      {**order(4, "o4", "SELL", "LONG", "0.01"), "quantity": 1},
                      {**order(5, "o5", "SELL", "LONG", "0.01"), "reduce_only": "true"},
                      {"t": 6, "kind": "deposit", "account": "alice", "amount": "10", "client_tag": "x"},
                      {"t": 7, "kind": "mark_price", "instrument": PERP}]


@scenario("limit-matching", "Resting limits fill at their price as maker when a trade goes through",
          "HM-ORD-006")
def _ord_006(p: Profile) -> Case:
    return hedge(p), [order(1, "b1", "BUY", "LONG", "0.02", "29900", "LIMIT"),
                      order(2, "b2", "BUY", "LONG", "0.02", "29950", "LIMIT"),
                      {"t": 3, "kind": "market_trade", "instrument": PERP, "price": "29900", "quantity": "0.03"}]


@scenario("closes-in-one-step", "Two closing fills of one leg in a step each realize PnL and release margin",
          "HM-POS-002", "HM-MARG-003")
def _closes_in_one_step(p: Profile) -> Case:
    return hedge(p), [order(1, "o1", "BUY", "LONG", "0.02"),
                      order(2, "c1", "SELL", "LONG", "0.005", "30100", "LIMIT"),
                      order(3, "c2", "SELL", "LONG", "0.005", "30200", "LIMIT"),
                      {"t": 4, "kind": "market_trade", "instrument": PERP, "price": "30200", "quantity": "0.01"}]


@scenario("limit-time-priority", "At one price, resting limits fill in the order they arrived", "HM-ORD-006")
def _ord_006_time(p: Profile) -> Case:
    return hedge(p), [order(1, "b1", "BUY", "LONG", "0.02", "29900", "LIMIT"),
                      order(2, "b2", "BUY", "LONG", "0.02", "29900", "LIMIT"),
                      {"t": 3, "kind": "market_trade", "instrument": PERP, "price": "29850", "quantity": "0.03"}]


@scenario("insufficient-margin", "An opening order needs initial margin plus fee", "HM-ORD-008")
def _ord_008(p: Profile) -> Case:
    return hedge(p), [{"t": 1, "kind": "set_leverage", "account": "alice", "instrument": PERP,
                       "position_side": "LONG", "leverage": "1"},
                      order(2, "o1", "BUY", "LONG", "0.4"), order(3, "o2", "BUY", "LONG", "0.3")]


@scenario("reduce-only-in-hedge", "A closing order with reduce-only in hedge mode", "HM-ORD-007",
          "HM-ORD-009")
def _ord_007(p: Profile) -> Case:
    return hedge(p), [order(1, "o1", "BUY", "LONG", "0.02"),
                      order(2, "o2", "SELL", "LONG", "0.01", reduce_only=True)]


@scenario("one-way-nets", "One-way mode nets and flips one position", "HM-NET-002")
def _net_002(p: Profile) -> Case:
    return hedge(p, mode="ONE_WAY"), [order(1, "o1", "BUY", "BOTH", "0.1"),
                                      order(2, "o2", "SELL", "BOTH", "0.15", "30200")]


# -- positions and fees -------------------------------------------------------------------------

@scenario("realized-per-leg", "Realized PnL only from reducing, per leg", "HM-POS-001", "HM-POS-002",
          "HM-POS-003", "HM-POS-004")
def _pos(p: Profile) -> Case:
    return hedge(p), [*both_legs(), order(3, "L2", "BUY", "LONG", "0.1", "31000"),
                      order(4, "L3", "SELL", "LONG", "0.1", "32000"), order(5, "S2", "BUY", "SHORT", "0.05", "31500"),
                      mark(6, "31000")]


@scenario("fees-no-hedge-discount", "Both legs pay their own taker and maker fees", "HM-FEE-001")
def _fee(p: Profile) -> Case:
    return hedge(p), [*both_legs(), order(3, "S2", "SELL", "SHORT", "0.02", "30100", "LIMIT"),
                      {"t": 4, "kind": "market_trade", "instrument": PERP, "price": "30150", "quantity": "1"}]


# -- funding ----------------------------------------------------------------------------------------

@scenario("funding-per-leg", "Funding is paid and received per leg, each its own entry",
          "HM-FUND-001", "HM-FUND-002", "HM-FUND-003")
def _fund(p: Profile) -> Case:
    return hedge(p), [order(1, "L1", "BUY", "LONG", "0.2"), order(2, "S1", "SELL", "SHORT", "0.1"),
                      {"t": 3, "kind": "funding", "instrument": PERP, "rate": "0.0001"},
                      {"t": 4, "kind": "funding", "instrument": PERP, "rate": "-0.00037"}]


# -- margin --------------------------------------------------------------------------------------------

@scenario("leverage-per-leg", "Leverage and margin type are set per leg", "HM-MARG-001", "HM-MARG-004")
def _marg_001(p: Profile) -> Case:
    return hedge(p), [{"t": 1, "kind": "set_leverage", "account": "alice", "instrument": PERP,
                       "position_side": "LONG", "leverage": "5"},
                      {"t": 2, "kind": "set_margin_type", "account": "alice", "instrument": PERP,
                       "position_side": "SHORT", "margin_type": "CROSS"}, *both_legs(3)]


@scenario("adjust-margin", "Adding and removing margin moves only that leg and the wallet", "HM-MARG-002")
def _marg_002(p: Profile) -> Case:
    adjust = {"kind": "adjust_margin", "account": "alice", "instrument": PERP, "position_side": "LONG"}
    return hedge(p), [*both_legs(), {"t": 3, **adjust, "amount": "100"}, {"t": 4, **adjust, "amount": "-60"},
                      {"t": 5, **adjust, "amount": "-500"}]


@scenario("margin-released-pro-rata", "A partial close releases margin in proportion", "HM-MARG-003")
def _marg_003(p: Profile) -> Case:
    return hedge(p), [order(1, "L1", "BUY", "LONG", "0.3"), order(2, "L2", "SELL", "LONG", "0.1", "30300"),
                      order(3, "L3", "SELL", "LONG", "0.2", "29900")]


@scenario("margin-type-busy", "No margin-type change on a leg with a position or an order", "HM-MARG-005")
def _marg_005(p: Profile) -> Case:
    change = {"kind": "set_margin_type", "account": "alice", "instrument": PERP, "margin_type": "CROSS"}
    return hedge(p), [order(1, "L1", "BUY", "LONG", "0.1"),
                      {"t": 2, **change, "position_side": "LONG"},
                      order(3, "S1", "SELL", "SHORT", "0.1", "31000", "LIMIT"),
                      {"t": 4, **change, "position_side": "SHORT"}]


@scenario("maintenance-brackets", "Maintenance margin follows the brackets", "HM-MARG-006")
def _marg_006(p: Profile) -> Case:
    return hedge(p), [order(1, "L1", "BUY", "LONG", "1.8"), order(2, "S1", "SELL", "SHORT", "0.5"), mark(3, "30500")]


# -- liquidation ---------------------------------------------------------------------------------------

@scenario("isolated-long-liquidated", "A breached isolated long is liquidated alone",
          "HM-LIQ-001", "HM-LIQ-002", "HM-LIQ-003", "HM-LIQ-004", "HM-LIQ-007")
def _liq_long(p: Profile) -> Case:
    return hedge(p), [*both_legs(), mark(3, "29000"), mark(4, "28800"), mark(5, "28300")]


@scenario("isolated-short-liquidated", "A breached isolated short is liquidated alone",
          "HM-LIQ-001", "HM-LIQ-002", "HM-LIQ-003")
def _liq_short(p: Profile) -> Case:
    return hedge(p), [*both_legs(), mark(3, "31200"), mark(4, "33000")]


@scenario("isolated-liquidated-above-first-bracket", "A breached isolated leg above the first bracket: closed in "
          "full, or first reduced to a lower bracket where the profile liquidates partially",
          "HM-LIQ-002", "HM-LIQ-003", "HM-LIQ-004")
def _liq_bracket(p: Profile) -> Case:
    # 2 at 30000 (notional 60000, second bracket); at 28600 balance 200 < maintenance 272; kept at 1.748
    # (notional 49992.8, first bracket) the maintenance is 199.9712, so a partial liquidation closes 0.252
    return hedge(p), [*both_legs(qty="2"), mark(3, "29000"), mark(4, "28600"), mark(5, "28000")]


@scenario("cross-pool-liquidated", "The cross pool is liquidated as a whole; isolated legs are not drawn on",
          "HM-LIQ-005", "HM-LIQ-006")
def _liq_cross(p: Profile) -> Case:
    cross = {"kind": "set_margin_type", "account": "alice", "instrument": PERP, "margin_type": "CROSS"}
    return hedge(p, wallet="3000", dated=True), [
        {"t": 1, **cross, "position_side": "LONG"},
        order(2, "L1", "BUY", "LONG", "1"), order(3, "D1", "SELL", "SHORT", "0.1", instrument=DATED),
        mark(4, "28500"), mark(5, "27100")]


@scenario("hedged-maintenance", "What maintenance a hedged cross pair is charged decides its liquidation",
          "HM-MARG-007", "HM-LIQ-005")
def _marg_007(p: Profile) -> Case:
    # equity stays 302.5 (the legs hedge); at 160000 both legs' maintenance is 320, the larger leg's 160
    setting = {"account": "alice", "instrument": PERP}
    return hedge(p, wallet="310"), [
        *[{"t": 1, "kind": "set_margin_type", **setting, "position_side": side, "margin_type": "CROSS"}
          for side in ("LONG", "SHORT")],
        *[{"t": 1, "kind": "set_leverage", **setting, "position_side": side, "leverage": "50"}
          for side in ("LONG", "SHORT")],
        *both_legs(2, "0.25"), mark(4, "160000")]


@scenario("cross-hedged-breach", "A breached cross pool with hedged legs: closed as a whole, or first offset and "
          "judged again where the profile offsets hedged legs", "HM-LIQ-005", "HM-LIQ-007")
def _liq_cross_hedged(p: Profile) -> Case:
    # 0.3 LONG and 0.1 SHORT at 30000 (at any default leverage of 5 or more): equity 2994 - 0.2 x (30000 - mark),
    # maintenance 0.4 % of 0.4 x mark; at 15120 equity 18 < 24.192, and 0.2 LONG alone would be charged
    # 12.096: an offset of 0.1 restores the pool; at 15060 equity 6 < 12.048 closes the LONG left
    cross = {"kind": "set_margin_type", "account": "alice", "instrument": PERP, "margin_type": "CROSS"}
    return hedge(p, wallet="3000"), [
        *[{"t": 1, **cross, "position_side": side} for side in ("LONG", "SHORT")],
        order(2, "L1", "BUY", "LONG", "0.3"), order(3, "S1", "SELL", "SHORT", "0.1"),
        mark(4, "20000"), mark(5, "15120"), mark(6, "15060")]


@scenario("stop-before-liquidation", "A stop triggered by the same mark fires before liquidation",
          "HM-LIQ-008", "HM-STOP-002")
def _liq_008(p: Profile) -> Case:
    # the fall fires the short's take-profit and breaches the 50x long: the trigger comes first
    return hedge(p), [
        {"t": 1, "kind": "set_leverage", "account": "alice", "instrument": PERP, "position_side": "LONG",
         "leverage": "50"}, *both_legs(2),
        order(4, "tp", "BUY", "SHORT", "0.1", order_type="TAKE_PROFIT_MARKET", stop_price="29000"),
        mark(5, "28000")]


# -- stops ----------------------------------------------------------------------------------------------

@scenario("stop-own-leg", "A triggered stop reduces only its own leg", "HM-STOP-001", "HM-STOP-002")
def _stop_001(p: Profile) -> Case:
    return hedge(p), [*both_legs(), order(3, "sl", "SELL", "LONG", "0.05", order_type="STOP_MARKET",
                                          stop_price="29700"),
                      order(4, "ss", "BUY", "SHORT", "0.05", order_type="STOP_MARKET", stop_price="30300"),
                      mark(5, "29800"), mark(6, "29650")]


@scenario("trailing-stop", "A trailing stop follows its own leg's direction", "HM-STOP-003")
def _stop_003(p: Profile) -> Case:
    return hedge(p), [*both_legs(), order(3, "tr", "BUY", "SHORT", "0.1", order_type="TRAILING_STOP_MARKET",
                                          callback_rate="0.01"),
                      mark(4, "29500"), mark(5, "29200"), mark(6, "29400"), mark(7, "29500")]


@scenario("close-cancels-orders", "A leg closed keeps no closing orders", "HM-STOP-004")
def _stop_004(p: Profile) -> Case:
    return hedge(p), [*both_legs(), order(3, "tp", "SELL", "LONG", "0.1", order_type="TAKE_PROFIT_MARKET",
                                          stop_price="31000"), order(4, "c", "SELL", "LONG", "0.1")]


@scenario("close-position-stop", "A close-position stop closes the whole leg", "HM-STOP-005")
def _stop_005(p: Profile) -> Case:
    return hedge(p), [*both_legs(), order(3, "L2", "BUY", "LONG", "0.05"),
                      order(4, "cp", "SELL", "LONG", "0", order_type="STOP_MARKET", stop_price="29500",
                            close_position=True), mark(5, "29400")]


# -- settlement, atomicity, accounts, ledger --------------------------------------------------------

@scenario("expiry-per-leg", "At expiry each leg settles alone; the contract then takes no orders",
          "HM-SETL-001", "HM-SETL-002")
def _setl(p: Profile) -> Case:
    return hedge(p, dated=True), [order(1, "L1", "BUY", "LONG", "0.1", instrument=DATED),
                                  order(2, "S1", "SELL", "SHORT", "0.05", instrument=DATED),
                                  {"t": 3, "kind": "expire", "instrument": DATED, "settlement_price": "30600"},
                                  order(4, "L2", "BUY", "LONG", "0.1", instrument=DATED)]


@scenario("rejection-atomic", "A rejected action changes nothing", "HM-ATOM-001")
def _atom(p: Profile) -> Case:
    return hedge(p), [*both_legs(), {"t": 3, "kind": "withdraw", "account": "alice", "amount": "20000"},
                      {"t": 4, "kind": "cancel_order", "account": "alice", "order_id": "nope"},
                      order(5, "L1", "BUY", "LONG", "0.01")]


@scenario("accounts-isolated", "One account's actions never touch another's", "HM-ACCT-001")
def _acct(p: Profile) -> Case:
    return hedge(p, accounts=("alice", "bob")), [
        order(1, "a1", "BUY", "LONG", "0.1"), order(2, "b1", "SELL", "SHORT", "0.1", account="bob"),
        order(3, "a2", "BUY", "LONG", "0.1", "29000", "LIMIT"),
        {"t": 4, "kind": "market_trade", "instrument": PERP, "price": "29000", "quantity": "0.05"},
        mark(5, "28400")]


@scenario("ledger-reconciles", "Deposits, withdrawals, fees and PnL reconcile", "HM-LEDG-001")
def _ledg(p: Profile) -> Case:
    return hedge(p), [{"t": 1, "kind": "deposit", "account": "alice", "amount": "250.5"},
                      *both_legs(2), order(4, "L2", "SELL", "LONG", "0.1", "30400"),
                      {"t": 5, "kind": "withdraw", "account": "alice", "amount": "100"}]
