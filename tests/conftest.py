"""Test-suite setup: modules are imported by path (pytest's importlib mode, so test files in different
folders may share a name), and the folders holding shared test helpers are importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, *sorted(p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
