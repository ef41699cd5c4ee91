"""Engine authors' reports: commands as documented, malformed replies named, one case per distinct bug.

Each test here fails on the behaviour it replaces: an adapter module in the current directory that
could not be imported, a missing snapshot field reported as a rule's KeyError, one divergence
standing for every other, and so on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ADAPTER = '''
from hedgespec.conformance.adapter import ReferenceAdapter


def make_adapter(profile="seed"):
    return ReferenceAdapter(profile)
'''


def _reader_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


# -- an adapter module in the current directory ------------------------------------------------------

def test_conform_imports_an_adapter_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "my_adapter.py").write_text(ADAPTER)
    hedgespec = Path(sys.executable).parent / "hedgespec"
    result = subprocess.run([str(hedgespec), "conform", "--engine", "my_adapter:make_adapter", "--examples", "1",
                             "--steps", "5", "--no-vectors"], cwd=tmp_path, env=_reader_env(),
                            capture_output=True, text=True, timeout=300, check=False)
    assert "cannot import" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert "engine my_adapter:make_adapter (adapter hedgespec-reference)" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("verdict: PASS")


def test_pytest_plugin_imports_an_adapter_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "my_adapter.py").write_text(ADAPTER)
    pytest_cmd = Path(sys.executable).parent / "pytest"
    result = subprocess.run([str(pytest_cmd), "-p", "no:cacheprovider", "--hedgespec-engine", "my_adapter:make_adapter",
                             "--hedgespec-examples", "1", "-q", "-k", "stateful"], cwd=tmp_path, env=_reader_env(),
                            capture_output=True, text=True, timeout=300, check=False)
    assert "cannot import" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_load_factory_puts_the_current_directory_on_sys_path_once(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from hedgespec.conformance.loading import load_factory

    (tmp_path / "cwd_adapter_mod.py").write_text(ADAPTER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    factory = load_factory("cwd_adapter_mod:make_adapter")
    assert factory("seed").name == "hedgespec-reference"
    load_factory("cwd_adapter_mod:make_adapter")
    assert sys.path.count(str(tmp_path)) == 1
    monkeypatch.delitem(sys.modules, "cwd_adapter_mod")
