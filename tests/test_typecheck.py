"""The reference model type-checks under mypy (``.ci/typecheck.py``), and the check fails on a type error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "typecheck.py"


def run_typecheck(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False,
                          timeout=300)


def test_the_model_type_checks() -> None:
    done = run_typecheck(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_a_type_error_in_the_model_fails_the_check(tmp_path: Path) -> None:
    for folder in ("hedgespec", "spec", "model", "conformance", "audit"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    fees = tmp_path / "model" / "fees.py"
    fees.write_text(fees.read_text() + '\n\ndef broken_fee() -> int:\n    return "not money"\n')
    done = run_typecheck(tmp_path)
    assert done.returncode == 1
    assert "hedgespec/model/fees.py" in done.stdout and "Incompatible return value type" in done.stdout
