"""Engines that raise, hang, reply malformed or die: each step fails with its reason, the run completes.

Policy (docs/formats/protocol.md): the step is an engine failure with the reason; the engine is
restarted for the next case; after ``max_engine_failures`` the remaining cases are not run, and
the report is written either way.
"""

from __future__ import annotations

import json
import os
import sys
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


@pytest.mark.parametrize(("raw", "kind", "reason"), [
    # json.loads raises RecursionError (not a ValueError): once reported as the engine "raising", process kept
    ('{"id":{id},"ok":true,"result":' + "[" * 100_000 + "]" * 100_000 + "}", "malformed",
     "apply: reply is not protocol JSON (nested too deeply): '{\"id\":"),
    ('{"id":{id},"ok":true,"result":{"kind":"accepted\\ud800","reason":null,"message":"","events":[]}}', "malformed",
     "apply: outcome.kind: a lone UTF-16 surrogate escape (\\ud800-\\udfff) is not Unicode text"),
    ('{"id":' + "9" * 5000 + ',"ok":true,"result":null}', "malformed",
     "apply: reply is not protocol JSON (a number of 5000 digits (at most 4300)): '{\"id\":9999"),
    # the digits of a float (read fine) and of a string are not the over-long integer
    ('{"id":{id},"ok":true,"result":["' + "7" * 5000 + '",' + "8" * 5000 + ".5," + "9" * 4400 + "]}", "malformed",
     "apply: reply is not protocol JSON (a number of 4400 digits (at most 4300)): "),
])
def test_unreadable_reply_is_malformed_and_the_engine_restarted(raw: str, kind: str, reason: str,
                                                               tmp_path: Path) -> None:
    (tmp_path / "reply").write_text(raw, encoding="utf-8")
    env = {**os.environ, "HEDGESPEC_RAW_REPLY": str(tmp_path / "reply")}
    adapter = JsonLinesAdapter(engine_cmd("raw_reply_engine.py"), timeout=5.0, env=env)
    report = run(lambda: adapter, small(examples=2, steps=6, max_engine_failures=5))
    failures = report["engine_failures"]
    assert [(f["case"], f["step"], f["engine_failure"]["kind"]) for f in failures] == [(0, 3, kind), (1, 3, kind)]
    assert failures[0]["engine_failure"]["reason"].startswith(reason)
    assert adapter.restarts >= 1  # a malformed reply kills the process; the next case starts a fresh one
    for text in (R.to_json(report), R.to_text(report), R.to_junit(report), R.to_markdown(report)):
        (tmp_path / "r.txt").write_text(text, encoding="utf-8")  # every report can be written as UTF-8


def test_an_engines_long_error_message_is_clipped_to_one_line(tmp_path: Path) -> None:
    raw = '{"id":{id},"ok":false,"error":{"message":"line one\\nline\\u0000two ' + "x" * 100_000 + '"}}'
    (tmp_path / "reply").write_text(raw, encoding="utf-8")
    env = {**os.environ, "HEDGESPEC_RAW_REPLY": str(tmp_path / "reply")}
    report = run(lambda: JsonLinesAdapter(engine_cmd("raw_reply_engine.py"), timeout=5.0, env=env),
                 small(examples=1, steps=6))
    reason = report["engine_failures"][0]["engine_failure"]["reason"]
    assert reason.startswith("apply: engine error: line one line two xxx")
    assert reason.endswith("... (100018 characters in all)") and len(reason) < 400


def test_an_engine_name_that_is_not_unicode_text_fails_the_handshake(tmp_path: Path) -> None:
    script = tmp_path / "surrogate.py"
    script.write_text("import sys, json\nfor line in sys.stdin:\n"
                      "    r = json.loads(line)\n"
                      "    sys.stdout.write('{\"id\": %d, \"ok\": true, \"result\": {\"protocol\": \"hedgespec-engine/1\", "
                      "\"name\": \"bad\\\\ud800\", \"capabilities\": []}}\\n' % r['id'])\n"
                      "    sys.stdout.flush()\n")
    with pytest.raises(EngineFailure) as info:
        JsonLinesAdapter([sys.executable, str(script)])
    assert info.value.kind == "handshake"
    assert info.value.reason == "hello: result.name: a lone UTF-16 surrogate escape (\\ud800-\\udfff) is not Unicode text"

    class Surrogate(ReferenceAdapter):
        name = "bad\ud800"

    report = run(lambda: Surrogate("seed"), small())
    assert report["engine_failures"][0]["engine_failure"]["kind"] == "start"
    assert "name: 'bad\\ud800' holds a lone UTF-16 surrogate" in report["engine_failures"][0]["engine_failure"]["reason"]
    R.to_json(report).encode("utf-8")
