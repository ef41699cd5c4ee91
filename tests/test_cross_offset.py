"""Hedged cross legs offset before a pool is liquidated (HM-LIQ-005 under
``cross_liquidation_scope: offset_hedged_first``).

The worked example of examples/cross_offset.json derived by hand, the check's decision where an offset
restores the pool and where it does not, and what it leaves undecided where the profile does not model
the clearance fee. The broken engines made for this check are in tests/test_stronger_checks.py
(offset-skipped, offset-not-judged-again, offset-then-stop).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from hedgespec.spec.registry import StepView
from hedgespec.spec.rulebook import get
from scenarios import checked_steps  # the reference's steps, every check passing on each
from test_check_strength import variant  # a profile file with some choices changed

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "examples" / "cross_offset.json").read_text())
OFFSET = str(ROOT / "examples" / "profiles" / "offset-hedged-first.json")
OPENS = [{k: v for k, v in a.items() if k != "t"} for a in EXAMPLE["actions"][4:6]]  # 0.3 LONG, 0.1 SHORT at 60000


def run(profile: str, actions: list[dict[str, Any]] | None = None) -> list[StepView]:
    """The example's steps (or ``actions`` on its parameters) under ``profile``."""
    return checked_steps({**EXAMPLE["params"], "profile": profile}, actions or EXAMPLE["actions"])


def quantities(view: StepView) -> tuple[str, str]:
    legs = view.after["accounts"]["alice"]["positions"]["BTCUSDT"]
    return legs["LONG"]["quantity"], legs["SHORT"]["quantity"]


def fills(view: StepView) -> list[tuple[str, str, str, str]]:
    return [(e["position_side"], e["side"], e["quantity"], e["price"]) for e in view.outcome["events"]
            if e["type"] == "fill"]


def violations(view: StepView) -> list[str]:
    return [str(v) for v in get("HM-LIQ-005").check(view)]


def test_the_worked_example_offsets_then_closes_what_is_left() -> None:
    """By hand: 0.3 LONG and 0.1 SHORT at 60000, cross at 100x, wallet 1000 less 12 of taker fees (988).
    Equity at mark m is 988 + 0.3(m - 60000) + 0.1(60000 - m) = 988 - 0.2(60000 - m); the first bracket's
    maintenance is 0.4 % of 0.4 m on both legs (the seed). At 55400: equity 68 < 88.64, a breach. Offsetting
    0.1 of each leg at 55400 realizes -460 and +460 (the wallet stays 988) and leaves 0.2 LONG charged
    0.4 % x 0.2 x 55400 = 44.32 <= 68: the pool is restored and nothing else closes. At 55200: equity
    988 - 960 = 28 < 44.16, no opposite legs left: the LONG closes, the wallet ends at 28."""
    views = run(OFFSET)
    assert views[5].after["accounts"]["alice"]["wallet"] == "988"
    breach = views[7]
    liquidation = [e for e in breach.outcome["events"] if e["type"] == "liquidation"]
    assert [(e["position_side"], e["margin_balance"], e["maintenance_margin"]) for e in liquidation] == \
        [("CROSS", "68", "88.64")]
    assert fills(breach) == [("LONG", "SELL", "0.1", "55400"), ("SHORT", "BUY", "0.1", "55400")]
    assert quantities(breach) == ("0.2", "0")
    assert breach.after["accounts"]["alice"]["wallet"] == "988"
    last = views[8]
    assert fills(last) == [("LONG", "SELL", "0.2", "55200")]
    assert quantities(last) == ("0", "0") and last.after["accounts"]["alice"]["wallet"] == "28"


def test_the_seed_closes_both_legs_at_the_same_breach() -> None:
    """The same file under the seed (all_cross_legs): the breach at 55400 closes both legs, realizing
    0.3 x (55400 - 60000) = -1380 and 0.1 x (60000 - 55400) = +460: the wallet ends at the equity, 68."""
    views = run("seed")
    assert fills(views[7]) == [("LONG", "SELL", "0.3", "55400"), ("SHORT", "BUY", "0.1", "55400")]
    assert quantities(views[7]) == ("0", "0")
    assert views[7].after["accounts"]["alice"]["wallet"] == "68"


def test_an_offset_that_does_not_restore_the_pool_closes_everything() -> None:
    """A mark of 55200 straight away: equity 28 is below 0.4 % x 0.2 x 55200 = 44.16 even after the offset,
    so the offset legs and the rest are closed in the same step."""
    actions = [*EXAMPLE["actions"][:6], {"kind": "mark_price", "instrument": "BTCUSDT", "price": "55200"}]
    views = run(OFFSET, actions)
    assert fills(views[6]) == [("LONG", "SELL", "0.1", "55200"), ("SHORT", "BUY", "0.1", "55200"),
                               ("LONG", "SELL", "0.2", "55200")]
    assert quantities(views[6]) == ("0", "0")


def test_a_clearance_fee_can_keep_the_pool_breached(tmp_path: Path) -> None:
    """With a clearance rate of 0.5 %: the offset's two fills pay 0.005 x 0.1 x 55400 = 27.7 each, so the
    equity left (68 - 55.4 = 12.6) is below the LONG's 44.32 and it is closed too. The check judges the fee
    where the rate is modelled, and leaves a restored-at-fee-0 pool undecided where it is open."""
    fee = variant(tmp_path, base=OFFSET, name="offset-fee", liquidation_clearance_fee_rate=("0.005", "modelled"))
    views = run(fee)
    assert quantities(views[7]) == ("0", "0")
    view = views[7]
    restored = copy.deepcopy(view.after)
    restored["accounts"]["alice"]["positions"]["BTCUSDT"]["LONG"]["quantity"] = "0.2"
    assert violations(StepView(view.params, view.before, view.action, view.outcome, restored))
    open_fee = variant(tmp_path, base=OFFSET, name="offset-open-fee", liquidation_clearance_fee_rate=(None, "unconfirmed"))
    params = {**view.params, "profile": open_fee}
    for after in (view.after, restored):
        assert violations(StepView(params, view.before, view.action, view.outcome, after)) == []


def test_the_check_flags_each_wrong_extent() -> None:
    """At the breach of 55400 under offset_hedged_first: closing both legs (no offset), offsetting less than
    the shared quantity, or leaving a leg the pool cannot carry are each flagged; the seed's scope flags
    the offset-only outcome."""
    view = run(OFFSET)[7]
    assert violations(view) == []
    for long_qty, short_qty in (("0", "0"), ("0.25", "-0.05"), ("0.3", "0")):
        after = copy.deepcopy(view.after)
        legs = after["accounts"]["alice"]["positions"]["BTCUSDT"]
        legs["LONG"]["quantity"], legs["SHORT"]["quantity"] = long_qty, short_qty
        assert violations(StepView(view.params, view.before, view.action, view.outcome, after)), (long_qty, short_qty)
    seed = {**view.params, "profile": "seed"}
    assert violations(StepView(seed, view.before, view.action, view.outcome, view.after))


def test_the_check_does_not_decide_what_an_open_scope_leaves_open(tmp_path: Path) -> None:
    """Where the scope is open, either extent passes."""
    open_scope = variant(tmp_path, base=OFFSET, name="offset-open", cross_liquidation_scope=(None, "unconfirmed"))
    offset_view, seed_view = run(OFFSET)[7], run("seed")[7]
    for view in (offset_view, seed_view):
        params = {**view.params, "profile": open_scope}
        assert violations(StepView(params, view.before, view.action, view.outcome, view.after)) == []
    assert Decimal(quantities(offset_view)[0]) == Decimal("0.2")


def test_random_walks_offset_and_close_pools_under_every_variant(tmp_path: Path) -> None:
    """Seeded walks of the mark against the net position of hedged cross legs of random sizes, under the
    offset profile and its variants (a clearance fee, the at-or-below trigger, maintenance on the larger leg
    only): every check passes after every step, and each outcome of the offset occurs under each variant
    (an offset that restores the pool, an offset followed by a close in the same step, a close of what an
    offset left at a later breach)."""
    import random

    variants = {"offset": OFFSET,
                "fee": variant(tmp_path, base=OFFSET, name="w-fee", liquidation_clearance_fee_rate=("0.0005", "modelled")),
                "at-or-below": variant(tmp_path, base=OFFSET, name="w-trigger", liquidation_trigger=("at_or_below", "modelled")),
                "larger-leg": variant(tmp_path, base=OFFSET, name="w-larger", hedged_maintenance=("larger_leg", "modelled"))}
    for name, profile in variants.items():
        rng = random.Random(name)
        restored = closed_in_step = closed_later = 0
        for _ in range(40):
            long_qty, short_qty = rng.randint(50, 500), rng.randint(20, 500)
            settings = {"margin_type": "CROSS", "leverage": "100"}
            p = copy.deepcopy({**EXAMPLE["params"], "profile": profile})
            p["accounts"]["alice"].update(wallet=str(rng.randint(700, 2500)),
                                          leg_settings={"BTCUSDT": {"LONG": settings, "SHORT": settings}})
            actions = [{**OPENS[0], "quantity": str(Decimal(long_qty) / 1000)},
                       {**OPENS[1], "quantity": str(Decimal(short_qty) / 1000)}]
            mark, direction = Decimal(60000), -1 if long_qty > short_qty else 1
            for _ in range(57):
                mark += direction * (rng.randint(0, 400) - 100)
                actions.append({"kind": "mark_price", "instrument": "BTCUSDT", "price": str(mark)})
            views = checked_steps(p, actions)
            offset_left_open = False
            for view in views:
                if not any(e["type"] == "liquidation" for e in view.outcome["events"]):
                    continue
                open_after = any(q != "0" for q in quantities(view))
                made = fills(view)
                offsets = len(made) >= 2 and (made[0][0], made[1][0]) == ("LONG", "SHORT") and made[0][2] == made[1][2]
                if offsets and open_after:
                    restored += 1
                    offset_left_open = True
                elif offsets and len(fills(view)) > 2:
                    closed_in_step += 1
                elif offset_left_open and not open_after:
                    closed_later += 1
        assert restored >= 2 and closed_in_step >= 1 and closed_later >= 1, \
            (name, restored, closed_in_step, closed_later)


# --- cases an independent review found ------------------------------------------------------------

def market(oid: str, side: str, leg: str, qty: str, price: str, symbol: str = "BTCUSDT") -> dict[str, Any]:
    return {"kind": "place_order", "account": "alice", "order_id": oid, "instrument": symbol, "side": side,
            "position_side": leg, "order_type": "MARKET", "quantity": qty, "price": price}


def mark(price: str, symbol: str = "BTCUSDT") -> dict[str, Any]:
    return {"kind": "mark_price", "instrument": symbol, "price": price}


def cross_params(profile: str, wallet: str, instruments: list[dict[str, Any]], marks: dict[str, str],
                 leverage: str = "25") -> dict[str, Any]:
    settings = {"margin_type": "CROSS", "leverage": leverage}
    return {"profile": profile, "instruments": instruments, "insurance_fund": "1000000",
            "accounts": {"alice": {"wallet": wallet, "position_mode": {"*": "HEDGE"},
                                   "leg_settings": {i["symbol"]: {"LONG": settings, "SHORT": settings}
                                                    for i in instruments}}},
            "mark_prices": marks, "last_prices": marks}


def test_a_clearance_fee_of_more_than_28_digits_is_judged_exactly(tmp_path: Path) -> None:
    """Ticks and lots of 1e-8 and an 8-digit rate make a clearance fee of 30 significant digits. The wallet
    puts the equity less the offset's exact fee exactly at the maintenance left after the offset, so the
    pool is restored (the equity left equals the maintenance, which the trigger "below" does not breach) and
    only the offset happens. A fee rounded at 28 digits came out one money atom lower, and the check then
    expected a restored pool where the reference closed it, or the reverse. Every check now runs under a
    90-digit context, so a plain product there is not rounded to 28 digits."""
    from hedgespec.spec.observe import maintenance, money_up, mul

    fine = {"symbol": "FINEUSDT", "settle_asset": "USDT", "kind": "PERPETUAL", "tick_size": "0.00000001",
            "lot_size": "0.00000001", "maker_rate": "0.0002", "taker_rate": "0.0005",
            "brackets": [{"notional_floor": "0", "notional_cap": "0", "maintenance_rate": "0.02",
                          "maintenance_amount": "0", "max_leverage": "25"}]}
    rate, shared, breach = Decimal("0.01234567"), Decimal("20.19707539"), Decimal("50000.12345677")
    profile = variant(tmp_path, base=OFFSET, name="fine-fee", liquidation_clearance_fee_rate=(str(rate), "modelled"))

    def views(wallet: Decimal) -> list[StepView]:
        p = cross_params(profile, str(wallet), [fine], {"FINEUSDT": "58600"})
        return checked_steps(p, [market("l", "BUY", "LONG", str(shared + 10), "58600", "FINEUSDT"),
                                 market("s", "SELL", "SHORT", str(shared), "58600", "FINEUSDT"),
                                 mark(str(breach), "FINEUSDT")])

    fee = 2 * money_up(mul(shared, breach, rate))
    assert len(str(mul(shared, breach, rate)).replace(".", "")) > 28
    first = views(Decimal(120000))[2]
    equity = Decimal(next(e for e in first.outcome["events"] if e["type"] == "liquidation")["margin_balance"])
    wallet = Decimal(120000) + maintenance(fine, Decimal(10), breach) + fee - equity
    # checked_steps asserts that every check passes on every step: at the boundary the pool is restored, one
    # money atom below it (where a fee rounded at 28 digits, one atom low, still saw it restored) it is not
    assert quantities_of(views(wallet)[2], "FINEUSDT") == ("10", "0")
    assert quantities_of(views(wallet - Decimal("1e-16"))[2], "FINEUSDT") == ("0", "0")


def quantities_of(view: StepView, symbol: str) -> tuple[str, str]:
    legs = view.after["accounts"]["alice"]["positions"][symbol]
    return legs["LONG"]["quantity"], legs["SHORT"]["quantity"]


def test_an_instrument_without_a_mark_counts_at_its_entry_rounded_down() -> None:
    """ETHUSDT is never marked: its legs count, and are offset and closed, at their entry price rounded down
    to a price atom (3000.00333333 for a LONG bought at 3000.01 and 3000), as the reference values them; the
    check used the unrounded entry and, at the boundary, expected a restored pool the reference did not see."""
    eth = {"symbol": "ETHUSDT", "settle_asset": "USDT", "kind": "PERPETUAL", "tick_size": "0.01", "lot_size": "0.01",
           "maker_rate": "0.0002", "taker_rate": "0.0005",
           "brackets": [{"notional_floor": "0", "notional_cap": "0", "maintenance_rate": "0.005",
                         "maintenance_amount": "0", "max_leverage": "50"}]}
    btc = EXAMPLE["params"]["instruments"][0]
    actions = [market("e1", "BUY", "LONG", "0.01", "3000.01", "ETHUSDT"), market("e2", "BUY", "LONG", "0.02", "3000",
                                                                               "ETHUSDT"),
               market("e3", "SELL", "SHORT", "0.01", "3000", "ETHUSDT"), market("l", "BUY", "LONG", "0.3", "60000"),
               market("s", "SELL", "SHORT", "0.1", "60000"), mark("58000"), mark("55300")]
    from hedgespec.spec.observe import maintenance

    def breach(wallet: Decimal) -> StepView:
        p = cross_params(OFFSET, str(wallet), [btc, eth], {"BTCUSDT": "60000"}, leverage="50")
        return checked_steps(p, actions)[6]  # every check passes on every step

    first = breach(Decimal(1000))
    equity = Decimal(next(e for e in first.outcome["events"] if e["type"] == "liquidation")["margin_balance"])
    left = maintenance(btc, Decimal("0.2"), Decimal(55300)) + maintenance(eth, Decimal("0.02"), Decimal("3000.00333333"))
    boundary = Decimal(1000) + left - equity  # the equity after the offset exactly at the maintenance left
    restored, closed = breach(boundary), breach(boundary - Decimal("1e-16"))
    assert [(f[0], f[3]) for f in fills_of(restored, "ETHUSDT")] == [("LONG", "3000.00333333"), ("SHORT", "3000")]
    assert quantities_of(restored, "ETHUSDT") == ("0.02", "0") and quantities_of(closed, "ETHUSDT") == ("0", "0")


def fills_of(view: StepView, symbol: str) -> list[tuple[str, str, str, str]]:
    return [(e["position_side"], e["side"], e["quantity"], e["price"]) for e in view.outcome["events"]
            if e["type"] == "fill" and e["instrument"] == symbol]


def test_pool_liquidation_fills_away_from_the_mark_are_flagged() -> None:
    """The offset at mark -100 on the LONG and mark +100 on the SHORT moved 20 out of the wallet and no check
    said so; HM-LIQ-005 now judges every fill of the pool's liquidation at the mark (where the profile models
    the mark as the basis). Under a profile leaving the basis open it is not judged."""
    view = run(OFFSET)[7]
    outcome = copy.deepcopy(view.outcome)
    for e in outcome["events"]:
        if e["type"] == "fill":
            e["price"] = "55300" if e["position_side"] == "LONG" else "55500"
    found = violations(StepView(view.params, view.before, view.action, outcome, view.after))
    assert any("not at 55400" in v for v in found), found


def test_a_pool_liquidation_that_closes_an_isolated_leg_by_a_fill_is_flagged() -> None:
    """HM-LIQ-006 exempted a leg any event of the step names, and the wrongful liquidation fill names it."""
    p = copy.deepcopy({**EXAMPLE["params"], "profile": OFFSET})
    p["accounts"]["alice"]["leg_settings"] = {"BTCUSDT": {"LONG": {"margin_type": "CROSS", "leverage": "100"},
                                                          "SHORT": {"margin_type": "ISOLATED", "leverage": "100"}}}
    view = checked_steps(p, [*OPENS, mark("58000"), mark("57000")])[3]
    assert [e["position_side"] for e in view.outcome["events"] if e["type"] == "liquidation"] == ["CROSS"]
    outcome, after = copy.deepcopy(view.outcome), copy.deepcopy(view.after)
    outcome["events"].append({"type": "fill", "account": "alice", "order_id": "", "instrument": "BTCUSDT",
                              "side": "BUY", "position_side": "SHORT", "quantity": "0.1", "price": "57000",
                              "liquidity": "TAKER", "fee": "0", "realized_pnl": "300", "cause": "liquidation"})
    after["accounts"]["alice"]["positions"]["BTCUSDT"]["SHORT"]["quantity"] = "0"
    found = [str(v) for v in get("HM-LIQ-006").check(StepView(view.params, view.before, view.action, outcome, after))]
    assert any("SHORT (ISOLATED): a liquidation fill without a liquidation of its own leg" in v for v in found), found


def test_a_shared_price_whose_notional_passes_the_last_cap_is_null_not_a_crash() -> None:
    """The example's instrument caps its last bracket: a hedged pair with one leg twice the other has intervals
    beyond it, where HM-LIQ-007's solver looked for a bracket that does not exist and crashed."""
    p = copy.deepcopy({**EXAMPLE["params"], "profile": OFFSET})
    p["accounts"]["alice"]["leg_settings"] = {"BTCUSDT": {side: {"margin_type": "CROSS", "leverage": "100"}
                                                          for side in ("LONG", "SHORT")}}
    views = checked_steps(p, [market("l", "BUY", "LONG", "0.036", "60000"),
                              market("s", "SELL", "SHORT", "0.018", "60000")])
    assert [str(v) for v in get("HM-LIQ-007").check(views[-1])] == []
