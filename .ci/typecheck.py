"""Type-check the reference model with mypy, as the installed package ``hedgespec.model``.

    python .ci/typecheck.py [ROOT]

The repository keeps the package's parts in top-level folders (``model/``, ``spec/``, ...) that
``package-dir`` maps under ``hedgespec.``; mypy follows no such mapping, so the check runs on a
copy laid out as installed (``hedgespec/model``, ``hedgespec/spec``, ...) in a temporary folder.
ROOT is the repository to check (default: the one this script is in). Exit status: mypy's (0 when
no issue is found).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

CHECKED = ["hedgespec/model"]


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent
    package_dir = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    with tempfile.TemporaryDirectory(prefix="hedgespec-mypy.") as tree:
        for package, folder in package_dir.items():
            shutil.copytree(root / folder, Path(tree, *package.split(".")), dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *CHECKED], cwd=tree, check=False)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
