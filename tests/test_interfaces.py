"""Every versioned interface's constant matches the CHANGELOG table (no silent interface change)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_changelog_table_matches_constants():
    rows = re.findall(r"^\| [^|]+ \| ([^|]+) \| `([\w.]+)` \|", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert len(rows) >= 10
    for version, dotted in rows:
        module, _, name = dotted.rpartition(".")
        value = getattr(importlib.import_module(module), name)
        assert str(value) == version.strip(), f"{dotted} is {value!r}, CHANGELOG says {version.strip()!r}"
