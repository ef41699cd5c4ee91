"""Finding an engine: ``module:factory`` references and adapter construction."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any


class EngineSpecError(ValueError):
    """A ``module:factory`` reference that does not resolve; the message says why."""


def load_factory(spec: str) -> Callable[..., Any]:
    """``"package.module:factory"`` -> the callable (a class or a function returning an adapter)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise EngineSpecError(f"{spec!r}: expected module:factory (e.g. mypkg.engine:make_adapter)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineSpecError(f"{spec!r}: cannot import {module_name!r}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise EngineSpecError(f"{spec!r}: {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
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
