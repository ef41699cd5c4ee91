"""Build hooks beyond pyproject.toml: the optional compiled build of the reference model.

    HEDGESPEC_COMPILE=1 pip install --no-build-isolation .   (mypy==2.4.1, setuptools>=68 and wheel installed first)

compiles ``hedgespec.model`` with mypyc from the same sources; every other package stays pure Python, and
so do the model's action classes (``model/actions.py``): compiled, an action with a field of the wrong
Python type could not even be constructed, where the model refuses it when it is stepped
(INVALID_ARGUMENT), as the interpreted model does. Without ``HEDGESPEC_COMPILE=1`` nothing is compiled
(this file only clears earlier build folders). The compiled model is the same model:
``.ci/compiled_model.sh`` (a gate of ``.ci/run``) steps it beside the interpreted one over random runs of
every profile, and runs on it the vectors and the tests that do not replace model functions; ``bench/bench_model.py`` times either
build (README, "Where each part stands"). An editable install is never compiled: a compiled module beside
its source would hide every later edit of the source.

mypyc names a module after its path, so the model's sources (``model/``, installed as
``hedgespec.model``) are staged under ``build/mypyc-src/hedgespec/`` with the packages they import.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
STAGE = ROOT / "build" / "mypyc-src"
# the installed packages the model's type-checking needs, by source folder (pyproject's package-dir)
STAGED = {"hedgespec": "hedgespec", "hedgespec/model": "model", "hedgespec/spec": "spec"}


def clear_earlier_builds() -> None:
    """setuptools reuses ``build/lib*`` and ``build/bdist.*``: a compiled module left there by an earlier
    (or interrupted) compiled build would end up in a later build of either kind, and hide the source it
    came from. They are removed before every build; a build stops if one cannot be."""
    for folder in (*(ROOT / "build").glob("lib*"), *(ROOT / "build").glob("bdist.*")):
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            sys.exit(f"hedgespec: cannot remove the earlier build {folder}: {exc}")


def compiled_model() -> list:
    if os.environ.get("HEDGESPEC_COMPILE", "") != "1":
        return []
    if any(arg.startswith(("editable_wheel", "develop")) for arg in sys.argv[1:]):
        sys.exit("hedgespec: HEDGESPEC_COMPILE=1 is for a regular install (pip install --no-build-isolation .), "
                 "not an editable one: the compiled model would hide edits of model/*.py")
    try:
        from mypyc.build import mypycify
    except ImportError:
        sys.exit("hedgespec: HEDGESPEC_COMPILE=1 needs mypyc: pip install mypy==2.4.1 'setuptools>=68' wheel, "
                 "then pip install --no-build-isolation .")
    shutil.rmtree(STAGE, ignore_errors=True)
    for target, source in STAGED.items():
        shutil.copytree(ROOT / source, STAGE / target, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    model = sorted(str(path) for path in (STAGE / "hedgespec" / "model").glob("*.py") if path.name != "actions.py")
    return mypycify(model, opt_level="3", target_dir=str(ROOT / "build" / "mypyc-c"))


clear_earlier_builds()
setup(ext_modules=compiled_model())
