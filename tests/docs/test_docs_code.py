"""The code in the published guides runs.

Every fenced ```python block in docs/**/*.md that is marked to run, by an HTML comment
``<!-- run -->`` on the line (or the blank-separated lines) just before it, is executed. The blocks
of one page run in order in one namespace, as a reader following the page would run them, inside a
fresh temporary directory. ``docs/dev/`` (contributors' notes) is not part of the site and not run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)[ \t]*(?P<info>[^\n]*)$")
RUN_MARK = re.compile(r"^[ \t]*<!--[ \t]*run[ \t]*-->[ \t]*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    code: str


def blocks(text: str, page: str) -> list[Block]:
    """The run-marked Python blocks of one page, in order."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match.group("fence"), match.group("indent")
        info = match.group("info").strip().lstrip("{").split()
        language = info[0].lstrip(".") if info else ""
        start = i
        body = []
        i += 1
        while i < len(lines) and not re.match(rf"^{re.escape(indent)}{re.escape(fence[0])}{{{len(fence)},}}\s*$",
                                              lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        previous = start - 1
        while previous >= 0 and not lines[previous].strip():
            previous -= 1
        if language in ("python", "py") and previous >= 0 and RUN_MARK.match(lines[previous]):
            found.append(Block(page, start + 1, "\n".join(body) + "\n"))
    return found


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "dev" not in p.relative_to(DOCS).parts[:1])


RUNNABLE = [p for p in pages() if blocks(p.read_text(encoding="utf-8"), p.name)]


def test_some_pages_have_runnable_code() -> None:
    assert RUNNABLE, "no page in docs/ has a <!-- run --> python block"


def run_by_a_dedicated_test(page: Path) -> list[Path]:
    """Tests outside tests/docs that name the page (they run its code their own way)."""
    rel = page.relative_to(DOCS.parent).as_posix()
    tests = DOCS.parent / "tests"
    here = Path(__file__).resolve().parent
    return [t for t in sorted(tests.rglob("*.py")) if here not in t.resolve().parents
            and (rel in t.read_text(encoding="utf-8") or f'"{page.name}"' in t.read_text(encoding="utf-8"))]


def python_blocks(text: str) -> int:
    return sum(1 for line in text.splitlines() if re.match(r"^[ \t]*```+[ \t]*\{?\.?py(thon)?\b", line))


GUIDES = sorted((DOCS / "guides").glob("*.md")) if (DOCS / "guides").exists() else []


def test_engine_authors_guide_is_written() -> None:
    guide = DOCS / "guides" / "engine-authors.md"
    assert guide.exists(), "docs/guides/engine-authors.md is missing"
    assert GUIDES and guide in GUIDES, "the guides are not collected, so none of their code would be run"


@pytest.mark.parametrize("guide", GUIDES, ids=[g.name for g in GUIDES])
def test_guide_code_is_run(guide: Path) -> None:
    """Every guide's Python is run: by <!-- run --> marks here, or by a test of its own."""
    text = guide.read_text(encoding="utf-8")
    if not python_blocks(text):
        return
    assert blocks(text, guide.name) or run_by_a_dedicated_test(guide), (
        f"{guide.relative_to(DOCS.parent)} has Python blocks that no test runs: mark them <!-- run --> "
        "or run the page from a test of its own")


@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(DOCS)) for p in RUNNABLE])
def test_page_code_runs(page: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rel = str(page.relative_to(DOCS))
    namespace: dict[str, object] = {"__name__": f"docs:{rel}"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for block in blocks(page.read_text(encoding="utf-8"), rel):
            code = compile(block.code, f"docs/{rel}:{block.line}", "exec")
            exec(code, namespace)  # noqa: S102 - the project's own documentation
    finally:
        os.chdir(cwd)


def test_block_extraction() -> None:
    text = "\n".join([
        "<!-- run -->", "```python", "x = 1", "```", "",
        "```python", "not run", "```",
        "<!-- run -->", "", "```json", "{}", "```",
        "- item", "", "    <!-- run -->", "    ```python", "    y = 2", "    ```",
    ])
    found = blocks(text, "t.md")
    assert [b.code for b in found] == ["x = 1\n", "y = 2\n"]
    assert [b.line for b in found] == [2, 17]
