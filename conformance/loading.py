"""Finding an engine: ``module:factory`` references and adapter construction."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any


class EngineSpecError(ValueError):
    """A ``module:factory`` reference that does not resolve; the message says why."""


def _one_line(exc: BaseException) -> str:
    from .failures import readable

    if isinstance(exc, SystemExit):
        return f"SystemExit({readable(exc.code, repr)})"
    text = readable(exc, str).strip()  # "" when the exception's message cannot be read: its type names it
    return type(exc).__name__ + (f": {text.splitlines()[0]}" if text else "")


def declared_capabilities(value: Any, where: str = "capabilities") -> frozenset[str]:
    """An engine's declared capabilities as a set of known tags; ``ValueError`` naming what is wrong.

    A collection (list, tuple, set, frozenset, any non-string iterable) of names from
    ``hedgespec.spec.registry.CAPABILITIES``. A string is refused rather than read as its letters;
    an unknown name is refused with the known ones listed, so a misspelt tag cannot silently turn
    the rules that need it into "unsupported".
    """
    from collections.abc import Iterable, Mapping

    from hedgespec.spec.registry import CAPABILITIES

    known = ", ".join(CAPABILITIES)
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{where}: a collection of capability names is required, got the string {value!r} "
                         f"(write [{value!r}]); known: {known}")
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise ValueError(f"{where}: a collection of capability names is required, got "
                         f"{type(value).__name__} {value!r:.60}; known: {known}")
    names = list(value)
    odd = [n for n in names if not isinstance(n, str)]
    if odd:
        raise ValueError(f"{where}: capability names are strings, got {odd[0]!r:.60}; known: {known}")
    unknown = sorted(set(names) - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"{where}: unknown capabilit{'y' if len(unknown) == 1 else 'ies'} "
                         f"{', '.join(repr(n) for n in unknown)}; known: {known}")
    return frozenset(names)


def current_directory_importable() -> None:
    """Put the current directory at the end of ``sys.path`` when it is not on it yet.

    ``hedgespec conform --engine my_adapter:make_adapter`` (and pytest's ``--hedgespec-engine``) then
    finds ``my_adapter.py`` in the directory the command is run from, as the guide says. At the end,
    not first: a file there named like a module of the standard library or of an installed package
    (``pprint.py``, say) never shadows it for hedgespec or its dependencies.
    """
    cwd = os.getcwd()
    if not any(os.path.abspath(entry or os.curdir) == cwd for entry in sys.path):
        sys.path.append(cwd)


def load_factory(spec: str) -> Callable[..., Any]:
    """``"package.module:factory"`` -> the callable (a class or a function returning an adapter).

    The module is imported with the current directory on ``sys.path`` (``current_directory_importable``).
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise EngineSpecError(f"{spec!r}: expected module:factory (e.g. mypkg.engine:make_adapter)")
    current_directory_importable()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineSpecError(f"{spec!r}: cannot import {module_name!r}: {exc}") from None
    except SyntaxError as exc:
        where = f" ({exc.filename}, line {exc.lineno})" if exc.filename else ""
        raise EngineSpecError(f"{spec!r}: cannot import {module_name!r}: SyntaxError: {exc.msg}{where}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - the module's own code failed while importing
        raise EngineSpecError(f"{spec!r}: cannot import {module_name!r}: importing it raised "
                              f"{_one_line(exc)}") from None
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise EngineSpecError(f"{spec!r}: {module_name!r} has no attribute {attr!r}") from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a module __getattr__ or property that fails
            raise EngineSpecError(f"{spec!r}: looking up {attr!r} raised {_one_line(exc)}") from None
    if not callable(target):
        raise EngineSpecError(f"{spec!r}: {attr!r} is not callable")
    return target


def make_adapter(factory: Callable[..., Any], profile: str | None) -> Any:
    """Call a factory: with the profile name when it takes a parameter, else with nothing."""
    try:
        params = [p for p in inspect.signature(factory).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return factory(profile) if params else factory()


def check_adapter(adapter: Any, where: str) -> None:
    """The adapter has the protocol's members (name, capabilities, reset, apply, snapshot, close)."""
    missing = [m for m in ("name", "capabilities", "reset", "apply", "snapshot", "close") if not hasattr(adapter, m)]
    if missing:
        raise EngineSpecError(f"{where}: the adapter lacks {', '.join(missing)} (see hedgespec.conformance.adapter)")
