"""The auditor's guide's worked example (docs/audit/guide.md, section 7, "An example") is reproducible:
its commands, run as written from the root of a checkout, print exactly the output the guide shows.

Only the hedgespec and spec versions and the profile digest are taken from this release; every other
line (the import's accounting, the input digests, the verdict and every finding with its evidence) must
match the guide."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "audit" / "guide.md"
FIXTURES = Path(__file__).parent / "fixtures" / "binance"
#: lines whose values change with every release, not with the example
RELEASE_LINES = (re.compile(r"^(  hedgespec +)\S+$"), re.compile(r"^(  spec +)\S+$"),
                 re.compile(r"^(  profile +\S+ )\(sha256:[0-9a-f]{64}\)$"))


def example_blocks() -> tuple[str, str]:
    """The example's shell commands and its printed output, as the guide shows them."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("### An example"):text.index("## 8.")]
    commands = re.findall(r"```sh\n(.*?)```", section, re.S)
    outputs = re.findall(r"```text\n(.*?)```", section, re.S)
    assert len(commands) == 1 and len(outputs) == 1, "the example shows one command block and one output block"
    return commands[0], outputs[0]


def release_neutral(text: str) -> list[str]:
    lines = []
    for line in text.rstrip("\n").split("\n"):
        for pattern in RELEASE_LINES:
            line = pattern.sub(r"\1<release>", line)
        lines.append(line)
    return lines


def test_the_guide_example_runs_as_written_and_prints_what_the_guide_shows(tmp_path: Path) -> None:
    commands, shown = example_blocks()
    assert "--opening-flat --mode ONE_WAY" in commands and "-o bad.jsonl" in commands
    hedgespec = Path(sys.executable).parent / "hedgespec"
    if not hedgespec.exists():
        pytest.skip("the hedgespec command is not installed next to this Python")
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not available")
    # a checkout's layout, so the commands run exactly as written
    shutil.copytree(FIXTURES, tmp_path / "tests" / "audit" / "fixtures" / "binance")
    env = dict(os.environ, PATH=f"{hedgespec.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run([bash, "-c", commands], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1, done.stderr  # the audit's status: findings
    assert "Traceback" not in done.stderr
    assert release_neutral(done.stderr + done.stdout) == release_neutral(shown)
    # what the guide's prose says about the output
    assert "VERDICT: 4 finding(s); 1 check(s) not decidable from this data" in shown
    assert "by rule: HM-MODE-002 2, HM-NET-001 1, HM-POS-002 1" in shown
    assert "at bad.jsonl:13 <- userTrades_hedge_bad.json:50[3] id BTCUSDT:1004" in shown
    # the profile file the guide shows decides the netted funding row: five findings, the fifth HM-FUND-002
    section = GUIDE.read_text(encoding="utf-8")
    section = section[section.index("### An example"):section.index("## 8.")]
    [profile] = re.findall(r"```json\n(.*?)```", section, re.S)
    (tmp_path / "binance-per-leg.json").write_text(profile, encoding="utf-8")
    decided = subprocess.run([str(hedgespec), "audit", "bad.jsonl", "--profile", "binance-per-leg.json"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert decided.returncode == 1 and "Traceback" not in decided.stderr
    assert "VERDICT: 5 finding(s); 0 check(s) not decidable from this data" in decided.stdout
    assert "by rule: HM-FUND-002 1, HM-MODE-002 2, HM-NET-001 1, HM-POS-002 1" in decided.stdout
    assert ("the sum of the per-leg amounts -0.0603, 0.09045 (netted; the profile says per-leg entries)"
            in decided.stdout)
    assert "the sum of the per-leg amounts -0.0603, 0.09045\n(netted; the profile says per-leg entries)" in section
    assert re.search(r"^  profile +binance-usdm-funding-per-leg \(sha256:[0-9a-f]{64}\)$", decided.stdout, re.M)
