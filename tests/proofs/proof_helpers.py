"""Shared helpers of the proof tests: the proved kernels, their PEP 316 conditions, spies on step.

The conditions are read with CrossHair's own PEP 316 parser (``crosshair.condition_parser``), so the
run-time checks evaluate exactly the expressions CrossHair proves. Only the project's own docstrings
are compiled; generated inputs are passed as bindings, never evaluated as code.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from crosshair.condition_parser import ConditionExpr, Pep316Parser
from crosshair.fnutil import FunctionInfo
from hedgespec.spec.proofs import parse_proved, proved_text

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
if str(TESTS) not in sys.path:  # the shared run parameters in tests/scenarios.py
    sys.path.insert(0, str(TESTS))


def proved_list() -> list[tuple[str, tuple[str, ...]]]:
    """(condition name, rule IDs) as listed in spec/proved.txt."""
    return parse_proved(proved_text())


def kernel_names() -> list[tuple[str, str]]:
    """(module, function) of every kernel with a listed condition, in file order."""
    seen: dict[tuple[str, str], None] = {}
    for name, _ in proved_list():
        module, function = name.split(": ", 1)[0].split(":")
        seen[(module, function)] = None
    return list(seen)


def kernel(module: str, function: str) -> Callable[..., Any]:
    return getattr(importlib.import_module(module), function)


@dataclass(frozen=True)
class Contract:
    """The PEP 316 conditions of one function, as CrossHair parses them."""

    fn: Callable[..., Any]
    pre: tuple[ConditionExpr, ...]
    post: tuple[ConditionExpr, ...]
    signature: inspect.Signature = field(repr=False)

    def bindings(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def pre_holds(self, bindings: dict[str, Any]) -> bool:
        return all(cond.evaluate(bindings) for cond in self.pre)  # type: ignore[misc]

    def failed_posts(self, bindings: dict[str, Any], result: Any) -> list[str]:
        scope = {**bindings, "__return__": result}
        return [cond.expr_source for cond in self.post if not cond.evaluate(scope)]  # type: ignore[misc]


@functools.cache
def contract_of(fn: Callable[..., Any]) -> Contract:
    conditions = Pep316Parser().get_fn_conditions(FunctionInfo.from_fn(fn))
    assert conditions is not None and not conditions.fn_syntax_messages, fn
    for cond in (*conditions.pre, *conditions.post):
        assert cond.compile_err is None and cond.evaluate is not None, cond
    return Contract(fn, tuple(conditions.pre), tuple(conditions.post), inspect.signature(fn))


def check_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> tuple[bool, Any]:
    """Call ``fn``; (whether its preconditions held, result). Fails on a postcondition that does not hold."""
    contract = contract_of(fn)
    bindings = contract.bindings(args, kwargs or {})
    result = fn(*args, **(kwargs or {}))
    if not contract.pre_holds(bindings):
        return False, result
    failed = contract.failed_posts(bindings, result)
    assert not failed, f"{fn.__qualname__}{args!r} -> {result!r} breaks: {failed}"
    return True, result


@dataclass
class Call:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any


class Spy:
    """Replaces kernels by recording wrappers in the modules where ``step`` looks them up."""

    def __init__(self, monkeypatch: Any) -> None:
        self.monkeypatch = monkeypatch
        self.calls: list[Call] = []

    def watch(self, module: ModuleType, name: str) -> None:
        original = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self.calls.append(Call(name, args, kwargs, result))
            return result

        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        self.monkeypatch.setattr(module, name, wrapper)

    def of(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]


def load_gate() -> ModuleType:
    """The CrossHair gate script ``.ci/crosshair_gate.py`` as a module."""
    path = ROOT / ".ci" / "crosshair_gate.py"
    spec = importlib.util.spec_from_file_location("crosshair_gate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("crosshair_gate", module)
    spec.loader.exec_module(module)
    return module
