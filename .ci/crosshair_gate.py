#!/usr/bin/env python3
"""CrossHair gate: the model's single-step kernels are proved against their PEP 316 contracts.

    python .ci/crosshair_gate.py                 # the gate (exit 0 = every listed condition confirmed)
    python .ci/crosshair_gate.py --write         # print the list of confirmed conditions (to review
                                                 # and copy into spec/proved.txt; never written blindly)

Runs ``crosshair check --analysis_kind=PEP316 --report_all --per_condition_timeout=N`` on the
kernel modules and compares what it reports with ``spec/proved.txt``: every condition listed there
must be reported "Confirmed over all paths". The gate fails (exit 1) when a listed condition is not
confirmed (it changed, disappeared, or CrossHair could not exhaust its paths), when CrossHair
reports any counterexample or error in the checked modules, or when the whole run exceeds its time
budget. Conditions are named by text, not line number:
``<module>:<function>: post: <expression>``, so unrelated edits that move lines do not break it.

CrossHair's ``--per_condition_timeout`` counts CPU seconds; the whole run is also capped in wall
time (``--timeout``, default 480 s) so the gate stays within 10 minutes on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hedgespec.spec.proofs import parse_proved, split_comment

ROOT = Path(__file__).resolve().parent.parent
PROVED = ROOT / "spec" / "proved.txt"

MODULES = (
    "hedgespec.model.positions",
    "hedgespec.model.fees",
    "hedgespec.model.funding",
    "hedgespec.model.margin",
    "hedgespec.model.mode",
    "hedgespec.model.liquidation",
    "hedgespec.model.orders",
)
PER_CONDITION_TIMEOUT = 40.0  # CPU s; the slowest condition needs a few seconds (fund_pair: ~10 s for all four)
TOTAL_TIMEOUT = 480.0

CONFIRMED = "Confirmed over all paths."
REPORT_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+): (?P<level>\w+): (?P<message>.*)$")
CONDITION = re.compile(r"^\s*(?P<kind>pre|post)\s*:\s*(?P<expr>.*?)\s*$")
RULE_IDS = re.compile(r"HM-[A-Z]{2,5}-\d{3}")


@dataclass(frozen=True)
class Report:
    """One line of CrossHair output, resolved to a named condition when it points at one."""

    path: str
    line: int
    level: str  # info / error / warning
    message: str
    condition: str | None  # "<module>:<function>: post: <expr>", None if not a contract line
    rule_ids: tuple[str, ...]

    @property
    def confirmed(self) -> bool:
        return self.level == "info" and self.message.strip() == CONFIRMED

    @property
    def counterexample(self) -> bool:
        return self.level == "error"


def _docstring_owners(path: Path) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function docstring in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    owners: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                body = child.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                        and isinstance(body[0].value.value, str):
                    doc = body[0].value
                    owners.append((doc.lineno, doc.end_lineno or doc.lineno, f"{prefix}{child.name}"))
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return owners


def condition_at(module: str, path: Path, line: int) -> tuple[str | None, tuple[str, ...]]:
    """The named condition written at ``line`` of ``path`` (a module of ``module``) and its rule IDs."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not 1 <= line <= len(lines):
        return None, ()
    match = CONDITION.match(lines[line - 1])
    if match is None:
        return None, ()
    for first, last, name in _docstring_owners(path):
        if first <= line <= last:
            expr, comment = split_comment(match.group("expr"))
            return f"{module}:{name}: {match.group('kind')}: {expr}", tuple(RULE_IDS.findall(comment))
    return None, ()


def module_paths(modules: tuple[str, ...] | list[str]) -> dict[Path, str]:
    """Source file -> module name for the modules (or ``.py`` files) to check."""
    paths: dict[Path, str] = {}
    for target in modules:
        if target.endswith(".py"):
            path = Path(target).resolve()
            paths[path] = path.stem
        else:
            mod = importlib.import_module(target)
            paths[Path(mod.__file__ or "").resolve()] = target
    return paths


def run_crosshair(targets: list[str], per_condition_timeout: float = PER_CONDITION_TIMEOUT,
                  total_timeout: float = TOTAL_TIMEOUT, cwd: Path | None = None) -> tuple[list[Report], str, bool]:
    """Run ``crosshair check`` (PEP 316, report all) on ``targets``: (reports, raw output, timed out)."""
    command = [sys.executable, "-m", "crosshair", "check", "--analysis_kind=PEP316", "--report_all",
               f"--per_condition_timeout={per_condition_timeout}", *targets]
    timed_out = False
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=total_timeout, cwd=cwd,
                              stdin=subprocess.DEVNULL)
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        timed_out = True
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    paths = module_paths(targets)
    reports = []
    for raw in output.splitlines():
        match = REPORT_LINE.match(raw.strip())
        if match is None:
            continue
        path = Path(match.group("path")).resolve()
        line = int(match.group("line"))
        module = paths.get(path)
        name, ids = condition_at(module, path, line) if module and path.exists() else (None, ())
        reports.append(Report(str(path), line, match.group("level"), match.group("message"), name, ids))
    return reports, output, timed_out


def read_proved(path: Path = PROVED) -> list[tuple[str, tuple[str, ...]]]:
    """The listed conditions: (condition name, rule IDs), in file order."""
    return parse_proved(path.read_text(encoding="utf-8"))


def proved_line(report: Report) -> str:
    return f"{report.condition}  # {' '.join(report.rule_ids)}".rstrip(" #")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", default=list(MODULES), help="modules or .py files to check")
    parser.add_argument("--proved", type=Path, default=PROVED, help="the list of conditions that must be confirmed")
    parser.add_argument("--per-condition-timeout", type=float, default=PER_CONDITION_TIMEOUT)
    parser.add_argument("--timeout", type=float, default=TOTAL_TIMEOUT, help="wall-clock cap of the whole run")
    parser.add_argument("--write", action="store_true", help="print the confirmed conditions in proved.txt form")
    args = parser.parse_args(argv)

    start = time.monotonic()
    reports, output, timed_out = run_crosshair(args.targets, args.per_condition_timeout, args.timeout)
    took = time.monotonic() - start
    confirmed = {r.condition for r in reports if r.confirmed and r.condition}
    if args.write:
        for report in reports:
            if report.confirmed and report.condition:
                print(proved_line(report))
        return 0

    problems: list[str] = []
    if timed_out:
        problems.append(f"CrossHair did not finish within {args.timeout:.0f} s")
    for report in reports:
        if report.counterexample:
            problems.append(f"counterexample/error: {report.path}:{report.line}: {report.message}"
                            + (f"\n    condition: {report.condition}" if report.condition else ""))
    listed = read_proved(args.proved)
    for name, ids in listed:
        if name not in confirmed:
            problems.append(f"not confirmed: {name}  ({' '.join(ids) or 'no rule ID'})")
    unlisted = sorted(c for c in confirmed if c not in {n for n, _ in listed})

    print(f"CrossHair gate: {len(reports)} reports in {took:.1f} s (per-condition timeout "
          f"{args.per_condition_timeout:g} CPU s); {len(listed)} listed conditions, "
          f"{len(listed) - sum(1 for n, _ in listed if n not in confirmed)} confirmed")
    for name in unlisted:
        print(f"note: confirmed but not listed in {args.proved.name}: {name}")
    if problems:
        print("CrossHair output:\n" + output.rstrip())
        print("\nFAILED:")
        for problem in problems:
            print("  " + problem)
        return 1
    print("ok: every listed condition is confirmed over all paths; no counterexample")
    return 0


if __name__ == "__main__":
    sys.exit(main())
