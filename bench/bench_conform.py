"""Benchmark of ``hedgespec conform``: wall time on the reference, and time to the first failure.

    python bench/bench_conform.py            # everything
    python bench/bench_conform.py --quick    # fewer mutants, no subprocess run

1. **Default run on the reference**: ``hedgespec conform`` with its defaults (every vector of the
   seed profile, 100 random cases of 40 steps, rule checks on every step), timed as a
   subprocess including interpreter start. Target: 60 s or less on a 2-core machine.
2. **Time to the first failure per broken engine**: for each mutant of
   ``hedgespec.conformance.mutants`` the run is played in the default order (vectors, then random
   cases) and stopped at the first failure; in process for every mutant, over JSON lines
   (``python -m hedgespec.conformance.mutants NAME``) for a few. The median over mutants is
   reported.
3. **Detection by the random run alone** (no vectors), within the default budget of 100 cases:
   the share of mutants whose own rule fails, and the case at which it first does.

Wall-clock times vary with the machine; the counts (cases, detection) are deterministic.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from hedgespec.conformance import vectors as V
from hedgespec.conformance.jsonl import JsonLinesAdapter
from hedgespec.conformance.mutants import MUTANTS
from hedgespec.conformance.rulebook import load_rulebook
from hedgespec.conformance.runner import Engine, RunConfig, Runner
from hedgespec.conformance.world import mode_scopes

JSONL_MUTANTS = ("net-on-fill", "funding-on-net", "liquidate-both", "fee-hedge-discount")


def default_run_seconds() -> tuple[float, int]:
    """Wall time and exit status of ``hedgespec conform`` (defaults) on the reference, as a subprocess."""
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "hedgespec.conformance.cli", "conform", "--quiet"],
                                capture_output=True, text=True, check=False, cwd=scratch)
        return time.perf_counter() - started, result.returncode


def time_to_first_failure(factory: Any, rule_id: str | None = None, vectors: bool = True,
                          examples: int = 100) -> tuple[float | None, str]:
    """Seconds until the first failure (of ``rule_id`` when given) in the default order, and where."""
    book = load_rulebook()
    started = time.perf_counter()
    engine = Engine(factory())
    runner = Runner(engine, RunConfig(shrink_replays=0, max_examples=1), book)

    def found() -> bool:
        if rule_id is None:
            return bool(runner.failures) or any(v["status"] == "failed" for v in runner.vector_results)
        return runner.tally[rule_id].violations > 0 or runner.tally[rule_id].vectors_failed > 0

    try:
        if vectors:
            corpus = V.load_corpus(V.builtin_root() / "seed", "seed")
            current = {r.id: r.digest for r in book.rules}
            for vec in corpus.vectors:
                runner.vector_results.append(runner.run_vector(vec, current))
                if found():
                    return time.perf_counter() - started, f"vector {vec.path}"
        params = runner.params()
        scopes = mode_scopes(runner.profile, [i["symbol"] for i in params["instruments"]])
        for case in range(examples):
            runner._differential_case(case, params, scopes)
            if found():
                return time.perf_counter() - started, f"random case {case}"
        return None, "not found"
    finally:
        engine.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few mutants, no subprocess run")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"cpus": os.cpu_count()}
    mutants = MUTANTS[:6] if args.quick else MUTANTS

    if not args.quick:
        seconds, status = default_run_seconds()
        figures["default_run_seconds"] = round(seconds, 2)
        figures["default_run_exit_status"] = status
        print(f"hedgespec conform (defaults, reference): {seconds:.1f} s, exit status {status} "
              f"(target <= 60 s on 2 cores; this machine has {os.cpu_count()} CPUs)")

    in_process = {}
    for m in mutants:
        seconds, where = time_to_first_failure(lambda m=m: m.adapter("seed"))
        in_process[m.name] = {"seconds": None if seconds is None else round(seconds, 3), "where": where}
        print(f"  first failure  {m.name:28} {'-' if seconds is None else f'{seconds:6.2f} s'}  {where}")
    found = [v["seconds"] for v in in_process.values() if v["seconds"] is not None]
    figures["first_failure_in_process"] = in_process
    figures["median_first_failure_in_process_seconds"] = round(statistics.median(found), 3) if found else None
    print(f"median time to first failure, in process: {figures['median_first_failure_in_process_seconds']} s "
          f"({len(found)}/{len(mutants)} mutants)")

    over_jsonl = {}
    for name in JSONL_MUTANTS[:2] if args.quick else JSONL_MUTANTS:
        cmd = [sys.executable, "-m", "hedgespec.conformance.mutants", name]
        seconds, where = time_to_first_failure(lambda cmd=cmd: JsonLinesAdapter(cmd))
        over_jsonl[name] = {"seconds": None if seconds is None else round(seconds, 3), "where": where}
        print(f"  first failure over JSON lines  {name:24} {seconds or 0:6.2f} s  {where}")
    found = [v["seconds"] for v in over_jsonl.values() if v["seconds"] is not None]
    figures["first_failure_json_lines"] = over_jsonl
    figures["median_first_failure_json_lines_seconds"] = round(statistics.median(found), 3) if found else None
    print(f"median time to first failure, over JSON lines (with process start): "
          f"{figures['median_first_failure_json_lines_seconds']} s")

    detection = {}
    for m in mutants:
        seconds, where = time_to_first_failure(lambda m=m: m.adapter("seed"), m.rule_id, vectors=False)
        detection[m.name] = {"rule": m.rule_id, "caught": seconds is not None, "where": where,
                             "seconds": None if seconds is None else round(seconds, 3)}
    caught = sum(1 for d in detection.values() if d["caught"])
    figures["random_run_detection"] = detection
    figures["random_run_detection_rate"] = f"{caught}/{len(mutants)}"
    print(f"random run alone (no vectors, 100 cases of 40 steps) catches {caught}/{len(mutants)} mutants "
          "under their own rule")
    for name, d in detection.items():
        if not d["caught"]:
            print(f"  missed: {name} ({d['rule']})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2, sort_keys=True)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
