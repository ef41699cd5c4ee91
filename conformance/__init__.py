"""hedgespec.conformance: check any engine against the rulebook.

* ``run(engine_factory, RunConfig(...))`` -> report (``hedgespec.conformance.runner``), rendered by
  ``hedgespec.conformance.report`` (text, JSON, JUnit XML, Markdown);
* ``JsonLinesAdapter(cmd, timeout)``: an engine in another process (protocol ``hedgespec-engine/1``);
* ``HedgeModeMachine.for_engine(factory, profile)``: the Hypothesis state machine as a TestCase;
* vectors: ``hedgespec.conformance.vectors`` (format), ``hedgespec.conformance.corpus`` (the corpus);
* the ``hedgespec conform`` and ``hedgespec vectors`` commands: ``hedgespec.conformance.cli``.

Names are imported lazily so that the pytest plugin, loaded in every pytest run, stays cheap.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "run": "hedgespec.conformance.runner",
    "RunConfig": "hedgespec.conformance.runner",
    "JsonLinesAdapter": "hedgespec.conformance.jsonl",
    "EngineFailure": "hedgespec.conformance.failures",
    "ReferenceAdapter": "hedgespec.conformance.adapter",
    "EngineAdapter": "hedgespec.conformance.adapter",
    "HedgeModeMachine": "hedgespec.conformance.machine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hedgespec.conformance' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
