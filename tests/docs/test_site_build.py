"""The published rulebook builds strictly, has a page per rule, and refuses unknown rule IDs.

These build the site (a few seconds each) from a copy of docs/ so that a page can be added
without touching the working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hedgespec.spec.rulebook import all_rules

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def copy_site(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("__pycache__", "dev"))
    return tmp_path


def build(where: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true",
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(where / "site")],
                          cwd=where, env=env, capture_output=True, text=True, timeout=600)


def test_site_builds_with_a_page_per_rule(tmp_path: Path) -> None:
    where = copy_site(tmp_path)
    result = build(where)
    assert result.returncode == 0, result.stderr[-4000:]
    site = where / "site"
    for rule in all_rules():
        page = site / "rules" / rule.id / "index.html"
        assert page.exists(), f"{rule.id} has no page"
        assert f'id="{rule.id}"' in page.read_text(encoding="utf-8")
    assert not (site / "SUMMARY").exists()
    assert not (site / "dev").exists()
    assert (site / "img" / "legs-margin.svg").read_text(encoding="utf-8").startswith("<svg")


@pytest.mark.parametrize("reference", ["[HM-NET-999][]", "see HM-NET-999 in the rulebook"])
def test_unknown_rule_id_fails_the_build(tmp_path: Path, reference: str) -> None:
    where = copy_site(tmp_path)
    (where / "docs" / "stray.md").write_text(f"# Stray\n\nA reference: {reference}.\n", encoding="utf-8")
    result = build(where)
    assert result.returncode != 0
    assert "HM-NET-999" in result.stderr


def test_a_page_outside_the_known_sections_is_listed(tmp_path: Path) -> None:
    where = copy_site(tmp_path)
    (where / "docs" / "extra").mkdir()
    (where / "docs" / "extra" / "notes.md").write_text("# Extra notes\n\nSee [HM-NET-001][].\n", encoding="utf-8")
    result = build(where)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Extra notes" in (where / "site" / "index.html").read_text(encoding="utf-8")


def test_unresolved_autoref_fails_the_build(tmp_path: Path) -> None:
    """autorefs under --strict: a reference to an anchor no page has is an error too."""
    where = copy_site(tmp_path)
    (where / "docs" / "stray.md").write_text("# Stray\n\nA reference: [no-such-anchor][].\n", encoding="utf-8")
    result = build(where)
    assert result.returncode != 0
    assert "no-such-anchor" in result.stderr
