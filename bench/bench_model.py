"""Reference-model throughput on a hedged workload: actions per second, single core, and the top costs.

    .venv/bin/python bench/bench_model.py [--actions N] [--accounts K] [--runs R] [--top T] [--json] [--bytecodes]
                                          [--instructions]

The workload: K accounts in hedge mode on one BTCUSDT-like perpetual (half of them cross margined)
and a series of dated contracts traded one at a time (the front), isolated at 100x leverage.
Each round opens both legs by market orders, rests opening limit orders on both legs that market
trades fill, places a stop on the LONG leg and a take-profit and a trailing stop on the SHORT leg,
steps the mark price (a bounded random walk that triggers some conditional orders), pays funding,
closes half of each leg (sized from the state) and cancels about half of what is left open. On the
front dated contract every account also opens both legs, its mark takes a wider walk that
liquidates some of them, and every ``ROLL`` rounds it expires at its mark (every leg settled) and
the next contract becomes the front, its leverage set first. The
stream is built once (by running the model, so that closes fit the legs) and pre-parsed; the timed
part is only ``step`` over the parsed actions, from a fresh initial state each run. The figure is the
median over R runs; extra runs give the cost per action kind and a cProfile listing, and with
``--bytecodes`` the bytecode instructions per action (deterministic, for comparing versions on a
shared machine where seconds are noisy). ``--instructions`` counts the machine instructions per
action under valgrind's callgrind (two processes, with 0 and 2 timed runs: the difference is the
stepping alone), which includes the time spent in C that bytecodes leave out; it needs valgrind.

It times the model that is installed: the interpreted one, or the compiled build (``HEDGESPEC_COMPILE=1``,
setup.py), as the first line says. Target: >= 100,000 actions/s on one core of the CI machine the
target was set on, where a bare frozen-dataclass integer step runs about 400,000 steps/s. The
benchmark also times that bare step here (``--no-calibration`` skips it) and scales the model's figure
to that machine: the model's rate x 400,000 / the bare step's rate here. "A bare step" is read two
ways, a new instance built by the constructor or by ``dataclasses.replace``; the scaled figure is
given for both. The target's second yardstick, a compiled engine stepped one event at a time (about
17,000 events/s there), is timed too when the ``nautilus`` extra is installed: nautilus_trader's
``BacktestEngine`` handed one quote tick per run, and the model's figure scaled by it as well.
The benchmark prints figures; it asserts nothing about time. (The scaled figures read "there" as a
machine 3 to 6 times slower than the 2-core machines CI runs on today, where ``.ci/run`` takes as
long as on a development machine of the same kind; the unscaled figure is the one for those.)
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from hedgespec.model import BUILD as MODEL_BUILD
from hedgespec.model import initial_state, step
from hedgespec.model.codec import action_from_json, format_units
from hedgespec.model.state import State

SYMBOL = "BTCUSDT"
TICK = 10_000_000  # 0.1 in PRICE atoms
LOT = 100_000  # 0.001 in QTY atoms
CENTRE = 60_000 * 10**8
TARGET = 100_000
BARE_STEP_THERE = 400_000  # bare frozen-dataclass integer steps per second on the target's CI machine
COMPILED_STEP_THERE = 17_000  # events per second of a compiled engine stepped one at a time, there

INSTRUMENT: dict[str, Any] = {
    "symbol": SYMBOL, "settle_asset": "USDT", "kind": "PERPETUAL", "tick_size": "0.1", "lot_size": "0.001",
    "maker_rate": "0.0002", "taker_rate": "0.0005",
    "brackets": [
        {"notional_floor": "0", "notional_cap": "50000", "maintenance_rate": "0.004", "maintenance_amount": "0",
         "max_leverage": "125"},
        {"notional_floor": "50000", "notional_cap": "250000", "maintenance_rate": "0.005",
         "maintenance_amount": "50", "max_leverage": "100"},
        {"notional_floor": "250000", "notional_cap": "3000000", "maintenance_rate": "0.01",
         "maintenance_amount": "1300", "max_leverage": "50"},
    ],
}


ROLL = 30  # rounds between two expiries of the front dated contract
ROUND_ACTIONS = 70  # about how many actions one round of four accounts takes


def dated_symbol(n: int) -> str:
    return f"{SYMBOL}-D{n}"


def dated_count(actions: int) -> int:
    """How many dated contracts a stream of ``actions`` rolls through (one spare)."""
    return actions // (ROLL * ROUND_ACTIONS) + 2


def params(accounts: int, dated: int) -> dict[str, Any]:
    contracts = [{**INSTRUMENT, "symbol": dated_symbol(n), "kind": "DATED"} for n in range(dated)]
    return {
        "instruments": [INSTRUMENT, *contracts],
        "accounts": {f"acct{i}": {"wallet": "1000000", "position_mode": {"*": "HEDGE"}} for i in range(accounts)},
        "mark_prices": {SYMBOL: "60000", **{c["symbol"]: "60000" for c in contracts}},
        "last_prices": {SYMBOL: "60000"},
    }


def price(atoms: int) -> str:
    return format_units(atoms - atoms % TICK, "price")


def qty(atoms: int) -> str:
    return format_units(atoms, "qty")


class Workload:
    """Builds the action stream while running the model, so that closing orders fit their legs."""

    def __init__(self, accounts: int, seed: int, actions: int) -> None:
        self.rng = random.Random(seed)
        self.actions = actions
        self.dated = dated_count(actions)
        self.params = params(accounts, self.dated)
        self.ids = sorted(self.params["accounts"])
        self.state: State = initial_state(self.params)
        self.mark = CENTRE
        self.front = 0  # the dated contract traded now
        self.front_mark = CENTRE
        self.rounds = 0
        self.raw: list[dict[str, Any]] = []
        self.serial = 0

    def add(self, kind: str, **fields: Any) -> None:
        raw = {"t": len(self.raw), "kind": kind, **fields}
        _, self.state = step(self.state, action_from_json(raw, "bench"))
        self.raw.append(raw)

    def order(self, account: str, side: str, position_side: str, order_type: str, quantity: int,
              instrument: str = SYMBOL, **extra: Any) -> None:
        self.serial += 1
        self.add("place_order", account=account, order_id=f"o{self.serial}", instrument=instrument, side=side,
                 position_side=position_side, order_type=order_type, quantity=qty(quantity), **extra)

    def leg(self, account: str, side: str) -> int:
        return abs(self.state.accounts[account].leg(SYMBOL, side).quantity)

    def open_front(self) -> None:
        """Leverage 100 on both legs of the new front contract, for every account."""
        for account in self.ids:
            for side in ("LONG", "SHORT"):
                self.add("set_leverage", account=account, instrument=dated_symbol(self.front), position_side=side,
                         leverage="100")

    def trade_front(self) -> None:
        """Both legs opened on the front contract, then a mark step of up to 0.5% (liquidates some legs)."""
        symbol = dated_symbol(self.front)
        for account in self.ids:
            size = self.rng.randint(1, 5) * LOT
            self.order(account, "BUY", "LONG", "MARKET", size, symbol, price=price(self.front_mark))
            self.order(account, "SELL", "SHORT", "MARKET", size, symbol, price=price(self.front_mark))
        self.front_mark += (CENTRE - self.front_mark) // 20 + self.rng.randint(-3000, 3000) * TICK
        self.add("mark_price", instrument=symbol, price=price(self.front_mark))

    def roll(self) -> None:
        """Expire the front contract at its mark; the next one becomes the front."""
        if self.front + 1 >= self.dated:
            return
        self.add("expire", instrument=dated_symbol(self.front), settlement_price=price(self.front_mark))
        self.front += 1
        self.front_mark = CENTRE
        self.open_front()

    def walk(self) -> None:
        """A mark-price step: +-0.15% at most, pulled back toward 60000 (no liquidations)."""
        drift = (CENTRE - self.mark) // 50
        self.mark += drift + self.rng.randint(-900, 900) * TICK
        self.add("mark_price", instrument=SYMBOL, price=price(self.mark))

    def setup(self) -> None:
        for account in self.ids[::2]:
            for side in ("LONG", "SHORT"):
                self.add("set_margin_type", account=account, instrument=SYMBOL, position_side=side,
                         margin_type="CROSS")
        self.open_front()

    def round(self) -> None:
        rng, mark = self.rng, self.mark
        for account in self.ids:
            size = rng.randint(5, 20) * LOT
            self.order(account, "BUY", "LONG", "MARKET", size, price=price(mark))
            self.order(account, "SELL", "SHORT", "MARKET", size, price=price(mark))
            self.order(account, "BUY", "LONG", "LIMIT", size // 2 // LOT * LOT, price=price(mark - 40 * TICK))
            self.order(account, "SELL", "SHORT", "LIMIT", size // 2 // LOT * LOT, price=price(mark + 40 * TICK))
            half = max(LOT, self.leg(account, "LONG") // 2 // LOT * LOT)
            self.order(account, "SELL", "LONG", "STOP_MARKET", half, stop_price=price(mark - 2500 * TICK))
            self.order(account, "BUY", "SHORT", "TAKE_PROFIT_MARKET", half, stop_price=price(mark - 2000 * TICK))
            self.order(account, "BUY", "SHORT", "TRAILING_STOP_MARKET", half, callback_rate="0.004")
        for _ in range(4):
            self.walk()
        self.trade_front()
        self.add("market_trade", instrument=SYMBOL, price=price(self.mark - 50 * TICK), quantity=qty(100 * LOT))
        self.add("market_trade", instrument=SYMBOL, price=price(self.mark + 50 * TICK), quantity=qty(100 * LOT))
        self.add("funding", instrument=SYMBOL, rate=format_units(rng.randint(-20, 20) * 500, "rate"))
        for account in self.ids:
            for side, closing in (("LONG", "SELL"), ("SHORT", "BUY")):
                held = self.leg(account, side)
                if held >= 2 * LOT:
                    self.order(account, closing, side, "MARKET", held // 2 // LOT * LOT, price=price(self.mark))
            for order_id in sorted(self.state.accounts[account].orders):
                if rng.random() < 0.5:
                    self.add("cancel_order", account=account, order_id=order_id)
        self.rounds += 1
        if self.rounds % ROLL == 0:
            self.roll()

    def build(self) -> list[dict[str, Any]]:
        self.setup()
        while len(self.raw) < self.actions:
            self.round()
        return self.raw[:self.actions]


def run_once(start: State, actions: list[Any]) -> tuple[float, float, Counter[str]]:
    """(wall seconds, CPU seconds of this process, outcome kinds) of one run."""
    kinds: Counter[str] = Counter()
    state = start
    wall, cpu = time.perf_counter(), time.process_time()
    for action in actions:
        outcome, state = step(state, action)
        kinds[outcome.kind] += 1
    return time.perf_counter() - wall, time.process_time() - cpu, kinds


@dataclasses.dataclass(frozen=True)
class BareState:
    """The calibration's state: two integers in a frozen dataclass."""

    balance: int
    count: int


def bare_step_rate(steps: int = 200_000, runs: int = 5) -> dict[str, int]:
    """Bare frozen-dataclass integer steps per second here, best of ``runs``: a new instance by the
    constructor, and by ``dataclasses.replace``."""

    def by_constructor(state: BareState, amount: int) -> BareState:
        return BareState(state.balance + amount, state.count + 1)

    def by_replace(state: BareState, amount: int) -> BareState:
        return dataclasses.replace(state, balance=state.balance + amount, count=state.count + 1)

    amounts = list(range(steps))
    rates = {}
    for name, bare_step in (("constructor", by_constructor), ("replace", by_replace)):
        best = float("inf")
        for _ in range(runs):
            state = BareState(0, 0)
            began = time.perf_counter()
            for amount in amounts:
                state = bare_step(state, amount)
            best = min(best, time.perf_counter() - began)
        rates[name] = round(steps / best)
    return rates


def compiled_engine_step_rate(steps: int = 5_000, runs: int = 3) -> int | None:
    """The target's other yardstick, "a compiled engine stepped one event at a time" (about 17,000/s
    on the target's machine): nautilus_trader's ``BacktestEngine`` (Rust and Cython) on one hedging
    venue, handed one quote tick per ``run(streaming=True)``; events per second here, best of
    ``runs``. None when the ``nautilus`` extra is not installed."""
    from hedgespec.conformance import nautilus_adapter

    if not nautilus_adapter.available():
        return None
    from nautilus_trader.model.data import QuoteTick
    from nautilus_trader.model.objects import Price, Quantity

    venue = nautilus_adapter._Venue("A", "HEDGE", Decimal(100_000), [INSTRUMENT], 10, {SYMBOL: Decimal(60_000)})
    try:
        instrument = venue.instruments[SYMBOL]
        size = Quantity(Decimal(1_000), instrument.size_precision)
        engine, best, ts = venue.engine, 0.0, 10**9
        for _ in range(runs):
            ticks = []
            for n in range(steps):
                ts += 1
                price = Price(Decimal(60_000 + n % 50), instrument.price_precision)
                ticks.append(QuoteTick(instrument.id, price, price, size, size, ts, ts))
            began = time.perf_counter()
            for tick in ticks:
                engine.add_data([tick])
                engine.run(streaming=True)
                engine.clear_data()
            best = max(best, steps / (time.perf_counter() - began))
        return round(best)
    finally:
        venue.close()


def cost_by_kind(start: State, actions: list[Any], raw: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean microseconds per action and share of the total, per action kind (one extra run)."""
    spent: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    clock = time.perf_counter
    state = start
    for action, source in zip(actions, raw, strict=True):
        began = clock()
        _, state = step(state, action)
        spent[source["kind"]] += clock() - began
        counts[source["kind"]] += 1
    total = sum(spent.values())
    return {kind: {"mean_us": round(spent[kind] / counts[kind] * 1e6, 1), "share": round(spent[kind] / total, 3)}
            for kind, _ in spent.most_common()}


def bytecode_count(start: State, actions: list[Any], raw: list[dict[str, Any]]) -> dict[str, Any]:
    """Python bytecode instructions and function calls per action (one extra, traced run).

    Unlike seconds, these counts are the same on every run and every machine load, so they compare
    two versions of the model on a shared machine; they leave out time spent inside C (dict copies,
    allocation), so they complement the timed figure and never replace it.
    """
    counts = {"ops": 0, "calls": 0}

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if event == "call":
            counts["calls"] += 1
            frame.f_trace_lines = False
            frame.f_trace_opcodes = True
        elif event == "opcode":
            counts["ops"] += 1
        return tracer

    per_kind: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    state = start
    for action, source in zip(actions, raw, strict=True):
        before = counts["ops"]
        sys.settrace(tracer)
        try:
            _, state = step(state, action)
        finally:
            sys.settrace(None)
        per_kind[source["kind"]] += counts["ops"] - before
        seen[source["kind"]] += 1
    return {"ops_per_action": round(counts["ops"] / len(actions)),
            "calls_per_action": round(counts["calls"] / len(actions), 1),
            "ops_by_kind": {kind: round(per_kind[kind] / seen[kind]) for kind, _ in seen.most_common()}}


def machine_instructions(actions: int, accounts: int, seed: int) -> dict[str, Any]:
    """Machine instructions per action, from two callgrind runs of this script (0 and 2 timed runs), with
    PYTHONHASHSEED=0 so that the count is the same on every run."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"error": "valgrind is not installed"}
    collected = []
    for runs in (0, 2):
        done = subprocess.run(
            [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
             "--only-runs", str(runs), "--actions", str(actions), "--accounts", str(accounts), "--seed", str(seed)],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONHASHSEED": "0"})  # string hashes move dict probing: one seed, one count
        found = re.findall(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or not found:
            return {"error": f"callgrind failed (exit {done.returncode}): {done.stderr.strip()[-200:]}"}
        collected.append(int(found[-1]))
    return {"per_action": round((collected[1] - collected[0]) / (2 * actions))}


def profile_once(start: State, actions: list[Any], top: int) -> tuple[str, list[dict[str, Any]]]:
    profiler = cProfile.Profile()
    profiler.enable()
    run_once(start, actions)
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream).strip_dirs()
    stream.write("by own time:\n")
    stats.sort_stats("tottime").print_stats(top)
    stream.write("by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(top)
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in sorted(
            stats.stats.items(), key=lambda item: -item[1][2])[:top]:  # type: ignore[attr-defined]
        rows.append({"function": f"{filename}:{line}({name})", "calls": calls, "tottime_s": round(tottime, 4),
                     "cumtime_s": round(cumtime, 4)})
    return stream.getvalue(), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=20_000, help="actions per run (default %(default)s)")
    parser.add_argument("--accounts", type=int, default=4, help="accounts (default %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs; the median is reported")
    parser.add_argument("--top", type=int, default=15, help="functions listed from the profile")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--bytecodes", action="store_true",
                        help="also count bytecode instructions per action (deterministic; one slow traced run)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count machine instructions per action under callgrind (needs valgrind; slow)")
    parser.add_argument("--no-calibration", action="store_true",
                        help="skip timing the bare frozen-dataclass step (the scaled figure is then not given)")
    parser.add_argument("--only-runs", type=int, default=None, help=argparse.SUPPRESS)  # callgrind's inner runs
    args = parser.parse_args(argv)

    workload = Workload(args.accounts, args.seed, args.actions)
    raw = workload.build()
    actions = [action_from_json(a, f"action {i}") for i, a in enumerate(raw)]
    start = initial_state(workload.params)
    if args.only_runs is not None:
        for _ in range(args.only_runs):
            run_once(start, actions)
        return 0
    timings, cpu_timings, kinds = [], [], Counter[str]()
    for _ in range(args.runs):
        seconds, cpu_seconds, kinds = run_once(start, actions)
        timings.append(seconds)
        cpu_timings.append(cpu_seconds)
    median = statistics.median(timings)
    rate = len(actions) / median
    cpu_rate = len(actions) / statistics.median(cpu_timings)
    by_kind = cost_by_kind(start, actions, raw)
    text, rows = profile_once(start, actions, args.top)
    bytecodes = bytecode_count(start, actions, raw) if args.bytecodes else None
    instructions = machine_instructions(len(actions), args.accounts, args.seed) if args.instructions else None
    mix = Counter(a["kind"] for a in raw)
    calibration = None
    if not args.no_calibration:
        bare = bare_step_rate()
        scaled = {name: round(rate * BARE_STEP_THERE / per_second) for name, per_second in bare.items()}
        compiled = compiled_engine_step_rate()
        if compiled:
            scaled["compiled_engine"] = round(rate * COMPILED_STEP_THERE / compiled)
        calibration = {"bare_steps_per_second": bare, "bare_steps_per_second_there": BARE_STEP_THERE,
                       "compiled_engine_steps_per_second": compiled,
                       "compiled_engine_steps_per_second_there": COMPILED_STEP_THERE,
                       "scaled_actions_per_second": scaled}
    result = {
        "actions": len(actions), "accounts": args.accounts, "runs": args.runs,
        "median_seconds": round(median, 4), "actions_per_second": round(rate),
        "best_actions_per_second": round(len(actions) / min(timings)),
        "cpu_actions_per_second": round(cpu_rate), "target": TARGET,
        "meets_target": rate >= TARGET, "outcomes": dict(kinds), "action_mix": dict(mix),
        "python": platform.python_version(), "model_build": MODEL_BUILD, "cost_by_kind": by_kind, "top_costs": rows,
        "bytecodes": bytecodes, "machine_instructions": instructions, "calibration": calibration,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"hedgespec.model throughput, python {result['python']}, model {result['model_build']}, single core")
    print(f"  workload: {len(actions)} actions, {args.accounts} accounts; mix "
          + ", ".join(f"{k} {n}" for k, n in mix.most_common()))
    print("  outcomes: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    print(f"  median of {args.runs} runs: {median:.3f} s = {rate:,.0f} actions/s "
          f"(best {result['best_actions_per_second']:,}/s; per CPU second {cpu_rate:,.0f}/s; target {TARGET:,}/s: "
          f"{'met' if result['meets_target'] else 'NOT met'})")
    if calibration:
        bare, scaled = calibration["bare_steps_per_second"], calibration["scaled_actions_per_second"]
        print(f"  calibration: a bare frozen-dataclass integer step runs {bare['constructor']:,}/s here by the "
              f"constructor, {bare['replace']:,}/s by dataclasses.replace ({BARE_STEP_THERE:,}/s on the target's "
              f"machine); the model scaled to that machine: {scaled['constructor']:,} or {scaled['replace']:,} "
              f"actions/s (target {TARGET:,}: {'met' if min(scaled.values()) >= TARGET else 'NOT met'})")
        compiled = calibration["compiled_engine_steps_per_second"]
        if compiled:
            print(f"  calibration: nautilus_trader's BacktestEngine stepped one event at a time runs {compiled:,}/s "
                  f"here ({COMPILED_STEP_THERE:,}/s there); the model scaled by it: "
                  f"{scaled['compiled_engine']:,} actions/s")
        else:
            print("  calibration: the compiled-engine yardstick needs the nautilus extra (pip install -e '.[nautilus]')")
    print("  cost by action kind: " + ", ".join(f"{k} {v['mean_us']} us ({v['share']:.0%})"
                                              for k, v in by_kind.items()))
    if bytecodes:
        print(f"  bytecode instructions: {bytecodes['ops_per_action']:,} per action, "
              f"{bytecodes['calls_per_action']} Python calls per action; by kind "
              + ", ".join(f"{k} {n:,}" for k, n in bytecodes["ops_by_kind"].items()))
    if instructions:
        print("  machine instructions (callgrind): " + (f"{instructions['per_action']:,} per action"
                                                     if "per_action" in instructions else instructions["error"]))
    print(f"\ntop {args.top} costs (cProfile, one extra run; profiling slows the run down):")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
