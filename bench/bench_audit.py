"""Audit throughput and memory against merely parsing the same trace with the standard json module.

    .venv/bin/python bench/bench_audit.py [--sizes 1000000 5000000] [--repeat 3] [--data-dir DIR]

For each size, a clean synthetic hedge-mode trace (``hedgespec.audit.synth``) is written once (kept in
``--data-dir`` for later runs). Each measurement runs in a fresh Python process, reading the file
line by line from disk:

* ``json``: ``json.loads`` on every line, nothing else (the baseline);
* ``audit``: ``hedgespec.audit.engine.audit_file`` with the seed profile (decode the plain records
  into typed structs with msgspec, anything else with orjson; validate, replay, decide), i.e. what
  ``hedgespec audit`` does minus rendering.

Throughput is the best of ``--repeat`` interleaved runs (the machine may be shared), by CPU time of
the child process (wall-clock figures are printed too); peak memory is the child's maximum resident
set size. Target: audit >= 50 % of json-parse-only records/s, and peak
memory flat from 1M to 5M records.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD_JSON = """
import json, resource, sys, time
start, cpu = time.perf_counter(), time.process_time()
n = 0
with open(sys.argv[1], "rb") as stream:
    for line in stream:
        json.loads(line)
        n += 1
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"records": n, "seconds": elapsed, "cpu": cpu, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

CHILD_AUDIT = """
import json, resource, sys, time
from hedgespec.audit.engine import audit_file
from hedgespec.spec.profiles import load_profile
profile = load_profile("seed")
start, cpu = time.perf_counter(), time.process_time()
result = audit_file(sys.argv[1], profile)
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"records": result.summary["records_read"], "seconds": elapsed, "cpu": cpu,
                  "findings": result.summary["findings"], "rejected": result.summary["records_rejected"],
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

CHILD_BASELINE_RSS = """
import json, resource
from hedgespec.audit import engine  # imports only
from hedgespec.spec.profiles import load_profile
load_profile("seed")
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def make_trace(path: Path, size: int, other_share: float = 0.12) -> None:
    from hedgespec.audit.synth import synthesize
    from hedgespec.audit.trace import dumps

    tmp = path.with_suffix(".partial")
    start = time.perf_counter()
    with tmp.open("w", encoding="utf-8") as out:
        for record in synthesize(size, seed=7, other_share=other_share):
            out.write(dumps(record) + "\n")
    tmp.rename(path)
    print(f"  wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s",
          flush=True)


def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "hedgespec-bench"))
    parser.add_argument("--json", action="store_true", help="print the results as JSON as well")
    parser.add_argument("--other-share", type=float, default=0.12,
                        help="chance that a step is a funding time or a snapshot rather than a fill (default "
                             "%(default)s: about 28 %% of the records are not fills; venue exports are mostly fills)")
    args = parser.parse_args()
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    base = child(CHILD_BASELINE_RSS)["maxrss_kb"]
    print(f"interpreter + hedgespec imported: {base / 1024:.1f} MB resident; load average {os.getloadavg()}")
    results = []
    for size in args.sizes:
        suffix = "" if args.other_share == 0.12 else f"-other{args.other_share}"
        path = data / f"trace-{size}{suffix}.jsonl"
        if not path.exists():
            make_trace(path, size, args.other_share)
        best_json = best_audit = None
        for _ in range(args.repeat):
            j = child(CHILD_JSON, str(path))
            a = child(CHILD_AUDIT, str(path))
            if best_json is None or j["cpu"] < best_json["cpu"]:
                best_json = j
            if best_audit is None or a["cpu"] < best_audit["cpu"]:
                best_audit = a
        assert best_json and best_audit
        row = {
            "records": best_audit["records"],
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "json_parse_records_per_s": round(best_json["records"] / best_json["cpu"]),
            "audit_records_per_s": round(best_audit["records"] / best_audit["cpu"]),
            "audit_vs_parse": round(best_json["cpu"] / best_audit["cpu"], 3),
            "wall_json_records_per_s": round(best_json["records"] / best_json["seconds"]),
            "wall_audit_records_per_s": round(best_audit["records"] / best_audit["seconds"]),
            "audit_peak_rss_mb": round(best_audit["maxrss_kb"] / 1024, 1),
            "json_peak_rss_mb": round(best_json["maxrss_kb"] / 1024, 1),
            "findings": best_audit["findings"],
            "rejected": best_audit["rejected"],
        }
        results.append(row)
        print(f"{row['records']:>9} records ({row['file_mb']} MB): json parse {row['json_parse_records_per_s']:>8} rec/s, "
              f"audit {row['audit_records_per_s']:>8} rec/s = {row['audit_vs_parse']:.0%} of parse-only (CPU time; "
              f"wall {row['wall_json_records_per_s']} vs {row['wall_audit_records_per_s']}); "
              f"audit peak RSS {row['audit_peak_rss_mb']} MB (json loop {row['json_peak_rss_mb']} MB); "
              f"findings {row['findings']}, rejected {row['rejected']}", flush=True)
    if len(results) > 1:
        growth = results[-1]["audit_peak_rss_mb"] - results[0]["audit_peak_rss_mb"]
        print(f"peak RSS change from {results[0]['records']} to {results[-1]['records']} records: {growth:+.1f} MB")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
