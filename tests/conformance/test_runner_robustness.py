"""The runner against bad input and hostile engines: a clear failure naming the place, never a traceback,
never a silent pass, never a process left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from conform_helpers import small
from hedgespec.conformance import report as R
from hedgespec.conformance import vectors as V
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.cli import main as cli_main
from hedgespec.conformance.runner import run

SEED_VECTOR = V.builtin_root() / "seed" / "scenario" / "adjust-margin.json"


# -- 1. an invalid vector never lets the run pass ----------------------------------------------------

@pytest.mark.parametrize("text", ["{", "{}", '{"steps": null}'])
def test_an_invalid_vector_fails_the_run(tmp_path: Path, text: str) -> None:
    vdir = tmp_path / "v"
    vdir.mkdir()
    (vdir / "x.json").write_text(text)
    report = run(lambda: ReferenceAdapter("seed"), small(examples=0, run_vectors=True, vectors=vdir))
    assert report["vectors"][0]["status"] == "failed"
    assert report["summary"]["verdict"] == "FAIL" and report["summary"]["exit_status"] == 1
    assert report["summary"]["vectors"]["invalid"] == 1
    assert R.verdict_line(report).startswith("verdict: FAIL (1 invalid vector)")


def test_an_invalid_vector_exits_1_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "x.json").write_text("{")
    assert cli_main(["conform", "--vectors", "v", "--examples", "0"]) == 1
    out = capsys.readouterr().out
    assert "failed x.json: invalid vector: x.json" in out and out.splitlines()[-1].startswith("verdict: FAIL")
