"""The pytest plugin: inert without its options, the vectors and the state machine as tests with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conform_helpers import engine_cmd


def pytest_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_mine.py").write_text("def test_my_own():\n    assert True\n")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)


def test_plugin_is_inert_without_options(tmp_path: Path) -> None:
    result = pytest_run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "hedgespec" not in result.stdout


def test_plugin_options_are_listed(tmp_path: Path) -> None:
    result = pytest_run(tmp_path, "--help")
    for option in ("--hedgespec-engine", "--hedgespec-engine-cmd", "--hedgespec-profile"):
        assert option in result.stdout


def test_plugin_collects_vectors_and_the_machine(tmp_path: Path) -> None:
    result = pytest_run(tmp_path, "--hedgespec-engine", "hedgespec.conformance.adapter:ReferenceAdapter",
                        "--hedgespec-examples", "3", "--co")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "vectors/scenario/fees-no-hedge-discount.json" in result.stdout
    assert "stateful" in result.stdout and "test_my_own" in result.stdout


def test_plugin_runs_against_a_mutant(tmp_path: Path) -> None:
    (tmp_path / "engine.py").write_text("from hedgespec.conformance.mutants import MUTANT_BY_NAME\n\n"
                                        "def make():\n    return MUTANT_BY_NAME['fee-hedge-discount'].adapter()\n")
    result = pytest_run(tmp_path, "--hedgespec-engine", "engine:make", "--hedgespec-examples", "2",
                        "-k", "fee or net or my_own")
    assert result.returncode == 1
    assert "HM-FEE-001" in result.stdout
    assert "Traceback" not in result.stdout


def test_plugin_over_json_lines_skips_unsupported(tmp_path: Path) -> None:
    cmd = " ".join([sys.executable, "-m", "hedgespec.conformance.jsonl", "conform_plugin_engine:make"])
    (tmp_path / "conform_plugin_engine.py").write_text(
        "from hedgespec.conformance.adapter import ReferenceAdapter\n\n"
        "class NoExpiry(ReferenceAdapter):\n"
        "    capabilities = ReferenceAdapter.capabilities - {'expiry'}\n\n"
        "def make():\n    return NoExpiry('seed')\n")
    result = pytest_run(tmp_path, "--hedgespec-engine-cmd", cmd, "--hedgespec-examples", "2",
                        "-k", "expiry or mode-same")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "engine lacks expiry" in result.stdout


def test_plugin_bad_engine_is_a_usage_error(tmp_path: Path) -> None:
    result = pytest_run(tmp_path, "--hedgespec-engine", "nope")
    assert result.returncode == 4  # pytest's usage error
    assert "expected module:factory" in result.stderr


def test_faulty_engine_fails_its_vectors_without_traceback(tmp_path: Path) -> None:
    cmd = " ".join(engine_cmd("raising_engine.py"))
    result = pytest_run(tmp_path, "--hedgespec-engine-cmd", cmd, "--hedgespec-examples", "1", "-k",
                        "legs-do-not-net")
    assert result.returncode == 1
    assert "order book corrupted" in result.stdout
