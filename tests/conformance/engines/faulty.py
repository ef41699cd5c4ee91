"""Shared by the faulty engines: the reference served over JSON lines, broken at the Nth ``apply``.

Each script passes a ``fault(n)`` callback that misbehaves; the fault fires on the ``FAULT_AT``-th
apply of every run (counted from ``reset``), so a run gets that far correctly first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.jsonl import serve

FAULT_AT = int(os.environ.get("HEDGESPEC_FAULT_AT", "3"))


class FaultyAdapter(ReferenceAdapter):
    def __init__(self, fault: Callable[[], Any], name: str) -> None:
        super().__init__("seed")
        self.fault = fault
        self.name = name
        self.applied = 0

    def reset(self, params: dict[str, Any]) -> None:
        super().reset(params)
        self.applied = 0

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        self.applied += 1
        if self.applied == FAULT_AT:
            self.fault()
        return super().apply(action)


def run(fault: Callable[[], Any], name: str) -> None:
    print(f"{name}: starting (logs go to stderr)", file=sys.stderr)
    sys.exit(serve(FaultyAdapter(fault, name)))
