"""Runs the code of docs/guides/engine-authors.md: its Python blocks in order, its commands.

Python blocks share one namespace and run in a temporary directory (which is also on sys.path,
so ``my_adapter.py`` written by the first block is importable). The first Python block is saved
as ``my_adapter.py``. Console lines ``$ hedgespec ...`` run through the conformance CLI and must
exit 0; ``$ pytest ...`` runs pytest in a subprocess.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import unittest
from pathlib import Path

import pytest
from hedgespec.conformance.cli import main

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "engine-authors.md"
BLOCK = re.compile(r"^```(python|console)\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))]


def test_guide_has_code() -> None:
    kinds = [k for k, _ in blocks()]
    assert kinds.count("python") >= 4 and kinds.count("console") >= 3


def test_guide_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
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
            if argv[0] == "hedgespec":
                argv = [re.sub(r"^python ", sys.executable + " ", a) for a in argv[1:]]
                status = main(argv)
                output = capsys.readouterr()
                assert status == 0, f"{line}\n{output.out}\n{output.err}\n" + (tmp_path / "report.json").read_text()[-3000:]
            elif argv[0] == "pytest":
                (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
                result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *argv[1:]],
                                        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
                assert result.returncode == 0, result.stdout + result.stderr
                assert "passed" in result.stdout
    for name in ("report.json", "report.xml", "report.md", "my_engine_server.py"):
        assert (tmp_path / name).is_file(), name
    machine = namespace["TestMyEngine"]
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(machine).run(result)  # type: ignore[arg-type]
    assert result.wasSuccessful(), result.failures + result.errors
