"""Engines that raise, hang, reply malformed or die: each step fails with its reason, the run completes.

Policy (docs/formats/protocol.md): the step is an engine failure with the reason; the engine is
restarted for the next case; after ``max_engine_failures`` the remaining cases are not run, and
the report is written either way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conform_helpers import engine_cmd, small
from hedgespec.conformance import report as R
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.failures import EngineFailure
from hedgespec.conformance.jsonl import JsonLinesAdapter
from hedgespec.conformance.runner import run

CASES = [
    ("raising_engine.py", "raised", "order book corrupted"),
    ("hanging_engine.py", "timeout", "no reply within"),
    ("malformed_engine.py", "malformed", "not protocol JSON"),
    ("dying_engine.py", "died", "exited"),
]


@pytest.mark.parametrize(("script", "kind", "reason"), CASES)
def test_faulty_engine_fails_the_step_and_the_run_completes(script: str, kind: str, reason: str,
                                                           tmp_path: Path) -> None:
    config = small(examples=3, steps=6, max_engine_failures=2)
    report = run(lambda: JsonLinesAdapter(engine_cmd(script), timeout=1.0), config)
    failures = report["engine_failures"]
    assert failures, "the engine failure is reported"
    first = failures[0]
    assert first["step"] == 3  # the third apply (steps are numbered from 1)
    assert first["engine_failure"]["kind"] == kind
    assert reason in first["engine_failure"]["reason"]
    assert report["summary"]["exit_status"] == 1
    assert report["summary"]["differential"]["engine_failures"] == 2
    assert any("stopped" in n for n in report["notes"])
    # the report renders in every format
    (tmp_path / "r.json").write_text(R.to_json(report))
    assert "engine failure" in R.to_text(report)
    assert "<failure" in R.to_junit(report)
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["verdict"] == "FAIL"


def test_dying_engine_is_restarted_for_the_next_case() -> None:
    adapter = JsonLinesAdapter(engine_cmd("dying_engine.py"), timeout=2.0)
    report = run(lambda: adapter, small(examples=2, steps=6, max_engine_failures=5))
    assert adapter.restarts >= 1  # case 1 got a fresh process after case 0 killed it
    assert [f["case"] for f in report["engine_failures"]] == [0, 1]


def test_dying_engine_stderr_tail_is_in_the_reason() -> None:
    with JsonLinesAdapter(engine_cmd("dying_engine.py"), timeout=2.0) as adapter:
        from hedgespec.conformance.world import default_params

        adapter.reset(default_params("seed"))
        action = {"t": 1, "kind": "deposit", "account": "alice", "amount": "1"}
        adapter.apply(action)
        adapter.apply(action)
        with pytest.raises(EngineFailure) as info:
            adapter.apply(action)
    assert info.value.kind == "died"
    assert "segmentation fault (simulated)" in info.value.reason


class RaisingInProcess(ReferenceAdapter):
    """An in-process adapter whose engine raises on its fifth apply."""

    count = 0

    def apply(self, action):  # type: ignore[no-untyped-def]
        self.count += 1
        if self.count == 5:
            raise KeyError("position table")
        return super().apply(action)


def test_in_process_exception_is_an_engine_failure() -> None:
    report = run(lambda: RaisingInProcess("seed"), small(examples=2, steps=8))
    failure = report["engine_failures"][0]
    assert failure["engine_failure"] == {"kind": "raised", "reason": "apply: KeyError: 'position table'"}
    assert failure["step"] == 5  # numbered from 1


def test_engine_that_cannot_start_gives_a_report() -> None:
    report = run(lambda: JsonLinesAdapter(["/nonexistent/engine"]), small())
    assert report["summary"]["exit_status"] == 1
    assert report["engine_failures"][0]["engine_failure"]["kind"] == "start"
    assert all(r["verdict"] in ("unsupported", "not exercised") for r in report["rules"])
