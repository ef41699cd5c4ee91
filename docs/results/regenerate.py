"""Regenerate the committed conformance reports in docs/results (run from the project root).

    .venv/bin/python docs/results/regenerate.py [nautilus|nautilus-cross|js ...]

* ``nautilus``: nautilus_trader 1.221.0 through ``hedgespec.conformance.nautilus_adapter`` under the
  seed profile, built-in vectors included (the same as ``hedgespec conform --engine
  hedgespec.conformance.nautilus_adapter:make_adapter``).
* ``nautilus-cross``: the same engine under ``docs/results/profiles/seed-cross.json`` (the seed
  profile with CROSS as the default margin type), random differential run only: under the seed
  profile every case ends at its first step, where nautilus' single margin pool shows as CROSS.
* ``js``: the example engine ``conformance/engines/hedge_engine.js`` over JSON lines.

Each writes ``<name>.json`` (the report), ``<name>.report.md`` (its Markdown rendering) and the
shrunk failing cases under ``<name>-failures/``. Seed 0, 100 cases of 40 steps (the CLI defaults).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hedgespec.conformance import report as R
from hedgespec.conformance.runner import RunConfig, run
from hedgespec.spec import profiles

HERE = Path("docs/results")
CROSS_PROFILE = HERE / "profiles" / "seed-cross.json"


def _register_file_profile(path: Path) -> str:
    """Make a profile file loadable by its name as well (the rule checks look profiles up by the
    name the run parameters carry, which only resolves built-in profiles)."""
    profile = profiles.load_profile(str(path))
    profiles._CACHE[profile.name] = profile  # noqa: SLF001 - see the docstring
    return str(path)


def _write(name: str, factory: Callable[[], Any], config: RunConfig) -> dict[str, Any]:
    failures = HERE / f"{name}-failures"
    shutil.rmtree(failures, ignore_errors=True)
    config.failures_dir = failures
    result = run(factory, config)
    (HERE / f"{name}.json").write_text(R.to_json(result), encoding="utf-8")
    (HERE / f"{name}.report.md").write_text(R.to_markdown(result), encoding="utf-8")
    print(R.to_text(result).splitlines()[-1], f"({name})")
    return result


def nautilus(profile: str = "seed", name: str = "nautilus_trader", vectors: bool = True) -> None:
    from hedgespec.conformance.nautilus_adapter import make_adapter

    _write(name, lambda: make_adapter(profile),
           RunConfig(profile=profile, run_vectors=vectors, examples=100, steps=40,
                     engine_label="hedgespec.conformance.nautilus_adapter:make_adapter"))


def nautilus_cross() -> None:
    nautilus(_register_file_profile(CROSS_PROFILE), "nautilus_trader-seed-cross", vectors=False)


def js() -> None:
    from hedgespec.conformance.jsonl import JsonLinesAdapter

    node = shutil.which("node")
    if node is None:
        sys.exit("node is not installed")
    command = [node, "conformance/engines/hedge_engine.js"]
    _write("hedge_engine_js", lambda: JsonLinesAdapter(command),
           RunConfig(profile="seed", examples=100, steps=40, engine_label="node conformance/engines/hedge_engine.js"))


JOBS = {"nautilus": nautilus, "nautilus-cross": nautilus_cross, "js": js}

if __name__ == "__main__":
    for job in sys.argv[1:] or list(JOBS):
        JOBS[job]()
