"""Runs the code of docs/guides/engine-authors.md: its Python blocks in order, its commands.

Python blocks share one namespace and run in a temporary directory (which is also on sys.path for
them, as it is for a script run from there, so ``my_adapter.py`` written by the first block is
importable). The first Python block is saved as ``my_adapter.py``. Console lines ``$ hedgespec ...``
and ``$ pytest ...`` run as a reader runs them: the installed command, in a subprocess started in
the temporary directory, without PYTHONPATH; they must exit 0.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import unittest
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "engine-authors.md"
BLOCK = re.compile(r"^```(python|console)\n(.*?)^```", re.S | re.M)
BIN = Path(sys.executable).parent  # the environment's console scripts (hedgespec, pytest)


def reader_env() -> dict[str, str]:
    """The environment a reader's shell has: no PYTHONPATH pointing at the test's directories."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run_command(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A console line of the guide, run as the installed command from ``cwd``."""
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=cwd, env=reader_env(), capture_output=True,
                          text=True, timeout=600, check=False)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))]


def test_guide_has_code() -> None:
    kinds = [k for k, _ in blocks()]
    assert kinds.count("python") >= 4 and kinds.count("console") >= 3


def test_guide_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "hedgespec-failures").mkdir()
    namespace: dict[str, object] = {"__name__": "guide"}
    first = True
    for kind, code in blocks():
        if kind == "python":
            if first:
                (tmp_path / "my_adapter.py").write_text(code)
                first = False
            exec(compile(code, str(GUIDE), "exec"), namespace)
            continue
        for line in code.splitlines():
            if not line.startswith("$ "):
                continue
            argv = shlex.split(line[2:])
            argv = [re.sub(r"^python ", sys.executable + " ", a) for a in argv]
            assert argv[0] in ("hedgespec", "pytest"), line
            result = run_command(argv, tmp_path)
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            assert "Traceback" not in result.stderr, result.stderr
            if argv[0] == "pytest":
                assert "passed" in result.stdout, result.stdout
            else:
                assert "verdict: PASS" in result.stdout, result.stdout
    for name in ("report.json", "report.xml", "report.md", "my_engine_server.py"):
        assert (tmp_path / name).is_file(), name
    machine = namespace["TestMyEngine"]
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(machine).run(result)  # type: ignore[arg-type]
    assert result.wasSuccessful(), result.failures + result.errors
