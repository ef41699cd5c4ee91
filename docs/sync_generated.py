"""Rewrite the generated blocks of the hand-written pages from the code (run from the project root).

    .venv/bin/python docs/sync_generated.py [--check]

Each ``<!-- gen:NAME ARGS -->`` ... ``<!-- /gen:NAME -->`` block (docs/hsdocs/directives.py) gets its
text generated afresh, so that the pages read the same in the repository as on the published site.
``--check`` changes nothing and exits 1 naming the pages whose blocks are stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hsdocs import catalog, directives  # noqa: E402


def stale_pages(write: bool) -> list[str]:
    """The pages whose generated blocks differ from what the code gives now (rewritten when ``write``)."""
    directives.RULES[:] = catalog.load_rules()
    stale = []
    for path in catalog.handwritten():
        page = catalog.DOCS / path
        text = page.read_text(encoding="utf-8")
        fresh = directives.sync(text, f"docs/{path}")
        if fresh != text:
            stale.append(f"docs/{path}")
            if write:
                page.write_text(fresh, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a page is stale")
    args = parser.parse_args(argv)
    try:
        stale = stale_pages(write=not args.check)
    except catalog.DocsError as error:
        print(f"sync_generated: {error}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{'stale' if args.check else 'rewrote'}: {path}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
