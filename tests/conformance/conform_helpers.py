"""Shared helpers for the conformance tests: the faulty engines and small run configurations."""

from __future__ import annotations

import sys
from pathlib import Path

from hedgespec.conformance.runner import RunConfig

ENGINES = Path(__file__).parent / "engines"


def engine_cmd(script: str) -> list[str]:
    """The command line of one of the faulty engines in tests/conformance/engines."""
    return [sys.executable, str(ENGINES / script)]


def small(**changes: object) -> RunConfig:
    """A quick run: no vectors unless asked, a few short random cases."""
    base: dict[str, object] = {"examples": 4, "steps": 12, "run_vectors": False, "shrink_replays": 30}
    base.update(changes)
    return RunConfig(**base)  # type: ignore[arg-type]
